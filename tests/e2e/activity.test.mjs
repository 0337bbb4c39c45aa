// activity.test.mjs: a room's activity stream (issue 25, docs/protocol.md "Activity"):
// three clients act in a room (join, chat, edit a document, move an entity, change the
// state, leave); the live `activity` events and the stored log (op `activity`, GET
// /api/rooms/:id/activity, the server API's) name each of those things in order, with the
// edits debounced into one row and the messages counted; paging; who may read it; a burst
// written once its user is idle; retention keeping the newest rows.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { api, FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { closeAll, get, mkUser, roomWith, RoomWs, until } from './lib/rooms.mjs';
import { runCli, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];
const ROW_KEYS = ['at', 'data', 'displayName', 'id', 'kind', 'seq', 'userId'];

/** A row as the test compares it: who did what (data included). */
const what = (row) => `${row.displayName} ${row.kind} ${JSON.stringify(row.data)}`;

function assertRow(row) {
  const s = JSON.stringify(row);
  assert.deepEqual(Object.keys(row).sort(), ROW_KEYS, s);
  assert.equal(row.id, String(row.seq), s);
  assert.ok(Number.isInteger(row.at) && Math.abs(row.at - Date.now()) < 600000, s);
  return row;
}

/** Every page of the log through GET path?limit=n&before=…, newest first. */
async function allPages(port, token, path, n) {
  const rows = [];
  let cursor = null;
  for (let i = 0; i < 20; i++) {
    const q = `?limit=${n}${cursor ? `&before=${cursor}` : ''}`;
    const res = await api(port, 'GET', `${path}${q}`, { token });
    assert.equal(res.status, 200, res.text);
    const j = res.json();
    assert.equal(j.success, true);
    assert.ok(j.activity.length <= n);
    rows.push(...j.activity.map(assertRow));
    cursor = j.nextCursor;
    if (!cursor) return rows;
    assert.equal(typeof cursor, 'string');
  }
  throw new Error('too many pages');
}

describe('activity stream', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: BASE_ARGS });
  });
  after(async () => {
    await srv?.stop();
  });

  it('three clients act: live events and the stored log name each change in order', T, async () => {
    const [a, b, c] = [mkUser('Ana'), mkUser('Bo'), mkUser('Cy')];
    const { room, cs } = await roomWith(srv.port, [a, b, c]);
    const [ca, cb, cc] = cs;
    const stranger = mkUser('Stranger');
    try {
      for (const text of ['one', 'two', 'three']) await cb.ok('message', { room: room.id, type: 'user_text', content: text });
      await cb.ok('doc_open', { room: room.id, doc: 'main' });
      await cb.ok('doc_op', { room: room.id, doc: 'main', version: 0, delta: ['hello wörld'] });
      await cb.ok('doc_op', { room: room.id, doc: 'main', version: 1, delta: [5, { d: 6 }] });
      await cc.ok('entity_create', { room: room.id, id: 'e1', kind: 'pin', data: { pos: [0, 0] } });
      for (let i = 1; i <= 3; i++) await cc.ok('entity_update', { room: room.id, id: 'e1', patch: { pos: [i, 0] }, transient: true });
      await cc.ok('entity_update', { room: room.id, id: 'e1', patch: { pos: [9, 9] } });
      await ca.ok('state', { room: room.id, patch: { mode: 'play', round: 1 } });
      await cb.ok('leave', { room: room.id });
      await cc.ok('leave', { room: room.id });

      const want = [
        'Ana joined {}',
        'Bo joined {}',
        'Cy joined {}',
        'Cy entity_created {"entity":"e1","kind":"pin"}',
        'Ana state_changed {"keys":["mode","round"]}',
        'Bo messages {"count":3,"ms":MS}',
        'Bo doc_opened {"doc":"main","count":1,"ms":MS}',
        'Bo doc_edited {"doc":"main","ops":2,"inserted":11,"deleted":6,"ms":MS}',
        'Bo left {"reason":"left"}',
        'Cy entity_moved {"entity":"e1","count":4,"ms":MS}',
        'Cy left {"reason":"left"}',
      ];
      const norm = (row) => what(row).replace(/"ms":\d+/, '"ms":MS');
      // Live: one event per row, in order, to the members (Ana stayed).
      await until(() => ca.kept('activity').length >= want.length, 10000, 'the activity events');
      const live = ca.kept('activity').map((m) => {
        assert.deepEqual(Object.keys(m).sort(), ['activity', 'op', 'room'], JSON.stringify(m));
        assert.equal(m.room, room.id);
        return assertRow(m.activity);
      });
      assert.deepEqual(live.map(norm), want);
      assert.deepEqual(live.map((r) => r.seq), want.map((_, i) => i + 1));
      assert.equal(live[0].userId, a.sub);
      assert.equal(live[5].userId, b.sub);

      // Stored: the same rows, newest first, in pages of 4 (REST) and through the op.
      const rest = await allPages(srv.port, a.token, `/api/rooms/${room.id}/activity`, 4);
      assert.deepEqual(rest, [...live].reverse());
      const p1 = await ca.ok('activity', { room: room.id, limit: 10 });
      assert.deepEqual(p1.activity, [...live].reverse().slice(0, 10));
      assert.equal(p1.nextCursor, '2');
      const p2 = await ca.ok('activity', { room: room.id, before: p1.nextCursor });
      assert.deepEqual(p2, { activity: [live[0]], nextCursor: null });
      assert.deepEqual((await ca.ok('activity', { room: room.roomCode })).activity.length, 11);

      // The server API reads it with an API key.
      const r = await runCli(['apikey', 'create', '--name', 'backend', '--data', srv.dataDir], { timeoutMs: 10000 });
      assert.equal(r.code, 0, r.stderr);
      const srvRows = await allPages(srv.port, r.stdout.trim(), `/api/server/rooms/${room.id}/activity`, 50);
      assert.deepEqual(srvRows, rest);

      // Bad pages: a limit out of range, a cursor that is no cursor.
      const bad = async (q, field) => {
        const res = await get(srv.port, a, `/api/rooms/${room.id}/activity?${q}`);
        assert.equal(res.status, 400, res.text);
        assert.equal(res.json().error.code, 'validation_error');
        assert.equal(res.json().error.field, field);
      };
      await bad('limit=0', 'limit');
      await bad('limit=201', 'limit');
      await bad('before=x1', 'before');
      await bad('before=0', 'before');
      assert.equal((await ca.err('activity', { room: room.id, before: 'abc' }, 'validation_error')).error.field, 'before');
      assert.equal((await ca.err('activity', { room: room.id, limit: 500 }, 'validation_error')).error.field, 'limit');

      // Not a member (one who left, a stranger): refused as history is.
      const histB = await cb.call('history', { room: room.id });
      const actB = await cb.call('activity', { room: room.id });
      assert.equal(actB.ok, false);
      assert.equal(actB.error.code, histB.error.code);
      const histS = await get(srv.port, stranger, `/api/rooms/${room.id}/messages`);
      const actS = await get(srv.port, stranger, `/api/rooms/${room.id}/activity`);
      assert.ok(actS.status === 403 || actS.status === 404, actS.text);
      assert.equal(actS.status, histS.status);
      assert.equal(actS.json().error.code, histS.json().error.code);
    } finally {
      closeAll(cs);
    }
  });
});

describe('activity stream: idle bursts and retention', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      args: [...BASE_ARGS, '--activity-edit-idle', '200ms', '--activity-max-rows', '3', '--retention-sweep', '100ms'],
    });
  });
  after(async () => {
    await srv?.stop();
  });

  it('a burst is written once its user stops; the sweep keeps the newest rows', T, async () => {
    const a = mkUser('Ana');
    const { room, cs: [ca] } = await roomWith(srv.port, [a]);
    try {
      await ca.ok('message', { room: room.id, type: 'user_text', content: 'hi' });
      await ca.ok('message', { room: room.id, type: 'user_text', content: 'there' });
      const ev = await ca.waitEvent((m) => m.op === 'activity' && m.activity.kind === 'messages', 10000);
      assert.equal(ev.activity.data.count, 2);
      for (let i = 1; i <= 3; i++) await ca.ok('state', { room: room.id, patch: { round: i } });
      await until(() => ca.kept((m) => m.op === 'activity' && m.activity.kind === 'state_changed').length === 3,
        10000, 'three state_changed rows');
      // joined, messages, three state changes: the sweep keeps the newest 3 (seqs 3..5).
      const seqs = await until(async () => {
        const j = (await get(srv.port, a, `/api/rooms/${room.id}/activity`)).json();
        const s = j.activity.map((r) => r.seq);
        return s.length === 3 ? s : null;
      }, 10000, 'the sweep');
      assert.deepEqual(seqs, [5, 4, 3]);
    } finally {
      ca.close();
    }
  });
});
