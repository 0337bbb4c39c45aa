// sfu.test.mjs: calls past the mesh size go through a real Janus (docs/webrtc.md "SFU"),
// started by the test (lib/janus.mjs): the call's Janus room exists while the call does
// (Janus's VideoRoom `list`) and goes when the call ends or the Chorus room is deleted; a
// Janus token per call member is added and removed when they leave; a publisher's offer
// relayed to Janus comes back as an answer from "sfu"; Janus refuses whoever comes without a token; bad SFU signals are
// refused; a Janus killed and restarted during a call: its members are told and the call is
// made again at the new Janus; a session Janus forgot while it stays up: the members are
// told, and the call's Janus room is destroyed even when the call ended at once (as the SDK
// leaves at rtc_sfu_error); without --janus-url a call stays mesh at every size.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { haveJanus, startJanus } from './lib/janus.mjs';
import { closeAll, del, mkUser, roomWith, until } from './lib/rooms.mjs';
import { makeTempDir, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };

// A WebRTC offer as a browser makes one (audio only, sendonly): what Janus needs to answer.
const fp = Array.from(crypto.randomBytes(32), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
const OFFER = [
  'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0',
  'a=msid-semantic: WMS s0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0', 'a=ice-ufrag:Chrs', 'a=ice-pwd:chorusjanustestpassword12',
  'a=ice-options:trickle', `a=fingerprint:sha-256 ${fp}`, 'a=setup:actpass', 'a=mid:0',
  'a=sendonly', 'a=msid:s0 t0', 'a=rtcp-mux', 'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1', 'a=ssrc:1111 cname:chorus', '',
].join('\r\n');

describe('sfu (Janus)', { skip: !haveJanus() && 'janus is not installed (scripts/deps.sh)' }, () => {
  let janus, srv;
  before(async () => {
    janus = await startJanus();
    const dir = makeTempDir('chorus-sfu-');
    const secretFile = path.join(dir, 'janus-admin-secret');
    fs.writeFileSync(secretFile, `${janus.adminSecret}\n`);
    srv = await startServer({
      args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--rtc-mesh-max', '1', '--janus-url', janus.url,
        '--janus-admin-url', janus.adminUrl, '--janus-admin-secret-file', secretFile, ...(process.env.SFU_DEBUG ? ['--log-level', 'debug'] : [])],
    });
  });
  after(async () => {
    await srv?.stop();
    if (process.env.JANUS_DEBUG) console.log(janus?.log);
    await janus?.stop();
  });

  const janusRoom = async (roomId) => (await janus.rooms()).find((r) => r.description === roomId);

  it('a call past the mesh size gets a Janus room, tokens and a relayed offer; both go when it ends', T, async () => {
    const [a, b] = [mkUser('A'), mkUser('B')];
    const { room, cs: [ca, cb] } = await roomWith(srv.port, [a, b]);
    try {
      const tokens0 = (await janus.tokens()).length;
      const ja = await ca.ok('rtc_join', { room: room.id, audio: true });
      assert.equal(ja.mode, 'mesh', 'one member: mesh');
      assert.equal(await janusRoom(room.id), undefined);
      const jb = await cb.ok('rtc_join', { room: room.id, audio: true });
      assert.equal(jb.mode, 'sfu', 'past --rtc-mesh-max 1: sfu');
      const mode = await ca.waitEvent('rtc_mode');
      assert.deepEqual(mode, { op: 'rtc_mode', room: room.id, mode: 'sfu' });
      const jr = await until(() => janusRoom(room.id), 10000, 'the Janus room');
      assert.ok(jr.max_publishers >= 2, JSON.stringify(jr));
      // The process's own token and one per call member.
      await until(async () => (await janus.tokens()).length === Math.max(tokens0, 1) + 2, 10000, 'member tokens');

      // Bad signals to the SFU are refused; a member id is not the SFU.
      const bad = await ca.err('rtc_signal', { room: room.id, to: 'sfu', data: { type: 'offer' } }, 'validation_error');
      assert.equal(bad.error.field, 'data');
      await ca.err('rtc_signal', { room: room.id, to: 'sfu', data: { pc: 'c999', type: 'answer', sdp: 'v=0' } }, 'not_found');
      // A candidate over 1 KiB is refused (held ones would add up: 64 per connection).
      const big = { candidate: `candidate:${'x'.repeat(2000)}`, sdpMid: '0', sdpMLineIndex: 0 };
      await ca.err('rtc_signal', { room: room.id, to: 'sfu', data: { pc: 'pub', candidate: big } }, 'validation_error');

      // A's offer goes to Janus; its answer comes back from "sfu"; B is offered A's media.
      await ca.ok('rtc_signal', { room: room.id, to: 'sfu', data: { pc: 'pub', type: 'offer', sdp: OFFER } });
      const ans = await ca.waitEvent('rtc_signal', 10000);
      assert.equal(ans.from, 'sfu');
      assert.equal(ans.data.pc, 'pub');
      assert.equal(ans.data.type, 'answer');
      assert.match(ans.data.sdp, /^v=0\r\n/);
      // (Janus offers A's media to B once A's connection is up, which takes real media: the
      // browser test, sfu_browser.test.mjs, covers that half.)
      await ca.ok('rtc_signal', { room: room.id, to: 'sfu', data: { pc: 'pub', candidate: null } });

      // B leaves: its token goes. A leaves: the call ends, and its Janus room with it.
      const before2 = (await janus.tokens()).length;
      await cb.ok('rtc_leave', { room: room.id });
      await until(async () => (await janus.tokens()).length === before2 - 1, 10000, 'B\'s token removed');
      assert.ok(await janusRoom(room.id), 'the call goes on with A');
      await ca.ok('rtc_leave', { room: room.id });
      await until(async () => !(await janusRoom(room.id)), 10000, 'the Janus room destroyed');
      await until(async () => (await janus.tokens()).length === before2 - 2, 10000, 'A\'s token removed');
    } finally {
      closeAll([ca, cb]);
    }
  });

  it('deleting the Chorus room destroys its Janus room; Janus refuses requests without a token', T, async () => {
    const [a, b] = [mkUser('A'), mkUser('B')];
    const { room, cs: [ca, cb] } = await roomWith(srv.port, [a, b]);
    try {
      await ca.ok('rtc_join', { room: room.id, audio: true });
      await cb.ok('rtc_join', { room: room.id, audio: true });
      await until(() => janusRoom(room.id), 10000, 'the Janus room');
      const res = await del(srv.port, a, `/api/rooms/${room.id}`);
      assert.equal(res.status, 200);
      await until(async () => !(await janusRoom(room.id)), 10000, 'the Janus room destroyed');
    } finally {
      closeAll([ca, cb]);
    }
    // Nobody gets into Janus without a token Chorus added.
    for (const token of [undefined, 'guessed']) {
      const r = await janus.post('', { janus: 'create', transaction: 't', ...(token ? { token } : {}) });
      assert.equal(r.janus, 'error');
      assert.equal(r.error.code, 403);
    }
  });

  const answered = (e) => e.op === 'rtc_signal' && e.from === 'sfu' && e.data.pc === 'pub' && e.data.type === 'answer';

  /** The start of the Janus-loss tests: A and B in a call at Janus (jr: its Janus room),
   * A's offer answered; offer(c) sends c's. The caller closes ca and cb. */
  async function sfuCall() {
    const { room, cs } = await roomWith(srv.port, [mkUser('A'), mkUser('B')]);
    const [ca, cb] = cs;
    const offer = (c) => c.ok('rtc_signal', { room: room.id, to: 'sfu', data: { pc: 'pub', type: 'offer', sdp: OFFER } });
    try {
      await ca.ok('rtc_join', { room: room.id, audio: true });
      await cb.ok('rtc_join', { room: room.id, audio: true });
      const jr = await until(() => janusRoom(room.id), 10000, 'the Janus room');
      await offer(ca);
      await ca.waitEvent(answered, 10000, 'the first answer');
      return { room, ca, cb, jr, offer };
    } catch (e) {
      closeAll(cs);
      throw e;
    }
  }

  it('Janus killed and restarted during a call: the members are told, the call gets a new Janus room and tokens, and offers are answered there', T, async () => {
    const { room, ca, cb, jr, offer } = await sfuCall();
    try {
      await janus.restart(); // none of the session, tokens or rooms survive
      for (const c of [ca, cb]) {
        const e = await c.waitEvent('rtc_sfu_error', 15000);
        assert.equal(e.code, 'sfu_unavailable');
      }
      // Nobody rejoins: the call gets a new Janus room, and the process and both members
      // new tokens, at the new Janus.
      const jr2 = await until(() => janusRoom(room.id), 15000, 'the Janus room made again');
      assert.notEqual(jr2.room, jr.room);
      await until(async () => (await janus.tokens()).length === 3, 10000, 'the tokens added again');
      // A renegotiates in place (a new offer for its connection to the SFU) ...
      await offer(ca);
      await ca.waitEvent(answered, 10000, 'the answer of the new Janus');
      // ... and B as the SDK does after rtc_sfu_error: it leaves and joins the call again.
      await cb.ok('rtc_leave', { room: room.id });
      assert.equal((await cb.ok('rtc_join', { room: room.id, audio: true })).mode, 'sfu');
      await offer(cb);
      await cb.waitEvent(answered, 10000, 'B\'s answer');
      await ca.ok('rtc_leave', { room: room.id });
      await cb.ok('rtc_leave', { room: room.id });
      await until(async () => !(await janusRoom(room.id)), 10000, 'the Janus room destroyed');
      await until(async () => (await janus.tokens()).length === 1, 10000, 'the members\' tokens removed');
    } finally {
      closeAll([ca, cb]);
    }
  });

  it('a session Janus forgot (Janus stays up): the members are told, leave at once, and the old Janus room and tokens still go', T, async () => {
    const { room, ca, cb, jr, offer } = await sfuCall();
    try {
      // The process's token and the members' two.
      const tokens0 = await janus.tokens();

      // Chorus's session (the only one at this Janus) is destroyed through Janus's admin
      // API; Janus keeps its rooms and tokens. A's next request on it hears of it.
      const { sessions } = await janus.admin({ janus: 'list_sessions' });
      assert.ok(sessions.length >= 1, JSON.stringify(sessions));
      for (const s of sessions) assert.equal((await janus.admin({ janus: 'destroy_session' }, `/${s}`)).janus, 'success');
      await offer(ca);
      for (const c of [ca, cb]) assert.equal((await c.waitEvent('rtc_sfu_error', 10000)).code, 'sfu_unavailable');
      // As the SDK does: both leave at once; the call ends before a new session is up.
      await Promise.all([ca.ok('rtc_leave', { room: room.id }), cb.ok('rtc_leave', { room: room.id })]);
      // The lost session's room is destroyed at the next one all the same, and of the
      // tokens only the new session's own is left (the process's old one removed too).
      await until(async () => !(await janus.rooms()).some((r) => r.room === jr.room), 10000, 'the old Janus room destroyed');
      assert.equal(await janusRoom(room.id), undefined);
      await until(async () => {
        const t = await janus.tokens();
        return t.length === tokens0.length - 2 && !t.some((x) => tokens0.includes(x));
      }, 10000, 'the old tokens removed, a new one of the process');
    } finally {
      closeAll([ca, cb]);
    }
  });

  it('without --janus-url a call stays mesh past the mesh size', T, async () => {
    const plain = await startServer({ args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--rtc-mesh-max', '1'] });
    const users = [mkUser('A'), mkUser('B'), mkUser('C')];
    const { room, cs } = await roomWith(plain.port, users);
    try {
      for (const c of cs) assert.equal((await c.ok('rtc_join', { room: room.id, audio: true })).mode, 'mesh');
      await cs[0].err('rtc_signal', { room: room.id, to: 'sfu', data: { pc: 'pub', type: 'offer', sdp: OFFER } }, 'not_found');
    } finally {
      closeAll(cs);
      await plain.stop();
    }
  });
});
