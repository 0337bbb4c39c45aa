// sio_seed.test.mjs: seed 003's Socket.IO events (room:*, docs/socketio.md "Seed 003's
// events") with the real socket.io-client 4: every event both ways, the errors as
// room:error, a seed 003 user and a /ws user in one room, and connection state recovery
// (pid/offset) across a kill -9 and restart of the server.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { io } from 'socket.io-client';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { assertMessage, assertParticipant, assertRoom, createRoom, mkUser, RoomWs } from './lib/rooms.mjs';
import { makeTempDir, startServer } from './lib/server.mjs';
import { withTimeout } from './lib/util.mjs';

/** Polls fn (sync or async) until it returns a truthy value. */
async function until(fn, timeout = 5000) {
  const end = Date.now() + timeout;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${fn}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const T = { timeout: 20000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];

/**
 * A socket.io-client socket that keeps every event it gets ([name, ...args], in order), so
 * a test waits for one while others keep arriving.
 */
class Seed {
  constructor(port, user, opts = {}) {
    this.user = user;
    this.events = [];
    this.waiters = new Set();
    this.socket = io(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: user ? { token: user.token } : undefined,
      ...opts,
    });
    this.socket.onAny((name, ...args) => {
      this.events.push([name, ...args]);
      for (const w of [...this.waiters]) w();
    });
  }

  static async open(port, user, opts) {
    const s = new Seed(port, user, opts);
    await s.connected();
    return s;
  }

  connected() {
    const sock = this.socket;
    if (sock.connected) return Promise.resolve();
    return withTimeout(new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('connect_error', reject);
    }), 5000, 'socket.io connect');
  }

  emit(name, payload) {
    this.socket.emit(name, payload);
  }

  /** Emits with an ack; resolves with the ack's argument. */
  ack(name, payload) {
    return withTimeout(this.socket.timeout(5000).emitWithAck(name, payload), 6000, `ack of ${name}`);
  }

  /** The first kept event named name (and matching pred): its args; taken out. */
  next(name, pred = () => true, timeout = 5000) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        const i = this.events.findIndex((e) => e[0] === name && pred(...e.slice(1)));
        if (i < 0) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(this.events.splice(i, 1)[0].slice(1));
      };
      timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timeout waiting for ${name}; kept: ${JSON.stringify(this.events).slice(0, 800)}`));
      }, timeout);
      this.waiters.add(check);
      check();
    });
  }

  kept(name) {
    return this.events.filter((e) => e[0] === name).map((e) => e.slice(1));
  }

  /** A round trip through the server, so every event sent before it has arrived. */
  async sync() {
    const r = await this.ack('echo', { data: 'sync' });
    assert.equal(r.ok, true);
  }

  close() {
    this.socket.disconnect();
  }

  /** Joins by code; returns room:joined's payload (room:messages-history is taken too). */
  async join(code, displayName) {
    this.emit('room:join', { roomCode: code, displayName });
    const [joined] = await this.next('room:joined');
    await this.next('room:messages-history');
    return joined;
  }
}

describe('seed 003 events over Socket.IO', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: BASE_ARGS });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('room:authenticate -> room:authenticated (a connection without a token in CONNECT)', T, async () => {
    const u = mkUser('Auth');
    const s = await Seed.open(port, null);
    try {
      s.emit('room:authenticate', { token: u.token });
      const [a] = await s.next('room:authenticated');
      assert.equal(a.user.id, u.sub);
      assert.equal(a.user.name, 'Auth');
      s.emit('room:authenticate', { token: 'not.a.token' });
      const [e] = await s.next('room:error');
      assert.equal(e.event, 'room:authenticate');
      assert.equal(e.code, 'unauthorized');
      assert.equal(typeof e.message, 'string');
    } finally {
      s.close();
    }
  });

  it('room:join -> room:joined (participants, state, history) and room:messages-history; others get room:participant-joined', T, async () => {
    const host = mkUser('Host');
    const mem = mkUser('Mem');
    const room = await createRoom(port, host, { name: 'seed join', state: { mode: 'chill' } });
    const [h, m] = await Promise.all([Seed.open(port, host), Seed.open(port, mem)]);
    try {
      h.emit('room:join', { roomCode: room.roomCode, displayName: 'Hostess' });
      const [joined, off] = await h.next('room:joined');
      assert.equal(joined.roomId, room.id);
      assertRoom(joined.room);
      assert.equal(joined.room.roomCode, room.roomCode);
      assert.deepEqual(joined.state, { mode: 'chill' });
      assert.equal(joined.participants.length, 1);
      assertParticipant(joined.participants[0]);
      assert.equal(joined.participants[0].displayName, 'Hostess');
      assert.ok(Array.isArray(joined.history));
      assert.equal(off, `${room.id}:${joined.lastSeq}`, 'the offset of the last message');
      const [hist] = await h.next('room:messages-history');
      assert.deepEqual(hist, { roomId: room.id, messages: joined.history });

      const mj = await m.join(room.roomCode, 'Member');
      assert.equal(mj.participants.length, 2);
      const [pj] = await h.next('room:participant-joined');
      assert.equal(pj.roomId, room.id);
      assertParticipant(pj.participant);
      assert.equal(pj.participant.userId, mem.sub);
      assert.equal(pj.participant.displayName, 'Member');
      // The join's system message reaches the host as a message.
      const [sys] = await h.next('room:message-received', (x) => x.message.type === 'system');
      assert.equal(sys.message.metadata.event, 'joined');
    } finally {
      h.close();
      m.close();
    }
  });

  it('room:message -> room:message-received for everyone (the sender too), with its offset; types and metadata', T, async () => {
    const host = mkUser('H');
    const mem = mkUser('M');
    const room = await createRoom(port, host, { name: 'seed msg' });
    const [h, m] = await Promise.all([Seed.open(port, host), Seed.open(port, mem)]);
    try {
      await h.join(room.roomCode);
      await m.join(room.roomCode);
      m.emit('room:message', { messageType: 'user_voice', content: 'hello', metadata: { lang: 'en' } });
      const want = (x) => x.message.content === 'hello';
      const [[a, aoff], [b, boff]] = await Promise.all([h.next('room:message-received', want), m.next('room:message-received', want)]);
      assert.deepEqual(a, b);
      assert.equal(a.roomId, room.id);
      assertMessage(a.message, room.id);
      assert.equal(a.message.type, 'user_voice');
      assert.equal(a.message.userId, mem.sub);
      assert.deepEqual(a.message.metadata, { lang: 'en' });
      assert.equal(aoff, `${room.id}:${a.message.seq}`);
      assert.equal(boff, aoff);
      // messageType defaults to user_text; the ack gets the reply a /ws client would
      const r = await m.ack('room:message', { content: 'plain' });
      assert.equal(r.ok, true);
      assert.equal(r.data.message.type, 'user_text');
      assert.equal(r.data.message.seq, a.message.seq + 1);
      // system only for the host
      m.emit('room:message', { messageType: 'system', content: 'x' });
      const [e] = await m.next('room:error');
      assert.equal(e.event, 'room:message');
      assert.equal(e.code, 'validation_error');
      assert.equal(e.field, 'messageType');
      m.emit('room:message', { messageType: 'bogus', content: 'x' });
      const [e2] = await m.next('room:error');
      assert.equal(e2.code, 'validation_error');
      assert.equal(e2.field, 'messageType');
      // the history over REST has them all
      await h.next('room:message-received', (x) => x.message.content === 'plain');
    } finally {
      h.close();
      m.close();
    }
  });

  it('room:state-update (host only) -> room:state-updated for everyone; a non-host gets room:error', T, async () => {
    const host = mkUser('H');
    const mem = mkUser('M');
    const room = await createRoom(port, host, { name: 'seed state' });
    const [h, m] = await Promise.all([Seed.open(port, host), Seed.open(port, mem)]);
    try {
      await h.join(room.roomCode);
      await m.join(room.roomCode);
      h.emit('room:state-update', { updates: { mode: 'playful', conversationActive: true } });
      const [[a], [b]] = await Promise.all([h.next('room:state-updated'), m.next('room:state-updated')]);
      assert.deepEqual(a, b);
      assert.equal(a.roomId, room.id);
      assert.deepEqual(a.state, { mode: 'playful', conversationActive: true });
      assert.equal(a.currentMode, 'playful');
      assert.equal(a.stateVersion, 1);
      m.emit('room:state-update', { updates: { mode: 'mine' } });
      const [e] = await m.next('room:error');
      assert.equal(e.event, 'room:state-update');
      assert.equal(e.code, 'forbidden');
      await h.sync();
      assert.equal(h.kept('room:state-updated').length, 0, 'a refused update changes nothing');
    } finally {
      h.close();
      m.close();
    }
  });

  it('room:voice-start / room:voice-stop are the caller\'s voice in the room\'s call: a /ws client and Socket.IO clients see each other join and leave it', T, async () => {
    const host = mkUser('H');
    const mem = mkUser('M');
    const wsUser = mkUser('W');
    const room = await createRoom(port, host, { name: 'seed voice' });
    const [h, m] = await Promise.all([Seed.open(port, host), Seed.open(port, mem)]);
    const w = await RoomWs.open(port, wsUser);
    try {
      await h.join(room.roomCode);
      await m.join(room.roomCode);
      await w.join(room.id);
      // m starts its voice: rtc_join, audio alone; its ack is rtc_join's reply
      const r = await m.ack('room:voice-start', { muted: true, video: true });
      assert.equal(r.op, 'reply');
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(r.data.mode, 'mesh');
      assert.deepEqual(r.data.iceServers, []);
      assert.equal(r.data.members.length, 1);
      const me = r.data.members[0];
      assert.equal(me.id, r.data.id);
      assert.equal(me.userId, mem.sub);
      assert.deepEqual([me.audio, me.video, me.screen, me.muted], [true, false, false, true]);
      const [[own], [seen]] = await Promise.all([m.next('room:voice-started'), h.next('room:voice-started')]);
      assert.deepEqual(own, { roomId: room.id, mode: 'mesh', member: me });
      assert.deepEqual(seen, own);
      const joined = await w.waitEvent('rtc_member_joined');
      assert.deepEqual(joined.member, me);
      // the /ws client joins the call: the Socket.IO clients see it as room:voice-started
      const wj = await w.ok('rtc_join', { room: room.id, audio: true });
      assert.deepEqual(wj.members.map((x) => x.userId), [mem.sub, wsUser.sub]);
      const [[vw]] = await Promise.all([m.next('room:voice-started'), h.next('room:voice-started')]);
      assert.equal(vw.member.userId, wsUser.sub);
      assert.equal(vw.member.id, wj.id);
      // a call signal reaches the Socket.IO member under its Chorus name
      await w.ok('rtc_signal', { room: room.id, to: me.id, data: { type: 'offer', sdp: 'v=0' } });
      const [sig] = await m.next('rtc_signal');
      assert.deepEqual([sig.from, sig.userId, sig.data], [wj.id, wsUser.sub, { type: 'offer', sdp: 'v=0' }]);
      // the /ws client leaves the call: room:voice-stopped
      await w.ok('rtc_leave', { room: room.id });
      const [[lw]] = await Promise.all([m.next('room:voice-stopped'), h.next('room:voice-stopped')]);
      assert.deepEqual(lw, { roomId: room.id, member: { id: wj.id, userId: wsUser.sub }, reason: 'left' });
      // m stops its voice: rtc_leave; everyone is told, m too
      const s = await m.ack('room:voice-stop');
      assert.equal(s.ok, true, JSON.stringify(s));
      assert.deepEqual(s.data, { member: { id: me.id, userId: mem.sub } });
      const [[ownStop], [seenStop]] = await Promise.all([m.next('room:voice-stopped'), h.next('room:voice-stopped')]);
      assert.deepEqual(ownStop, { roomId: room.id, member: { id: me.id, userId: mem.sub }, reason: 'left' });
      assert.deepEqual(seenStop, ownStop);
      const left = await w.waitEvent('rtc_member_left');
      assert.deepEqual(left.member, { id: me.id, userId: mem.sub });
      assert.equal(left.reason, 'left');
      // stopping again: not in the call
      const again = await m.ack('room:voice-stop');
      assert.equal(again.ok, false);
      assert.equal(again.error.code, 'not_in_call');
      const [e] = await m.next('room:error');
      assert.deepEqual([e.event, e.code], ['room:voice-stop', 'not_in_call']);
      // a bad flag is the op's validation_error
      h.emit('room:voice-start', { muted: 'yes' });
      const [e2] = await h.next('room:error');
      assert.deepEqual([e2.event, e2.code, e2.field], ['room:voice-start', 'validation_error', 'muted']);
      // h's voice ends with its connection: the /ws client gets rtc_member_left (disconnected)
      await h.ack('room:voice-start');
      const hj = await w.waitEvent('rtc_member_joined');
      assert.equal(hj.member.userId, host.sub);
      h.close();
      const gone = await w.waitEvent('rtc_member_left');
      assert.deepEqual([gone.member.id, gone.reason], [hj.member.id, 'disconnected']);
      const [mg] = await m.next('room:voice-stopped');
      assert.deepEqual(mg, { roomId: room.id, member: { id: hj.member.id, userId: host.sub }, reason: 'disconnected' });
      // presence is a heartbeat
      const pr = await m.ack('room:presence-update', {});
      assert.equal(pr.ok, true);
      await m.sync();
      assert.equal(m.kept('room:error').length, 0);
    } finally {
      h.close();
      m.close();
      w.close();
    }
  });

  it('room:leave -> room:left; others get room:participant-left; the host cannot leave', T, async () => {
    const host = mkUser('H');
    const mem = mkUser('M');
    const room = await createRoom(port, host, { name: 'seed leave' });
    const [h, m] = await Promise.all([Seed.open(port, host), Seed.open(port, mem)]);
    try {
      await h.join(room.roomCode);
      await m.join(room.roomCode);
      m.emit('room:leave');
      const [left] = await m.next('room:left');
      assert.deepEqual(left, { roomId: room.id });
      const [pl] = await h.next('room:participant-left');
      assert.deepEqual(pl, { roomId: room.id, userId: mem.sub, reason: 'left' });
      // out of the room: its events need a room:join first
      m.emit('room:message', { content: 'x' });
      const [e] = await m.next('room:error');
      assert.equal(e.code, 'forbidden');
      h.emit('room:leave');
      const [he] = await h.next('room:error');
      assert.equal(he.event, 'room:leave');
      assert.equal(he.code, 'host_cannot_leave');
    } finally {
      h.close();
      m.close();
    }
  });

  it('errors: a wrong code, a full room, no room:join yet, a payload that is not an object -> room:error {code, message}', T, async () => {
    const host = mkUser('H');
    const mem = mkUser('M');
    const room = await createRoom(port, host, { name: 'seed full', maxParticipants: 1 });
    const [h, m] = await Promise.all([Seed.open(port, host), Seed.open(port, mem)]);
    try {
      await h.join(room.roomCode);
      m.emit('room:join', { roomCode: 'ZZZZZZ' });
      const [e1] = await m.next('room:error');
      assert.deepEqual(Object.keys(e1).sort(), ['code', 'event', 'message']);
      assert.equal(e1.code, 'not_found');
      m.emit('room:join', { roomCode: room.roomCode });
      const [e2] = await m.next('room:error');
      assert.equal(e2.code, 'room_full');
      assert.equal(e2.event, 'room:join');
      m.emit('room:join', {});
      const [e3] = await m.next('room:error');
      assert.equal(e3.code, 'bad_request');
      m.emit('room:message', { content: 'x' });
      const [e4] = await m.next('room:error');
      assert.equal(e4.code, 'forbidden');
      m.emit('room:message', 'text');
      const [e5] = await m.next('room:error');
      assert.equal(e5.code, 'bad_request');
      // with an ack, the ack gets the error reply too
      const r = await m.ack('room:join', { roomCode: 'ZZZZZZ' });
      assert.equal(r.ok, false);
      assert.equal(r.error.code, 'not_found');
      await m.next('room:error');
      assert.equal(m.kept('room:joined').length, 0);
    } finally {
      h.close();
      m.close();
    }
  });

  for (const [label, transports] of [['polling only', ['polling']], ['polling, then the upgrade', ['polling', 'websocket']]]) {
    it(`the same events over ${label}`, T, async () => {
      const host = mkUser('H');
      const mem = mkUser('M');
      const room = await createRoom(port, host, { name: `seed ${label}` });
      const h = await Seed.open(port, host);
      const m = await Seed.open(port, mem, { transports });
      try {
        await h.join(room.roomCode);
        const j = await m.join(room.roomCode, 'Poller');
        assert.equal(j.participants.length, 2);
        const [pj] = await h.next('room:participant-joined');
        assert.equal(pj.participant.displayName, 'Poller');
        m.emit('room:message', { content: 'via polling' });
        const want = (x) => x.message.content === 'via polling';
        const [[a, aoff], [b, boff]] = await Promise.all([h.next('room:message-received', want), m.next('room:message-received', want)]);
        assert.deepEqual(a, b);
        assert.equal(aoff, boff);
        h.emit('room:state-update', { updates: { mode: 'calm' } });
        const [st] = await m.next('room:state-updated');
        assert.deepEqual(st.state, { mode: 'calm' });
        m.emit('room:state-update', { updates: { mode: 'x' } });
        const [e] = await m.next('room:error');
        assert.equal(e.code, 'forbidden');
        if (transports.length > 1) {
          await until(() => m.socket.io.engine.transport.name === 'websocket');
          m.emit('room:message', { content: 'after the upgrade' });
          await h.next('room:message-received', (x) => x.message.content === 'after the upgrade');
        } else {
          assert.equal(m.socket.io.engine.transport.name, 'polling');
        }
      } finally {
        h.close();
        m.close();
      }
    });
  }

  it('a seed 003 Socket.IO user and a /ws user in one room see each other\'s joins and messages', T, async () => {
    const wsUser = mkUser('Ws');
    const sioUser = mkUser('Sio');
    const room = await createRoom(port, wsUser, { name: 'mixed' });
    const w = await RoomWs.open(port, wsUser);
    const s = await Seed.open(port, sioUser);
    try {
      await w.join(room.id);
      const joined = await s.join(room.roomCode, 'Socky');
      assert.deepEqual(joined.participants.map((p) => p.userId).sort(), [wsUser.sub, sioUser.sub].sort());
      const pj = await w.waitEvent('participant_joined');
      assert.equal(pj.participant.userId, sioUser.sub);
      assert.equal(pj.participant.displayName, 'Socky');
      s.emit('room:message', { content: 'from socket.io' });
      const got = await w.waitEvent((e) => e.op === 'message' && e.message.content === 'from socket.io');
      assert.equal(got.message.userId, sioUser.sub);
      await w.ok('message', { room: room.id, type: 'ai_response', content: 'from ws', metadata: { model: 'x' } });
      const [m] = await s.next('room:message-received', (x) => x.message.content === 'from ws');
      assert.equal(m.message.userId, wsUser.sub);
      assert.equal(m.message.type, 'ai_response');
      assert.equal(m.message.seq, got.message.seq + 1);
      // a /ws broadcast keeps its Chorus name, whatever its event (voice is the call's)
      await w.ok('broadcast', { room: room.id, event: 'voice_started', data: { by: 'ws' } });
      const [v] = await s.next('broadcast');
      assert.deepEqual([v.event, v.from, v.data], ['voice_started', wsUser.sub, { by: 'ws' }]);
      // a Chorus event seed 003 has no name for keeps its own (presence)
      await w.ok('presence', { room: room.id, state: { typing: true } });
      const [p] = await s.next('presence');
      assert.equal(p.userId, wsUser.sub);
      s.close();
      const left = await w.waitEvent('participant_left');
      assert.equal(left.userId, sioUser.sub);
      assert.equal(left.reason, 'disconnected');
    } finally {
      w.close();
      s.close();
    }
  });
});

describe('connection state recovery (pid, offset)', () => {
  it('kill -9 while a seed 003 client is connected, restart: the messages sent meanwhile arrive once, in order', { timeout: 40000 }, async () => {
    const dir = makeTempDir('chorus-sio-');
    const args = [...BASE_ARGS, '--data', dir];
    let srv = await startServer({ data: false, args });
    const port = srv.port;
    const host = mkUser('Host');
    const mem = mkUser('Mem');
    let w;
    let s;
    try {
      const room = await createRoom(port, host, { name: 'durable' });
      w = await RoomWs.open(port, host);
      await w.join(room.id);
      s = await Seed.open(port, mem);
      assert.equal(s.socket.recovered, false);
      await s.join(room.roomCode);
      await w.ok('message', { room: room.id, type: 'user_text', content: 'm1' });
      const [m1, off1] = await s.next('room:message-received', (x) => x.message.content === 'm1');
      assert.equal(off1, `${room.id}:${m1.message.seq}`);

      const gone = new Promise((resolve) => s.socket.once('disconnect', resolve));
      srv.kill();
      await withTimeout(srv.exited, 5000, 'chorus to die');
      await withTimeout(gone, 5000, 'the client to see the server gone');
      w.close();
      srv.cleanup();

      srv = await startServer({ data: false, args, listen: `127.0.0.1:${port}` });
      w = await RoomWs.open(port, host);
      await w.join(room.id);
      const sent = [];
      for (const content of ['m2', 'm3', 'm4']) sent.push((await w.ok('message', { room: room.id, type: 'user_text', content })).message);
      const lastSeq = sent[sent.length - 1].seq;

      s.events.length = 0;
      s.socket.connect();
      await s.connected();
      assert.equal(s.socket.recovered, true, 'the session is recovered');
      await s.next('room:message-received', (x) => x.message.seq === lastSeq);
      await s.sync();
      const got = [...s.kept('room:message-received').map(([x]) => x.message.seq), lastSeq];
      const want = [];
      for (let q = m1.message.seq + 1; q <= lastSeq; q++) want.push(q);
      // the missed messages (the host's join after the restart included), once, in order
      assert.deepEqual(got, want);
      for (const m of sent) assert.ok(got.includes(m.seq), `m${m.content} recovered`);
      assert.equal(s.kept('room:joined').length, 0, 'recovered: no join needed');
      // still in the room: its messages keep coming, and the offset moves on
      await w.ok('message', { room: room.id, type: 'user_text', content: 'm5' });
      const [m5, off5] = await s.next('room:message-received', (x) => x.message.content === 'm5');
      assert.equal(off5, `${room.id}:${m5.message.seq}`);
      s.emit('room:message', { content: 'back' });
      const back = await w.waitEvent((e) => e.op === 'message' && e.message.content === 'back');
      assert.equal(back.message.userId, mem.sub);
    } finally {
      s?.close();
      w?.close();
      await srv?.stop().catch(() => srv.kill());
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('more missed messages than the join history holds: not recovered (a new pid), the client joins again', T, async () => {
    const srv = await startServer({ args: [...BASE_ARGS, '--room-join-history', '3'] });
    const host = mkUser('Host');
    const mem = mkUser('Mem');
    let w;
    let s;
    try {
      const room = await createRoom(srv.port, host, { name: 'too many' });
      w = await RoomWs.open(srv.port, host);
      await w.join(room.id);
      s = await Seed.open(srv.port, mem);
      await s.join(room.roomCode);
      await w.ok('message', { room: room.id, type: 'user_text', content: 'seen' });
      await s.next('room:message-received', (x) => x.message.content === 'seen');
      const pid = s.socket._pid;
      assert.match(pid, /^[0-9a-f]{32}$/);
      const gone = new Promise((resolve) => s.socket.once('disconnect', resolve));
      s.socket.io.engine.close(); // the transport drops; the socket keeps its pid and offset
      await withTimeout(gone, 5000, 'disconnect');
      for (let i = 0; i < 4; i++) await w.ok('message', { room: room.id, type: 'user_text', content: `x${i}` });
      s.events.length = 0;
      s.socket.connect();
      await s.connected();
      assert.equal(s.socket.recovered, false);
      assert.notEqual(s.socket._pid, pid);
      assert.equal(s.kept('room:message-received').length, 0, 'nothing half-recovered');
      const j = await s.join(room.roomCode);
      assert.equal(j.history.length, 3);
    } finally {
      s?.close();
      w?.close();
      await srv.stop();
    }
  });

  it('an offset of a room the user left recovers nothing and does not take a seat again', T, async () => {
    const srv = await startServer({ args: BASE_ARGS });
    const host = mkUser('Host');
    const mem = mkUser('Mem');
    let w;
    let s;
    try {
      const room = await createRoom(srv.port, host, { name: 'left' });
      w = await RoomWs.open(srv.port, host);
      await w.join(room.id);
      s = await Seed.open(srv.port, mem);
      await s.join(room.roomCode);
      await w.ok('message', { room: room.id, type: 'user_text', content: 'seen' });
      await s.next('room:message-received', (x) => x.message.content === 'seen');
      s.emit('room:leave');
      await s.next('room:left');
      const gone = new Promise((resolve) => s.socket.once('disconnect', resolve));
      s.socket.io.engine.close();
      await withTimeout(gone, 5000, 'disconnect');
      await w.ok('message', { room: room.id, type: 'user_text', content: 'after' });
      s.events.length = 0;
      s.socket.connect();
      await s.connected();
      assert.equal(s.socket.recovered, false);
      await s.sync();
      assert.equal(s.kept('room:message-received').length, 0);
      const r = await w.ok('history', { room: room.id });
      assert.ok(r.messages.every((m) => m.userId !== mem.sub));
      const parts = (await w.ok('join', { room: room.id })).participants.map((p) => p.userId);
      assert.deepEqual(parts, [host.sub]);
    } finally {
      s?.close();
      w?.close();
      await srv.stop();
    }
  });
});

// A large room (issue 26, docs/socketio.md): a seed 003 connection gets the room's
// coalesced changes as participants_changed, under its Chorus name, and no
// room:participant-joined.
describe('seed 003 in a large room', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--room-large', '2', '--room-large-tick', '50ms'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('participants_changed, not room:participant-joined', T, async () => {
    const [host, a, b] = [mkUser('Lh'), mkUser('La'), mkUser('Lb')];
    const room = await createRoom(srv.port, host, { name: 'seed large', maxParticipants: 10 });
    const s = await Seed.open(srv.port, a);
    const w = await RoomWs.open(srv.port, b);
    try {
      await s.join(room.roomCode, 'Sa'); // 2 seats: small
      await w.join(room.id); // 3: large
      const [ev] = await s.next('participants_changed', (e) => e.joined?.some((p) => p.userId === b.sub));
      assert.equal(ev.room, room.id);
      assert.equal(ev.participantCount, 3);
      assert.equal(ev.onlineCount, 2);
      await s.sync();
      assert.deepEqual(s.kept('room:participant-joined'), []);
    } finally {
      s.close();
      w.close();
    }
  });
});
