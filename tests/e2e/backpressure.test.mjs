// backpressure.test.mjs: a client that stops reading is dropped (its requests wait once
// half of --ws-max-queue waits for it, and it is closed when that lasts --ws-stall-timeout),
// while other clients keep being served; a slow reader under the limit gets everything, in
// order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { fetchOnce } from './lib/http.mjs';
import { scrape } from './lib/metrics.mjs';
import { describeFrame, jsonFrame, OP, parseAllFrames, RawWs } from './lib/rawws.mjs';
import { startServer } from './lib/server.mjs';
import { delay } from './lib/util.mjs';
import { JsonWs } from './lib/wsclient.mjs';

const REQUESTS = 300;
const DATA = 'q'.repeat(60 * 1024);

// Both output paths: one io_uring submission a loop iteration, and one writev each.
for (const mode of ['on', 'off']) describe(`write queue limit (--ws-max-queue 256KiB, --io-uring ${mode})`, () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--ws-max-queue', '256KiB', '--ws-stall-timeout', '200ms', '--io-uring', mode] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('a client that never reads is closed; another client keeps working', { timeout: 60000 }, async () => {
    const good = await JsonWs.open(srv.port);
    await good.echo('before');

    const slow = await RawWs.connect(srv.port);
    slow.socket.pause(); // never read: the server's replies pile up
    for (let i = 1; i <= REQUESTS; i++) slow.send(jsonFrame({ op: 'echo', ref: i, data: DATA }));

    // Meanwhile the well-behaved client is served normally.
    for (let i = 0; i < 50; i++) await good.echo({ during: i });

    // The server stops reading slow's requests with its queue over half the limit, and
    // closes it once that has lasted --ws-stall-timeout.
    const closed = async () => (await scrape(srv.port)).samples.get('chorus_slow_clients_closed_total') > 0;
    while (!(await closed())) await delay(20);

    // Now read: the connection must end (close frame, FIN or reset), not stream all replies.
    slow.socket.resume();
    await slow.reader.waitDone(10000, 'the server to drop the slow client');
    const { frames } = parseAllFrames(slow.reader.bytes());
    const replies = frames.filter((f) => f.opcode === OP.TEXT);
    const closes = frames.filter((f) => f.opcode === OP.CLOSE);
    assert.ok(replies.length < REQUESTS,
      `the slow client got all ${replies.length} replies: it was not dropped for its queue`);
    for (const f of closes) assert.equal(f.code, 1008, `close frame ${describeFrame(f)}`);
    for (const [i, f] of replies.entries()) {
      const m = JSON.parse(f.payload);
      assert.equal(m.ref, i + 1, 'replies that did arrive are in order');
    }

    // After the drop the good client still works, and so does HTTP.
    for (let i = 0; i < 50; i++) await good.echo({ after: i });
    assert.equal(good.isOpen, true);
    assert.equal((await fetchOnce(srv.port, 'GET', '/healthz')).status, 200);
    good.close();
    slow.destroy();
  });

  it('a slow reader that is under the limit is not dropped', { timeout: 30000 }, async () => {
    const ws = await RawWs.connect(srv.port);
    try {
      ws.socket.pause();
      // 20 replies of ~1 KiB: far below 256 KiB, even with no kernel buffering at all.
      for (let i = 1; i <= 20; i++) ws.send(jsonFrame({ op: 'echo', ref: i, data: 'k'.repeat(1000) }));
      await delay(300);
      ws.socket.resume();
      for (let i = 1; i <= 20; i++) {
        const m = await ws.nextJson();
        assert.equal(m.ref, i);
        assert.equal(m.ok, true);
      }
      assert.equal(ws.reader.done, false);
    } finally {
      ws.destroy();
    }
  });
});
