// quota.test.mjs: storage quotas and retention (docs/operations.md "Storage quotas and
// retention", docs/protocol.md "quota_exceeded"): every path that stores (messages with
// their metadata, document ops, entities, room state) is refused with quota_exceeded once
// a room or a user is at its quota, the counters survive a restart and go down when data
// goes (entity delete, room delete, retention); the retention sweep deletes messages past
// the count or age rule and op log rows before a document's snapshot, and what remains is
// served as documented.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { api, FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { closeAll, createRoom, mkUser, RoomWs, until } from './lib/rooms.mjs';
import { makeTempDir, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];
const ROW = 64; // STORE_ROW_BYTES: what a row counts on top of its payload


/** Sends messages of about size bytes (in metadata) until one is refused; returns how many went. */
async function fillWithMessages(c, room, size, max = 1000) {
  for (let i = 0; i < max; i++) {
    const m = await c.call('message', { room, type: 'user_text', content: `m${i}`, metadata: { pad: 'x'.repeat(size) } });
    if (!m.ok) {
      assert.equal(m.error.code, 'quota_exceeded', JSON.stringify(m));
      return i;
    }
  }
  throw new Error(`no quota_exceeded after ${max} messages`);
}

/** Every message of a room, oldest first, through WebSocket history pages. */
async function history(c, room) {
  return (await c.ok('history', { room, limit: 200 })).messages;
}

describe('storage quotas', () => {
  it('room quota: metadata counts, every store path answers quota_exceeded, the count survives a restart', T, async () => {
    const dir = makeTempDir('chorus-quota-');
    const args = [...BASE_ARGS, '--data', dir, '--room-quota', '8KiB', '--user-quota', '0'];
    let srv = await startServer({ data: false, args });
    const a = mkUser('A');
    let c;
    try {
      const room = await createRoom(srv.port, a, { name: 'q' });
      c = await RoomWs.open(srv.port, a);
      await c.join(room.id);
      // Metadata is what fills it (the content is 2-3 bytes): about 1 KiB per message.
      const n = await fillWithMessages(c, room.id, 1000);
      assert.ok(n >= 5 && n <= 8, `${n} messages of ~1 KiB fit in 8 KiB`);
      const msgs = await history(c, room.id);
      const used = msgs.reduce((s, m) => s + ROW + Buffer.byteLength(m.content) +
        Buffer.byteLength(JSON.stringify(m.metadata)), 0) + Buffer.byteLength('{}'); // + the state
      assert.ok(used <= 8192, `stored ${used} bytes, quota 8192`);
      // Every other path that stores is refused too, with the same code; reads still work.
      const err = await c.err('message', { room: room.id, type: 'user_text', content: 'x'.repeat(2000) }, 'quota_exceeded');
      assert.match(err.error.message, /quota/);
      await c.ok('doc_open', { room: room.id, doc: 'd' });
      await c.err('doc_op', { room: room.id, doc: 'd', version: 0, delta: ['y'.repeat(2000)] }, 'quota_exceeded');
      await c.err('entity_create', { room: room.id, kind: 'k', data: { pad: 'z'.repeat(2000) } }, 'quota_exceeded');
      const rest = await api(srv.port, 'PATCH', `/api/rooms/${room.id}/state`, { token: a.token, body: { pad: 's'.repeat(2000) } });
      assert.equal(rest.status, 507, rest.text);
      assert.equal(rest.json().error.code, 'quota_exceeded');
      assert.equal(rest.json().success, false);
      await c.err('state', { room: room.id, patch: { pad: 's'.repeat(2000) } }, 'quota_exceeded');
      assert.equal((await history(c, room.id)).length, msgs.length, 'nothing refused was stored');

      // The counters are computed from the store at start: still full after a restart.
      c.close();
      await srv.stop();
      srv = await startServer({ data: false, args });
      c = await RoomWs.open(srv.port, a);
      await c.join(room.id);
      await c.err('message', { room: room.id, type: 'user_text', content: 'x'.repeat(2000) }, 'quota_exceeded');
      // Small writes still fit in what is left.
      await c.ok('message', { room: room.id, type: 'user_text', content: 'ok' });
    } finally {
      c?.close();
      await srv.stop();
    }
  });

  it('deleting data gives bytes back: entity delete (room), room delete (user)', T, async () => {
    const srv = await startServer({ args: [...BASE_ARGS, '--room-quota', '8KiB', '--user-quota', '12KiB'] });
    const a = mkUser('A');
    const b = mkUser('B');
    const cs = [];
    try {
      const r1 = await createRoom(srv.port, a, { name: 'one' });
      const ca = await RoomWs.open(srv.port, a);
      const cb = await RoomWs.open(srv.port, b);
      cs.push(ca, cb);
      await ca.join(r1.id);
      // Entities count for the room: fill it with entities, delete one, create again.
      const ids = [];
      for (let i = 0; ; i++) {
        const m = await ca.call('entity_create', { room: r1.id, id: `e${i}`, kind: 'k', data: { pad: 'e'.repeat(1500) } });
        if (!m.ok) {
          assert.equal(m.error.code, 'quota_exceeded', JSON.stringify(m));
          break;
        }
        ids.push(`e${i}`);
        assert.ok(i < 20, 'the room quota refuses entities');
      }
      assert.ok(ids.length >= 4, `${ids.length} entities of 1.5 KiB in 8 KiB`);
      // At the quota, an update that grows is refused (transient too), one that deletes a
      // field is not, and what it freed is usable.
      await ca.err('entity_update', { room: r1.id, id: ids[1], patch: { more: 'm'.repeat(1500) } }, 'quota_exceeded');
      await ca.err('entity_update', { room: r1.id, id: ids[1], patch: { more: 'm'.repeat(1500) }, transient: true }, 'quota_exceeded');
      await ca.ok('entity_update', { room: r1.id, id: ids[1], patch: { pad: null } });
      await ca.ok('entity_update', { room: r1.id, id: ids[1], patch: { more: 'm'.repeat(1200) } });
      await ca.ok('entity_delete', { room: r1.id, id: ids[0] });
      await ca.ok('entity_create', { room: r1.id, id: 'again', kind: 'k', data: { pad: 'e'.repeat(1500) } });

      // The user quota spans rooms: A's bytes in r1 count in r2 as well; B is not affected.
      const r2 = await createRoom(srv.port, a, { name: 'two' });
      await ca.join(r2.id);
      await cb.join(r2.id);
      const n = await fillWithMessages(ca, r2.id, 1000);
      assert.ok(n < 6, `A had ~7.5 KiB stored in r1; ${n} KiB more reached 12 KiB`);
      await cb.ok('message', { room: r2.id, type: 'user_text', content: 'b', metadata: { pad: 'b'.repeat(1000) } });
      // Deleting r1 gives A its bytes back (counted from the store as the room goes).
      const del = await api(srv.port, 'DELETE', `/api/rooms/${r1.id}`, { token: a.token });
      assert.equal(del.status, 200, del.text);
      await ca.ok('message', { room: r2.id, type: 'user_text', content: 'a', metadata: { pad: 'a'.repeat(1000) } });
    } finally {
      closeAll(cs);
      await srv.stop();
    }
  });
});

describe('retention', () => {
  it('--message-retention-count keeps the newest messages; history returns what is left; the quota frees up', T, async () => {
    const srv = await startServer({
      args: [...BASE_ARGS, '--message-retention-count', '3', '--retention-sweep', '200ms', '--room-quota', '6KiB'],
    });
    const a = mkUser('A');
    let c;
    try {
      const room = await createRoom(srv.port, a, { name: 'r' });
      c = await RoomWs.open(srv.port, a);
      await c.join(room.id);
      const n = await fillWithMessages(c, room.id, 1000);
      assert.ok(n >= 3, `${n} messages before the quota`);
      // The sweep deletes all but the newest 3 and gives their bytes back.
      const left = await until(async () => {
        const msgs = await history(c, room.id);
        return msgs.length === 3 ? msgs : null;
      }, 10000, 'the sweep to keep 3 messages');
      const last = left[2].seq;
      assert.deepEqual(left.map((m) => m.seq), [last - 2, last - 1, last]);
      // History before the oldest kept seq answers what is left: nothing.
      assert.deepEqual((await c.ok('history', { room: room.id, before: last - 2 })).messages, []);
      assert.deepEqual((await c.ok('history', { room: room.id, after: 0, limit: 2 })).messages.map((m) => m.seq), [last - 2, last - 1]);
      // Room for more now, and seqs go on.
      const m = await c.ok('message', { room: room.id, type: 'user_text', content: 'after', metadata: { pad: 'x'.repeat(1000) } });
      assert.equal(m.message.seq, last + 1);
    } finally {
      c?.close();
      await srv.stop();
    }
  });

  it('--message-retention deletes messages by age and always keeps the newest', T, async () => {
    const srv = await startServer({ args: [...BASE_ARGS, '--message-retention', '300ms', '--retention-sweep', '200ms'] });
    const a = mkUser('A');
    let c;
    try {
      const room = await createRoom(srv.port, a, { name: 'age' });
      c = await RoomWs.open(srv.port, a);
      await c.join(room.id);
      for (let i = 0; i < 5; i++) await c.ok('message', { room: room.id, type: 'user_text', content: `m${i}` });
      const left = await until(async () => {
        const msgs = await history(c, room.id);
        return msgs.length === 1 ? msgs : null;
      }, 10000, 'old messages to go');
      assert.equal(left[0].content, 'm4');
      const m = await c.ok('message', { room: room.id, type: 'user_text', content: 'next' });
      assert.equal(m.message.seq, left[0].seq + 1);
    } finally {
      c?.close();
      await srv.stop();
    }
  });

  it('--doc-log-retention deletes op log rows before the snapshot; older reads get version_too_old', T, async () => {
    const dir = makeTempDir('chorus-ret-');
    const args = [...BASE_ARGS, '--data', dir, '--doc-snapshot-every', '5', '--doc-log-retention', '2',
      '--doc-log-window', '3', '--retention-sweep', '200ms'];
    let srv = await startServer({ data: false, args });
    const a = mkUser('A');
    let c;
    try {
      const room = await createRoom(srv.port, a, { name: 'doc' });
      c = await RoomWs.open(srv.port, a);
      await c.join(room.id);
      await c.ok('doc_open', { room: room.id, doc: 'd' });
      let text = '';
      for (let v = 0; v < 12; v++) {
        await c.ok('doc_op', { room: room.id, doc: 'd', version: v, delta: text.length ? [text.length, `${v % 10}`] : [`${v % 10}`] });
        text += `${v % 10}`;
      }
      // Snapshot at 10: rows up to 10 - 2 = 8 go; 9..12 stay.
      await until(async () => {
        const m = await c.call('doc_ops', { room: room.id, doc: 'd', from: 0 });
        return !m.ok && m.error.code === 'version_too_old';
      }, 10000, 'doc_ops from 0 to answer version_too_old');
      const kept = await c.ok('doc_ops', { room: room.id, doc: 'd', from: 8 });
      assert.deepEqual(kept.ops.map((o) => o.version), [9, 10, 11, 12]);
      // A restart reloads from the snapshot and the kept ops; the text is whole.
      c.close();
      await srv.stop();
      srv = await startServer({ data: false, args });
      c = await RoomWs.open(srv.port, a);
      await c.join(room.id);
      assert.deepEqual(await c.ok('doc_open', { room: room.id, doc: 'd' }), { doc: 'd', text, version: 12 });
      // A client based on a version before the window is told to reload.
      await c.err('doc_op', { room: room.id, doc: 'd', version: 2, delta: ['x'] }, 'version_too_old');
      await c.ok('doc_op', { room: room.id, doc: 'd', version: 12, delta: [text.length, '!'] });
    } finally {
      c?.close();
      await srv.stop();
    }
  });
});
