// loop_budget.test.mjs: the event loop's per-iteration budgets (docs/benchmarks.md "The
// longest loop iteration"; server.h SERVER_INPUT_BUDGET_NS and SERVER_FLUSH_BUDGET). A
// burst of input too large for one iteration's budget is handled over several, and
// nothing of a connection's order changes: every reply comes, in the order of its
// request, and another client's request read meanwhile is answered too. Counted by
// /metrics (chorus_loop_input_deferred_total), not timed: thousands of frames or requests
// read at once cannot all be handled within half a millisecond.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { buildRequest } from './lib/http.mjs';
import { scrape } from './lib/metrics.mjs';
import { jsonFrame, RawWs } from './lib/rawws.mjs';
import { mkUser } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';
import { withTimeout } from './lib/util.mjs';
import { JsonWs } from './lib/wsclient.mjs';

const T = { timeout: 60000 };
const ECHOES = 20000;
const REQUESTS = 2000;

const deferred = async (port) => (await scrape(port)).samples.get('chorus_loop_input_deferred_total');

describe('the loop input budget', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--ws-rate', '1000000', '--ws-burst', '1000000',
        '--rate-api-ip', '1000000/1m'],
    });
  });
  after(async () => {
    await srv?.stop();
  });

  it(`${ECHOES} echo ops in one write: every reply, in order; another client answered meanwhile`, T, async () => {
    const before0 = await deferred(srv.port);
    assert.equal(typeof before0, 'number', 'the counter is on the page');
    const user = mkUser('Burst');
    const a = await RawWs.connect(srv.port, { path: `/ws?token=${encodeURIComponent(user.token)}` });
    const b = await JsonWs.open(srv.port, { path: `/ws?token=${encodeURIComponent(mkUser('Other').token)}` });
    const frames = [];
    for (let i = 1; i <= ECHOES; i++) frames.push(jsonFrame({ op: 'echo', ref: i, data: { i } }));
    a.send(Buffer.concat(frames));
    b.send({ op: 'echo', ref: 7, data: 'other' });
    let seen = 0;
    while (seen < ECHOES) {
      const m = await a.nextJson(30000);
      if (m.op !== 'reply') continue;
      seen++;
      assert.equal(m.ref, seen, `reply ${seen} in order`);
      assert.equal(m.ok, true);
      assert.deepEqual(m.data, { i: seen });
    }
    const other = await withTimeout((async () => {
      for (;;) {
        const m = await b.next(30000);
        if (m.op === 'reply') return m;
      }
    })(), 30000, 'the other client\'s reply');
    assert.equal(other.ref, 7);
    assert.equal(other.data, 'other');
    const after0 = await deferred(srv.port);
    assert.ok(after0 > before0, `the burst waited for later iterations (${before0} -> ${after0})`);
    a.socket.destroy();
    b.close();
  });

  it(`${REQUESTS} pipelined HTTP requests in one write: every response`, T, async () => {
    const before0 = await deferred(srv.port);
    const sock = net.connect({ port: srv.port, host: '127.0.0.1' });
    await new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const reqs = [];
    for (let i = 0; i < REQUESTS; i++) reqs.push(buildRequest('GET', `/healthz?n=${i}`));
    let got = '';
    sock.setEncoding('latin1');
    const done = new Promise((resolve, reject) => {
      sock.on('data', (d) => {
        got += d;
        if ((got.match(/HTTP\/1\.1 \d{3} /g) ?? []).length >= REQUESTS) resolve();
      });
      sock.once('close', () => reject(new Error(`closed after ${(got.match(/HTTP\/1\.1 \d{3} /g) ?? []).length} responses`)));
    });
    sock.write(Buffer.concat(reqs));
    await withTimeout(done, 30000, `${REQUESTS} responses`);
    const statuses = got.match(/HTTP\/1\.1 \d{3} /g);
    assert.equal(statuses.length, REQUESTS);
    for (const s of statuses) assert.equal(s, 'HTTP/1.1 200 ');
    const after0 = await deferred(srv.port);
    assert.ok(after0 > before0, `the requests waited for later iterations (${before0} -> ${after0})`);
    sock.destroy();
  });
});
