// participants.test.mjs: large rooms (docs/protocol.md "Large rooms") through the SDK:
// the counts, paging the participants to the end, search, the coalesced
// participants_changed event seen as the usual participant events, a rejoin, and
// watchPresence (presence subscriptions), sent again after a reconnect.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BASE_ARGS, connected, next, startServer, until } from '../testlib/helpers.mjs';

const T = { timeout: 20000 };
// Large above 3 seats; a join reply carries 2 participants.
const LARGE = ['--room-large', '3', '--room-join-participants', '2'];

/** Records the server ops a room receives (to see which events the server sent). */
function spyOps(room) {
  const ops = [];
  const handle = room._handle.bind(room);
  room._handle = (msg) => {
    ops.push(msg.op);
    handle(msg);
  };
  return ops;
}

/** Every page of the room's list, from participantsNext on. */
async function loadAll(room) {
  const seen = [];
  while (!room.participantsComplete) {
    const page = await room.loadParticipants();
    seen.push(...page.participants);
  }
  return seen;
}

/**
 * A server (LARGE and args) for the describe block it is called in, started before its
 * tests and stopped after them with the clients they opened; returns conn(name): a
 * connected client of it.
 */
function serverForSuite(args) {
  let srv;
  const open = [];
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, ...LARGE, ...args] });
  });
  after(async () => {
    for (const c of open) c.close();
    await srv?.stop();
  });
  return async (name) => {
    const c = await connected(srv.port, name);
    open.push(c);
    return c;
  };
}

describe('large rooms: counts, pages, search', () => {
  const conn = serverForSuite([]);

  it('a small room: everyone in the join reply, counts from it, complete', T, async () => {
    const host = await conn('SmallHost');
    const r = await host.createRoom({ name: 'small', maxParticipants: 10 });
    const hr = await host.join(r.roomCode);
    const mem = await conn('SmallMem');
    await mem.join(r.roomCode);
    await until(() => hr.participants.size === 2, 5000, 'the member in the map');
    assert.equal(hr.participantCount, 2);
    assert.equal(hr.onlineCount, 2);
    assert.equal(hr.participantsComplete, true);
    assert.equal(hr.participantsNext, null);
    const page = await hr.loadParticipants({ query: 'smallm' });
    assert.deepEqual(page.participants.map((p) => p.userId), [mem.user.id]);
    assert.equal(page.next, null);
  });

  it('a large room: counts, the first page, paging to the end, search, online only', T, async () => {
    const host = await conn('Host');
    const r = await host.createRoom({ name: 'large', maxParticipants: 20 });
    const hr = await host.join(r.roomCode, { displayName: 'Host' });
    const names = ['Ada', 'Bob', 'Cyd', 'Dee', 'Eve'];
    const members = [];
    for (const n of names) {
      const c = await conn(n);
      await c.join(r.roomCode, { displayName: n });
      members.push(c);
    }
    // Dee goes offline: the seat is kept for the seat grace (60 s). (Once her arrival was
    // told: a seat taken and left within one tick is in neither list of the tick's event.)
    const dee = members[3];
    await until(() => hr.participants.get(dee.user.id)?.online, 5000, 'Dee online');
    const deeLeft = next(hr, 'participant_left', (p) => p.userId === dee.user.id);
    dee.close();
    assert.equal((await deeLeft).reason, 'disconnected');
    await until(() => hr.onlineCount === 5, 5000, 'onlineCount 5');

    const obs = await conn('Observer');
    const room = await obs.join(r.roomCode, { displayName: 'Observer' });
    assert.equal(room.participantCount, 7);
    assert.equal(room.onlineCount, 6);
    assert.equal(room.participantsComplete, false);
    assert.equal(typeof room.participantsNext, 'string');
    assert.ok(room.participants.size <= 3, `the first page and me: ${room.participants.size}`);
    assert.ok(room.participants.get(obs.user.id), 'my own participant is in the map');

    const counts = [];
    room.on('participants_count', (c) => counts.push(c));
    const loaded = await loadAll(room);
    assert.equal(room.participantsNext, null);
    assert.equal(room.participants.size, 7, 'every seat loaded');
    // Online first, then offline (Dee last): the pages of the list, after the join page.
    assert.equal(loaded.at(-1).userId, dee.user.id);
    assert.equal(room.participants.get(dee.user.id).online, false);
    assert.deepEqual(counts, [], 'nothing changed');

    // Once complete, loadParticipants() reads the first page again.
    const first = await room.loadParticipants({ limit: 2 });
    assert.equal(first.participants.length, 2);
    assert.equal(typeof first.next, 'string');
    assert.equal(room.participantsComplete, true);

    // Search: a case-insensitive substring of displayName, paged with more().
    const bob = await room.loadParticipants({ query: 'bO' });
    assert.deepEqual(bob.participants.map((p) => p.displayName), ['Bob']);
    assert.equal(bob.next, null);
    assert.equal(bob.participantCount, 7);
    const e1 = await room.loadParticipants({ query: 'E', limit: 2 }); // Dee, Eve, Observer
    const e2 = await e1.more();
    const e3 = await e2.more();
    const found = [...e1.participants, ...e2.participants, ...e3.participants].map((p) => p.displayName);
    assert.deepEqual(found.sort(), ['Dee', 'Eve', 'Observer']);
    assert.equal(e2.next, null);
    const online = await room.loadParticipants({ online: true, limit: 500 });
    assert.equal(online.participants.length, 6);
    assert.ok(online.participants.every((p) => p.online));
    await assert.rejects(room.loadParticipants({ query: 'x'.repeat(65) }), { code: 'validation_error' });
  });

  it('a rejoin after a reconnect restarts the list from the first page, coherent', T, async () => {
    const host = await conn('RjHost');
    const r = await host.createRoom({ name: 'rejoin', maxParticipants: 20 });
    await host.join(r.roomCode);
    const members = [];
    const mrooms = [];
    for (const n of ['Rja', 'Rjb', 'Rjc']) {
      const c = await conn(n);
      mrooms.push(await c.join(r.roomCode));
      members.push(c);
    }
    const obs = await conn('RjObs');
    const room = await obs.join(r.roomCode);
    await loadAll(room);
    assert.equal(room.participants.size, 5);

    // Away, Rja leaves (a seat gone) and a newcomer joins: the rejoin shows both.
    const reopened = next(obs, 'connection', (s) => s === 'open', 10000);
    const gone = members[0];
    obs.socket._socket.destroy();
    await until(() => obs.state === 'reconnecting', 5000, 'reconnecting');
    await mrooms[0].leave();
    const late = await conn('RjLate');
    await late.join(r.roomCode);
    await reopened;

    await until(() => room.participantCount === 5, 5000, 'count 5');
    assert.equal(room.participantsComplete, false, 'the list starts again at the first page');
    assert.ok(!room.participants.has(gone.user.id), 'the one who left is not in the map');
    const loaded = await loadAll(room);
    assert.ok(loaded.length > 0);
    assert.equal(room.participants.size, 5);
    assert.ok(room.participants.has(late.user.id));
    assert.ok(!room.participants.has(gone.user.id));
  });
});

describe('large rooms: participants_changed seen as the usual events', () => {
  const conn = serverForSuite(['--room-seat-grace', '300ms']);

  it('every join, presence, leave and removal reaches an app listener; counts follow', T, async () => {
    const host = await conn('EvHost');
    const r = await host.createRoom({ name: 'events', maxParticipants: 20 });
    const hr = await host.join(r.roomCode);
    const names = ['Eva', 'Evb', 'Evc', 'Evd', 'Eve'];
    const members = await Promise.all(names.map((n) => conn(n)));
    const rooms = [];
    for (const c of members.slice(0, 3)) rooms.push(await c.join(r.roomCode)); // 4 seats: large
    const obs = await conn('EvObs');
    const or = await obs.join(r.roomCode);
    assert.equal(or.participantsComplete, false);
    await until(() => hr.participantCount === 5, 5000, 'the host counts 5');

    const ops = spyOps(hr);
    const seen = [];
    for (const ev of ['participant_joined', 'participant_left', 'participant_removed', 'presence']) {
      hr.on(ev, (p) => seen.push([ev, p.userId, p.reason ?? p.state ?? null]));
    }
    const counts = [];
    hr.on('participants_count', (c) => counts.push([c.participantCount, c.onlineCount]));
    const obsJoined = new Set();
    or.on('participant_joined', (p) => obsJoined.add(p.userId));

    // Two at once: both in the same tick or not, each is a participant_joined.
    rooms.push(...await Promise.all(members.slice(3).map((c) => c.join(r.roomCode))));
    await until(() => hr.participantCount === 7 && hr.onlineCount === 7, 5000, 'counts 7/7');
    for (const c of members.slice(3)) {
      assert.ok(seen.some(([ev, id]) => ev === 'participant_joined' && id === c.user.id), `joined ${c.user.id}`);
      assert.equal(hr.participants.get(c.user.id)?.online, true);
      await until(() => obsJoined.has(c.user.id), 5000, 'the observer sees the join');
      assert.equal(or.participants.get(c.user.id)?.online, true, 'the observer has the newcomer');
    }
    assert.deepEqual(counts.at(-1), [7, 7]);
    assert.equal(or.participantCount, 7);

    // In a large room presence reaches the watchers only (watchPresence).
    await hr.watchPresence([members[0].user.id]);
    await rooms[0].setPresence({ cursor: { x: 1 } });
    await until(() => hr.participants.get(members[0].user.id)?.presence?.cursor?.x === 1, 5000, 'presence');
    assert.ok(seen.some(([ev, id, st]) => ev === 'presence' && id === members[0].user.id && st.cursor?.x === 1));

    // Evb leaves, Evc is kicked, Evd drops (offline, then removed after the grace).
    await rooms[1].leave();
    await host.kick(r.id, members[2].user.id);
    members[3].close();
    await until(() => seen.some(([ev, id]) => ev === 'participant_removed' && id === members[3].user.id), 5000, 'Evd removed');
    const about = (c) => seen.filter(([ev, id]) => id === c.user.id && ev !== 'presence' && ev !== 'participant_joined')
      .map(([ev, , reason]) => `${ev}:${reason}`);
    assert.deepEqual(about(members[1]), ['participant_left:left']);
    assert.deepEqual(about(members[2]), ['participant_left:kicked']);
    assert.deepEqual(about(members[3]), ['participant_left:disconnected', 'participant_removed:timeout']);
    for (const c of members.slice(1, 4)) assert.ok(!hr.participants.has(c.user.id));
    assert.ok(ops.includes('participants_changed'), 'the server coalesced them');
    assert.ok(!ops.includes('participant_joined') && !ops.includes('participant_left'), 'no immediate event while large');
    await until(() => hr.participantCount === 4 && hr.onlineCount === 4, 5000, 'counts 4/4');
    assert.deepEqual(counts.at(-1), [4, 4]);

    // Eve leaves: 3 seats, a small room again once that change is sent. Its next event
    // comes at once, and makes the observer's partial list whole again.
    await rooms[4].leave();
    await until(() => or.participantCount === 3, 5000, 'the observer counts 3');
    assert.equal(or.participantsComplete, false);
    const oops = spyOps(or);
    await rooms[0].setPresence({ cursor: { x: 2 } });
    await until(() => or.participantsComplete, 5000, 'the observer reloads the whole list');
    assert.deepEqual(oops.filter((op) => op.startsWith('particip') || op === 'presence'), ['presence']);
    await until(() => or.participantCount === 3 && or.participants.size === 3, 5000, 'the observer has everyone');
    assert.equal(or.onlineCount, 3);
  });
});

describe('large rooms: watchPresence', () => {
  const conn = serverForSuite([]);

  it('gets the watched participants\' presence only, now and after a reconnect', T, async () => {
    const host = await conn('WpHost');
    const r = await host.createRoom({ name: 'watch', maxParticipants: 20 });
    await host.join(r.roomCode);
    const [a, b] = [await conn('Wpa'), await conn('Wpb')];
    const [ra, rb] = [await a.join(r.roomCode), await b.join(r.roomCode)];
    const obs = await conn('WpObs');
    const room = await obs.join(r.roomCode); // 4 seats: large
    await ra.setPresence({ cursor: { x: 1 } });
    const seen = [];
    room.on('presence', (p) => seen.push(`${p.userId === a.user.id ? 'a' : 'b'}${p.presence?.cursor?.x}`));
    const w = await room.watchPresence([a.user.id, a.user.id]);
    assert.equal(w.users, 1);
    assert.deepEqual(w.presence, { [a.user.id]: { cursor: { x: 1 } } });
    assert.deepEqual(seen, ['a1']); // the answer's state, as an event
    await rb.setPresence({ cursor: { x: 5 } });
    await ra.setPresence({ cursor: { x: 2 } });
    await until(() => seen.includes('a2'), 5000, 'a2');
    assert.ok(!seen.some((s) => s.startsWith('b')), `only a: ${seen}`);

    // A reconnect: the rejoin watches a again.
    const reopened = next(obs, 'connection', (s) => s === 'open', 10000);
    obs.socket._socket.destroy();
    await until(() => obs.state === 'reconnecting', 5000, 'reconnecting');
    await reopened;
    await until(() => seen.filter((s) => s === 'a2').length === 2, 5000, 'the rejoin watched a again');
    await ra.setPresence({ cursor: { x: 3 } });
    await until(() => seen.includes('a3'), 5000, 'a3 after the rejoin');
    await assert.rejects(room.watchPresence(Array.from({ length: 300 }, (_, i) => `u${i}`)), (e) => e.code === 'too_many_users');
  });
});
