// room_settings.test.mjs: the host's room settings and bans (docs/api.md "Rooms",
// docs/protocol.md "room_update"): PATCH /api/rooms/:roomId and the room_update op (rename,
// capacity, public; validation; capacity below the seats taken; the room_updated event;
// persistence), GET /api/rooms/:roomId/bans and DELETE /api/rooms/:roomId/bans/:userId
// (the unbanned user joins again), with 401/403/404/405 on each route.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { api, FAST_HASH, mintJwt, nowSec, TEST_SECRET } from './lib/auth.mjs';
import { assertJsonError } from './lib/http.mjs';
import {
  assertRoom, createRoom, del, expectJson, get, getOk, joinRest, mkUser, patch, post, RoomWs, until,
} from './lib/rooms.mjs';
import { makeTempDir, startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];


/** The system messages of a room (as the host sees them). */
async function systemTexts(port, host, roomId) {
  const j = await getOk(port, host, `/api/rooms/${roomId}/messages?limit=200`);
  return j.messages.filter((m) => m.type === 'system').map((m) => m.content);
}

describe('room settings and bans', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--room-max-capacity', '20'] });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('PATCH /api/rooms/:roomId: the host renames, resizes and publishes; members online get room_updated', T, async () => {
    const host = mkUser('Setter');
    const member = mkUser('Watcher');
    const r = await createRoom(port, host, { name: 'before', maxParticipants: 5 });
    await joinRest(port, member, r.id);
    const ws = await RoomWs.open(port, member);
    try {
      await ws.join(r.id);
      const res = await patch(port, host, `/api/rooms/${r.id}`, { name: 'After ✓', maxParticipants: 12, isPublic: true });
      const j = expectJson(res, 200);
      assert.deepEqual(Object.keys(j).sort(), ['room', 'success']);
      assertRoom(j.room);
      assert.equal(j.room.name, 'After ✓');
      assert.equal(j.room.maxParticipants, 12);
      assert.equal(j.room.isPublic, true);
      assert.equal(j.room.roomCode, r.roomCode, 'the code stays');
      const ev = await ws.waitEvent('room_updated');
      assert.deepEqual(ev, {
        op: 'room_updated', room: r.id, name: 'After ✓', maxParticipants: 12, isPublic: true, by: host.sub,
      });
      // Every reader sees the change.
      const seen = (await getOk(port, member, `/api/rooms/code/${r.roomCode}`)).room;
      assert.equal(seen.name, 'After ✓');
      assert.ok((await getOk(port, mkUser('x'), '/api/rooms/public')).rooms.some((x) => x.id === r.id));
      // One field at a time; the others stay.
      const j2 = expectJson(await patch(port, host, `/api/rooms/${r.id}`, { isPublic: false }), 200);
      assert.equal(j2.room.isPublic, false);
      assert.equal(j2.room.name, 'After ✓');
      assert.equal(j2.room.maxParticipants, 12);
      const ev2 = await ws.waitEvent('room_updated');
      assert.equal(ev2.isPublic, false);
      assert.equal(ev2.name, 'After ✓');
      assert.ok(!(await getOk(port, host, '/api/rooms/public')).rooms.some((x) => x.id === r.id));
      // Said in words, without internal numbers.
      const texts = await until(async () => {
        const t = await systemTexts(port, host, r.id);
        return t.some((s) => s.includes('private')) && t;
      }, 3000, 'the system messages');
      assert.ok(texts.includes('the host renamed the room to "After ✓", set the capacity to 12 and made the room public'),
        JSON.stringify(texts));
      assert.ok(texts.includes('the host made the room private'), JSON.stringify(texts));
      // Structured: the host's id and name, and the new values, for clients to render.
      const sys = (await getOk(port, host, `/api/rooms/${r.id}/messages?limit=200`)).messages
        .filter((m) => m.type === 'system' && m.metadata?.event === 'settings');
      assert.deepEqual(sys.map((m) => m.metadata), [
        { event: 'settings', userId: host.sub, displayName: 'Setter', name: 'After ✓', maxParticipants: 12, isPublic: true },
        { event: 'settings', userId: host.sub, displayName: 'Setter', isPublic: false },
      ]);
    } finally {
      ws.close();
    }
  });

  it('PATCH validation: 400 validation_error with field; 409 capacity_below_participants; 403 non-host; 404', T, async () => {
    const host = mkUser('Val');
    const [a, b] = [mkUser('A'), mkUser('B')];
    const r = await createRoom(port, host, { name: 'val', maxParticipants: 5 });
    await joinRest(port, a, r.id);
    await joinRest(port, b, r.id);
    const url = `/api/rooms/${r.id}`;
    const bad = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'x'.repeat(101) }, 'name'],
      [{ name: 'a\nb' }, 'name'],
      [{ name: 7 }, 'name'],
      [{ maxParticipants: 0 }, 'maxParticipants'],
      [{ maxParticipants: 21 }, 'maxParticipants'], // --room-max-capacity 20
      [{ maxParticipants: '10' }, 'maxParticipants'],
      [{ maxParticipants: 2.5 }, 'maxParticipants'],
      [{ isPublic: 'yes' }, 'isPublic'],
      [{ isPublic: null }, 'isPublic'],
      [{ state: { mode: 'x' } }, 'state'],
      [{ name: 'ok', hostUserId: a.sub }, 'hostUserId'],
    ];
    for (const [body, field] of bad) {
      const j = assertJsonError(await patch(port, host, url, body), 400, 'validation_error');
      assert.equal(j.error.field, field, `field for ${JSON.stringify(body)}`);
    }
    for (const body of ['[1]', '"x"', 'null']) assertJsonError(await patch(port, host, url, body), 400, 'bad_request');
    assertJsonError(await patch(port, host, url, '{"name":'), 400, 'bad_json');
    // Three seats are taken (host, a, b): 2 is refused, 3 is fine.
    const j = assertJsonError(await patch(port, host, url, { maxParticipants: 2 }), 409, 'capacity_below_participants');
    assert.equal(j.error.field, 'maxParticipants');
    assert.match(j.error.message, /3 participants/);
    assert.equal(expectJson(await patch(port, host, url, { maxParticipants: 3 }), 200).room.maxParticipants, 3);
    assertJsonError(await post(port, mkUser('late'), `${url}/join`), 403, 'room_full');
    assertJsonError(await patch(port, a, url, { name: 'mine now' }), 403, 'forbidden');
    // Not a participant: answered like a room that does not exist (no enumeration).
    assertJsonError(await patch(port, mkUser('stranger'), url, { name: 'mine now' }), 404, 'not_found');
    assertJsonError(await patch(port, host, '/api/rooms/3f0c8a4e-5b1d-4c47-9a43-2c1f8f3a9e11', { name: 'x' }), 404,
      'not_found');
    assertJsonError(await patch(port, undefined, url, { name: 'x' }), 401, 'unauthorized');
    // A refused change changes nothing.
    const room = (await getOk(port, host, url)).room;
    assert.equal(room.name, 'val');
    assert.equal(room.maxParticipants, 3);
    assert.equal(room.isPublic, false);
  });

  it('the room_update op: same rules over WebSocket, the caller and the others get room_updated', T, async () => {
    const host = mkUser('WsHost');
    const m = mkUser('WsMember');
    const r = await createRoom(port, host, { name: 'ws', maxParticipants: 4 });
    const hc = await RoomWs.open(port, host);
    const mc = await RoomWs.open(port, m);
    try {
      await hc.join(r.roomCode);
      await mc.join(r.id);
      const d = await hc.ok('room_update', { room: r.roomCode, name: 'ws renamed', maxParticipants: 6 });
      assertRoom(d.room);
      assert.equal(d.room.name, 'ws renamed');
      assert.equal(d.room.maxParticipants, 6);
      for (const c of [hc, mc]) {
        const ev = await c.waitEvent('room_updated');
        assert.deepEqual(ev, {
          op: 'room_updated', room: r.id, name: 'ws renamed', maxParticipants: 6, isPublic: false, by: host.sub,
        });
      }
      await mc.err('room_update', { room: r.id, name: 'nope' }, 'forbidden');
      const bad = await hc.err('room_update', { room: r.id, maxParticipants: 0 }, 'validation_error');
      assert.equal(bad.error.field, 'maxParticipants');
      assert.equal((await hc.err('room_update', { room: r.id }, 'validation_error')).error.field, 'name');
      await hc.err('room_update', { room: r.id, maxParticipants: 1 }, 'capacity_below_participants');
      await hc.err('room_update', { room: 'ZZZZZZ', name: 'x' }, 'not_found');
      await hc.err('room_update', { name: 'x' }, 'bad_request');
      await hc.sync();
      await mc.sync();
      assert.equal(mc.kept('room_updated').length, 0, 'refused changes send no event');
    } finally {
      hc.close();
      mc.close();
    }
  });

  it('bans: GET lists them (host only); DELETE lifts one (404 when not banned); the user joins again', T, async () => {
    const host = mkUser('Banner');
    const [a, b, c] = [mkUser('Ann'), mkUser('Bob'), mkUser('Cat')];
    const r = await createRoom(port, host, { name: 'bans', maxParticipants: 4 });
    for (const u of [a, b, c]) await joinRest(port, u, r.id);
    const bans = `/api/rooms/${r.id}/bans`;
    assert.deepEqual(await getOk(port, host, bans), { success: true, bans: [] });
    const t0 = Date.now();
    expectJson(await post(port, host, `/api/rooms/${r.id}/kick`, { userId: a.sub, ban: true }), 200);
    expectJson(await post(port, host, `/api/rooms/${r.id}/kick`, { userId: b.sub, ban: true }), 200);
    expectJson(await post(port, host, `/api/rooms/${r.id}/kick`, { userId: c.sub }), 200); // kicked, not banned
    const list = (await getOk(port, host, bans)).bans;
    assert.deepEqual(list.map((x) => [x.userId, x.displayName, x.color]), [[a.sub, 'Ann', a.color], [b.sub, 'Bob', b.color]]);
    for (const x of list) {
      assert.deepEqual(Object.keys(x).sort(), ['bannedAt', 'color', 'displayName', 'userId']);
      assert.ok(x.bannedAt >= t0 - 1000 && x.bannedAt <= Date.now() + 1000, `bannedAt is the time of the ban: ${x.bannedAt}`);
    }
    // A participant who is not the host is refused; the banned and the kicked are no
    // participants, so for them the room is not there.
    const d = mkUser('Dee');
    await joinRest(port, d, r.id);
    assertJsonError(await get(port, d, bans), 403, 'forbidden');
    assertJsonError(await del(port, d, `${bans}/${a.sub}`), 403, 'forbidden');
    assertJsonError(await get(port, a, bans), 404, 'not_found');
    assertJsonError(await get(port, c, bans), 404, 'not_found');
    assertJsonError(await get(port, host, '/api/rooms/3f0c8a4e-5b1d-4c47-9a43-2c1f8f3a9e11/bans'), 404, 'not_found');

    assertJsonError(await post(port, a, `/api/rooms/${r.id}/join`), 403, 'banned');
    assertJsonError(await del(port, a, `${bans}/${a.sub}`), 404, 'not_found');
    assertJsonError(await del(port, host, `${bans}/${c.sub}`), 404, 'not_found'); // kicked only
    assertJsonError(await del(port, host, `${bans}/${host.sub}`), 404, 'not_found');
    assertJsonError(await del(port, host, `${bans}/nobody`), 404, 'not_found');
    assertJsonError(await del(port, host, `${bans}/bad%zz`), 400, 'validation_error');
    assertJsonError(await del(port, host, `${bans}/a%00b`), 400, 'validation_error');
    assert.deepEqual(expectJson(await del(port, host, `${bans}/${a.sub}`), 200), { success: true });
    assertJsonError(await del(port, host, `${bans}/${a.sub}`), 404, 'not_found');
    assert.deepEqual((await getOk(port, host, bans)).bans.map((x) => x.userId), [b.sub]);
    // Ann joins again, as a new member, over REST and over WebSocket.
    const j = await joinRest(port, a, r.id);
    assert.equal(j.participant.userId, a.sub);
    assert.equal(j.participant.role, 'member');
    const ws = await RoomWs.open(port, a);
    try {
      await ws.join(r.id);
    } finally {
      ws.close();
    }
    assertJsonError(await post(port, b, `/api/rooms/${r.id}/join`), 403, 'banned');
    const texts = await until(async () => {
      const t = await systemTexts(port, host, r.id);
      return t.some((s) => s.includes('lifted')) && t;
    }, 3000, 'the unban message');
    assert.ok(texts.includes('a participant may join again: the host lifted the ban'), JSON.stringify(texts));
    const unbanned = (await getOk(port, host, `/api/rooms/${r.id}/messages?limit=200`)).messages
      .find((m) => m.metadata?.event === 'unbanned');
    assert.deepEqual(unbanned.metadata, { event: 'unbanned', userId: a.sub, displayName: 'Ann' });
  });

  it('an id that needs percent-encoding (auth0|…) is unbanned by its encoded path segment', T, async () => {
    const host = mkUser('Enc');
    const sub = 'auth0|ünï 42';
    const odd = { sub, token: mintJwt(TEST_SECRET, { sub, name: 'Odd', iat: nowSec() }) };
    const r = await createRoom(port, host, { name: 'enc' });
    await joinRest(port, odd, r.id);
    expectJson(await post(port, host, `/api/rooms/${r.id}/kick`, { userId: sub, ban: true }), 200);
    assert.deepEqual((await getOk(port, host, `/api/rooms/${r.id}/bans`)).bans.map((x) => x.userId), [sub]);
    expectJson(await del(port, host, `/api/rooms/${r.id}/bans/${encodeURIComponent(sub)}`), 200);
    await joinRest(port, odd, r.id);
  });

  it('the new routes: no token -> 401; wrong method -> 405 with Allow', T, async () => {
    const host = mkUser('Routes');
    const r = await createRoom(port, host, { name: 'routes' });
    for (const [method, path, body] of [
      ['PATCH', `/api/rooms/${r.id}`, { name: 'x' }],
      ['GET', `/api/rooms/${r.id}/bans`],
      ['DELETE', `/api/rooms/${r.id}/bans/someone`],
    ]) assertJsonError(await api(port, method, path, { body }), 401, 'unauthorized');
    for (const [method, path, allow] of [
      ['PUT', `/api/rooms/${r.id}`, ['GET', 'DELETE', 'PATCH']],
      ['POST', `/api/rooms/${r.id}/bans`, ['GET']],
      ['GET', `/api/rooms/${r.id}/bans/someone`, ['DELETE']],
    ]) {
      const res = await api(port, method, path, { token: host.token });
      assertJsonError(res, 405, 'method_not_allowed');
      const got = (res.headers.allow ?? '').split(',').map((s) => s.trim());
      for (const m of allow) assert.ok(got.includes(m), `Allow of ${method} ${path} has ${m}: ${res.headers.allow}`);
    }
  });
});

describe('room settings and bans: --room-max-bans', () => {
  it('a ban past --room-max-bans is 409 ban_limit (the user stays); lifting one makes room', T, async () => {
    const srv = await startServer({ args: [...BASE_ARGS, '--room-max-bans', '1'] });
    try {
      const host = mkUser('Limit');
      const [a, b] = [mkUser('LA'), mkUser('LB')];
      const r = await createRoom(srv.port, host, { name: 'limit' });
      for (const u of [a, b]) await joinRest(srv.port, u, r.id);
      const kick = `/api/rooms/${r.id}/kick`;
      expectJson(await post(srv.port, host, kick, { userId: a.sub, ban: true }), 200);
      assertJsonError(await post(srv.port, host, kick, { userId: b.sub, ban: true }), 409, 'ban_limit');
      const ps = (await getOk(srv.port, host, `/api/rooms/${r.id}/participants`)).participants.map((p) => p.userId);
      assert.ok(ps.includes(b.sub), 'a refused ban leaves the user in the room');
      expectJson(await post(srv.port, host, kick, { userId: a.sub, ban: true }), 200); // banning again is no new ban
      expectJson(await del(srv.port, host, `/api/rooms/${r.id}/bans/${a.sub}`), 200);
      expectJson(await post(srv.port, host, kick, { userId: b.sub, ban: true }), 200);
      assert.deepEqual((await getOk(srv.port, host, `/api/rooms/${r.id}/bans`)).bans.map((x) => x.userId), [b.sub]);
    } finally {
      await srv.stop();
    }
  });
});

describe('room settings and bans: persistence', () => {
  it('a restart keeps the new settings, the bans (with bannedAt) and a lifted ban', T, async () => {
    const dir = makeTempDir('chorus-settings-data-');
    const start = () => startServer({ data: false, args: ['--data', dir, ...BASE_ARGS] });
    try {
      const host = mkUser('Keeper');
      const [a, b] = [mkUser('KA'), mkUser('KB')];
      let srv = await start();
      let r, bans;
      try {
        r = await createRoom(srv.port, host, { name: 'kept' });
        await joinRest(srv.port, a, r.id);
        await joinRest(srv.port, b, r.id);
        expectJson(await patch(srv.port, host, `/api/rooms/${r.id}`, { name: 'kept 2', maxParticipants: 7, isPublic: true }), 200);
        for (const u of [a, b]) expectJson(await post(srv.port, host, `/api/rooms/${r.id}/kick`, { userId: u.sub, ban: true }), 200);
        expectJson(await del(srv.port, host, `/api/rooms/${r.id}/bans/${a.sub}`), 200);
        bans = (await getOk(srv.port, host, `/api/rooms/${r.id}/bans`)).bans;
      } finally {
        await srv.stop();
      }
      srv = await start();
      try {
        const room = (await getOk(srv.port, host, `/api/rooms/${r.id}`)).room;
        assert.equal(room.name, 'kept 2');
        assert.equal(room.maxParticipants, 7);
        assert.equal(room.isPublic, true);
        assert.deepEqual((await getOk(srv.port, host, `/api/rooms/${r.id}/bans`)).bans, bans);
        await joinRest(srv.port, a, r.id);
        assertJsonError(await post(srv.port, b, `/api/rooms/${r.id}/join`), 403, 'banned');
      } finally {
        await srv.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
