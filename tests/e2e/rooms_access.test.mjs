// rooms_access.test.mjs: who learns what about a room (docs/api.md "Rooms", docs/protocol.md
// "Rooms"): the paged public list without state, the same answer for "no such room" and
// "not yours", the failed-lookup limit per user and per IP, state kept to participants,
// and the host's code rotation.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { api, FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { assertJsonError } from './lib/http.mjs';
import { assertRoom, createRoom, expectJson, get, getOk, joinRest, mkUser, post, RoomWs } from './lib/rooms.mjs';
import { makeTempDir, startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
/** A well-formed code that names no room (the alphabet has no I, O, 0, 1; ZZ... is rare). */
const unknownCode = (room) => (room.roomCode === 'ZZZZZZ' ? 'YYYYYY' : 'ZZZZZZ');

/** Every WebSocket op that names a room, with fields that pass validation. */
const WS_OPS = [
  ['history', {}], ['message', { type: 'user_text', content: 'x' }], ['broadcast', { event: 'e', data: 1 }],
  ['presence', { state: { a: 1 } }], ['state', { patch: { a: 1 } }], ['leave', {}], ['rotate_code', {}],
  ['doc_open', { doc: 'd' }], ['entity_create', { kind: 'k' }], ['entity_update', { id: 'e', patch: {} }],
  ['entity_delete', { id: 'e' }], ['entity_lock', { id: 'e' }], ['entity_unlock', { id: 'e' }], ['sync', { version: 0 }],
];
/** Every REST route for participants only. */
const REST_MEMBER = [
  ['GET', 'participants'], ['GET', 'messages'], ['GET', 'entities'], ['PATCH', 'state', { a: 1 }],
  ['DELETE', 'leave'], ['DELETE', ''], ['POST', 'kick', { userId: 'x' }], ['POST', 'code'],
];
const restPath = (id, sub) => `/api/rooms/${id}${sub ? `/${sub}` : ''}`;

describe('GET /api/rooms/public', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--room-max-hosted', '50'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('pages newest first with limit and cursor, and leaves the state out', T, async () => {
    const host = mkUser('Spammer');
    const big = { blob: 'x'.repeat(60000), mode: 'y'.repeat(1000) };
    const made = [];
    for (let i = 0; i < 7; i++) made.push(await createRoom(srv.port, host, { name: `pub ${i}`, isPublic: true, state: big }));
    await createRoom(srv.port, host, { name: 'private', state: big });
    const viewer = mkUser('Lobby');
    const seen = [];
    let cursor = null;
    let pages = 0;
    do {
      const q = cursor ? `?limit=3&cursor=${encodeURIComponent(cursor)}` : '?limit=3';
      const res = await get(srv.port, viewer, `/api/rooms/public${q}`);
      assert.ok(res.text.length < 3 * 2048, `a page of 3 summaries is small: ${res.text.length} bytes`);
      const j = expectJson(res, 200);
      assert.deepEqual(Object.keys(j).sort(), ['nextCursor', 'rooms', 'success']);
      assert.ok(j.rooms.length <= 3);
      j.rooms.forEach((r) => assertRoom(r, { summary: true }));
      seen.push(...j.rooms);
      cursor = j.nextCursor;
      assert.ok(cursor === null || typeof cursor === 'string');
      pages++;
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    const order = [...made].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    assert.deepEqual(seen.map((r) => r.id), order.map((r) => r.id), 'every public room once, newest first');
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1].createdAt >= seen[i].createdAt);

    // The default page is 50; limit is 1..100; a cursor must be one the server gave.
    const all = await getOk(srv.port, viewer, '/api/rooms/public');
    assert.equal(all.rooms.length, 7);
    assert.equal(all.nextCursor, null);
    for (const q of ['limit=0', 'limit=101', 'limit=x', 'cursor=nope', 'cursor=12.', `cursor=${'1'.repeat(200)}`]) {
      const res = await get(srv.port, viewer, `/api/rooms/public?${q}`);
      assertJsonError(res, 400, 'validation_error');
    }
  });
});

describe('rooms: "no such room" and "not yours" are one answer; failed lookups are limited', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--rate-room-miss-user', '200/1m', '--rate-room-miss-ip', '1000/1m'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('every WebSocket op and REST route answers a stranger as if the room did not exist', T, async () => {
    const host = mkUser('Private');
    const room = await createRoom(srv.port, host, { name: 'secret', state: { plan: 'hidden' } });
    const stranger = mkUser('Guesser');
    const c = await RoomWs.open(srv.port, stranger);
    try {
      for (const [op, fields] of WS_OPS) {
        const real = await c.err(op, { room: room.roomCode, ...fields }, 'not_found');
        const none = await c.err(op, { room: unknownCode(room), ...fields }, 'not_found');
        assert.deepEqual(real.error, none.error, `${op}: the same error for an existing room`);
        const byId = await c.err(op, { room: room.id, ...fields }, 'not_found');
        assert.deepEqual(byId.error, none.error, `${op} by id`);
      }
    } finally {
      c.close();
    }
    for (const [method, sub, body] of REST_MEMBER) {
      const real = await api(srv.port, method, restPath(room.id, sub), { body, token: stranger.token });
      const none = await api(srv.port, method, restPath(UNKNOWN_ID, sub), { body, token: stranger.token });
      assertJsonError(real, 404, 'not_found');
      assert.equal(real.text, none.text, `${method} ${sub}: the same body`);
    }
    // The room is untouched and the id or code is still an invitation.
    assert.deepEqual((await getOk(srv.port, host, `/api/rooms/${room.id}`)).room.state, { plan: 'hidden' });
    const seen = (await getOk(srv.port, stranger, `/api/rooms/code/${room.roomCode}`)).room;
    assertRoom(seen, { summary: true });
    await joinRest(srv.port, stranger, room.id);
    assert.deepEqual((await getOk(srv.port, stranger, `/api/rooms/${room.id}`)).room.state, { plan: 'hidden' });
  });

  it('a banned user sees no state and gets not_found from the members-only ops', T, async () => {
    const host = mkUser('Banner');
    const bad = mkUser('Banned');
    const room = await createRoom(srv.port, host, { name: 'banlist', state: { secret: 1 } });
    await joinRest(srv.port, bad, room.id);
    expectJson(await post(srv.port, host, `/api/rooms/${room.id}/kick`, { userId: bad.sub, ban: true }), 200);
    for (const path of [`/api/rooms/${room.id}`, `/api/rooms/code/${room.roomCode}`]) {
      const r = (await getOk(srv.port, bad, path)).room;
      assertRoom(r, { summary: true });
    }
    assertJsonError(await get(srv.port, bad, `/api/rooms/${room.id}/entities`), 404, 'not_found');
    assertJsonError(await post(srv.port, bad, `/api/rooms/${room.id}/join`), 403, 'banned');
  });
});

describe('failed room lookups: per user and per IP', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--rate-room-miss-user', '4/1m', '--rate-room-miss-ip', '7/1m'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('a user past its budget is refused every lookup of rooms it is not in, its own rooms still work', T, async () => {
    const host = mkUser('Target');
    const target = await createRoom(srv.port, host, { name: 'target' });
    const guesser = mkUser('Guesser');
    const own = await createRoom(srv.port, guesser, { name: 'own' });
    const c = await RoomWs.open(srv.port, guesser);
    try {
      await c.join(own.id);
      for (let i = 0; i < 4; i++) await c.err('history', { room: unknownCode(target) }, 'not_found');
      // Limited now: hits and misses get the same refusal, over WebSocket and REST.
      const m1 = await c.err('join', { room: target.roomCode }, 'rate_limited');
      const m2 = await c.err('history', { room: unknownCode(target) }, 'rate_limited');
      assert.equal(m1.error.message, m2.error.message);
      const res = await get(srv.port, guesser, `/api/rooms/code/${target.roomCode}`);
      assertJsonError(res, 429, 'rate_limited');
      assert.match(res.headers['retry-after'] ?? '', /^[1-9][0-9]*$/);
      assertJsonError(await post(srv.port, guesser, `/api/rooms/${target.id}/join`), 429, 'rate_limited');
      // Its own room is not a lookup that can fail.
      await c.ok('history', { room: own.roomCode });
      await c.ok('message', { room: own.id, type: 'user_text', content: 'still here' });
      await getOk(srv.port, guesser, `/api/rooms/${own.id}/messages`);
    } finally {
      c.close();
    }
    // Another user from the same IP has 3 failures left in the IP's bucket (7 - 4).
    const other = mkUser('Other');
    const o = await RoomWs.open(srv.port, other);
    try {
      for (let i = 0; i < 3; i++) await o.err('history', { room: unknownCode(target) }, 'not_found');
      await o.err('join', { room: target.roomCode }, 'rate_limited');
    } finally {
      o.close();
    }
    const third = mkUser('Third');
    assertJsonError(await get(srv.port, third, `/api/rooms/${target.id}`), 429, 'rate_limited');
  });
});

describe('rotating a room code', () => {
  let srv;
  let dir;
  const start = () => startServer({ data: false, args: ['--data', dir, ...BASE_ARGS, '--public-url', 'https://x.test'] });
  before(async () => {
    dir = makeTempDir('chorus-code-');
    srv = await start();
  });
  after(async () => {
    await srv?.stop();
  });

  it('host only; the old code stops working; members online get room_code; it survives a restart', T, async () => {
    const host = mkUser('Rotator');
    const member = mkUser('Member');
    const room = await createRoom(srv.port, host, { name: 'leaky' });
    await joinRest(srv.port, member, room.id);
    const cm = await RoomWs.open(srv.port, member);
    const ch = await RoomWs.open(srv.port, host);
    let fresh;
    try {
      await cm.join(room.id);
      await ch.join(room.id);
      assertJsonError(await post(srv.port, member, `/api/rooms/${room.id}/code`), 403, 'forbidden');
      await cm.err('rotate_code', { room: room.id }, 'forbidden');
      assertJsonError(await post(srv.port, mkUser('Out'), `/api/rooms/${room.id}/code`), 404, 'not_found');

      const j = expectJson(await post(srv.port, host, `/api/rooms/${room.id}/code`), 200);
      assertRoom(j.room);
      fresh = j.room.roomCode;
      assert.notEqual(fresh, room.roomCode);
      assert.equal(j.room.id, room.id);
      assert.equal(j.room.joinLink, `https://x.test/?room=${fresh}`);
      const ev = await cm.waitEvent('room_code');
      assert.deepEqual({ ...ev }, { op: 'room_code', room: room.id, roomCode: fresh, joinLink: j.room.joinLink });

      const late = mkUser('Late');
      assertJsonError(await get(srv.port, late, `/api/rooms/code/${room.roomCode}`), 404, 'not_found');
      const cl = await RoomWs.open(srv.port, late);
      try {
        await cl.err('join', { room: room.roomCode }, 'not_found');
        assert.equal((await cl.join(fresh)).room.id, room.id);
      } finally {
        cl.close();
      }
      // Over WebSocket too, for the host.
      const d = await ch.ok('rotate_code', { room: room.id });
      assert.notEqual(d.room.roomCode, fresh);
      fresh = d.room.roomCode;
      assert.equal((await cm.waitEvent('room_code')).roomCode, fresh);
    } finally {
      cm.close();
      ch.close();
    }
    await srv.stop();
    srv = await start();
    assert.equal((await getOk(srv.port, host, `/api/rooms/code/${fresh}`)).room.id, room.id);
    assertJsonError(await get(srv.port, host, `/api/rooms/code/${room.roomCode}`), 404, 'not_found');
  });
});
