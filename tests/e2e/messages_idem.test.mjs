// messages_idem.test.mjs: a message's client id (docs/protocol.md "message", issue 19):
// the same clientId sent again by the same user in the same room stores nothing and
// answers the first message ("duplicate": true), announces nothing and costs no quota;
// on one connection in a burst, on two connections at once, and after a kill -9 and a
// restart; a bad clientId is a validation_error naming it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { closeAll, createRoom, mkUser, openAll, RoomWs } from './lib/rooms.mjs';
import { makeTempDir, ON_CLUSTER, startServer } from './lib/server.mjs';
import { withTimeout } from './lib/util.mjs';

const T = { timeout: 20000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];
const ROW = 64; // STORE_ROW_BYTES

const msg = (room, clientId, content, extra = {}) => ({ room, type: 'user_text', content, clientId, ...extra });
const history = async (c, room) => (await c.ok('history', { room, limit: 200 })).messages;

describe('message clientId', () => {
  it('sent again: the first message, duplicate, no event, no quota; per user; a burst keeps seqs gapless', T, async () => {
    // Room for two messages of 100 bytes from the member, not three.
    const srv = await startServer({ args: [...BASE_ARGS, '--user-quota', `${2 * (ROW + 100) + 50}`] });
    const host = mkUser('Host');
    const mem = mkUser('Mem');
    const r = await createRoom(srv.port, host, { name: 'idem' });
    const [ch, cm] = await openAll(srv.port, [host, mem]);
    try {
      await ch.join(r.id);
      await cm.join(r.id);
      await ch.sync();
      ch.clear();
      // Seqs from here (the server may have posted its own messages before).
      const s0 = (await history(cm, r.id)).at(-1)?.seq ?? 0;
      const text = 'x'.repeat(100);
      const first = (await cm.ok('message', msg(r.id, 'a-1', text))).message;
      assert.equal(first.clientId, 'a-1');
      assert.equal(first.seq, s0 + 1);
      // Sent again (another text too): the stored one answers, three times over.
      for (let i = 0; i < 3; i++) {
        const again = await cm.ok('message', msg(r.id, 'a-1', `${text}!`));
        assert.equal(again.duplicate, true);
        assert.deepEqual(again.message, first);
      }
      // The duplicates took no quota: a second message still fits, a third does not.
      const second = (await cm.ok('message', msg(r.id, 'a-2', text))).message;
      assert.equal(second.seq, s0 + 2);
      await cm.err('message', msg(r.id, 'a-3', text), 'quota_exceeded');
      // Another user may use the same clientId: it is the sender's own.
      const hosts = (await ch.ok('message', msg(r.id, 'a-1', 'host'))).message;
      assert.equal(hosts.seq, s0 + 3);
      assert.equal(hosts.duplicate, undefined);
      await ch.sync();
      const events = ch.kept('message').map((e) => e.message);
      assert.deepEqual(events.map((m) => [m.seq - s0, m.clientId]), [[1, 'a-1'], [2, 'a-2']], 'one event per stored message');
      // History carries the clientId.
      assert.deepEqual((await history(cm, r.id)).filter((m) => m.seq > s0).map((m) => [m.seq - s0, m.clientId]),
        [[1, 'a-1'], [2, 'a-2'], [3, 'a-1']]);

      // A burst on one connection: a duplicate between new messages leaves no gap.
      const replies = await Promise.all([
        ch.call('message', msg(r.id, 'b-1', 'one')),
        ch.call('message', { room: r.id, type: 'user_text', content: 'no id' }),
        ch.call('message', msg(r.id, 'b-1', 'one again')),
        ch.call('message', msg(r.id, 'b-2', 'two')),
        ch.call('message', msg(r.id, 'a-1', 'host again')),
      ]);
      assert.ok(replies.every((m) => m.ok), JSON.stringify(replies));
      assert.deepEqual(replies.map((m) => [m.data.message.seq - s0, m.data.duplicate ?? false]),
        [[4, false], [5, false], [4, true], [6, false], [3, true]]);
      await cm.sync();
      assert.deepEqual(cm.kept('message').map((e) => e.message.seq - s0), [3, 4, 5, 6]);
      assert.deepEqual((await history(cm, r.id)).map((m) => m.seq), Array.from({ length: s0 + 6 }, (_, i) => i + 1));
    } finally {
      closeAll([ch, cm]);
      await srv.stop();
    }
  });

  it('two connections of one user at once: one message, both answered with it', T, async () => {
    const srv = await startServer({ args: BASE_ARGS });
    const u = mkUser('Twice');
    const r = await createRoom(srv.port, u, { name: 'twice' });
    const [c1, c2] = await openAll(srv.port, [u, u]);
    try {
      await c1.join(r.id);
      await c2.join(r.id);
      for (let round = 0; round < 5; round++) {
        const [a, b] = await Promise.all([
          c1.ok('message', msg(r.id, `t-${round}`, 'from one')),
          c2.ok('message', msg(r.id, `t-${round}`, 'from two')),
        ]);
        assert.deepEqual(a.message, b.message);
        assert.equal(!!a.duplicate + !!b.duplicate, 1, `exactly one duplicate: ${JSON.stringify([a, b])}`);
      }
      assert.deepEqual((await history(c1, r.id)).map((m) => m.clientId), ['t-0', 't-1', 't-2', 't-3', 't-4']);
    } finally {
      closeAll([c1, c2]);
      await srv.stop();
    }
  });

  it('a bad clientId -> validation_error with field clientId, nothing stored', T, async () => {
    const srv = await startServer({ args: BASE_ARGS });
    const u = mkUser('Bad');
    const r = await createRoom(srv.port, u, { name: 'bad' });
    const c = await RoomWs.open(srv.port, u);
    try {
      await c.join(r.id);
      for (const clientId of ['', 'x'.repeat(65), 'a b', 'a+b/c=', 'é', 7, null, ['a'], { a: 1 }]) {
        const m = await c.err('message', msg(r.id, clientId, 'hi'), 'validation_error');
        assert.equal(m.error.field, 'clientId', JSON.stringify(m));
      }
      const before = (await history(c, r.id)).length;
      const ok = await c.ok('message', msg(r.id, `${'A'.repeat(30)}_z-${'9'.repeat(30)}`, 'hi'));
      assert.equal(ok.message.seq, before + 1, 'the refused ones took no seq');
    } finally {
      c.close();
      await srv.stop();
    }
  });

  it('kill -9 after the commit: sent again after the restart, the first message answers; seqs go on', { timeout: 30000, skip: ON_CLUSTER && 'restarts the server on its data dir' }, async () => {
    const dir = makeTempDir('chorus-idem-');
    const args = [...BASE_ARGS, '--data', dir];
    let srv = await startServer({ data: false, args });
    let c;
    try {
      const u = mkUser('Kill');
      const r = await createRoom(srv.port, u, { name: 'kill' });
      c = await RoomWs.open(srv.port, u);
      await c.join(r.id);
      const sent = [];
      for (let i = 0; i < 5; i++) sent.push((await c.ok('message', msg(r.id, `k-${i}`, `m${i}`))).message);
      srv.kill();
      await withTimeout(srv.exited, 5000, 'chorus to die');
      c.close();
      srv.cleanup();

      srv = await startServer({ data: false, args });
      c = await RoomWs.open(srv.port, u);
      await c.join(r.id);
      for (let i = 0; i < 5; i++) {
        const again = await c.ok('message', msg(r.id, `k-${i}`, `m${i}`));
        assert.equal(again.duplicate, true);
        assert.deepEqual(again.message, sent[i]);
      }
      const next = (await c.ok('message', msg(r.id, 'k-5', 'm5'))).message;
      assert.equal(next.seq, 6);
      assert.deepEqual((await history(c, r.id)).map((m) => m.seq), [1, 2, 3, 4, 5, 6]);
    } finally {
      c?.close();
      srv?.kill();
      if (srv) await withTimeout(srv.exited, 5000, 'chorus exit').catch(() => {});
      srv?.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
