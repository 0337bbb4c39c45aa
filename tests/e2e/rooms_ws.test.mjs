// rooms_ws.test.mjs: rooms over the WebSocket protocol (docs/protocol.md "Rooms"): join
// and its reply, ordered gapless messages, history, presence (coalescing, typing, idle),
// broadcast, disconnects and the seat grace, capacity, state, the error codes of the ops,
// room deletion and kicks seen by connected members.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { api, FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import {
  allMessages, assertMessage, assertParticipant, assertRoom, closeAll, createRoom, expectJson, getOk,
  joinRest, mkUser, openAll, RoomWs, until,
} from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';
import { delay } from './lib/util.mjs';

const T = { timeout: 20000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];
const MAX_MESSAGE = 1024;
const MAX_BROADCAST = 1024;
const SEAT_GRACE_MS = 500;

const plain = (m) => JSON.parse(JSON.stringify(m));

/** Opens a connection per user; returns the clients. */

describe('rooms over WebSocket', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({
      args: [...BASE_ARGS, '--room-max-broadcast', '1KiB', '--room-max-message', '1KiB',
        '--room-seat-grace', `${SEAT_GRACE_MS}ms`],
    });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('join by code (token in the query) -> room, participants, state, stateVersion, lastSeq, role, messages; others get participant_joined', T, async () => {
    const host = mkUser('Host');
    const mem = mkUser('Mem');
    const r = await createRoom(port, host, { name: 'ws join', state: { mode: 'chill' } });
    const [ch, cm] = await openAll(port, [host, mem]);
    try {
      const d = await ch.join(r.roomCode);
      // The server also sends the caller's own participant (not in protocol.md); tolerated.
      if ('participant' in d) {
        assert.equal(d.participant.userId, host.sub);
        delete d.participant;
      }
      assert.deepEqual(Object.keys(d).sort(),
        ['entities', 'lastSeq', 'messages', 'onlineCount', 'participantCount', 'participants', 'participantsNext', 'role', 'room',
          'state', 'stateVersion']);
      assertRoom(d.room);
      assert.equal(d.room.id, r.id);
      assert.equal(d.room.onlineCount, 1);
      assert.equal(d.role, 'host');
      assert.deepEqual(d.state, { mode: 'chill' });
      assert.equal(d.stateVersion, 0);
      assert.equal(d.lastSeq, 0);
      assert.deepEqual(d.messages, []);
      assert.equal(d.participants.length, 1);
      assertParticipant(d.participants[0]);
      assert.deepEqual({ ...d.participants[0], joinedAt: 0 }, {
        userId: host.sub, displayName: 'Host', color: host.color, role: 'host', online: true, presence: {}, joinedAt: 0,
      });

      const dm = await cm.join(r.roomCode.toLowerCase(), { displayName: 'Emm' });
      assert.equal(dm.role, 'member');
      assert.equal(dm.room.participantCount, 2);
      assert.equal(dm.room.onlineCount, 2);
      assert.equal(dm.lastSeq, 1, 'the join is system message 1');
      assert.equal(dm.messages.length, 1);
      assertMessage(dm.messages[0], r.id);
      assert.equal(dm.messages[0].type, 'system');
      assert.equal(dm.messages[0].userId, null);
      assert.equal(dm.messages[0].seq, 1);
      dm.participants.forEach(assertParticipant);
      const byId = Object.fromEntries(dm.participants.map((p) => [p.userId, p]));
      assert.deepEqual(Object.keys(byId).sort(), [host.sub, mem.sub].sort());
      assert.equal(byId[mem.sub].displayName, 'Emm');
      assert.equal(byId[mem.sub].role, 'member');
      assert.equal(byId[mem.sub].online, true);
      assert.equal(byId[mem.sub].color, mem.color);
      assert.equal(byId[host.sub].online, true);

      const ev = await ch.waitEvent('participant_joined');
      assert.deepEqual(Object.keys(ev).sort(), ['op', 'participant', 'room']);
      assert.equal(ev.room, r.id);
      assertParticipant(ev.participant);
      assert.equal(ev.participant.userId, mem.sub);
      assert.equal(ev.participant.displayName, 'Emm');
      assert.equal(ev.participant.online, true);
      assert.equal(ev.participant.role, 'member');
      const sys = await ch.waitEvent('message');
      assert.deepEqual(plain(sys), { op: 'message', room: r.id, message: dm.messages[0] });
      // Joining again on the same connection is fine and announces nothing.
      const again = await cm.join(r.id);
      assert.equal(again.lastSeq, 1);
      await ch.sync();
      await cm.sync();
      assert.deepEqual(ch.kept(() => true), []);
      assert.deepEqual(cm.kept(() => true), [], 'the joiner gets no participant_joined for itself');
      // Unknown room, missing room.
      await cm.err('join', { room: 'ZZZZZZ' }, 'not_found');
      await cm.err('join', { room: 'no-such-room' }, 'not_found');
      await cm.err('join', {}, 'bad_request');
    } finally {
      closeAll([ch, cm]);
    }
  });

  it('3 clients x 100 messages: per-sender order, every message delivered, seqs 1..N without gaps or duplicates', T, async () => {
    const N_EACH = 100;
    const users = [mkUser('A'), mkUser('B'), mkUser('C')];
    const r = await createRoom(port, users[0], { name: 'flow', maxParticipants: 3 });
    const cs = await openAll(port, users);
    try {
      const joins = [];
      for (const c of cs) joins.push(await c.join(r.id));
      // Everyone is subscribed once the earlier members saw the later ones come online.
      await cs[0].waitEvent((m) => m.op === 'participant_joined' && m.participant.userId === users[1].sub);
      await cs[0].waitEvent((m) => m.op === 'participant_joined' && m.participant.userId === users[2].sub);
      await cs[1].waitEvent((m) => m.op === 'participant_joined' && m.participant.userId === users[2].sub);

      const sends = cs.map((c, k) => Promise.all(Array.from({ length: N_EACH }, (_, i) =>
        c.call('message', { room: r.id, type: 'user_text', content: `${users[k].name}-${i}`, metadata: { i } }, 10000))));
      const replies = await Promise.all(sends);
      for (const [k, rs] of replies.entries()) {
        for (const [i, m] of rs.entries()) {
          assert.equal(m.ok, true, JSON.stringify(m));
          assertMessage(m.data.message, r.id);
          assert.equal(m.data.message.content, `${users[k].name}-${i}`);
          assert.equal(m.data.message.userId, users[k].sub);
          assert.deepEqual(m.data.message.metadata, { i });
          if (i > 0) assert.ok(m.data.message.seq > rs[i - 1].data.message.seq, 'replies in send order, seq increasing');
        }
      }
      const total = 2 + 3 * N_EACH; // two system join messages, then the user messages
      for (const [k, c] of cs.entries()) {
        await until(() => c.kept((m) => m.op === 'message' && m.message.userId !== null).length >= 2 * N_EACH,
          5000, `client ${k} to receive the others' messages`);
        await c.sync();
        const evs = c.kept('message');
        for (const e of evs) assert.equal(e.room, r.id);
        assert.equal(evs.filter((e) => e.message.userId === users[k].sub).length, 0, 'no echo of own messages');
        for (const [j, u] of users.entries()) {
          if (j === k) continue;
          const got = evs.filter((e) => e.message.userId === u.sub).map((e) => e.message.content);
          assert.deepEqual(got, Array.from({ length: N_EACH }, (_, i) => `${u.name}-${i}`), `client ${k} sees ${u.name} in order`);
        }
        const seqs = [
          ...joins[k].messages.map((m) => m.seq),
          ...evs.map((e) => e.message.seq),
          ...replies[k].map((m) => m.data.message.seq),
        ].sort((a, b) => a - b);
        const missing = [];
        for (let q = 1; q <= total; q++) if (!seqs.includes(q)) missing.push(q);
        const dups = seqs.filter((q, i) => i > 0 && seqs[i - 1] === q);
        assert.deepEqual({ count: seqs.length, missing, dups, max: seqs.at(-1) }, { count: total, missing: [], dups: [], max: total },
          `client ${k}: seqs 1..${total} exactly once`);
        // Events arrive in seq order.
        const evSeqs = evs.map((e) => e.message.seq);
        assert.deepEqual(evSeqs, [...evSeqs].sort((a, b) => a - b), `client ${k}: events in seq order`);
      }
      const stored = await allMessages(port, users[1], r.id);
      assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: total }, (_, i) => i + 1));
      assert.equal(stored.filter((m) => m.type === 'system').length, 2);
      for (const u of users) {
        assert.deepEqual(stored.filter((m) => m.userId === u.sub).map((m) => m.content),
          Array.from({ length: N_EACH }, (_, i) => `${u.name}-${i}`));
      }
      const d = await cs[2].join(r.id);
      assert.equal(d.lastSeq, total);
      assert.equal(d.messages.length, 50, '--room-join-history default 50');
      assert.deepEqual(d.messages.map((m) => m.seq), Array.from({ length: 50 }, (_, i) => total - 49 + i));
    } finally {
      closeAll(cs);
    }
  });

  it('joining during a flood: join-reply messages + events cover every seq once; lastSeq matches the messages', T, async () => {
    const [a, b] = [mkUser('Flooder'), mkUser('Joiner')];
    const r = await createRoom(port, a, { name: 'join flood' });
    await joinRest(port, b, r.id); // seq 1 (system), so b's WS join posts nothing
    const [ca, cb] = await openAll(port, [a, b]);
    try {
      await ca.join(r.id);
      const N = 400;
      const sends = Array.from({ length: N }, (_, i) => ca.call('message', { room: r.id, type: 'user_text', content: `f${i}` }, 10000));
      await delay(5);
      const d = await cb.join(r.id);
      const replies = await Promise.all(sends);
      assert.ok(replies.every((m) => m.ok), 'every message stored');
      const total = 1 + N;
      await until(() => {
        const seen = new Set([...d.messages.map((m) => m.seq), ...cb.kept('message').map((e) => e.message.seq)]);
        return seen.has(total);
      }, 5000, 'the last message to reach the joiner');
      await cb.sync();
      const joinSeqs = d.messages.map((m) => m.seq);
      assert.ok(joinSeqs.length > 0 && joinSeqs.length <= 50);
      assert.equal(d.lastSeq, joinSeqs.at(-1), `lastSeq ${d.lastSeq} is the last message of the reply (${joinSeqs.at(-1)})`);
      const evSeqs = cb.kept('message').map((e) => e.message.seq);
      const all = [...joinSeqs, ...evSeqs];
      const from = joinSeqs[0];
      assert.deepEqual(all, Array.from({ length: total - from + 1 }, (_, i) => from + i),
        `join messages ${joinSeqs[0]}..${joinSeqs.at(-1)} then events ${evSeqs[0]}..${evSeqs.at(-1)}: no gap, no duplicate`);
    } finally {
      closeAll([ca, cb]);
    }
  });

  it('history over WS: limit, before, after match REST; errors', T, async () => {
    const host = mkUser('Hist');
    const outsider = mkUser('Out');
    const r = await createRoom(port, host, { name: 'history' });
    const [c, co] = await openAll(port, [host, outsider]);
    try {
      await c.join(r.id);
      for (let i = 1; i <= 12; i++) await c.ok('message', { room: r.id, type: 'user_text', content: `h${i}` });
      const q = async (f) => (await c.ok('history', { room: r.id, ...f })).messages;
      const rest = async (s) => (await getOk(port, host, `/api/rooms/${r.id}/messages${s}`)).messages;
      const cases = [
        [{}, '', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]],
        [{ limit: 3 }, '?limit=3', [10, 11, 12]],
        [{ before: 5 }, '?before=5', [1, 2, 3, 4]],
        [{ before: 8, limit: 2 }, '?before=8&limit=2', [6, 7]],
        [{ after: 9 }, '?after=9', [10, 11, 12]],
        [{ after: 2, limit: 2 }, '?after=2&limit=2', [3, 4]],
        [{ after: 12 }, '?after=12', []],
      ];
      for (const [f, s, want] of cases) {
        const got = await q(f);
        got.forEach((m) => assertMessage(m, r.id));
        assert.deepEqual(got.map((m) => m.seq), want, `history ${JSON.stringify(f)}`);
        assert.deepEqual(got, await rest(s), `WS history ${JSON.stringify(f)} equals REST ${s}`);
      }
      const d = await c.call('history', { room: r.id, limit: 1 });
      assert.deepEqual(Object.keys(d.data), ['messages']);
      for (const f of [{ limit: 0 }, { limit: 201 }, { limit: 'x' }, { before: -1 }, { after: 1.5 }]) {
        const e = await c.err('history', { room: r.id, ...f }, 'validation_error');
        assert.equal(e.error.field, Object.keys(f)[0]);
      }
      await co.err('history', { room: r.id }, 'not_found'); // not theirs: as for no room
      await co.err('history', { room: 'ZZZZZZ' }, 'not_found');
    } finally {
      closeAll([c, co]);
    }
  });

  it('history {after: 0, limit} -> the oldest messages (catching up from nothing)', T, async () => {
    const host = mkUser('Zero');
    const r = await createRoom(port, host, { name: 'zero' });
    const [c] = await openAll(port, [host]);
    try {
      await c.join(r.id);
      for (let i = 1; i <= 5; i++) await c.ok('message', { room: r.id, type: 'user_text', content: `z${i}` });
      assert.deepEqual((await c.ok('history', { room: r.id, after: 0, limit: 2 })).messages.map((m) => m.seq), [1, 2]);
    } finally {
      c.close();
    }
  });

  it('presence: an update reaches the others, not the sender; merge with null; shown in participants', T, async () => {
    const [a, b] = [mkUser('PA'), mkUser('PB')];
    const r = await createRoom(port, a, { name: 'presence' });
    const [ca, ca2, cb] = await openAll(port, [a, a, b]);
    try {
      await ca.join(r.id);
      await ca2.join(r.id);
      await cb.join(r.id);
      const rep = await ca.call('presence', { room: r.id, state: { cursor: { x: 1, y: 2 } } });
      assert.deepEqual(rep, { op: 'reply', ref: rep.ref, ok: true, data: null });
      const ev = await cb.waitEvent('presence');
      assert.deepEqual(plain(ev), { op: 'presence', room: r.id, userId: a.sub, state: { cursor: { x: 1, y: 2 } } });
      await delay(100);
      await ca.ok('presence', { room: r.id, state: { cursor: { y: null }, status: 'busy' } });
      const ev2 = await cb.waitEvent('presence');
      assert.equal(ev2.userId, a.sub);
      const ps = (await getOk(port, b, `/api/rooms/${r.id}/participants`)).participants;
      assert.deepEqual(ps.find((p) => p.userId === a.sub).presence, { cursor: { x: 1 }, status: 'busy' });
      await delay(150);
      await ca.sync();
      await ca2.sync();
      assert.deepEqual(ca.kept('presence'), [], 'the sender gets no presence event');
      assert.deepEqual(ca2.kept('presence'), [], "the sender's other connection gets none either");
      assert.equal((await cb.err('presence', { room: r.id, state: 'x' }, 'validation_error')).error.field, 'state');
      await cb.err('presence', { room: r.id, state: { big: 'x'.repeat(3000) } }, 'payload_too_large');
    } finally {
      closeAll([ca, ca2, cb]);
    }
  });

  it('presence: 1,000 cursor updates are coalesced (<= 30 events) and the last value x=999 arrives', T, async () => {
    const [a, b] = [mkUser('Flood'), mkUser('Watch')];
    const r = await createRoom(port, a, { name: 'flood' });
    const [ca, cb] = await openAll(port, [a, b]);
    try {
      await ca.join(r.id);
      await cb.join(r.id);
      await ca.waitEvent('participant_joined');
      const t0 = Date.now();
      for (let i = 0; i < 1000; i++) ca.send({ op: 'presence', room: r.id, state: { cursor: { x: i, y: 7 } } });
      const last = await cb.waitEvent((m) => m.op === 'presence' && m.state?.cursor?.x === 999, 5000, 'x=999');
      const elapsed = Date.now() - t0;
      await delay(300);
      await cb.sync();
      const evs = [...cb.all.filter((m) => m.op === 'presence' && m.userId === a.sub)];
      assert.equal(evs.at(-1), last, 'x=999 is the last presence event');
      assert.ok(evs.length >= 1 && evs.length <= 30, `${evs.length} presence events for 1,000 updates in ${elapsed} ms`);
      const xs = evs.map((e) => e.state.cursor.x);
      assert.deepEqual(xs, [...xs].sort((p, q) => p - q), `x only goes up: ${xs}`);
      // At most 20 per second: consecutive events at least ~50 ms apart (timer slack allowed).
      // (receive times jitter, so the bound is on the whole span, not on each gap).
      const span = evs.at(-1).at - evs[0].at;
      assert.ok(evs.length - 1 <= span / 50 + 5, `${evs.length} events in ${span} ms exceeds 20/s`);
      assert.deepEqual(ca.kept('error'), [], 'no errors for the sender');
      const ps = (await getOk(port, b, `/api/rooms/${r.id}/participants`)).participants;
      assert.deepEqual(ps.find((p) => p.userId === a.sub).presence, { cursor: { x: 999, y: 7 } });
    } finally {
      closeAll([ca, cb]);
    }
  });

  it('broadcast: others get {op, room, event, from, data}; not the sender; size and event limits', T, async () => {
    const [a, b, c] = [mkUser('BA'), mkUser('BB'), mkUser('BC')];
    const r = await createRoom(port, a, { name: 'bcast' });
    const cs = await openAll(port, [a, b, c]);
    try {
      for (const x of cs) await x.join(r.id);
      const data = { id: 7, tags: ['a', 'ü'], nested: { n: null } };
      assert.deepEqual((await cs[0].call('broadcast', { room: r.id, event: 'entry_created', data })).ok, true);
      for (const x of cs.slice(1)) {
        const ev = await x.waitEvent('broadcast');
        assert.deepEqual(plain(ev), { op: 'broadcast', room: r.id, event: 'entry_created', from: a.sub, data });
      }
      // Any JSON value is data; exactly the limit (encoded) is fine.
      await cs[1].ok('broadcast', { room: r.id, event: 'e', data: 'x'.repeat(MAX_BROADCAST - 2) });
      const big = await cs[0].waitEvent('broadcast');
      assert.equal(big.from, b.sub);
      assert.equal(big.data.length, MAX_BROADCAST - 2);
      await cs[1].err('broadcast', { room: r.id, event: 'e', data: 'x'.repeat(MAX_BROADCAST - 1) }, 'payload_too_large');
      await cs[1].err('broadcast', { room: r.id, event: 'e', data: { a: 'y'.repeat(2000) } }, 'payload_too_large');
      await cs[1].err('broadcast', { room: r.id, event: '', data: 1 }, 'validation_error');
      await cs[1].err('broadcast', { room: r.id, event: 'e'.repeat(65), data: 1 }, 'validation_error');
      await cs[1].ok('broadcast', { room: r.id, event: 'e'.repeat(64), data: [1] });
      await delay(100);
      for (const x of cs) await x.sync();
      assert.equal(cs[1].kept('broadcast').length, 0, 'the sender gets no broadcast event');
      assert.equal(cs[0].kept('broadcast').length, 1, 'only the 64-byte event reached A (the refused ones did not)');
      assert.equal(cs[2].kept('broadcast').length, 2);
      // Broadcasts are never stored.
      const ms = await allMessages(port, a, r.id);
      assert.ok(ms.every((m) => m.type === 'system'), JSON.stringify(ms));
    } finally {
      closeAll(cs);
    }
  });

  it('abrupt disconnect: participant_left "disconnected" at once, participant_removed "timeout" after the seat grace', T, async () => {
    const [h, b] = [mkUser('DH'), mkUser('DB')];
    const r = await createRoom(port, h, { name: 'drop', maxParticipants: 2 });
    const [ch, cb] = await openAll(port, [h, b]);
    try {
      await ch.join(r.id);
      await cb.join(r.id);
      await ch.waitEvent('participant_joined');
      const t0 = Date.now();
      cb.terminate();
      const left = await ch.waitEvent('participant_left', 2000);
      const tLeft = Date.now() - t0;
      assert.deepEqual(plain(left), { op: 'participant_left', room: r.id, userId: b.sub, reason: 'disconnected' });
      assert.ok(tLeft < 1000, `participant_left after ${tLeft} ms`);
      // During the grace the seat is held: listed offline, a third user cannot take it.
      let ps = (await getOk(port, h, `/api/rooms/${r.id}/participants`)).participants;
      assert.equal(ps.find((p) => p.userId === b.sub)?.online, false);
      assertJsonErrorStatus(await api(port, 'POST', `/api/rooms/${r.id}/join`, { token: mkUser('x').token }), 403, 'room_full');

      const removed = await ch.waitEvent('participant_removed', SEAT_GRACE_MS + 2500);
      const tRemoved = Date.now() - t0;
      assert.deepEqual(plain(removed), { op: 'participant_removed', room: r.id, userId: b.sub, reason: 'timeout' });
      assert.ok(tRemoved >= SEAT_GRACE_MS - 50, `removed after ${tRemoved} ms (grace ${SEAT_GRACE_MS})`);
      ps = (await getOk(port, h, `/api/rooms/${r.id}/participants`)).participants;
      assert.deepEqual(ps.map((p) => p.userId), [h.sub]);
      assert.equal((await getOk(port, h, `/api/rooms/${r.id}`)).room.participantCount, 1);
      await joinRest(port, mkUser('Third'), r.id); // the seat is free
    } finally {
      closeAll([ch, cb]);
    }
  });

  it('a seat taken over REST join is released after the seat grace when the user never connects; a WebSocket join keeps it', T, async () => {
    const [h, b, c] = [mkUser('RH'), mkUser('RestOnly'), mkUser('RestThenWs')];
    const r = await createRoom(port, h, { name: 'rest seat', maxParticipants: 2 });
    const ch = await RoomWs.open(port, h);
    let cc;
    try {
      await ch.join(r.id);
      await joinRest(port, b, r.id);
      assert.equal((await getOk(port, h, `/api/rooms/${r.id}`)).room.participantCount, 2);
      assertJsonErrorStatus(await api(port, 'POST', `/api/rooms/${r.id}/join`, { token: c.token }), 403, 'room_full');
      const removed = await ch.waitEvent('participant_removed', SEAT_GRACE_MS + 2500);
      assert.deepEqual(plain(removed), { op: 'participant_removed', room: r.id, userId: b.sub, reason: 'timeout' });
      assert.equal((await getOk(port, h, `/api/rooms/${r.id}`)).room.participantCount, 1);

      // REST join, then the same user connects and joins: the connection holds the seat.
      await joinRest(port, c, r.id);
      cc = await RoomWs.open(port, c);
      await cc.join(r.id);
      await delay(SEAT_GRACE_MS + 1200);
      await ch.sync();
      assert.equal(ch.kept('participant_removed').length, 0, `no removal while connected: ${JSON.stringify(ch.events)}`);
      const ps = (await getOk(port, h, `/api/rooms/${r.id}/participants`)).participants;
      assert.deepEqual(ps.map((p) => p.userId).sort(), [h.sub, c.sub].sort());
    } finally {
      closeAll([ch, cc]);
    }
  });

  it('displayName: control or bidi characters -> validation_error; another participant\'s name -> name_taken, or "name 2" for a token name (REST and WebSocket)', T, async () => {
    const [h, a, b, ada2] = [mkUser('NH'), mkUser('Ann'), mkUser('Ben'), mkUser('Ada')];
    const r = await createRoom(port, h, { name: 'names' });
    const cb = await RoomWs.open(port, b);
    try {
      for (const bad of ['Bob\u202Egnp.exe', '\u202DAda', 'a\u2066b\u2069', 'x\u200Fy', 'a\u0007b', 'a\u2028b', '\u0085']) {
        const res = await api(port, 'POST', `/api/rooms/${r.id}/join`, { body: { displayName: bad }, token: a.token });
        assertJsonErrorStatus(res, 400, 'validation_error');
        assert.equal(res.json().error.field, 'displayName', res.text);
        const m = await cb.err('join', { room: r.id, displayName: bad }, 'validation_error');
        assert.equal(m.error.field, 'displayName');
      }
      assert.equal((await getOk(port, h, `/api/rooms/${r.id}`)).room.participantCount, 1, 'no seat taken');

      // Surrounding spaces are dropped; a right-to-left name needs no controls.
      assert.equal((await joinRest(port, a, r.id, { displayName: '  Ada  ' })).participant.displayName, 'Ada');
      assert.equal((await cb.join(r.id, { displayName: 'שלום' })).participant.displayName, 'שלום');
      // Choosing another participant's name, in any ASCII case: 409 / name_taken.
      for (const dn of ['Ada', 'ADA', ' ada']) {
        const res = await api(port, 'POST', `/api/rooms/${r.id}/join`, { body: { displayName: dn }, token: h.token });
        assertJsonErrorStatus(res, 409, 'name_taken');
        await cb.err('join', { room: r.id, displayName: dn }, 'name_taken');
      }
      // A token's name that is taken becomes "name 2" (two people may share a name).
      assert.equal((await joinRest(port, ada2, r.id)).participant.displayName, 'Ada 2');
      assert.equal((await joinRest(port, ada2, r.id, { displayName: 'Ada Two' })).participant.displayName, 'Ada Two');
      // Keeping one's own name is fine.
      assert.equal((await joinRest(port, a, r.id, { displayName: 'ada' })).participant.displayName, 'ada');
      const ps = (await getOk(port, h, `/api/rooms/${r.id}/participants`)).participants;
      assert.deepEqual(ps.map((p) => p.displayName).sort(), ['Ada Two', 'NH', 'ada', 'שלום'].sort());
    } finally {
      closeAll([cb]);
    }
  });

  it('U+0000 in text is refused before any store sees it, the same on both backends: WebSocket validation_error / invalid_op naming the field, REST bad_json', T, async () => {
    const [h, a] = [mkUser('Nul Host'), mkUser('Nul Ann')];
    const r = await createRoom(port, h, { name: 'nul' });
    const ca = await RoomWs.open(port, a);
    try {
      let e = await ca.err('join', { room: r.id, displayName: 'a\u0000b' }, 'validation_error');
      assert.equal(e.error.field, 'displayName');
      await ca.join(r.id);
      e = await ca.err('message', { room: r.id, type: 'user_text', content: 'a\u0000b' }, 'validation_error');
      assert.equal(e.error.field, 'content');
      e = await ca.err('doc_open', { room: r.id, doc: 'd\u0000' }, 'validation_error');
      await ca.ok('doc_open', { room: r.id, doc: 'main' });
      e = await ca.err('doc_op', { room: r.id, doc: 'main', version: 0, delta: ['a\u0000b'] }, 'invalid_op');
      assert.match(e.error.message, /U\+0000/);
      e = await ca.err('doc_op', { room: r.id, doc: 'main', version: 0, delta: ['ab'], opId: 'o\u0000' }, 'validation_error');
      assert.equal(e.error.field, 'opId');
      const res = await api(port, 'POST', `/api/rooms/${r.id}/join`, { body: { displayName: 'a\u0000b' }, token: a.token });
      assertJsonErrorStatus(res, 400, 'bad_json');
      // Nothing of it was stored: the document is empty, no message holds it.
      const d = await ca.ok('doc_open', { room: r.id, doc: 'main' });
      assert.equal(d.version, 0, JSON.stringify(d));
      const hist = await getOk(port, h, `/api/rooms/${r.id}/messages?limit=50`);
      assert.ok(!JSON.stringify(hist).includes('\\u0000'), JSON.stringify(hist));
    } finally {
      closeAll([ca]);
    }
  });

  it('the server\'s system messages are structured: metadata {event, userId, displayName}, no name in content', T, async () => {
    const [h, c] = [mkUser('SysHost'), mkUser('Cee')];
    const r = await createRoom(port, h, { name: 'system messages' });
    const [ch, cc] = await openAll(port, [h, c]);
    try {
      await ch.join(r.id);
      await cc.join(r.id, { displayName: 'Cee <b>\u00e9</b>' });
      const joined = await ch.waitEvent((e) => e.op === 'message' && e.message.type === 'system');
      assert.equal(joined.message.userId, null);
      assert.equal(joined.message.content, 'a participant joined');
      assert.deepEqual(joined.message.metadata, { event: 'joined', userId: c.sub, displayName: 'Cee <b>\u00e9</b>' });
      await cc.ok('leave', { room: r.id });
      const left = await ch.waitEvent((e) => e.op === 'message' && e.message.type === 'system');
      assert.equal(left.message.content, 'a participant left');
      assert.deepEqual(left.message.metadata, { event: 'left', userId: c.sub, displayName: 'Cee <b>\u00e9</b>' });
      await ch.ok('state', { room: r.id, patch: { mode: 'x' } });
      const st = await ch.waitEvent((e) => e.op === 'message' && e.message.type === 'system');
      assert.deepEqual(st.message.metadata, { event: 'state', userId: h.sub, displayName: 'SysHost', change: 'mode', mode: 'x' });
      assert.equal(st.message.content, 'the host set the room mode to x');
      const history = await ch.ok('history', { room: r.id });
      assert.deepEqual(history.messages.map((m) => m.metadata.event), ['joined', 'left', 'state']);
      for (const m of history.messages) assert.ok(!m.content.includes('Cee'), m.content);
    } finally {
      closeAll([ch, cc]);
    }
  });

  it('coming back within the seat grace keeps the seat; a user with two connections goes offline only when the second closes', T, async () => {
    const [h, u] = [mkUser('TH'), mkUser('Two')];
    const r = await createRoom(port, h, { name: 'two conns' });
    const [ch, c1, c2] = await openAll(port, [h, u, u]);
    let c3;
    try {
      await ch.join(r.id);
      await c1.join(r.id);
      await c2.join(r.id);
      await ch.waitEvent('participant_joined');
      await ch.sync();
      assert.equal(ch.kept('participant_joined').length, 0, 'one participant_joined for two connections');
      c1.terminate();
      await delay(SEAT_GRACE_MS + 1200);
      await ch.sync();
      assert.equal(ch.kept((m) => m.op === 'participant_left' || m.op === 'participant_removed').length, 0,
        `nothing while the second connection is open: ${JSON.stringify(ch.events)}`);
      let ps = (await getOk(port, h, `/api/rooms/${r.id}/participants`)).participants;
      assert.equal(ps.find((p) => p.userId === u.sub)?.online, true);
      await c2.ok('message', { room: r.id, type: 'user_text', content: 'still here' });

      c2.terminate();
      const left = await ch.waitEvent('participant_left', 2000);
      assert.deepEqual(plain(left), { op: 'participant_left', room: r.id, userId: u.sub, reason: 'disconnected' });
      // Back before the grace ends: the seat is kept, participant_joined again, no removal.
      c3 = await RoomWs.open(port, u);
      await c3.join(r.id);
      const back = await ch.waitEvent('participant_joined');
      assert.equal(back.participant.userId, u.sub);
      await delay(SEAT_GRACE_MS + 1200);
      await ch.sync();
      assert.equal(ch.kept('participant_removed').length, 0, 'no removal after coming back');
      ps = (await getOk(port, h, `/api/rooms/${r.id}/participants`)).participants;
      assert.equal(ps.find((p) => p.userId === u.sub)?.online, true);
      // The host never loses the seat.
      ch.terminate();
      await delay(SEAT_GRACE_MS + 1200);
      ps = (await getOk(port, u, `/api/rooms/${r.id}/participants`)).participants;
      assert.equal(ps.find((p) => p.userId === h.sub)?.role, 'host');
    } finally {
      closeAll([ch, c1, c2, c3]);
    }
  });

  it('the 11th joiner of a 10-seat room gets room_full', T, async () => {
    const host = mkUser('Full');
    const r = await createRoom(port, host, { name: 'ten' });
    assert.equal(r.maxParticipants, 10);
    const members = Array.from({ length: 9 }, (_, i) => mkUser(`m${i}`));
    for (const m of members) await joinRest(port, m, r.id);
    const late = mkUser('Late');
    const [cl, cm] = await openAll(port, [late, members[0]]);
    try {
      await cl.err('join', { room: r.roomCode }, 'room_full');
      assert.equal((await getOk(port, host, `/api/rooms/${r.id}`)).room.participantCount, 10);
      const d = await cm.join(r.roomCode); // a seated member still joins
      assert.equal(d.role, 'member');
      await cl.err('message', { room: r.id, type: 'user_text', content: 'x' }, 'not_found'); // not theirs
    } finally {
      closeAll([cl, cm]);
    }
  });

  it('state op: non-host forbidden; host patch -> reply and {op:"state"} to every connection (host too)', T, async () => {
    const [h, m] = [mkUser('SH'), mkUser('SM')];
    const r = await createRoom(port, h, { name: 'state', state: { a: 1 } });
    const [ch, ch2, cm] = await openAll(port, [h, h, m]);
    try {
      await ch.join(r.id);
      await ch2.join(r.id);
      await cm.join(r.id);
      await cm.err('state', { room: r.id, patch: { mode: 'x' } }, 'forbidden');
      const d = await ch.ok('state', { room: r.id, patch: { mode: 'focus', a: null } });
      assert.deepEqual(d, { state: { mode: 'focus' }, stateVersion: 1, currentMode: 'focus' });
      for (const c of [ch, ch2, cm]) {
        const ev = await c.waitEvent('state');
        assert.deepEqual(plain(ev), { op: 'state', room: r.id, state: { mode: 'focus' }, version: 1, stateVersion: 1, currentMode: 'focus' });
      }
      const d2 = await ch2.ok('state', { room: r.roomCode, patch: { mode: null, n: 2 } });
      assert.deepEqual(d2, { state: { n: 2 }, stateVersion: 2, currentMode: null });
      const ev2 = await cm.waitEvent('state');
      assert.equal(ev2.version, 2);
      assert.equal(ev2.currentMode, null);
      // State changes are stored as system messages and arrive as message events.
      const sys = await cm.waitEvent((x) => x.op === 'message' && x.message.type === 'system');
      assert.equal(sys.message.userId, null);
      const room = (await getOk(port, m, `/api/rooms/${r.id}`)).room;
      assert.equal(room.stateVersion, 2);
      assert.deepEqual(room.state, { n: 2 });
      await ch.err('state', { room: 'ZZZZZZ', patch: {} }, 'not_found');
    } finally {
      closeAll([ch, ch2, cm]);
    }
  });

  it('a state change is posted as a structured system message: who changed what, no version numbers', T, async () => {
    const [h, m] = [mkUser('Hosta'), mkUser('Membo')];
    const r = await createRoom(port, h, { name: 'state words' });
    const [ch, cm] = await openAll(port, [h, m]);
    try {
      await ch.join(r.id);
      await cm.join(r.id);
      const said = async (patch) => {
        await ch.ok('state', { room: r.id, patch });
        const msg = (await cm.waitEvent((x) => x.op === 'message' && x.message.type === 'system')).message;
        assert.equal(msg.metadata.event, 'state');
        assert.equal(msg.metadata.userId, h.sub);
        assert.equal(msg.metadata.displayName, 'Hosta');
        assert.doesNotMatch(msg.content, /Hosta|version|\d/);
        return [msg.content, msg.metadata.change, msg.metadata.mode];
      };
      assert.deepEqual(await said({ mode: 'focus' }), ['the host set the room mode to focus', 'mode', 'focus']);
      assert.deepEqual(await said({ topic: 'retro' }), ['the host changed the room settings', 'settings', undefined]);
      assert.deepEqual(await said({ mode: 'chill' }), ['the host set the room mode to chill', 'mode', 'chill']);
      assert.deepEqual(await said({ mode: null }), ['the host cleared the room mode', 'mode_cleared', undefined]);
    } finally {
      closeAll([ch, cm]);
    }
  });

  it('message/broadcast/presence before joining on this connection -> forbidden; message limits and types', T, async () => {
    const [h, m] = [mkUser('MH'), mkUser('MM')];
    const r = await createRoom(port, h, { name: 'msg rules' });
    await joinRest(port, m, r.id); // a participant, but this connection has not joined
    const [ch, cm] = await openAll(port, [h, m]);
    try {
      await cm.err('message', { room: r.id, type: 'user_text', content: 'x' }, 'forbidden');
      await cm.err('broadcast', { room: r.id, event: 'e', data: 1 }, 'forbidden');
      await cm.err('presence', { room: r.id, state: { a: 1 } }, 'forbidden');
      await cm.err('message', { type: 'user_text', content: 'x' }, 'bad_request');
      await cm.err('message', { room: 'ZZZZZZ', type: 'user_text', content: 'x' }, 'not_found');
      await ch.join(r.id);
      await cm.join(r.id);

      await cm.err('message', { room: r.id, type: 'user_text', content: 'x'.repeat(MAX_MESSAGE + 1) }, 'payload_too_large');
      const ok = await cm.ok('message', { room: r.id, type: 'user_text', content: 'é'.repeat(MAX_MESSAGE / 2) });
      assert.equal(ok.message.content.length, MAX_MESSAGE / 2);
      await cm.err('message', { room: r.id, type: 'user_text', content: 'é'.repeat(MAX_MESSAGE / 2 + 1) }, 'payload_too_large');
      for (const type of ['system', 'foo', 'X-up', 'x-', 'x-bad type', '']) {
        await cm.err('message', { room: r.id, type, content: 'c' }, 'validation_error');
      }
      await cm.err('message', { room: r.id, type: 'user_text', content: 'c', metadata: [1] }, 'validation_error');
      for (const type of ['user_voice', 'ai_response', 'x-custom_1', 'x-a-b9']) {
        const d = await cm.ok('message', { room: r.id, type, content: type, metadata: { t: type } });
        assertMessage(d.message, r.id);
        assert.equal(d.message.type, type);
        assert.deepEqual(d.message.metadata, { t: type });
        assert.equal(d.message.userId, m.sub);
      }
      const sys = await ch.ok('message', { room: r.id, type: 'system', content: 'by the host' });
      assert.equal(sys.message.type, 'system');
      assert.equal(sys.message.userId, h.sub, 'a host system message carries the host id');
      const ev = await cm.waitEvent((x) => x.op === 'message' && x.message.content === 'by the host');
      assert.deepEqual(plain(ev.message), sys.message);
    } finally {
      closeAll([ch, cm]);
    }
  });

  it('a missing or wrongly typed content / patch -> validation_error naming the field', T, async () => {
    const h = mkUser('BR');
    const r = await createRoom(port, h, { name: 'bad requests' });
    const [c] = await openAll(port, [h]);
    try {
      await c.join(r.id);
      for (const [op, fields, field] of [
        ['message', { type: 'user_text' }, 'content'],
        ['message', { type: 'user_text', content: 5 }, 'content'],
        ['message', { type: 'foo', content: 'x' }, 'type'],
        ['message', { type: 'user_text', content: 'x', metadata: [1] }, 'metadata'],
        ['state', {}, 'patch'],
        ['state', { patch: [1] }, 'patch'],
      ]) {
        const e = await c.err(op, { room: r.id, ...fields }, 'validation_error');
        assert.equal(e.error.field, field, JSON.stringify(e));
      }
    } finally {
      c.close();
    }
  });

  it('kick over REST while connected: {op:"kicked"} to them, participant_left kicked/banned to others; their ops fail', T, async () => {
    const [h, b, c] = [mkUser('KH'), mkUser('KB'), mkUser('KC')];
    const r = await createRoom(port, h, { name: 'kick live' });
    const [ch, cb, cc] = await openAll(port, [h, b, c]);
    try {
      for (const x of [ch, cb, cc]) await x.join(r.id);
      await ch.waitEvent((e) => e.op === 'participant_joined' && e.participant.userId === c.sub);
      await cb.waitEvent((e) => e.op === 'participant_joined' && e.participant.userId === c.sub);
      ch.clear();
      cb.clear();
      cc.clear();

      expectJson(await api(port, 'POST', `/api/rooms/${r.id}/kick`, { body: { userId: b.sub }, token: h.token }), 200);
      assert.deepEqual(plain(await cb.waitEvent('kicked')), { op: 'kicked', room: r.id, ban: false });
      for (const x of [ch, cc]) {
        assert.deepEqual(plain(await x.waitEvent('participant_left')),
          { op: 'participant_left', room: r.id, userId: b.sub, reason: 'kicked' });
      }
      await cb.err('message', { room: r.id, type: 'user_text', content: 'after kick' }, 'not_found');
      await cb.err('history', { room: r.id }, 'not_found');
      // A kicked (not banned) user may come back.
      await cb.join(r.id);
      await ch.waitEvent((e) => e.op === 'participant_joined' && e.participant.userId === b.sub);

      expectJson(await api(port, 'POST', `/api/rooms/${r.id}/kick`, { body: { userId: c.sub, ban: true }, token: h.token }), 200);
      assert.deepEqual(plain(await cc.waitEvent('kicked')), { op: 'kicked', room: r.id, ban: true });
      assert.deepEqual(plain(await ch.waitEvent('participant_left')),
        { op: 'participant_left', room: r.id, userId: c.sub, reason: 'banned' });
      await cc.err('message', { room: r.id, type: 'user_text', content: 'x' }, 'not_found');
      await cc.err('join', { room: r.id }, 'banned');
      await cc.err('presence', { room: r.id, state: { a: 1 } }, 'not_found');

      // leave over WS: others get participant_left "left"; the host cannot leave.
      await ch.err('leave', { room: r.id }, 'host_cannot_leave');
      await cb.ok('leave', { room: r.id });
      assert.deepEqual(plain(await ch.waitEvent((e) => e.op === 'participant_left' && e.userId === b.sub)),
        { op: 'participant_left', room: r.id, userId: b.sub, reason: 'left' });
      await cb.err('message', { room: r.id, type: 'user_text', content: 'x' }, 'not_found');
      await cb.err('leave', { room: r.id }, 'not_found');
      const ps = (await getOk(port, h, `/api/rooms/${r.id}/participants`)).participants;
      assert.deepEqual(ps.map((p) => p.userId), [h.sub]);
    } finally {
      closeAll([ch, cb, cc]);
    }
  });

  it('join messages from memory equal the stored history: eviction, big messages, an emptied room', T, async () => {
    const own = await startServer({ args: BASE_ARGS }); // 16 KiB messages: past the 64 KiB cache
    const port = own.port;
    const host = mkUser('Host');
    const users = [mkUser('J1'), mkUser('J2'), mkUser('J3')];
    const room = await createRoom(port, host, { name: 'recent' });
    const h = await RoomWs.open(port, host);
    const extra = [];
    try {
      await h.join(room.id); // reads the store and fills the room's recent messages
      // The newest 50 of the stored history, as REST pages give them.
      const newest = async () => (await allMessages(port, host, room.id)).slice(-50).map(plain);
      const joinAs = async (u) => {
        const c = await RoomWs.open(port, u);
        extra.push(c);
        return c.join(room.id);
      };
      let i = 0;
      const post = async (n, content = (k) => `m${k} ✓ «${'x'.repeat(k % 7)}»`) => {
        for (let k = 0; k < n; k++, i++) {
          await h.ok('message', { room: room.id, type: 'user_text', content: content(i), metadata: { i, tags: ['a', i % 3] } });
        }
      };
      await post(30);
      let j = await joinAs(users[0]);
      assert.deepEqual(j.messages.map(plain), await newest(), 'from memory: the same messages, byte for byte in JSON');
      assert.equal(j.lastSeq, j.messages.at(-1).seq);
      await post(45); // past 50: the oldest are evicted
      j = await joinAs(users[1]);
      assert.equal(j.messages.length, 50);
      assert.deepEqual(j.messages.map(plain), await newest());
      // Big messages pass the byte cap: the join reads the store again, still exact.
      await post(60, (k) => `${k}:${'y'.repeat(4000)}`);
      j = await joinAs(users[2]);
      assert.deepEqual(j.messages.map(plain), await newest());
      assert.equal(j.lastSeq, j.messages.at(-1).seq);
      // Everyone leaves (the memory goes), then more messages, then a join.
      closeAll(extra);
      h.close();
      await delay(100);
      const h2 = await RoomWs.open(port, host);
      extra.push(h2);
      await h2.join(room.id);
      await h2.ok('message', { room: room.id, type: 'user_text', content: 'after' });
      j = await joinAs(users[0]);
      assert.deepEqual(j.messages.map(plain), await newest());
      assert.equal(j.messages.at(-1).content, 'after');
    } finally {
      closeAll([h, ...extra]);
      await own.stop();
    }
  });

  it('delete by the host: members get room_deleted; later ops on the room -> not_found', T, async () => {
    const [h, m] = [mkUser('XH'), mkUser('XM')];
    const r = await createRoom(port, h, { name: 'gone' });
    const [ch, cm] = await openAll(port, [h, m]);
    try {
      await ch.join(r.id);
      await cm.join(r.roomCode);
      expectJson(await api(port, 'DELETE', `/api/rooms/${r.id}`, { token: h.token }), 200);
      for (const c of [ch, cm]) {
        assert.deepEqual(plain(await c.waitEvent('room_deleted')), { op: 'room_deleted', room: r.id, reason: 'deleted' });
      }
      for (const [op, f] of [
        ['message', { type: 'user_text', content: 'x' }], ['broadcast', { event: 'e', data: 1 }],
        ['presence', { state: { a: 1 } }], ['history', {}], ['join', {}], ['leave', {}], ['state', { patch: { a: 1 } }],
      ]) {
        await cm.err(op, { room: r.id, ...f }, 'not_found');
        await ch.err(op, { room: r.roomCode, ...f }, 'not_found');
      }
      // The connections stay usable.
      await cm.sync();
      assert.equal(cm.kept((e) => e.op !== 'room_deleted').length, 0, JSON.stringify(cm.events));
    } finally {
      closeAll([ch, cm]);
    }
  });
});

describe('presence timers: --presence-typing 500ms, --presence-idle 700ms', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--presence-typing', '500ms', '--presence-idle', '700ms'] });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('typing:true turns itself off: others get typing:false after ~0.5 s', T, async () => {
    const [a, b] = [mkUser('TA'), mkUser('TB')];
    const r = await createRoom(port, a, { name: 'typing' });
    const [ca, cb] = await openAll(port, [a, b]);
    try {
      await ca.join(r.id);
      await cb.join(r.id);
      await ca.ok('presence', { room: r.id, state: { typing: true } });
      const on = await cb.waitEvent((m) => m.op === 'presence' && m.state.typing === true);
      assert.equal(on.userId, a.sub);
      const off = await cb.waitEvent((m) => m.op === 'presence' && m.userId === a.sub && m.state.typing === false, 3000);
      const dt = off.at - on.at;
      assert.ok(dt >= 400 && dt <= 1600, `typing:false after ${dt} ms (--presence-typing 500ms)`);
      const ps = (await getOk(port, b, `/api/rooms/${r.id}/participants`)).participants;
      assert.equal(ps.find((p) => p.userId === a.sub).presence.typing, false);
    } finally {
      closeAll([ca, cb]);
    }
  });

  it('a silent user shows idle:true after ~0.7 s; the next update sends idle:false', T, async () => {
    const [a, b] = [mkUser('IA'), mkUser('IB')];
    const r = await createRoom(port, a, { name: 'idle' });
    const [ca, cb] = await openAll(port, [a, b]);
    try {
      await cb.join(r.id);
      const t0 = Date.now();
      await ca.join(r.id);
      const idle = await cb.waitEvent((m) => m.op === 'presence' && m.userId === a.sub && m.state.idle === true, 4000);
      const dt = idle.at - t0;
      assert.ok(dt >= 600 && dt <= 2200, `idle:true after ${dt} ms (--presence-idle 700ms)`);
      assert.deepEqual(plain(idle), { op: 'presence', room: r.id, userId: a.sub, state: { idle: true } });
      await ca.ok('presence', { room: r.id, state: { cursor: { x: 5 } } });
      const back = await cb.waitEvent((m) => m.op === 'presence' && m.userId === a.sub, 2000);
      assert.deepEqual(back.state, { idle: false, cursor: { x: 5 } });
      // A client cannot set idle itself.
      await ca.ok('presence', { room: r.id, state: { idle: true, z: 1 } });
      const z = await cb.waitEvent((m) => m.op === 'presence' && m.userId === a.sub, 2000);
      assert.deepEqual(z.state, { z: 1 });
    } finally {
      closeAll([ca, cb]);
    }
  });
});

function assertJsonErrorStatus(res, status, code) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.json().error.code, code, res.text);
}
