// metrics.test.mjs: GET /metrics (docs/operations.md "Metrics"): the Prometheus text
// format with the event-loop iteration histogram and maximum, and --metrics-allow, which
// answers every other client address with the 404 of an unknown path. No timings.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';

import { assertJsonError, fetchOnce, HttpConn } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

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

// Parses the text format into { name{labels}: number } and checks each line's shape:
// "# HELP name text", "# TYPE name kind", or "name{labels} value".
function parseMetrics(text) {
  const samples = new Map();
  const types = new Map();
  assert.ok(text.endsWith('\n'), 'the page ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) continue;
    const t = /^# TYPE ([a-z_]+) (counter|gauge|histogram)$/.exec(line);
    if (t) {
      types.set(t[1], t[2]);
      continue;
    }
    const m = /^([a-z_]+)(\{le="([0-9.]+|\+Inf)"\})? ([0-9]+(\.[0-9]+)?)$/.exec(line);
    assert.ok(m, `a sample line: ${JSON.stringify(line)}`);
    samples.set(m[1] + (m[2] ?? ''), Number(m[4]));
  }
  return { samples, types };
}

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
      assert.ok(samples.get('chorus_connections') >= 1, 'this request\'s connection');
      // The earlier ones (the readiness probe, /healthz) leave the count once the server has
      // seen them close, a few loop iterations later (closes are spread over iterations).
      let conns = samples.get('chorus_connections');
      for (let i = 0; i < 100 && conns !== 1; i++) {
        await new Promise((r) => setTimeout(r, 20));
        conns = parseMetrics((await fetchOnce(srv.port, 'GET', '/metrics')).text).samples.get('chorus_connections');
      }
      assert.equal(conns, 1, 'only the request\'s own connection is left');

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
      const open = parseMetrics((await fetchOnce(srv.port, 'GET', '/metrics')).text);
      assert.equal(open.samples.get('chorus_connections'), 301);
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
      const { samples } = parseMetrics(res.text);
      assert.ok(samples.get('chorus_connections') > 100,
        `connections still closing when the answer was made: ${samples.get('chorus_connections')}`);
    } finally {
      await srv.stop();
    }
  });

  it('a bad --metrics-allow stops the server at start', T, async () => {
    await assert.rejects(startServer({ args: ['--metrics-allow', '127.0.0.1/99'] }));
  });
});
