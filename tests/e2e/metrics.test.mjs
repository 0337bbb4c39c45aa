// metrics.test.mjs: GET /metrics (docs/operations.md "Metrics"): the Prometheus text
// format with the event-loop iteration histogram and maximum, and --metrics-allow, which
// answers every other client address with the 404 of an unknown path. No timings.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';

import { assertJsonError, fetchOnce, HttpConn } from './lib/http.mjs';
import { api, FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { parseMetrics, scrape, total } from './lib/metrics.mjs';
import { createRoom, mkUsers } from './lib/rooms.mjs';
import { REPO_ROOT, startServer } from './lib/server.mjs';
import { delay } from './lib/util.mjs';
import { JsonWs } from './lib/wsclient.mjs';
import { jsonFrame, RawWs } from './lib/rawws.mjs';

const T = { timeout: 20000 };

function connectFrom(port, localAddress) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    s.once('connect', () => resolve(new HttpConn(s)));
    s.once('error', reject);
  });
}

async function getFrom(port, localAddress, method = 'GET', opts = {}) {
  const c = await connectFrom(port, localAddress);
  try {
    return await c.request(method, '/metrics', opts);
  } finally {
    c.close();
  }
}

const conns = (text) => total(parseMetrics(text).samples, 'chorus_connections');

describe('GET /metrics', () => {
  it('from loopback by default: the loop histogram, its max and the process CPU', T, async () => {
    const srv = await startServer();
    try {
      await fetchOnce(srv.port, 'GET', '/healthz'); // a few iterations with work in them
      const res = await fetchOnce(srv.port, 'GET', '/metrics');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(Number(res.headers['content-length']), res.body.length);
      const { samples, types } = parseMetrics(res.text);
      assert.equal(types.get('chorus_loop_iteration_seconds'), 'histogram');
      assert.equal(types.get('chorus_loop_iteration_seconds_max'), 'gauge');
      assert.equal(types.get('chorus_loop_iterations_total'), 'counter');
      assert.equal(types.get('process_cpu_seconds_total'), 'counter');
      assert.equal(types.get('chorus_connections'), 'gauge');
      const le = ['0.001000000', '0.002000000', '0.005000000', '0.010000000', '+Inf'].map((b) =>
        samples.get(`chorus_loop_iteration_seconds_bucket{le="${b}"}`));
      for (const v of le) assert.equal(typeof v, 'number');
      for (let i = 1; i < le.length; i++) assert.ok(le[i] >= le[i - 1], 'buckets are cumulative');
      const count = samples.get('chorus_loop_iteration_seconds_count');
      assert.ok(count > 0, 'iterations were counted');
      assert.equal(le.at(-1), count);
      assert.equal(samples.get('chorus_loop_iterations_total'), count);
      const max = samples.get('chorus_loop_iteration_seconds_max');
      assert.ok(max > 0 && max <= samples.get('chorus_loop_iteration_seconds_sum'));
      assert.ok(samples.get('process_cpu_seconds_total') > 0);
      assert.ok(samples.get('chorus_connections{state="http"}') >= 1, 'this request\'s connection');
      // The earlier ones (the readiness probe, /healthz) leave the count once the server has
      // seen them close, a few loop iterations later (closes are spread over iterations).
      let n = total(samples, 'chorus_connections');
      for (let i = 0; i < 100 && n !== 1; i++) {
        await new Promise((r) => setTimeout(r, 20));
        n = conns((await fetchOnce(srv.port, 'GET', '/metrics')).text);
      }
      assert.equal(n, 1, 'only the request\'s own connection is left');

      // The count only grows.
      const again = parseMetrics((await fetchOnce(srv.port, 'GET', '/metrics')).text);
      assert.ok(again.samples.get('chorus_loop_iterations_total') > count);
      assert.ok(again.samples.get('chorus_loop_iteration_seconds_max') >= max);

      const head = await getFrom(srv.port, '127.0.0.1', 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      const post = await getFrom(srv.port, '127.0.0.1', 'POST', { body: '' });
      assertJsonError(post, 405, 'method_not_allowed');
      assert.equal(post.headers.allow, 'GET, HEAD');
    } finally {
      await srv.stop();
    }
  });

  it('--metrics-allow: only the listed addresses; others get 404 not_found, whatever the method', T, async () => {
    const srv = await startServer({ args: ['--metrics-allow', '127.0.0.5, 127.0.1.0/24'] });
    try {
      assert.equal((await getFrom(srv.port, '127.0.0.5')).status, 200);
      assert.equal((await getFrom(srv.port, '127.0.1.9')).status, 200);
      assertJsonError(await getFrom(srv.port, '127.0.0.1'), 404, 'not_found');
      assertJsonError(await getFrom(srv.port, '127.0.0.6'), 404, 'not_found');
      assertJsonError(await getFrom(srv.port, '127.0.0.6', 'POST', { body: '' }), 404, 'not_found');
      // The same 404 as a path that does not exist.
      const unknown = await fetchOnce(srv.port, 'GET', '/no-such-thing');
      const refused = await getFrom(srv.port, '127.0.0.1');
      assert.equal(refused.text, unknown.text);
    } finally {
      await srv.stop();
    }
  });

  it('--metrics-allow "" refuses everyone', T, async () => {
    const srv = await startServer({ args: ['--metrics-allow', ''] });
    try {
      assertJsonError(await fetchOnce(srv.port, 'GET', '/metrics'), 404, 'not_found');
    } finally {
      await srv.stop();
    }
  });

  it('behind a trusted proxy the forwarded client address decides', T, async () => {
    const srv = await startServer({ args: ['--trusted-proxies', '127.0.0.3'] });
    try {
      const xff = (v) => ({ headers: { 'X-Forwarded-For': v } });
      assertJsonError(await getFrom(srv.port, '127.0.0.3', 'GET', xff('203.0.113.9')), 404, 'not_found');
      assert.equal((await getFrom(srv.port, '127.0.0.3', 'GET', xff('127.0.0.1'))).status, 200);
      assert.equal((await getFrom(srv.port, '127.0.0.3')).status, 200);
    } finally {
      await srv.stop();
    }
  });

  // The server is stopped (SIGSTOP) while 300 clients close and a /metrics request waits,
  // so the 300 ends reach it in one loop iteration: it closes at most 32 connections an
  // iteration (SERVER_CLOSE_BUDGET), so the answer, a few iterations later, still counts
  // most of them. Closing them all in that iteration, it would count only its own.
  it('connections that end together are closed over several iterations', T, async () => {
    const srv = await startServer({ args: ['--max-connections-per-ip', '0'] });
    try {
      const socks = [];
      for (let i = 0; i < 300; i++) {
        socks.push(await new Promise((resolve, reject) => {
          const s = net.connect({ port: srv.port, host: '127.0.0.1' });
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }));
      }
      assert.equal(conns((await fetchOnce(srv.port, 'GET', '/metrics')).text), 301);
      srv.proc.kill('SIGSTOP');
      let c;
      try {
        // 'finish': the FIN is sent (the stopped server closes its side later).
        await Promise.all(socks.map((s) => new Promise((resolve) => s.end(resolve))));
        c = await connectFrom(srv.port, '127.0.0.1'); // the kernel accepts it meanwhile
        var pending = c.request('GET', '/metrics');
      } finally {
        srv.proc.kill('SIGCONT');
      }
      const res = await pending;
      c.close();
      const n = conns(res.text);
      assert.ok(n > 100, `connections still closing when the answer was made: ${n}`);
    } finally {
      await srv.stop();
    }
  });

  it('a bad --metrics-allow stops the server at start', T, async () => {
    await assert.rejects(startServer({ args: ['--metrics-allow', '127.0.0.1/99'] }));
  });
});

// The metric set (docs/operations.md "Metrics"): each family moves with what a client does.
describe('GET /metrics: the metric set', () => {
  it('connections by state, rooms, members, ops, deliveries, frames, bytes, auth failures, rate limits', T, async () => {
    const srv = await startServer({
      args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--ws-rate', '1', '--ws-burst', '5',
        '--rate-auth', '2/1m'],
    });
    const clients = [];
    try {
      const before = (await scrape(srv.port)).samples;
      const [a, b, c] = mkUsers(3);
      const room = await createRoom(srv.port, a);
      for (const u of [a, b, c]) {
        const ws = await JsonWs.open(srv.port, { path: `/ws?token=${u.token}` });
        clients.push(ws);
        assert.equal((await ws.call('join', { room: room.id })).ok, true);
      }
      const [wa, wb, wc] = clients;
      // The joins' activity rows (three, written within a second) went out before the
      // counts are taken, so that what follows counts the message alone.
      for (let rows = 0; rows < 3;) if ((await wa.next()).op === 'activity') rows++;
      const joined = (await scrape(srv.port)).samples;
      wa.send({ op: 'message', ref: 99, room: room.id, type: 'user_text', content: 'hi' });
      for (;;) if ((await wa.next()).ref === 99) break;
      for (const w of [wb, wc]) for (;;) if ((await w.next()).op === 'message') break;

      let s = (await scrape(srv.port)).samples;
      assert.equal(s.get('chorus_connections{state="websocket"}'), 3);
      assert.equal(s.get('chorus_connections{state="socketio_websocket"}'), 0);
      assert.equal(s.get('chorus_rooms'), 1);
      assert.equal(s.get('chorus_room_members_online'), 3);
      assert.equal(s.get('chorus_ops_total{op="join"}'), 3);
      assert.equal(s.get('chorus_ops_total{op="message"}'), 1);
      assert.equal(s.get('chorus_ops_total{op="echo"}'), 0);
      assert.equal(s.get('chorus_websocket_frames_received_total{type="text"}'), 4);
      // The message reached the other two: framed once, delivered twice.
      assert.equal(s.get('chorus_events_framed_total') - joined.get('chorus_events_framed_total'), 1);
      assert.equal(s.get('chorus_deliveries_total') - joined.get('chorus_deliveries_total'), 2);
      assert.equal(s.get('chorus_websocket_frames_sent_total{type="text"}') -
        joined.get('chorus_websocket_frames_sent_total{type="text"}'), 3, 'a reply and two events');
      assert.ok(s.get('chorus_sent_bytes_total') > before.get('chorus_sent_bytes_total'));
      assert.ok(s.get('chorus_received_bytes_total') > before.get('chorus_received_bytes_total'));
      assert.ok(s.get('chorus_http_requests_total') > before.get('chorus_http_requests_total'));
      assert.ok(s.get('chorus_store_request_duration_seconds_count') > before.get('chorus_store_request_duration_seconds_count'));
      assert.ok(s.get('chorus_store_batch_requests_count') >= 1);
      assert.ok(s.get('process_resident_memory_bytes') > 1 << 20);
      assert.ok(s.get('process_open_fds') >= 3);
      assert.ok(Math.abs(s.get('process_start_time_seconds') - Date.now() / 1000) < 600);

      // Ten echoes at once over a burst of 5 at 1 a second: some are refused.
      for (let i = 0; i < 10; i++) wa.send({ op: 'echo', ref: 1000 + i });
      let limited = 0;
      for (let i = 0; i < 10;) {
        const m = await wa.next();
        if (m.op !== 'reply') continue; // an activity event
        i++;
        if (m.error?.code === 'rate_limited') limited++;
      }
      assert.ok(limited >= 1);
      s = (await scrape(srv.port)).samples;
      assert.equal(s.get('chorus_rate_limited_total{transport="websocket"}'), limited);
      assert.equal(s.get('chorus_ops_total{op="echo"}'), 10 - limited);

      // A token refused at the handshake, two passwords refused, then a 429.
      await assert.rejects(JsonWs.open(srv.port, { path: '/ws?token=not-a-token' }));
      for (let i = 0; i < 2; i++) {
        assert.equal((await api(srv.port, 'POST', '/api/auth/login',
          { body: { email: 'nobody@example.com', password: 'wrong password' } })).status, 401);
      }
      assert.equal((await api(srv.port, 'POST', '/api/auth/login',
        { body: { email: 'nobody@example.com', password: 'wrong password' } })).status, 429);
      s = (await scrape(srv.port)).samples;
      assert.equal(s.get('chorus_auth_failures_total{reason="token"}'), 1);
      assert.equal(s.get('chorus_auth_failures_total{reason="password"}'), 2);
      assert.equal(s.get('chorus_rate_limited_total{transport="http"}'), 1);

      // A close frame in, its echo out; then both members offline.
      wb.ws.close(1000);
      await wb.waitClose();
      for (let i = 0; i < 100; i++) {
        s = (await scrape(srv.port)).samples;
        if (s.get('chorus_connections{state="websocket"}') === 2) break;
        await delay(20);
      }
      assert.equal(s.get('chorus_connections{state="websocket"}'), 2);
      assert.equal(s.get('chorus_room_members_online'), 2);
      assert.equal(s.get('chorus_websocket_frames_received_total{type="close"}'), 1);
      assert.equal(s.get('chorus_websocket_frames_sent_total{type="close"}'), 1);
    } finally {
      for (const c of clients) c.close();
      await srv.stop();
    }
  });

  it('the output queued on a client that stops reading is counted, and uncounted when it goes', T, async () => {
    const srv = await startServer({ args: ['--ws-max-queue', '64MiB'] });
    const slow = await RawWs.connect(srv.port);
    try {
      slow.socket.pause(); // the echoes pile up in the kernel's buffers, then in the server
      const data = 'q'.repeat(60 * 1024);
      let s;
      for (let i = 1; i <= 400; i++) {
        slow.send(jsonFrame({ op: 'echo', ref: i, data }));
        if (i % 20) continue;
        s = (await scrape(srv.port)).samples;
        if (s.get('chorus_output_queued_bytes') > 0) break;
      }
      assert.ok(s.get('chorus_output_queued_bytes') > 0, 'output queued for the paused reader');
      assert.equal(s.get('chorus_connections{state="websocket"}'), 1);
      slow.destroy();
      for (let i = 0; i < 100; i++) {
        s = (await scrape(srv.port)).samples;
        if (s.get('chorus_connections{state="websocket"}') === 0) break;
        await delay(20);
      }
      assert.equal(s.get('chorus_connections{state="websocket"}'), 0);
      assert.equal(s.get('chorus_output_queued_bytes'), 0);
    } finally {
      slow.destroy();
      await srv.stop();
    }
  });

  it('--metrics-listen serves /metrics (and /healthz) alone, --metrics-token needs the bearer token', T, async () => {
    const TOKEN = 'scrape-token-0123456789';
    const srv = await startServer({ args: ['--metrics-listen', '127.0.0.1:0', '--metrics-token', TOKEN] });
    try {
      const line = await srv.waitForLine(/serving \/metrics on 127\.0\.0\.1:(\d+) \(plain HTTP\)/);
      const mport = Number(/:(\d+) \(plain/.exec(line)[1]);
      const auth = (t) => ({ headers: { Authorization: `Bearer ${t}` } });
      // The main listener no longer has it, token or not.
      assertJsonError(await fetchOnce(srv.port, 'GET', '/metrics', auth(TOKEN)), 404, 'not_found');
      // The metrics listener: no token or a wrong one is 401, the right one reads the page.
      for (const opts of [{}, auth('scrape-token-012345678'), auth(`${TOKEN}x`), { headers: { Authorization: TOKEN } }]) {
        const r = await fetchOnce(mport, 'GET', '/metrics', opts);
        assertJsonError(r, 401, 'unauthorized');
        assert.equal(r.headers['www-authenticate'], 'Bearer realm="metrics"');
      }
      const ok = await fetchOnce(mport, 'GET', '/metrics', auth(TOKEN));
      assert.equal(ok.status, 200);
      assert.ok(conns(ok.text) >= 1);
      assert.equal((await fetchOnce(mport, 'GET', '/healthz')).status, 200);
      // Nothing else is served there.
      for (const p of ['/', '/api/rooms', '/ws', '/socket.io/']) {
        assertJsonError(await fetchOnce(mport, 'GET', p, auth(TOKEN)), 404, 'not_found');
      }
      // Nor the routes that take their body as a stream (tus uploads): plain HTTP there.
      const tus = { 'Tus-Resumable': '1.0.0', 'Upload-Length': '4' };
      assertJsonError(await fetchOnce(mport, 'POST', '/api/uploads/', { headers: tus }), 404, 'not_found');
      // The token never reaches the log (a wrong one neither).
      assert.ok(!srv.lines.some((l) => l.includes('scrape-token-01234')), 'no token in the log');
    } finally {
      await srv.stop();
    }
  });

  it('the table of docs/operations.md names every family /metrics has, with its type and labels', T, async () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
    const section = doc.slice(doc.indexOf('\n## Metrics\n'), doc.indexOf('\n### Dashboards\n'));
    const documented = new Map(); // family -> { type, labels }
    for (const line of section.split('\n')) {
      const m = /^\| `([a-z_]+)` \| ([a-z]+)[^|]*\| ([^|]*)\|/.exec(line);
      if (!m) continue;
      const labels = [...m[3].matchAll(/`([a-z_]+)`:/g)].map((x) => x[1]).sort();
      documented.set(m[1], { type: m[2], labels });
    }
    const srv = await startServer();
    try {
      const { samples, types } = await scrape(srv.port);
      const exposed = new Map();
      for (const [family, type] of types) exposed.set(family, { type, labels: new Set() });
      for (const series of samples.keys()) {
        const name = series.replace(/\{.*$/, '');
        const family = [...exposed.keys()].find((f) => name === f ||
          (exposed.get(f).type === 'histogram' && ['_bucket', '_sum', '_count'].some((x) => name === f + x)));
        assert.ok(family, `a family for ${series}`);
        for (const l of series.matchAll(/([a-z_]+)="/g)) if (l[1] !== 'le') exposed.get(family).labels.add(l[1]);
      }
      assert.deepEqual([...documented.keys()].sort(), [...exposed.keys()].sort(), 'the same families');
      for (const [family, { type, labels }] of exposed) {
        assert.equal(documented.get(family).type, type, `${family}'s type`);
        assert.deepEqual(documented.get(family).labels, [...labels].sort(), `${family}'s labels`);
      }
    } finally {
      await srv.stop();
    }
  });
});
