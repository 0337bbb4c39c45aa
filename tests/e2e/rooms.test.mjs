// rooms.test.mjs: rooms over REST (docs/api.md "Rooms"): create and its validation, the
// hosted-rooms limit, lookup by code and id, join/leave and capacity, participants and
// message pages, state patches, kick and ban, delete, the lists, auth/404/405 on every
// route, persistence across a restart and the idle sweep.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { api, FAST_HASH, register, TEST_SECRET, UUID_V4 } from './lib/auth.mjs';
import { assertJsonError } from './lib/http.mjs';
import {
  allMessages, assertMessage, assertParticipant, assertRoom, CODE_ALPHABET, createRoom, del, expectJson, get,
  getOk, joinRest, mkUser, patch, post, RoomWs, until,
} from './lib/rooms.mjs';
import { makeTempDir, ON_CLUSTER, startServer } from './lib/server.mjs';
import { delay } from './lib/util.mjs';

const T = { timeout: 20000 };
const PUBLIC_URL = 'https://rooms.example.test:8443';
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];


/** A code from the alphabet that no live room has (6 symbols; collisions are ~1e-9). */
const unusedCode = () => 'ZZ' + Array.from({ length: 4 }, (_, i) => CODE_ALPHABET[(Date.now() + i * 7) % 32]).join('');

/** Posts n user_text messages over WebSocket as user into roomId (joining first). */
async function postOverWs(port, user, roomId, contents) {
  const c = await RoomWs.open(port, user);
  try {
    await c.join(roomId);
    const seqs = [];
    for (const content of contents) {
      const d = await c.ok('message', { room: roomId, type: 'user_text', content });
      seqs.push(d.message.seq);
    }
    return seqs;
  } finally {
    c.close();
  }
}

describe('rooms over REST', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--public-url', PUBLIC_URL] });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('create -> 201 with the full room shape, defaults and a joinLink from --public-url', T, async () => {
    const host = mkUser('Hosty');
    const res = await post(port, host, '/api/rooms/create', { name: 'My Room' });
    const j = expectJson(res, 201);
    assert.deepEqual(Object.keys(j).sort(), ['room', 'success']);
    const r = assertRoom(j.room);
    assert.match(r.id, UUID_V4);
    assert.equal(r.roomCode.length, 6);
    for (const ch of r.roomCode) assert.ok(CODE_ALPHABET.includes(ch), `code symbol ${ch}`);
    assert.equal(r.name, 'My Room');
    assert.equal(r.maxParticipants, 10);
    assert.equal(r.hostUserId, host.sub);
    assert.equal(r.isPublic, false);
    assert.deepEqual(r.state, {});
    assert.equal(r.currentMode, null);
    assert.equal(r.stateVersion, 0);
    assert.equal(r.participantCount, 1);
    assert.equal(r.onlineCount, 0);
    assert.equal(r.joinLink, `${PUBLIC_URL}/?room=${r.roomCode}`);

    // Explicit fields are kept; state.mode shows as currentMode.
    const r2 = await createRoom(port, host, {
      name: 'Ünïcode ✓ room', maxParticipants: 50, isPublic: true, state: { mode: 'chill', n: [1, 2] },
    });
    assert.equal(r2.name, 'Ünïcode ✓ room');
    assert.equal(r2.maxParticipants, 50);
    assert.equal(r2.isPublic, true);
    assert.deepEqual(r2.state, { mode: 'chill', n: [1, 2] });
    assert.equal(r2.currentMode, 'chill');
    assert.notEqual(r2.roomCode, r.roomCode);
    assert.notEqual(r2.id, r.id);
    // maxParticipants 1 is the low bound; a 100-character name is fine.
    const r3 = await createRoom(port, host, { name: 'x'.repeat(100), maxParticipants: 1 });
    assert.equal(r3.maxParticipants, 1);
    assert.equal(r3.name.length, 100);
  });

  it('create validation: name and maxParticipants -> 400 validation_error; non-object body / state -> 400', T, async () => {
    const host = mkUser('Val');
    const bad = [
      {},
      { name: '' },
      { name: 'x'.repeat(101) },
      { name: 42 },
      { name: null },
      { name: 'ok', maxParticipants: 0 },
      { name: 'ok', maxParticipants: 51 },
      { name: 'ok', maxParticipants: '10' },
      { name: 'ok', maxParticipants: 1.5 },
      { name: 'ok', maxParticipants: -1 },
      { name: 'ok', isPublic: 'yes' },
      { name: 'ok', state: [1] },
      { name: 'ok', state: 'mode' },
      { name: 'ok', state: 7 },
    ];
    for (const body of bad) {
      const res = await post(port, host, '/api/rooms/create', body);
      assertJsonError(res, 400, 'validation_error');
    }
    for (const body of ['[1,2]', '"room"', '42', 'null']) {
      assertJsonError(await post(port, host, '/api/rooms/create', body), 400, 'bad_request');
    }
    assertJsonError(await post(port, host, '/api/rooms/create', '{"name": '), 400, 'bad_json');
    assertJsonError(await post(port, host, '/api/rooms/create', '{"name":"a","name":"b"}'), 400, 'bad_json');
    // None of the refused requests created a room.
    const j = await getOk(port, host, '/api/rooms');
    assert.deepEqual(j.rooms, []);
  });

  it('validation errors name the field (error.field, docs/api.md "validation_error")', T, async () => {
    const host = mkUser('Field');
    const cases = [
      [{ name: '' }, 'name'],
      [{ name: 'ok', maxParticipants: 0 }, 'maxParticipants'],
      [{ name: 'ok', isPublic: 1 }, 'isPublic'],
      [{ name: 'ok', state: [] }, 'state'],
    ];
    for (const [body, field] of cases) {
      const j = assertJsonError(await post(port, host, '/api/rooms/create', body), 400, 'validation_error');
      assert.equal(j.error.field, field, `error.field for ${JSON.stringify(body)}: ${JSON.stringify(j)}`);
    }
  });

  it('a 6th live room for the same host -> 429 room_limit; other users unaffected; delete frees a slot', T, async () => {
    const host = mkUser('Many');
    const rooms = [];
    for (let i = 0; i < 5; i++) rooms.push(await createRoom(port, host, { name: `r${i}` }));
    assertJsonError(await post(port, host, '/api/rooms/create', { name: 'sixth' }), 429, 'room_limit');
    // Joining other rooms does not count; another user can still create.
    const other = mkUser('Other');
    const theirs = await createRoom(port, other, { name: 'theirs' });
    await joinRest(port, host, theirs.id);
    assertJsonError(await post(port, host, '/api/rooms/create', { name: 'sixth' }), 429, 'room_limit');
    // Deleting one frees a slot.
    expectJson(await del(port, host, `/api/rooms/${rooms[0].id}`), 200);
    await createRoom(port, host, { name: 'sixth after delete' });
    assertJsonError(await post(port, host, '/api/rooms/create', { name: 'seventh' }), 429, 'room_limit');
  });

  it('GET by code (any case) and by id; invalid_code for bad formats; 404 for unknown; participants only for participants', T, async () => {
    const host = mkUser('Coder');
    const stranger = mkUser('Stranger');
    const r = await createRoom(port, host, { name: 'lookup' });

    const mine = await getOk(port, host, `/api/rooms/code/${r.roomCode}`);
    assert.deepEqual(Object.keys(mine).sort(), ['room', 'success']);
    assertRoom(mine.room, { withParticipants: true });
    assert.equal(mine.room.id, r.id);
    assert.equal(mine.room.participants.length, 1);
    assert.equal(mine.room.participants[0].userId, host.sub);
    assert.equal(mine.room.participants[0].role, 'host');
    assert.equal(mine.room.participants[0].displayName, 'Coder');
    assert.equal(mine.room.participants[0].color, host.color);

    const lower = await getOk(port, stranger, `/api/rooms/code/${r.roomCode.toLowerCase()}`);
    assertRoom(lower.room, { summary: true }); // no participants, no state for a non-participant
    assert.equal(lower.room.id, r.id);
    assert.equal('participants' in lower.room, false);

    for (const code of ['ABCDE', 'ABCDEFG', 'ABCDEO', 'ABCDE0', 'ABCDEI', 'ABCDE1', 'ABC-EF', 'ABCDE%20']) {
      assertJsonError(await get(port, stranger, `/api/rooms/code/${code}`), 400, 'invalid_code');
    }
    assertJsonError(await get(port, stranger, `/api/rooms/code/${unusedCode()}`), 404, 'not_found');

    const byId = await getOk(port, stranger, `/api/rooms/${r.id}`);
    assertRoom(byId.room, { summary: true });
    assert.equal(byId.room.roomCode, r.roomCode);
    assert.equal('participants' in byId.room, false);
    const byIdHost = await getOk(port, host, `/api/rooms/${r.id}`);
    assertRoom(byIdHost.room, { withParticipants: true });
    assertJsonError(await get(port, host, '/api/rooms/3f0c8a4e-5b1d-4c47-9a43-2c1f8f3a9e11'), 404, 'not_found');
    assertJsonError(await get(port, host, '/api/rooms/not-a-uuid'), 404, 'not_found');
  });

  it('join -> 200 {room, participant}; again is idempotent; room of 2 -> third is room_full; leave frees the seat', T, async () => {
    const host = mkUser('H2');
    const [a, b] = [mkUser('Alice'), mkUser('Bob')];
    const r = await createRoom(port, host, { name: 'pair', maxParticipants: 2 });

    const j = await joinRest(port, a, r.id, { displayName: 'Ally' });
    assert.deepEqual(Object.keys(j).sort(), ['participant', 'room', 'success']);
    assertRoom(j.room);
    assert.equal(j.room.participantCount, 2);
    assertParticipant(j.participant);
    assert.equal(j.participant.userId, a.sub);
    assert.equal(j.participant.displayName, 'Ally');
    assert.equal(j.participant.color, a.color);
    assert.equal(j.participant.role, 'member');
    assert.equal(j.participant.online, false);

    const again = await joinRest(port, a, r.id);
    assert.equal(again.room.participantCount, 2, 'joining again takes no second seat');
    assert.equal(again.participant.userId, a.sub);
    assert.equal(again.participant.joinedAt, j.participant.joinedAt);

    assertJsonError(await post(port, b, `/api/rooms/${r.id}/join`), 403, 'room_full');
    // The host's own join is fine (already seated).
    assert.equal((await joinRest(port, host, r.id)).participant.role, 'host');

    const left = expectJson(await del(port, a, `/api/rooms/${r.id}/leave`), 200);
    assert.deepEqual(left, { success: true });
    assertJsonError(await del(port, a, `/api/rooms/${r.id}/leave`), 404, 'not_found');
    const jb = await joinRest(port, b, r.id);
    assert.equal(jb.room.participantCount, 2);
    assertJsonError(await post(port, a, `/api/rooms/${r.id}/join`), 403, 'room_full');

    assertJsonError(await del(port, host, `/api/rooms/${r.id}/leave`), 400, 'host_cannot_leave');
    assertJsonError(await del(port, mkUser('Nobody'), `/api/rooms/${r.id}/leave`), 404, 'not_found');
    // displayName validation on join
    assertJsonError(await post(port, mkUser('x'), `/api/rooms/${r.id}/join`, { displayName: 5 }), 400, 'validation_error');
  });

  it('registered accounts: host and participant come from the account (id, username, color)', T, async () => {
    const ada = await register(port, { username: 'Ada' });
    const bob = await register(port, { username: 'Bob' });
    const r = await createRoom(port, ada, { name: 'accounts' });
    assert.equal(r.hostUserId, ada.user.id);
    const j = await joinRest(port, bob, r.id);
    assert.equal(j.participant.userId, bob.user.id);
    assert.equal(j.participant.displayName, 'Bob');
    assert.equal(j.participant.color, bob.user.color);
    const ps = (await getOk(port, ada, `/api/rooms/${r.id}/participants`)).participants;
    const hostP = ps.find((p) => p.userId === ada.user.id);
    assert.equal(hostP.displayName, 'Ada');
    assert.equal(hostP.color, ada.user.color);
    assert.equal(hostP.role, 'host');
  });

  it('participants and messages: non-participant -> 404 not_found (as for no room); participant -> 200', T, async () => {
    const host = mkUser('PH');
    const m = mkUser('PM');
    const out = mkUser('PO');
    const r = await createRoom(port, host, { name: 'members' });
    await joinRest(port, m, r.id, { displayName: 'Member One' });
    for (const path of [`/api/rooms/${r.id}/participants`, `/api/rooms/${r.id}/messages`]) {
      assertJsonError(await get(port, out, path), 404, 'not_found');
    }
    const ps = await getOk(port, m, `/api/rooms/${r.id}/participants`);
    assert.deepEqual(Object.keys(ps).sort(), ['next', 'onlineCount', 'participantCount', 'participants', 'success']);
    assert.equal(ps.next, null);
    assert.equal(ps.participantCount, 2);
    ps.participants.forEach(assertParticipant);
    assert.deepEqual(ps.participants.map((p) => [p.userId, p.role, p.displayName, p.online]).sort(),
      [[host.sub, 'host', 'PH', false], [m.sub, 'member', 'Member One', false]].sort());
    const ms = await getOk(port, host, `/api/rooms/${r.id}/messages`);
    assert.deepEqual(Object.keys(ms).sort(), ['messages', 'success']);
    // The join was stored as a system message by the server (userId null).
    assert.equal(ms.messages.length, 1, JSON.stringify(ms));
    assertMessage(ms.messages[0], r.id);
    assert.equal(ms.messages[0].seq, 1);
    assert.equal(ms.messages[0].type, 'system');
    assert.equal(ms.messages[0].userId, null);
    // After leaving, the former member is refused again.
    expectJson(await del(port, m, `/api/rooms/${r.id}/leave`), 200);
    assertJsonError(await get(port, m, `/api/rooms/${r.id}/participants`), 404, 'not_found');
  });

  it('messages paging: limit, before, after; bad values -> 400 validation_error', T, async () => {
    const host = mkUser('Pager');
    const r = await createRoom(port, host, { name: 'pages' });
    const seqs = await postOverWs(port, host, r.id, Array.from({ length: 10 }, (_, i) => `m${i + 1}`));
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const page = async (q) => (await getOk(port, host, `/api/rooms/${r.id}/messages${q}`)).messages;
    const all = await page('');
    all.forEach((m) => assertMessage(m, r.id));
    assert.deepEqual(all.map((m) => m.seq), seqs);
    assert.deepEqual(all.map((m) => m.content), seqs.map((s) => `m${s}`));
    assert.ok(all.every((m) => m.userId === host.sub && m.displayName === 'Pager' && m.type === 'user_text'));
    assert.deepEqual((await page('?limit=2')).map((m) => m.seq), [9, 10]);
    assert.deepEqual((await page('?before=5')).map((m) => m.seq), [1, 2, 3, 4]);
    assert.deepEqual((await page('?before=5&limit=2')).map((m) => m.seq), [3, 4]);
    assert.deepEqual((await page('?after=7')).map((m) => m.seq), [8, 9, 10]);
    assert.deepEqual((await page('?after=2&limit=3')).map((m) => m.seq), [3, 4, 5]);
    assert.deepEqual((await page('?after=10')).map((m) => m.seq), []);
    assert.deepEqual((await page('?limit=200')).map((m) => m.seq), seqs);
    assert.deepEqual((await page('?before=1')).map((m) => m.seq), []);
    for (const q of ['?limit=0', '?limit=201', '?limit=abc', '?limit=', '?before=-1', '?after=x', '?limit=1.5']) {
      assertJsonError(await get(port, host, `/api/rooms/${r.id}/messages${q}`), 400, 'validation_error');
    }
  });

  it('messages ?after=0 -> the oldest (seq > 0); ?before=0 -> none', T, async () => {
    const host = mkUser('Zero');
    const r = await createRoom(port, host, { name: 'zero' });
    await postOverWs(port, host, r.id, ['a', 'b', 'c', 'd', 'e']);
    const page = async (q) => (await getOk(port, host, `/api/rooms/${r.id}/messages${q}`)).messages.map((m) => m.seq);
    assert.deepEqual(await page('?after=0&limit=2'), [1, 2]);
    assert.deepEqual(await page('?before=0&limit=2'), []);
  });

  it('PATCH state: host merges (null removes), stateVersion +1, currentMode; non-host 403; non-object 400', T, async () => {
    const host = mkUser('Stater');
    const m = mkUser('Member');
    const r = await createRoom(port, host, { name: 'state', state: { a: 1, keep: { x: 1, y: 2 } } });
    await joinRest(port, m, r.id);
    const url = `/api/rooms/${r.id}/state`;
    assertJsonError(await patch(port, m, url, { mode: 'x' }), 403, 'forbidden');
    assertJsonError(await patch(port, mkUser('out'), url, { mode: 'x' }), 404, 'not_found');

    const j1 = expectJson(await patch(port, host, url, { mode: 'focus', a: null, keep: { y: null, z: 3 } }), 200);
    assert.deepEqual(j1, {
      success: true, state: { mode: 'focus', keep: { x: 1, z: 3 } }, stateVersion: 1, currentMode: 'focus',
    });
    const j2 = expectJson(await patch(port, host, url, { mode: null, b: [1] }), 200);
    assert.deepEqual(j2, { success: true, state: { keep: { x: 1, z: 3 }, b: [1] }, stateVersion: 2, currentMode: null });
    const j3 = expectJson(await patch(port, host, url, { mode: { nested: true } }), 200);
    assert.deepEqual(j3.currentMode, { nested: true });
    assert.equal(j3.stateVersion, 3);

    for (const body of ['[1]', '"x"', '5', 'null']) {
      const res = await patch(port, host, url, body);
      assert.equal(res.status, 400, `PATCH ${body}: ${res.text}`);
      assert.equal(res.json().success, false);
    }
    const room = (await getOk(port, m, `/api/rooms/${r.id}`)).room;
    assert.equal(room.stateVersion, 3, 'refused patches change nothing');
    assert.deepEqual(room.state, { keep: { x: 1, z: 3 }, b: [1], mode: { nested: true } });
    assert.deepEqual(room.currentMode, { nested: true });
  });

  it('kick: host kicks -> the user may join again; ban -> 403 banned; non-host 403; unknown user 404; bad body 400', T, async () => {
    const host = mkUser('Kicker');
    const [a, b] = [mkUser('Kicked'), mkUser('Banned')];
    const r = await createRoom(port, host, { name: 'kick' });
    await joinRest(port, a, r.id);
    await joinRest(port, b, r.id);
    const url = `/api/rooms/${r.id}/kick`;

    assertJsonError(await post(port, a, url, { userId: b.sub }), 403, 'forbidden');
    assertJsonError(await post(port, host, url, { userId: 'nobody-here' }), 404, 'not_found');
    for (const body of [{}, { userId: 5 }, { userId: a.sub, ban: 'yes' }, '[1]']) {
      const res = await post(port, host, url, body);
      assert.equal(res.status, 400, `kick ${JSON.stringify(body)}: ${res.text}`);
    }
    assertJsonError(await post(port, host, url, { userId: a.sub, ban: 1 }), 400, 'validation_error');

    assert.deepEqual(expectJson(await post(port, host, url, { userId: a.sub }), 200), { success: true });
    let ps = (await getOk(port, host, `/api/rooms/${r.id}/participants`)).participants.map((p) => p.userId);
    assert.equal(ps.includes(a.sub), false, 'kicked user is no longer a participant');
    assertJsonError(await get(port, a, `/api/rooms/${r.id}/participants`), 404, 'not_found');
    await joinRest(port, a, r.id); // may come back

    assert.deepEqual(expectJson(await post(port, host, url, { userId: b.sub, ban: true }), 200), { success: true });
    assertJsonError(await post(port, b, `/api/rooms/${r.id}/join`), 403, 'banned');
    assertJsonError(await get(port, b, `/api/rooms/${r.id}/messages`), 404, 'not_found');
    ps = (await getOk(port, host, `/api/rooms/${r.id}/participants`)).participants.map((p) => p.userId);
    assert.deepEqual(ps.sort(), [host.sub, a.sub].sort());
    const room = (await getOk(port, host, `/api/rooms/${r.id}`)).room;
    assert.equal(room.participantCount, 2, 'a banned user holds no seat');
    // The host cannot be kicked.
    assert.equal((await post(port, host, url, { userId: host.sub })).status, 400);
  });

  it('DELETE room: non-host 403; host 200; then 404 everywhere', T, async () => {
    const host = mkUser('Deleter');
    const m = mkUser('DM');
    const r = await createRoom(port, host, { name: 'doomed' });
    await joinRest(port, m, r.id);
    assertJsonError(await del(port, m, `/api/rooms/${r.id}`), 403, 'forbidden');
    assert.deepEqual(expectJson(await del(port, host, `/api/rooms/${r.id}`), 200), { success: true });
    assertJsonError(await get(port, host, `/api/rooms/${r.id}`), 404, 'not_found');
    assertJsonError(await get(port, host, `/api/rooms/code/${r.roomCode}`), 404, 'not_found');
    assertJsonError(await del(port, host, `/api/rooms/${r.id}`), 404, 'not_found');
    assertJsonError(await post(port, m, `/api/rooms/${r.id}/join`), 404, 'not_found');
    assert.deepEqual((await getOk(port, m, '/api/rooms')).rooms, []);
  });

  it('GET /api/rooms lists rooms I host or joined; /api/rooms/public lists public rooms only', T, async () => {
    const [a, b, c] = [mkUser('LA'), mkUser('LB'), mkUser('LC')];
    const ra = await createRoom(port, a, { name: 'a-private' });
    const rb = await createRoom(port, b, { name: 'b-public', isPublic: true });
    const rc = await createRoom(port, c, { name: 'c-private' });
    await joinRest(port, a, rb.id);
    const mine = await getOk(port, a, '/api/rooms');
    assert.deepEqual(Object.keys(mine).sort(), ['rooms', 'success']);
    mine.rooms.forEach((r) => assertRoom(r));
    assert.deepEqual(mine.rooms.map((r) => r.id).sort(), [ra.id, rb.id].sort());
    assert.deepEqual((await getOk(port, c, '/api/rooms')).rooms.map((r) => r.id), [rc.id]);
    assert.deepEqual((await getOk(port, mkUser('none'), '/api/rooms')).rooms, []);

    const pub = await getOk(port, c, '/api/rooms/public');
    pub.rooms.forEach((r) => assertRoom(r, { summary: true }));
    assert.ok(pub.rooms.every((r) => r.isPublic === true), 'only public rooms');
    const ids = pub.rooms.map((r) => r.id);
    assert.ok(ids.includes(rb.id));
    assert.ok(!ids.includes(ra.id) && !ids.includes(rc.id));
  });

  it('every route: no token -> 401; unknown room -> 404; wrong method -> 405 with Allow', T, async () => {
    const host = mkUser('Routes');
    const r = await createRoom(port, host, { name: 'routes' });
    const id = r.id;
    const routes = [
      ['POST', '/api/rooms/create', { name: 'x' }],
      ['GET', '/api/rooms'],
      ['GET', '/api/rooms/public'],
      ['GET', `/api/rooms/code/${r.roomCode}`],
      ['GET', `/api/rooms/${id}`],
      ['POST', `/api/rooms/${id}/join`, {}],
      ['DELETE', `/api/rooms/${id}/leave`],
      ['GET', `/api/rooms/${id}/participants`],
      ['GET', `/api/rooms/${id}/messages`],
      ['PATCH', `/api/rooms/${id}/state`, { a: 1 }],
      ['DELETE', `/api/rooms/${id}`],
      ['POST', `/api/rooms/${id}/kick`, { userId: 'x' }],
    ];
    for (const [method, path, body] of routes) {
      const res = await api(port, method, path, { body });
      assertJsonError(res, 401, 'unauthorized');
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="chorus"', `${method} ${path}`);
      const bad = await api(port, method, path, { body, token: 'not.a.jwt' });
      assertJsonError(bad, 401, 'unauthorized');
    }
    // The room is untouched by the refused requests.
    assert.equal((await getOk(port, host, `/api/rooms/${id}`)).room.stateVersion, 0);

    const unknown = '3f0c8a4e-5b1d-4c47-9a43-2c1f8f3a9e11';
    for (const [method, path, body] of routes.slice(4)) {
      const res = await api(port, method, path.replace(id, unknown), { body, token: host.token });
      assertJsonError(res, 404, 'not_found');
    }
    const wrong = [
      ['POST', '/api/rooms', ['GET']],
      ['POST', '/api/rooms/public', ['GET']],
      ['POST', `/api/rooms/code/${r.roomCode}`, ['GET']],
      ['PUT', `/api/rooms/${id}`, ['GET', 'DELETE']],
      ['GET', `/api/rooms/${id}/join`, ['POST']],
      ['POST', `/api/rooms/${id}/leave`, ['DELETE']],
      ['POST', `/api/rooms/${id}/participants`, ['GET']],
      ['POST', `/api/rooms/${id}/messages`, ['GET']],
      ['POST', `/api/rooms/${id}/state`, ['PATCH']],
      ['GET', `/api/rooms/${id}/kick`, ['POST']],
    ];
    for (const [method, path, allow] of wrong) {
      const res = await api(port, method, path, { token: host.token });
      assertJsonError(res, 405, 'method_not_allowed');
      const got = (res.headers.allow ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      for (const m of allow) assert.ok(got.includes(m), `Allow of ${method} ${path} has ${m}: ${res.headers.allow}`);
    }
    assertJsonError(await get(port, host, `/api/rooms/${id}/nope`), 404, 'not_found');
  });

  it('a literal path with another method -> 405, not the :roomId route', T, async () => {
    const host = mkUser('Literal');
    for (const [method, path, allow] of [
      ['GET', '/api/rooms/create', 'POST'],
      ['DELETE', '/api/rooms/create', 'POST'],
      ['DELETE', '/api/rooms/public', 'GET'],
    ]) {
      const res = await api(port, method, path, { token: host.token });
      assertJsonError(res, 405, 'method_not_allowed');
      assert.equal(res.headers.allow, allow, `Allow of ${method} ${path}`);
    }
  });
});

describe('rooms: --room-max-capacity', () => {
  it('--room-max-capacity 1000 allows 500 (and refuses 1001)', T, async () => {
    const srv = await startServer({ args: [...BASE_ARGS, '--room-max-capacity', '1000'] });
    try {
      const host = mkUser('Big');
      const r = await createRoom(srv.port, host, { name: 'big', maxParticipants: 500 });
      assert.equal(r.maxParticipants, 500);
      assert.equal(r.joinLink, `http://127.0.0.1:8080/?room=${r.roomCode}`, 'default --public-url');
      assert.equal((await createRoom(srv.port, host, { name: 'max', maxParticipants: 1000 })).maxParticipants, 1000);
      assertJsonError(await post(srv.port, host, '/api/rooms/create', { name: 'x', maxParticipants: 1001 }), 400,
        'validation_error');
    } finally {
      await srv.stop();
    }
  });
});

describe('rooms: persistence', () => {
  it('a restart on the same data dir keeps rooms, state, participants (offline) and messages', { ...T, skip: ON_CLUSTER && 'restarts the server on its data dir (cluster mode: cluster_chaos.test.mjs kills a home instead)' }, async () => {
    const dir = makeTempDir('chorus-rooms-data-');
    const start = () => startServer({ data: false, args: ['--data', dir, ...BASE_ARGS] });
    try {
      const host = mkUser('Persist');
      const guest = mkUser('Guest');
      let srv = await start();
      let room, participants, messages;
      try {
        const r = await createRoom(srv.port, host, { name: 'persisted', isPublic: true, state: { mode: 'a' } });
        await joinRest(srv.port, guest, r.id, { displayName: 'Guesty' });
        await postOverWs(srv.port, host, r.id, ['one', 'two', 'ünï ✓']);
        await postOverWs(srv.port, guest, r.id, ['from guest']);
        expectJson(await patch(srv.port, host, `/api/rooms/${r.id}/state`, { mode: 'b', extra: { k: [1, 2] } }), 200);
        expectJson(await patch(srv.port, host, `/api/rooms/${r.id}/state`, { extra: { k: null } }), 200);
        await delay(100); // the system message of the state change is fire-and-forget
        room = (await getOk(srv.port, host, `/api/rooms/code/${r.roomCode}`)).room;
        participants = (await getOk(srv.port, host, `/api/rooms/${r.id}/participants`)).participants;
        messages = await allMessages(srv.port, host, r.id);
      } finally {
        await srv.stop();
      }
      assert.equal(room.stateVersion, 2);
      assert.deepEqual(room.state, { mode: 'b', extra: {} });
      assert.ok(messages.length >= 6, `messages before restart: ${JSON.stringify(messages)}`);
      assert.deepEqual(messages.map((m) => m.seq), messages.map((_, i) => i + 1));

      srv = await start();
      try {
        const after = (await getOk(srv.port, guest, `/api/rooms/code/${room.roomCode}`)).room;
        assertRoom(after, { withParticipants: true });
        for (const k of ['id', 'roomCode', 'name', 'maxParticipants', 'hostUserId', 'isPublic', 'state',
          'currentMode', 'stateVersion', 'participantCount', 'createdAt']) {
          assert.deepEqual(after[k], room[k], `room.${k} after the restart`);
        }
        assert.equal(after.onlineCount, 0);
        const ps = (await getOk(srv.port, guest, `/api/rooms/${room.id}/participants`)).participants;
        ps.forEach(assertParticipant);
        const key = (p) => [p.userId, p.displayName, p.color, p.role, p.joinedAt];
        assert.deepEqual(ps.map(key).sort(), participants.map(key).sort());
        assert.ok(ps.every((p) => p.online === false), 'nobody is online after a restart');
        const ms = await allMessages(srv.port, guest, room.id);
        assert.deepEqual(ms, messages);
        assert.deepEqual(ms.filter((m) => m.type === 'user_text').map((m) => [m.content, m.userId]), [
          ['one', host.sub], ['two', host.sub], ['ünï ✓', host.sub], ['from guest', guest.sub]]);
        // New messages continue the sequence.
        const [next] = await postOverWs(srv.port, host, room.id, ['after restart']);
        assert.equal(next, messages.length + 1);
        assert.ok((await getOk(srv.port, guest, '/api/rooms/public')).rooms.some((r) => r.id === room.id));
        // Hosted rooms still count against the limit after the restart.
        for (let i = 0; i < 4; i++) await createRoom(srv.port, host, { name: `more ${i}` });
        assertJsonError(await post(srv.port, host, '/api/rooms/create', { name: 'x' }), 429, 'room_limit');
      } finally {
        await srv.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rooms: idle sweep and deletion events', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--room-idle', '1s', '--room-sweep', '500ms'] });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('a room without connections is deleted by the sweep within ~3 s', T, async () => {
    const host = mkUser('Idle');
    const r = await createRoom(port, host, { name: 'idle' });
    const t0 = Date.now();
    await until(async () => (await get(port, host, `/api/rooms/${r.id}`)).status === 404, 3500, 'the idle room to go');
    assert.ok(Date.now() - t0 >= 500, `deleted too early: ${Date.now() - t0} ms`);
    assertJsonError(await get(port, host, `/api/rooms/code/${r.roomCode}`), 404, 'not_found');
    assert.deepEqual((await getOk(port, host, '/api/rooms')).rooms, []);
    await srv.waitForLine(new RegExp(`deleting room ${r.roomCode} .*idle`), 1000);
  });

  it('a room with a connected member survives; once the member leaves it is swept', T, async () => {
    const host = mkUser('Busy');
    const m = mkUser('BusyMember');
    const r = await createRoom(port, host, { name: 'busy' });
    await joinRest(port, m, r.id);
    const c = await RoomWs.open(port, m);
    try {
      await c.join(r.roomCode);
      await delay(3000);
      const j = await getOk(port, host, `/api/rooms/${r.id}`);
      assert.equal(j.room.onlineCount, 1);
      assert.equal(c.kept('room_deleted').length, 0);
      await c.ok('message', { room: r.id, type: 'user_text', content: 'still here' });
    } finally {
      c.close();
    }
    await until(async () => (await get(port, host, `/api/rooms/${r.id}`)).status === 404, 3500, 'the room to go after the last connection');
  });

  it('connected members of a room the host deletes get {op:"room_deleted", reason:"deleted"}', T, async () => {
    const host = mkUser('DelHost');
    const [a, b] = [mkUser('DA'), mkUser('DB')];
    const r = await createRoom(port, host, { name: 'deleted live' });
    const ca = await RoomWs.open(port, a);
    const cb = await RoomWs.open(port, b);
    const ch = await RoomWs.open(port, host);
    try {
      await ca.join(r.id);
      await cb.join(r.roomCode);
      await ch.join(r.id);
      expectJson(await del(port, host, `/api/rooms/${r.id}`), 200);
      for (const c of [ca, cb, ch]) {
        const ev = await c.waitEvent('room_deleted', 2000);
        assert.deepEqual({ ...ev }, { op: 'room_deleted', room: r.id, reason: 'deleted' });
      }
      await ca.err('message', { room: r.id, type: 'user_text', content: 'x' }, 'not_found');
    } finally {
      ca.close();
      cb.close();
      ch.close();
    }
  });
});

describe('rate limits on the rooms routes', () => {
  it('--rate-api-user 3/1m: the 4th rooms request of one user -> 429 rate_limited with Retry-After; another user is unaffected', { ...T, skip: ON_CLUSTER && 'a rate limit is per process' }, async () => {
    const srv = await startServer({ args: [...BASE_ARGS, '--rate-api-user', '3/1m'] });
    try {
      const a = mkUser('RateA');
      const b = mkUser('RateB');
      expectJson(await post(srv.port, a, '/api/rooms/create', { name: 'limited' }), 201);
      expectJson(await get(srv.port, a, '/api/rooms'), 200);
      expectJson(await get(srv.port, a, '/api/rooms/public'), 200);
      const res = await get(srv.port, a, '/api/rooms');
      assertJsonError(res, 429, 'rate_limited');
      const retry = Number(res.headers['retry-after']);
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 20, `Retry-After ${res.headers['retry-after']}`);
      expectJson(await get(srv.port, b, '/api/rooms'), 200);
      await srv.stop();
    } finally {
      srv.kill();
    }
  });
});
