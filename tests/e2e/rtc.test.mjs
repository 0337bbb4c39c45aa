// rtc.test.mjs: calls in rooms over WebSocket (docs/protocol.md "Calls"): rtc_join's
// reply and events, signals relayed to the one member named and to nobody else (not to
// the room's other connections, not to anyone outside the call or the room), the size and
// rate bounds, state broadcast to the room, and leaving the call by rtc_leave, by a
// disconnect and by a kick, each with rtc_member_left.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { api, FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { closeAll, createRoom, mkUser, RoomWs, roomWith, until } from './lib/rooms.mjs';
import { makeTempDir, startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const MEMBER_KEYS = ['audio', 'id', 'joinedAt', 'muted', 'screen', 'sharing', 'speaking', 'userId', 'video'];

function assertMember(m, userId) {
  const s = JSON.stringify(m);
  assert.deepEqual(Object.keys(m).sort(), MEMBER_KEYS, `call member keys: ${s}`);
  assert.match(m.id, /^c\d+$/, `id: ${s}`);
  if (userId) assert.equal(m.userId, userId, `userId: ${s}`);
  return m;
}

describe('rtc', () => {
  let srv;
  before(async () => {
    // Bounds low enough to reach in a few frames: 3 members, 2 signals a second (8 at once).
    srv = await startServer({
      args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--rtc-max-members', '3', '--rtc-signal-rate', '2',
        '--rtc-max-signal', '1KiB'],
    });
  });
  after(async () => {
    await srv?.stop();
  });

  it('join, relay to the one member named, state to the room, leave', T, async () => {
    const [a, b, c] = [mkUser('A'), mkUser('B'), mkUser('C')];
    const { room, cs: [ca, cb, cc] } = await roomWith(srv.port, [a, b, c]);
    try {
      const ja = await ca.ok('rtc_join', { room: room.id, audio: true, video: true });
      assert.deepEqual(Object.keys(ja).sort(), ['iceServers', 'id', 'members', 'mode']);
      assert.equal(ja.mode, 'mesh');
      assert.deepEqual(ja.iceServers, []);
      assert.equal(ja.members.length, 1);
      assertMember(ja.members[0], a.sub);
      assert.equal(ja.members[0].id, ja.id);
      assert.equal(ja.members[0].audio, true);
      assert.equal(ja.members[0].screen, false);

      const jb = await cb.ok('rtc_join', { room: room.id, audio: true });
      assert.deepEqual(jb.members.map((m) => m.id), [ja.id, jb.id], 'members in join order');
      const joined = await ca.waitEvent('rtc_member_joined');
      assert.equal(joined.room, room.id);
      assert.equal(joined.mode, 'mesh');
      assertMember(joined.member, b.sub);
      assert.equal(joined.member.id, jb.id);
      // Everyone in the room hears of the call, in it or not.
      await cc.waitEvent((m) => m.op === 'rtc_member_joined' && m.member.id === jb.id);

      // A's offer reaches B only, as sent, with the sender named.
      const offer = { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' };
      await ca.ok('rtc_signal', { room: room.id, to: jb.id, data: offer });
      const sig = await cb.waitEvent('rtc_signal');
      assert.deepEqual(sig, { op: 'rtc_signal', room: room.id, from: ja.id, userId: a.sub, data: offer });
      await cb.ok('rtc_signal', { room: room.id, to: ja.id, data: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host' } });
      assert.equal((await ca.waitEvent('rtc_signal')).from, jb.id);
      await cc.sync();
      assert.equal(cc.kept('rtc_signal').length, 0, 'a connection in the room but not the call gets no signal');

      // C is in the room but not in the call: it signals nobody, and nobody signals it.
      await cc.err('rtc_signal', { room: room.id, to: ja.id, data: offer }, 'not_in_call');
      await ca.err('rtc_signal', { room: room.id, to: 'c999', data: offer }, 'not_found');
      await ca.err('rtc_signal', { room: room.id, to: ja.id, data: offer }, 'not_found'); // itself
      const bad = await ca.err('rtc_signal', { room: room.id, to: jb.id }, 'validation_error');
      assert.equal(bad.error.field, 'data');
      await ca.err('rtc_signal', { room: room.id, to: 5, data: offer }, 'validation_error');
      await cc.err('rtc_leave', { room: room.id }, 'not_in_call');
      await cc.err('rtc_state', { room: room.id, muted: true }, 'not_in_call');

      // State: to the whole room, but the sender (who has it in the reply); no event when
      // nothing changed.
      const st = await cb.ok('rtc_state', { room: room.id, muted: true, speaking: true });
      assert.equal(st.member.muted, true);
      assert.equal(st.member.speaking, true);
      for (const x of [ca, cc]) {
        const u = await x.waitEvent('rtc_member_updated');
        assert.equal(u.member.id, jb.id);
        assert.equal(u.member.muted, true);
        assert.equal(u.member.sharing, false);
      }
      await cb.ok('rtc_state', { room: room.id, muted: true });
      await cb.err('rtc_state', { room: room.id, muted: 'yes' }, 'validation_error');
      await ca.sync();
      assert.equal(ca.kept('rtc_member_updated').length, 0, 'an unchanged state sends nothing');

      await cb.ok('rtc_leave', { room: room.id });
      for (const x of [ca, cc]) {
        const l = await x.waitEvent('rtc_member_left');
        assert.deepEqual(l.member, { id: jb.id, userId: b.sub });
        assert.equal(l.reason, 'left');
      }
      await ca.err('rtc_signal', { room: room.id, to: jb.id, data: offer }, 'not_found');
      // A rejoin is a new call member.
      const jb2 = await cb.ok('rtc_join', { room: room.id, audio: true });
      assert.notEqual(jb2.id, jb.id);
      assert.equal(jb2.members.length, 2);
    } finally {
      closeAll([ca, cb, cc]);
    }
  });

  it("a call's start and end are rows of the room's activity stream", T, async () => {
    const [a, b] = [mkUser('A'), mkUser('B')];
    const { room, cs: [ca, cb] } = await roomWith(srv.port, [a, b]);
    try {
      const calls = async () => (await ca.ok('activity', { room: room.id })).activity
        .filter((r) => r.kind.startsWith('call_')).reverse();
      await ca.ok('rtc_join', { room: room.id, audio: true });
      await cb.ok('rtc_join', { room: room.id, audio: true });
      await cb.ok('rtc_leave', { room: room.id }); // not the last one out: the call goes on
      await ca.ok('rtc_leave', { room: room.id });
      const rows = await until(async () => { const r = await calls(); return r.length >= 2 && r; }, 5000, 'the call rows');
      assert.deepEqual(rows.map((r) => [r.kind, r.userId]), [['call_started', a.sub], ['call_ended', a.sub]]);
      assert.equal(typeof rows[0].data.call, 'number');
      assert.equal(rows[1].data.call, rows[0].data.call, 'the same call');
      assert.ok(rows[1].data.ms >= 0 && rows[1].data.ms < 60000, `ms ${rows[1].data.ms}`);
      // The next call is another one; a disconnect of its last member ends it too.
      await cb.ok('rtc_join', { room: room.id, audio: true });
      cb.close();
      const rows2 = await until(async () => { const r = await calls(); return r.length >= 4 && r; }, 5000, 'the second call');
      assert.deepEqual(rows2.slice(2).map((r) => [r.kind, r.userId]), [['call_started', b.sub], ['call_ended', b.sub]]);
      assert.notEqual(rows2[2].data.call, rows[0].data.call);
    } finally {
      closeAll([ca, cb]);
    }
  });

  it('nobody outside the room reaches the call', T, async () => {
    const [a, b, o] = [mkUser('A'), mkUser('B'), mkUser('Outsider')];
    const { room, cs: [ca, cb] } = await roomWith(srv.port, [a, b]);
    const other = await createRoom(srv.port, o);
    const co = await RoomWs.open(srv.port, o);
    try {
      await co.join(other.id);
      const ja = await ca.ok('rtc_join', { room: room.id, audio: true });
      await cb.ok('rtc_join', { room: room.id, audio: true });
      // Naming a room it is not in: refused before the call is looked at (as for every
      // room op, a room one is not in is not found).
      await co.err('rtc_join', { room: room.id }, 'not_found');
      await co.err('rtc_signal', { room: room.id, to: ja.id, data: { x: 1 } }, 'not_found');
      // In its own room's call, A's id names nobody A can be reached through.
      const jo = await co.ok('rtc_join', { room: other.id, audio: true });
      assert.deepEqual(jo.members.map((m) => m.userId), [o.sub]);
      await co.err('rtc_signal', { room: other.id, to: ja.id, data: { x: 1 } }, 'not_found');
      await ca.sync();
      assert.equal(ca.kept('rtc_signal').length + ca.kept('rtc_member_joined').length, 1,
        'only B\'s join reached A');
    } finally {
      closeAll([ca, cb, co]);
    }
  });

  it('signal size and rate, call size', T, async () => {
    const us = [mkUser('A'), mkUser('B'), mkUser('C'), mkUser('D')];
    const { room, cs } = await roomWith(srv.port, us);
    try {
      const [ja, jb] = [await cs[0].ok('rtc_join', { room: room.id }), await cs[1].ok('rtc_join', { room: room.id })];
      await cs[2].ok('rtc_join', { room: room.id });
      await cs[3].err('rtc_join', { room: room.id }, 'call_full');

      const big = await cs[0].err('rtc_signal', { room: room.id, to: jb.id, data: 'x'.repeat(1100) }, 'payload_too_large');
      assert.equal(big.error.field, 'data');
      // A burst of 8 passes, then 2 a second: 12 at once cannot all pass.
      const replies = await Promise.all(Array.from({ length: 12 }, (_, i) =>
        cs[1].call('rtc_signal', { room: room.id, to: ja.id, data: { i } })));
      const codes = replies.map((r) => (r.ok ? 'ok' : r.error.code));
      assert.ok(codes.slice(0, 8).every((c) => c === 'ok'), `the burst passes: ${codes}`);
      assert.ok(codes.includes('rate_limited'), `then rate_limited: ${codes}`);
      assert.ok(codes.every((c) => c === 'ok' || c === 'rate_limited'), codes.join());
      await cs[0].sync();
      assert.equal(cs[0].kept('rtc_signal').length, codes.filter((c) => c === 'ok').length,
        'every accepted signal arrived, no refused one did');
    } finally {
      closeAll(cs);
    }
  });

  it('a disconnect and a kick leave the call, with rtc_member_left', T, async () => {
    const [a, b, c] = [mkUser('A'), mkUser('B'), mkUser('C')];
    const { room, cs: [ca, cb, cc] } = await roomWith(srv.port, [a, b, c]);
    try {
      await ca.ok('rtc_join', { room: room.id });
      const jb = await cb.ok('rtc_join', { room: room.id, video: true });
      const jc = await cc.ok('rtc_join', { room: room.id, audio: true });
      cb.terminate();
      const gone = await ca.waitEvent('rtc_member_left');
      assert.deepEqual(gone.member, { id: jb.id, userId: b.sub });
      assert.equal(gone.reason, 'disconnected');

      const res = await api(srv.port, 'POST', `/api/rooms/${room.id}/kick`, { body: { userId: c.sub }, token: a.token });
      assert.equal(res.status, 200, res.text);
      const kicked = await ca.waitEvent('rtc_member_left');
      assert.deepEqual(kicked.member, { id: jc.id, userId: c.sub });
      assert.equal(kicked.reason, 'left');
      // The kicked connection was told too, before it was taken out of the room.
      await cc.waitEvent((m) => m.op === 'rtc_member_left' && m.member.id === jc.id);
      // The call is A alone now: a new join sees one member before it.
      const ca2 = await RoomWs.open(srv.port, a);
      try {
        await ca2.join(room.id);
        const j = await ca2.ok('rtc_join', { room: room.id });
        assert.equal(j.members.length, 2);
        assert.equal(j.members[0].userId, a.sub);
      } finally {
        ca2.close();
      }
    } finally {
      closeAll([ca, cb, cc]);
    }
  });
});

describe('rtc: ICE servers and TURN credentials', () => {
  let srv;
  let plain;
  let dir;
  const SECRET = 'turn-shared-secret-for-tests';
  before(async () => {
    dir = makeTempDir();
    const file = path.join(dir, 'turn-secret');
    fs.writeFileSync(file, `${SECRET}\n`);
    srv = await startServer({
      args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--turn-secret-file', file, '--turn-ttl', '2h',
        '--turn-urls', 'turn:127.0.0.1:3478?transport=udp,turns:turn.example:5349', '--stun-urls', 'stun:127.0.0.1:3478'],
    });
    plain = await startServer({ args: [...FAST_HASH, '--jwt-secret', TEST_SECRET] });
  });
  after(async () => {
    await srv?.stop();
    await plain?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Checks a TURN entry by coturn's rule: username "<expiry>:<user>", password HMAC-SHA1. */
  function assertTurn(servers, user) {
    assert.equal(servers.length, 2, JSON.stringify(servers));
    assert.deepEqual(servers[0], { urls: ['stun:127.0.0.1:3478'] });
    const t = servers[1];
    assert.deepEqual(t.urls, ['turn:127.0.0.1:3478?transport=udp', 'turns:turn.example:5349']);
    const [expiry, sub] = t.username.split(/:(.*)/s);
    assert.equal(sub, user.sub);
    const left = Number(expiry) - Date.now() / 1000;
    assert.ok(left > 7000 && left <= 7201, `expires in 2h: ${left}`);
    assert.equal(t.credential, createHmac('sha1', SECRET).update(t.username).digest('base64'));
  }

  it('GET /api/rtc/ice-servers and rtc_join give fresh credentials', T, async () => {
    const a = mkUser('A');
    assert.equal((await api(srv.port, 'GET', '/api/rtc/ice-servers')).status, 401);
    const res = await api(srv.port, 'GET', '/api/rtc/ice-servers', { token: a.token });
    assert.equal(res.status, 200, res.text);
    const j = res.json();
    assert.equal(j.success, true);
    assert.equal(j.ttl, 7200);
    assertTurn(j.iceServers, a);
    const { room, cs: [ca] } = await roomWith(srv.port, [a]);
    try {
      assertTurn((await ca.ok('rtc_join', { room: room.id, audio: true })).iceServers, a);
    } finally {
      ca.close();
    }
    assert.doesNotMatch(srv.lines.join('\n'), new RegExp(SECRET), 'the secret is never logged');
  });

  it('with nothing configured the list is empty', T, async () => {
    const a = mkUser('A');
    const res = await api(plain.port, 'GET', '/api/rtc/ice-servers', { token: a.token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json().iceServers, []);
  });
});
