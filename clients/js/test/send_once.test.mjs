// send_once.test.mjs: room.send() stores each message once however the connection drops
// (docs/protocol.md "message", clientId; clients/js/README.md "Messages are sent once"):
// replies lost with the connection after the server stored the messages, sends made
// while reconnecting, and a kill -9 of the server with messages in flight. Entity writes
// whose reply was lost are not sent again by the SDK (they reject closed), so none is
// applied twice, and an entity created with its own id can be retried safely (exists).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ON_CLUSTER } from '../../../tests/e2e/lib/server.mjs';
import {
  allMessagesRest, BASE_ARGS, connected, delay, rmDir, spawnServer, startServer, tempDir, until,
} from '../testlib/helpers.mjs';

const T = { timeout: ON_CLUSTER ? 60000 : 20000 };
const RECONNECT = { reconnect: { base: 50, max: 400 } };

/** The user's text messages stored in the room, over REST, ascending. */
const storedBy = async (c, roomId, userId) =>
  (await allMessagesRest(c, roomId)).filter((m) => m.userId === userId && m.type === 'user_text');

/** Every message once, in the order sent, each promise resolved with the stored one. */
function assertOnce(results, stored, contents) {
  assert.deepEqual(stored.map((m) => m.content), contents, 'each stored once, in order');
  assert.deepEqual(results.map((m) => m.content), contents);
  assert.deepEqual(results.map((m) => m.id), stored.map((m) => m.id), 'resolved with the stored messages');
  assert.ok(stored.every((m) => /^[A-Za-z0-9_-]{22}$/.test(m.clientId)), 'a clientId on each');
  assert.equal(new Set(stored.map((m) => m.clientId)).size, stored.length);
}

describe('room.send: stored once', () => {
  it('replies lost with the connection: sent again after the rejoin, each stored once, every promise resolves', T, async () => {
    const srv = await startServer({ args: BASE_ARGS });
    const a = await connected(srv.port, 'OnceA');
    const b = await connected(srv.port, 'OnceB', RECONNECT);
    try {
      const r = await a.createRoom({ name: 'once' });
      await a.join(r.roomCode);
      const br = await b.join(r.roomCode);
      const states = [];
      b.on('connection', (s) => states.push(s));
      // B reads nothing: the replies to what it sends wait unread; once the server stored
      // them, what arrived is thrown away with the connection (as a network that dies with
      // the replies on their way), so no reply ever reaches the SDK.
      const raw = b.socket._socket;
      raw.pause();
      const contents = Array.from({ length: 20 }, (_, i) => `p${i}`);
      const sends = contents.map((t) => br.send('user_text', t));
      await until(async () => (await storedBy(a, r.id, b.user.id)).length === contents.length, 5000, 'the server to store them');
      raw.removeAllListeners('data');
      while (raw.read() !== null);
      raw.destroy();
      await until(() => b.state === 'reconnecting', 3000, 'reconnecting');
      // Sent while reconnecting: goes out after the others once the room is rejoined.
      contents.push('during');
      sends.push(br.send('user_text', 'during'));
      const results = await Promise.all(sends);
      assert.deepEqual(states, ['reconnecting', 'open']);
      assertOnce(results, await storedBy(a, r.id, b.user.id), contents);
      // The room's own view: each once, gapless.
      await until(() => br.lastSeq >= results.at(-1).seq, 3000, 'B to have them all');
      const seqs = br.messages.map((m) => m.seq);
      for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, 'gapless');
      assert.equal(br.messages.filter((m) => m.userId === b.user.id).length, contents.length);
      assert.equal(br._outbox.size, 0);
    } finally {
      a.close();
      b.close();
      await srv.stop();
    }
  });

  it('kill -9 of the server with messages in flight: after the restart every promise resolves, each message stored once', {
    ...T,
    skip: ON_CLUSTER && 'restarts one server on its data dir',
  }, async () => {
    const data = tempDir();
    let s1 = await spawnServer({ dataDir: data });
    const port = s1.port;
    let s2;
    const a = await connected(port, 'KillA', RECONNECT);
    try {
      const r = await a.createRoom({ name: 'kill' });
      const ar = await a.join(r.roomCode);
      await ar.send('user_text', 'first');
      const contents = Array.from({ length: 60 }, (_, i) => `k${i}`);
      const sends = [];
      let acked = 0;
      // 30 sent at once and the server killed right behind them (some may be stored, none
      // answered), then 30 more while it is down.
      for (const t of contents.slice(0, 30)) sends.push(ar.send('user_text', t).then((m) => ++acked && m));
      s1.proc.kill('SIGKILL');
      await s1.exited;
      s1 = null;
      assert.ok(acked < 30, `some in flight at the kill (${acked} answered)`);
      await until(() => a.state === 'reconnecting', 3000, 'reconnecting');
      for (const t of contents.slice(30)) sends.push(ar.send('user_text', t));
      await delay(100); // a few reconnection attempts fail meanwhile
      s2 = await spawnServer({ dataDir: data, listen: `127.0.0.1:${port}` });
      const results = await Promise.all(sends);
      assertOnce(results, (await storedBy(a, r.id, a.user.id)).slice(1), contents);
    } finally {
      a.close();
      s1?.proc.kill('SIGKILL');
      if (s2) await s2.stop();
      rmDir(data);
    }
  });

  it('entity writes whose reply was lost: rejected closed, applied once, not sent again; a create by id retried answers exists', T, async () => {
    const srv = await startServer({ args: BASE_ARGS });
    const a = await connected(srv.port, 'EntA');
    const b = await connected(srv.port, 'EntB', RECONNECT);
    try {
      const r = await a.createRoom({ name: 'ents' });
      const ar = await a.join(r.roomCode);
      const br = await b.join(r.roomCode);
      await br.entities.create({ id: 'e1', kind: 'card', data: { n: 0 } });
      await until(() => ar.entities.get('e1'), 3000, 'A to see e1');
      const raw = b.socket._socket;
      raw.pause();
      const upd = br.entities.update('e1', { n: 1 });
      const crt = br.entities.create({ id: 'e2', kind: 'card', data: { x: 1 } });
      await until(() => ar.entities.get('e1')?.version === 2 && ar.entities.get('e2'), 5000, 'the server to apply both');
      raw.removeAllListeners('data');
      while (raw.read() !== null);
      raw.destroy();
      await assert.rejects(upd, { code: 'closed' });
      await assert.rejects(crt, { code: 'closed' });
      await until(() => b.state === 'open', 5000, 'B open again');
      await br.sync();
      assert.equal(br.entities.get('e1').version, 2, 'the update applied once');
      assert.deepEqual(br.entities.get('e1').data, { n: 1 });
      await assert.rejects(br.entities.create({ id: 'e2', kind: 'card', data: { x: 1 } }),
        (e) => e.code === 'exists' && e.entity?.id === 'e2' && e.entity.version === 1);
      await ar.sync();
      assert.equal(ar.entities.get('e1').version, 2);
      assert.equal(ar.entities.get('e2').version, 1);
      assert.equal(ar.entities.size, 2);
    } finally {
      a.close();
      b.close();
      await srv.stop();
    }
  });
});
