// large_rooms.test.mjs: large rooms (issue 26, docs/protocol.md "Large rooms"): the join
// reply's counts and first page of participants (online first, then offline, each in seat
// order), GET /api/rooms/:id's first page in a large room, the `participants` op and
// GET /api/rooms/:id/participants paging and searching
// through the rest; a small room's join reply still holds everyone. Membership changes in a
// large room arrive as one participants_changed a tick with the net change (presence goes
// to watchers only: presence_sub.test.mjs); a small room keeps its immediate events.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { closeAll, createRoom, get, joinRest, mkUser, RoomWs, until } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';
import { delay } from './lib/util.mjs';

const T = { timeout: 30000 };
// A room with more than 5 seats is large; its join reply carries 3 participants; its
// changes go out once a second (long enough for the test's burst of changes to fall in one
// interval, which starts at the burst's first change).
const ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--room-large', '5', '--room-join-participants', '3',
  '--room-large-tick', '1s'];
const INDIVIDUAL = new Set(['participant_joined', 'participant_left', 'participant_removed', 'presence']);

const names = (list) => list.map((p) => p.displayName).join(',');

describe('large rooms: counts, pages, search', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ARGS });
  });
  after(async () => {
    await srv?.stop();
  });

  it('a small room: everyone in the join reply, with the counts and no cursor', T, async () => {
    const [a, b, c] = [mkUser('Ann'), mkUser('Ben'), mkUser('Cat')];
    const room = await createRoom(srv.port, a, { name: 'small', maxParticipants: 20 });
    await joinRest(srv.port, b, room.id); // a seat, offline
    const cs = [];
    try {
      cs.push(await RoomWs.open(srv.port, c));
      const d = await cs[0].join(room.id);
      assert.equal(d.participantCount, 3);
      assert.equal(d.onlineCount, 1);
      assert.equal(d.participantsNext, null);
      assert.equal(names(d.participants), 'Cat,Ann,Ben'); // online first, then by seat
      const p = await cs[0].ok('participants', { room: room.id });
      assert.deepEqual(p, { participants: d.participants, next: null, participantCount: 3, onlineCount: 1 });
      // GET /api/rooms/:id lists a small room's participants whole, without a cursor.
      const whole = (await get(srv.port, c, `/api/rooms/${room.id}`)).json().room;
      assert.equal(whole.participants.length, 3);
      assert.equal(whole.participantsNext, undefined);
    } finally {
      closeAll(cs);
    }
  });

  it('a large room: the first page, then participants pages and searches the rest', T, async () => {
    const users = ['Ana', 'Bo', 'Cy', 'Dee', 'Eve', 'Fay', 'Gus', 'Hal'].map((n) => mkUser(n));
    const room = await createRoom(srv.port, users[0], { name: 'large', maxParticipants: 20 });
    for (const u of users.slice(1)) await joinRest(srv.port, u, room.id); // seats 2..8, offline
    const cs = [];
    try {
      for (const i of [6, 3]) { // online out of seat order
        const c = await RoomWs.open(srv.port, users[i]);
        cs.push(c);
        await c.join(room.id);
      }
      const hal = await RoomWs.open(srv.port, users[7]);
      cs.push(hal);
      const d = await hal.join(room.id);
      assert.equal(d.participantCount, 8);
      assert.equal(d.onlineCount, 3);
      assert.equal(names(d.participants), 'Dee,Gus,Hal');
      assert.equal(d.participant.displayName, 'Hal');
      assert.equal(typeof d.participantsNext, 'string');
      assert.ok(d.participants.every((p) => p.online));

      // The rest, a page at a time, from the join's cursor.
      let cursor = d.participantsNext;
      const pages = [];
      while (cursor) {
        const p = await hal.ok('participants', { room: room.id, cursor, limit: 3 });
        assert.equal(p.participantCount, 8);
        assert.equal(p.onlineCount, 3);
        pages.push(names(p.participants));
        cursor = p.next;
      }
      assert.deepEqual(pages, ['Ana,Bo,Cy', 'Eve,Fay']);
      // One page of everyone, the default limit.
      const all = await hal.ok('participants', { room: room.id });
      assert.equal(names(all.participants), 'Dee,Gus,Hal,Ana,Bo,Cy,Eve,Fay');
      assert.equal(all.next, null);
      // Searches: a substring of the display name, any case; online only.
      const a = await hal.ok('participants', { room: room.id, query: 'A' });
      assert.equal(names(a.participants), 'Hal,Ana,Fay');
      const a1 = await hal.ok('participants', { room: room.id, query: 'a', limit: 2 });
      assert.equal(names(a1.participants), 'Hal,Ana');
      const a2 = await hal.ok('participants', { room: room.id, query: 'a', cursor: a1.next });
      assert.equal(names(a2.participants), 'Fay');
      assert.equal(a2.next, null);
      const on = await hal.ok('participants', { room: room.id, online: true, limit: 2 });
      assert.equal(names(on.participants), 'Dee,Gus');
      const on2 = await hal.ok('participants', { room: room.id, online: true, cursor: on.next });
      assert.equal(names(on2.participants), 'Hal');
      assert.equal(on2.next, null);

      // Bad arguments.
      await hal.err('participants', { room: room.id, cursor: 'nope' }, 'bad_request');
      await hal.err('participants', { room: room.id, cursor: 7 }, 'bad_request');
      await hal.err('participants', { room: room.id, limit: 0 }, 'validation_error');
      await hal.err('participants', { room: room.id, limit: 501 }, 'validation_error');
      await hal.err('participants', { room: room.id, query: 'x'.repeat(65) }, 'validation_error');
      await hal.err('participants', { room: room.id, online: 'yes' }, 'validation_error');
      // Participants only, as history.
      const stranger = await RoomWs.open(srv.port, mkUser('Zed'));
      cs.push(stranger);
      await stranger.err('participants', { room: room.id }, 'not_found');
      // The name check still holds in a large room (an index now, not a walk).
      const other = await RoomWs.open(srv.port, mkUser('Other'));
      cs.push(other);
      await other.err('join', { room: room.id, displayName: 'fAY' }, 'name_taken');

      // REST: the same pages, with success.
      const r1 = await get(srv.port, users[7], `/api/rooms/${room.id}/participants?limit=4&query=`);
      assert.equal(r1.status, 200, r1.text);
      const j1 = r1.json();
      assert.equal(j1.success, true);
      assert.equal(names(j1.participants), 'Dee,Gus,Hal,Ana');
      assert.equal(j1.participantCount, 8);
      assert.equal(j1.onlineCount, 3);
      const r2 = await get(srv.port, users[7], `/api/rooms/${room.id}/participants?cursor=${encodeURIComponent(j1.next)}&online=false`);
      assert.equal(names(r2.json().participants), 'Bo,Cy,Eve,Fay');
      assert.equal(r2.json().next, null);
      const r3 = await get(srv.port, users[7], `/api/rooms/${room.id}/participants?query=%61&online=true`);
      assert.equal(names(r3.json().participants), 'Hal');
      // GET /api/rooms/:id: the first page, its cursor and the counts, as the join reply.
      const whole = await get(srv.port, users[7], `/api/rooms/${room.id}`);
      assert.equal(whole.status, 200, whole.text);
      const wr = whole.json().room;
      assert.equal(names(wr.participants), 'Dee,Gus,Hal');
      assert.equal(wr.participantCount, 8);
      assert.equal(wr.onlineCount, 3);
      const rest = await get(srv.port, users[7], `/api/rooms/${room.id}/participants?cursor=${encodeURIComponent(wr.participantsNext)}&limit=500`);
      assert.equal(rest.json().participants.length, 5);
      assert.equal(rest.json().next, null);
      const bad = await get(srv.port, users[7], `/api/rooms/${room.id}/participants?cursor=zz`);
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.json().error.code, 'bad_request');
      const badOnline = await get(srv.port, users[7], `/api/rooms/${room.id}/participants?online=1`);
      assert.equal(badOnline.status, 400, badOnline.text);
    } finally {
      closeAll(cs);
    }
  });

  it('a large room: one participants_changed a tick with the net change; a small room: the events at once', T, async () => {
    const [host, b, d, o, e, f, g, c] = ['Host', 'Bea', 'Dan', 'Obs', 'Eli', 'Flo', 'Gil', 'Cas'].map((n) => mkUser(n));
    const room = await createRoom(srv.port, host, { name: 'burst', maxParticipants: 30 });
    await joinRest(srv.port, b, room.id); // seated, offline
    await joinRest(srv.port, d, room.id);
    const cs = [];
    const open = async (u) => {
      const ws = await RoomWs.open(srv.port, u);
      cs.push(ws);
      return ws;
    };
    try {
      const co = await open(o);
      await co.join(room.id); // 4 seats: small
      const ce = await open(e);
      await ce.join(room.id); // 5: small
      const cf = await open(f);
      await cf.join(room.id); // 6: large from here
      const cg = await open(g);
      await cg.join(room.id);
      // The setup's changes have gone out once Gil is listed online.
      await co.waitEvent((m) => m.op === 'participants_changed' && m.joined?.some((p) => p.userId === g.sub), 5000);
      await cg.waitEvent((m) => m.op === 'participants_changed' && m.joined?.some((p) => p.userId === g.sub), 5000);
      co.clear();
      cg.clear();

      // The burst: two come online, one comes and goes, one leaves, one drops, presence.
      const [cb, cd, cc] = [await open(b), await open(d), await open(c)];
      const burst = [
        cb.join(room.id),
        cc.join(room.id),
        cd.join(room.id).then(() => cd.terminate()),
        ce.ok('leave', { room: room.id }),
        cg.ok('presence', { room: room.id, state: { x: 1, y: 1 } }).then(() => cg.ok('presence', { room: room.id, state: { x: 2 } })),
        co.ok('presence', { room: room.id, state: { me: 1 } }),
      ];
      cf.terminate();
      await Promise.all(burst);
      const ev = await co.waitEvent('participants_changed', 5000);
      const byName = (a, z) => (a.userId < z.userId ? -1 : 1);
      assert.deepEqual(ev.joined.map((p) => p.displayName).sort(), ['Bea', 'Cas']);
      assert.ok(ev.joined.every((p) => p.online === true));
      assert.deepEqual(ev.left.sort(byName), [
        { userId: e.sub, reason: 'left', removed: true },
        { userId: f.sub, reason: 'disconnected', removed: false },
      ].sort(byName));
      // Presence is not in it: in a large room it goes to the member's watchers only
      // (presence_subscribe, presence_sub.test.mjs), and nobody here watches.
      assert.equal(ev.presence, undefined);
      assert.equal(ev.participantCount, 7); // host, Bea, Dan, Obs, Flo, Gil, Cas
      assert.equal(ev.onlineCount, 4); // Obs, Gil, Bea, Cas
      // A user's own connections get their own changes in it too.
      const own = await cg.waitEvent('participants_changed', 5000);
      assert.deepEqual(own.left.sort(byName), ev.left.sort(byName));
      // Nothing else: no individual events in a large room, and one event for the burst.
      await co.sync();
      assert.deepEqual(co.kept((m) => INDIVIDUAL.has(m.op) || m.op === 'participants_changed'), []);
      // No "joined" or "left" system message in a large room (Cas took a new seat, Eli left).
      assert.deepEqual(co.kept((m) => m.op === 'message' && ['joined', 'left'].includes(m.message.metadata?.event)), []);

      // A small room keeps the immediate events.
      const [s1, s2] = [mkUser('Sa'), mkUser('Sb')];
      const small = await createRoom(srv.port, s1, { name: 'small', maxParticipants: 30 });
      const [c1, c2] = [await open(s1), await open(s2)];
      await c1.join(small.id);
      await c2.join(small.id);
      const joined = await c1.waitEvent('participant_joined', 5000);
      assert.equal(joined.participant.userId, s2.sub);
      const line = await c1.waitEvent((m) => m.op === 'message' && m.message.metadata?.event === 'joined', 5000);
      assert.equal(line.message.metadata.userId, s2.sub);
      await c2.ok('presence', { room: small.id, state: { z: 1 } });
      const pres = await c1.waitEvent('presence', 5000);
      assert.deepEqual(pres.state, { z: 1 });
      c2.terminate();
      const left = await c1.waitEvent('participant_left', 5000);
      assert.equal(left.reason, 'disconnected');
      assert.deepEqual(c1.kept('participants_changed'), []);
    } finally {
      closeAll(cs);
    }
  });
});

// --room-large-rate: a large room's interval grows with its online members so that its
// participants_changed costs at most that many deliveries a second, a participant object it
// names counting as one more. At 1 a second, a room of 5 online members sends one event
// every 5 s whatever the tick (100 ms here), naming nobody.
describe('large rooms: the interval grows with the room (--room-large-rate)', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--room-large', '2', '--room-large-tick', '100ms',
        '--room-large-rate', '1'],
    });
  });
  after(async () => {
    await srv?.stop();
  });

  it('two joins a second apart in a room of 5 online go out in one participants_changed, counted', T, async () => {
    const users = ['Ida', 'Jo', 'Kim', 'Lou', 'Max'].map((n) => mkUser(n));
    const room = await createRoom(srv.port, users[0], { name: 'slow ticks', maxParticipants: 30 });
    const cs = [];
    try {
      for (const u of users.slice(0, 3)) {
        const c = await RoomWs.open(srv.port, u);
        cs.push(c);
        await c.join(room.id);
      }
      const obs = cs[0];
      // The setup's changes are out once Kim is counted online (at most 3 s after they began).
      await obs.waitEvent((m) => m.op === 'participants_changed' && m.onlineCount === 3, 10000);
      obs.clear();
      const lou = await RoomWs.open(srv.port, users[3]);
      cs.push(lou);
      await lou.join(room.id); // 4 online: this interval lasts 4 s or more (5 at its end)
      await delay(1000); // ten ticks of 100 ms
      await obs.sync();
      assert.deepEqual(obs.kept('participants_changed'), [], 'no event before the interval ended');
      const max = await RoomWs.open(srv.port, users[4]);
      cs.push(max);
      await max.join(room.id);
      const ev = await obs.waitEvent('participants_changed', 15000);
      // An interval the rate set leaves no deliveries for naming them: counted only.
      assert.equal(ev.joined, undefined);
      assert.equal(ev.joinedMore, 2);
      assert.equal(ev.onlineCount, 5);
      // Their joins are in the room's activity stream, but not sent to every member.
      const late = [users[3].sub, users[4].sub];
      const stream = async () => (await get(srv.port, users[0], `/api/rooms/${room.id}/activity`)).json().activity
        .filter((a) => a.kind === 'joined' && late.includes(a.userId));
      await until(async () => (await stream()).length === 2, 10000, 'the joined rows stored');
      await obs.sync();
      assert.deepEqual(obs.kept((m) => m.op === 'activity' && late.includes(m.activity.userId)), []);
    } finally {
      closeAll(cs);
    }
  });
});
