// flush.test.mjs: the two output paths (--io-uring on: every connection's output of a loop
// iteration in one io_uring submission; off: one writev each) deliver the same bytes. A
// room of 300 members is more than one submission (256 sends), and 40 broadcasts sent
// back to back queue several frames on each member per loop iteration, up to 48 KiB
// each, so some sends come back short and the rest goes through libuv's queued writes.
// With the ring, the server's shutdown line must count more sends than submissions. Both
// paths stop a flush at its byte budget and carry the rest to the next one
// (chorus_loop_flush_deferred_total), every member's frames still whole and in order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { scrape } from './lib/metrics.mjs';
import { createRoom, mkUser, RoomWs } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';
import { withTimeout } from './lib/util.mjs';

const MEMBERS = 300;
const BROADCASTS = 40;

/** Opens a raw ws connection that records every broadcast's data, in order. */
function openMember(port, user) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(user.token)}`, 'chorus.v1');
  const m = { ws, got: [], joined: null, closed: null };
  m.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('error', () => {});
  m.joined = new Promise((resolve, reject) => {
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString('utf8'));
      if (msg.op === 'reply' && msg.ref === 1) return msg.ok ? resolve() : reject(new Error(JSON.stringify(msg)));
      if (msg.op === 'broadcast') m.got.push(msg.data);
    });
  });
  return m;
}

for (const mode of ['on', 'off']) {
  describe(`output with --io-uring ${mode}`, () => {
    let srv;
    before(async () => {
      srv = await startServer({
        args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--io-uring', mode,
          '--room-max-capacity', String(MEMBERS + 10), '--room-max-broadcast', '64KiB',
          '--max-connections-per-ip', '0'], // every member comes from 127.0.0.1
      });
    });
    after(async () => {
      await srv?.stop();
      const stats = srv?.lines.map((l) => /io_uring: (\d+) sends in (\d+) submissions/.exec(l)).find(Boolean);
      if (mode === 'off' || !usable) {
        assert.equal(stats, undefined, 'no ring, no io_uring line');
      } else {
        assert.ok(stats, `the shutdown line counts the ring's work: ${srv.stderrTail()}`);
        const [sends, submissions] = [Number(stats[1]), Number(stats[2])];
        // 300 members x several flushes went through the ring, many sends a submission
        // (one per connection with output in a loop iteration: fewer when the machine is
        // busy and iterations come more often with less in each; one would mean no batching).
        assert.ok(sends >= MEMBERS && submissions * 4 < sends, `${sends} sends in ${submissions} submissions`);
      }
    });

    let usable = false;
    it(`the server says which path it uses`, (t) => {
      const said = srv.lines.some((l) => /sending with io_uring/.test(l));
      const unavailable = srv.lines.some((l) => /io_uring is not available/.test(l));
      usable = said;
      if (mode === 'off') assert.ok(!said && !unavailable, srv.stderrTail());
      else if (unavailable) t.skip('io_uring is not available here: the server uses writev');
      else assert.ok(said, srv.stderrTail());
    });

    it(`${MEMBERS} members each get ${BROADCASTS} broadcasts sent back to back, whole and in order`,
      { timeout: 60000 }, async () => {
        const host = mkUser('Host');
        const room = await createRoom(srv.port, host, { name: 'flush', maxParticipants: MEMBERS + 1 });
        const members = [];
        for (let i = 0; i < MEMBERS; i++) {
          const m = openMember(srv.port, mkUser(`m${i}`));
          m.ws.on('open', () => m.ws.send(JSON.stringify({ op: 'join', ref: 1, room: room.id })));
          members.push(m);
        }
        await withTimeout(Promise.all(members.map((m) => m.joined)), 30000, 'every member to join');

        const pub = await RoomWs.open(srv.port, host);
        await pub.join(room.id);
        // Sizes from a few bytes to 48 KiB, so some frames take several TCP segments; all
        // sent in one go, so the server reads many of them in one loop iteration.
        const sent = [];
        for (let i = 0; i < BROADCASTS; i++) {
          const data = { i, pad: String.fromCharCode(97 + (i % 26)).repeat((i * 7919) % (48 * 1024)) };
          sent.push(data);
          pub.send({ op: 'broadcast', ref: 1000 + i, room: room.id, event: 'flush', data });
        }
        const deadline = Date.now() + 30000;
        while (members.some((m) => m.got.length < BROADCASTS)) {
          if (Date.now() > deadline) {
            const short = members.filter((m) => m.got.length < BROADCASTS).length;
            assert.fail(`${short} members are missing broadcasts after 30 s`);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        for (const [k, m] of members.entries()) {
          assert.equal(m.got.length, BROADCASTS, `member ${k}: exactly ${BROADCASTS} broadcasts`);
          for (let i = 0; i < BROADCASTS; i++) {
            assert.deepEqual(m.got[i], sent[i], `member ${k}, broadcast ${i}`);
          }
        }
        // Each broadcast is up to 48 KiB for each of 300 members, megabytes a flush: the
        // flush's byte budget (SERVER_FLUSH_BUDGET) left some to the next flush, and
        // nothing above went missing or out of order for it.
        const { samples } = await scrape(srv.port);
        assert.ok(samples.get('chorus_loop_flush_deferred_total') > 0,
          `a flush left output to the next one (${samples.get('chorus_loop_flush_deferred_total')})`);
        pub.close();
        for (const m of members) m.ws.close();
        await Promise.all(members.map((m) => m.closed));
      });
  });
}
