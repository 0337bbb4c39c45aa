// rooms.test.mjs: connect, join and the room operations and events over the WebSocket.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { WebSocketServer } from 'ws';

import { ChorusError } from '../chorus.js';
import {
  BASE_ARGS, client, connected, delay, mintJwt, next, registered, startServer, until,
} from '../testlib/helpers.mjs';

const T = { timeout: 15000 };

describe('rooms over the WebSocket', () => {
  let srv;
  let port;
  const open = [];
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--room-seat-grace', '300ms'] });
    port = srv.port;
  });
  after(async () => {
    for (const c of open) c.close();
    await srv?.stop();
  });
  const conn = async (name, opts) => {
    const c = await connected(port, name, opts);
    open.push(c);
    return c;
  };

  it('connect emits connecting -> open; a refused token rejects with unauthorized', T, async () => {
    const c = await registered(port, 'Conn');
    open.push(c);
    const states = [];
    c.on('connection', (s) => states.push(s));
    assert.equal(c.state, 'closed');
    await c.connect();
    assert.equal(c.state, 'open');
    assert.deepEqual(states, ['connecting', 'open']);
    assert.equal(c.user.id, c.session.user.id);
    await c.connect(); // already open: no-op
    c.close();
    assert.equal(c.state, 'closed');
    assert.deepEqual(states, ['connecting', 'open', 'closed']);
    await assert.rejects(c.request('echo', { data: 1 }), { code: 'closed' });

    const bad = client(port, { token: mintJwt({ sub: 'x' }, 'another-secret-0123456789abcdefghijkl') });
    await assert.rejects(bad.connect(), (e) => e instanceof ChorusError && e.code === 'unauthorized');
    assert.equal(bad.state, 'closed');
    const none = client(port);
    await assert.rejects(none.connect(), { code: 'unauthorized' });
  });

  it('request: echo round trip; unknown op -> ChorusError unknown_op; validation_error carries field', T, async () => {
    const c = await conn('Req');
    assert.deepEqual(await c.request('echo', { data: { a: [1, null] } }), { a: [1, null] });
    await assert.rejects(c.request('frobnicate'), (e) => {
      assert.ok(e instanceof ChorusError);
      assert.equal(e.code, 'unknown_op');
      return true;
    });
    const host = await registered(port, 'ReqHost');
    const r = await host.createRoom({ name: 'req' });
    const room = await c.join(r.roomCode);
    await assert.rejects(room.send('user_text', 42), { code: 'validation_error', field: 'content' });
    await assert.rejects(c.join('ZZZZZZ'), { code: 'not_found' });
  });

  it('join by code: room, participants map, state, messages; others see participant_joined', T, async () => {
    const host = await conn('Host');
    const mem = await conn('Mem');
    const r = await host.createRoom({ name: 'join', state: { mode: 'chill' } });
    const hr = await host.join(r.roomCode, { displayName: 'The Host' });
    assert.equal(hr.id, r.id);
    assert.equal(hr.code, r.roomCode);
    assert.equal(hr.role, 'host');
    assert.deepEqual(hr.state, { mode: 'chill' });
    assert.equal(hr.participants.get(host.user.id).displayName, 'The Host');
    const joined = next(hr, 'participant_joined');
    const mr = await mem.join(r.roomCode, { displayName: 'Member' });
    assert.equal(mr.role, 'member');
    assert.equal(mr.participants.size, 2);
    assert.equal(mr.participants.get(host.user.id).online, true);
    const p = await joined;
    assert.equal(p.userId, mem.user.id);
    assert.equal(p.displayName, 'Member');
    assert.equal(hr.participants.get(mem.user.id).displayName, 'Member');
    assert.equal(hr.participants.get(mem.user.id).online, true);
    // Joining again gives the same Room object.
    assert.equal(await mem.join(r.id), mr);
  });

  it('send resolves with the stored message; the other receives it; messages are ordered without duplicates', T, async () => {
    const host = await conn('SHost');
    const mem = await conn('SMem');
    const r = await host.createRoom({ name: 'send' });
    const hr = await host.join(r.roomCode);
    const mr = await mem.join(r.roomCode);
    const got = [];
    hr.on('message', (m) => got.push(m));
    const mine = [];
    mr.on('message', (m) => mine.push(m));
    const m = await mr.send('user_text', 'hello', { lang: 'en' });
    assert.equal(m.content, 'hello');
    assert.equal(m.type, 'user_text');
    assert.deepEqual(m.metadata, { lang: 'en' });
    assert.equal(m.userId, mem.user.id);
    assert.ok(Number.isInteger(m.seq));
    await until(() => got.some((x) => x.seq === m.seq), 3000, 'the host to get the message');
    assert.deepEqual(got.find((x) => x.seq === m.seq), m);
    // Own messages are also delivered as 'message' events (once).
    assert.equal(mine.filter((x) => x.seq === m.seq).length, 1);
    for (let i = 0; i < 20; i++) await (i % 2 ? hr : mr).send('user_text', `m${i}`);
    await until(() => hr.lastSeq === mr.lastSeq && hr.messages.at(-1).content === 'm19', 3000, 'sync');
    for (const room of [hr, mr]) {
      const seqs = room.messages.map((x) => x.seq);
      for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, 'ascending, no gaps');
    }
    assert.deepEqual(hr.messages.map((x) => x.seq), mr.messages.map((x) => x.seq));
  });

  it('room.messages keeps the newest maxMessages (join history and live), in order', T, async () => {
    const host = await conn('CapHost');
    const r = await host.createRoom({ name: 'cap' });
    const hr = await host.join(r.roomCode);
    for (let i = 0; i < 12; i++) await hr.send('user_text', `early ${i}`);
    const small = await conn('CapMem', { maxMessages: 5 });
    const mr = await small.join(r.roomCode);
    assert.equal(mr.messages.length, 5, 'the join history is cut to the newest 5');
    assert.equal(mr.messages.at(-1).seq, mr.lastSeq);
    const got = [];
    mr.on('message', (m) => got.push(m.seq));
    for (let i = 0; i < 9; i++) await hr.send('user_text', `late ${i}`);
    await until(() => mr.lastSeq === hr.lastSeq, 3000, 'the capped client to catch up');
    assert.equal(got.length, 9, 'every live message is still emitted');
    const seqs = mr.messages.map((x) => x.seq);
    assert.deepEqual(seqs, [hr.lastSeq - 4, hr.lastSeq - 3, hr.lastSeq - 2, hr.lastSeq - 1, hr.lastSeq]);
    assert.deepEqual(mr.messages.map((x) => x.content), hr.messages.slice(-5).map((x) => x.content));
  });

  it('broadcast custom events arrive as {from, data}', T, async () => {
    const host = await conn('BHost');
    const mem = await conn('BMem');
    const r = await host.createRoom({ name: 'bc' });
    const hr = await host.join(r.roomCode);
    const mr = await mem.join(r.roomCode);
    const ev = next(hr, 'entry_created');
    await mr.broadcast('entry_created', { id: 7, text: 'x' });
    assert.deepEqual(await ev, { from: mem.user.id, data: { id: 7, text: 'x' } });
    await assert.rejects(mr.broadcast(''), { code: 'validation_error' });
    // A broadcast named like a room event does not pose as one; 'broadcast' sees them all.
    const msgs = [];
    hr.on('message', (m) => msgs.push(m));
    const all = next(hr, 'broadcast', (x) => x.event === 'message');
    await mr.broadcast('message', 'not a stored message');
    assert.deepEqual(await all, { event: 'message', from: mem.user.id, data: 'not a stored message' });
    assert.deepEqual(msgs, []);
  });

  it('setPresence: the other sees presence, and the participants map merges it (null removes)', T, async () => {
    const host = await conn('PHost');
    const mem = await conn('PMem');
    const r = await host.createRoom({ name: 'presence' });
    const hr = await host.join(r.roomCode);
    const mr = await mem.join(r.roomCode);
    const ev = next(hr, 'presence', (p) => p.userId === mem.user.id && p.state.cursor);
    await mr.setPresence({ cursor: { x: 1, y: 2 }, color: 'red' });
    const p = await ev;
    assert.deepEqual(p.state.cursor, { x: 1, y: 2 });
    assert.deepEqual(hr.participants.get(mem.user.id).presence.cursor, { x: 1, y: 2 });
    assert.equal(hr.participants.get(mem.user.id).presence.color, 'red');
    assert.equal(mr.participants.get(mem.user.id).presence.color, 'red', 'own presence merged locally');
    const ev2 = next(hr, 'presence', (x) => x.userId === mem.user.id && 'color' in x.state);
    await mr.setPresence({ color: null, cursor: { x: 5 } });
    await ev2;
    const merged = hr.participants.get(mem.user.id).presence;
    assert.equal('color' in merged, false, 'null removed the field');
    assert.deepEqual(merged.cursor, { x: 5, y: 2 }, 'nested merge');
  });

  it('updateState (host) -> state event on both; stateVersion; a member is forbidden', T, async () => {
    const host = await conn('StHost');
    const mem = await conn('StMem');
    const r = await host.createRoom({ name: 'state', state: { mode: 'chill', a: 1 } });
    const hr = await host.join(r.roomCode);
    const mr = await mem.join(r.roomCode);
    const v0 = hr.stateVersion;
    const evH = next(hr, 'state');
    const evM = next(mr, 'state');
    const res = await hr.updateState({ mode: 'focus', a: null });
    assert.deepEqual(res.state, { mode: 'focus' });
    assert.equal(res.stateVersion, v0 + 1);
    for (const e of [await evH, await evM]) {
      assert.deepEqual(e.state, { mode: 'focus' });
      assert.equal(e.version, v0 + 1);
      assert.equal(e.currentMode, 'focus');
    }
    assert.deepEqual(mr.state, { mode: 'focus' });
    assert.equal(mr.stateVersion, v0 + 1);
    assert.equal(hr.stateVersion, v0 + 1);
    await assert.rejects(mr.updateState({ mode: 'x' }), { code: 'forbidden' });
  });

  it('history paging (before / after / limit)', T, async () => {
    const host = await conn('HHost');
    const r = await host.createRoom({ name: 'history' });
    const hr = await host.join(r.roomCode);
    const sent = [];
    for (let i = 0; i < 30; i++) sent.push(await hr.send('user_text', `h${i}`));
    const last = await hr.history({ limit: 10 });
    assert.deepEqual(last.map((m) => m.content), sent.slice(20).map((m) => m.content));
    const older = await hr.history({ before: last[0].seq, limit: 10 });
    assert.deepEqual(older.map((m) => m.content), sent.slice(10, 20).map((m) => m.content));
    const fromStart = await hr.history({ after: sent[0].seq - 1, limit: 5 });
    assert.deepEqual(fromStart.map((m) => m.content), ['h0', 'h1', 'h2', 'h3', 'h4']);
    // Walk forward with after until the end.
    const all = [];
    let a = sent[0].seq - 1;
    for (;;) {
      const page = await hr.history({ after: a, limit: 7 });
      if (!page.length) break;
      all.push(...page);
      a = page.at(-1).seq;
    }
    assert.deepEqual(all.map((m) => m.seq), sent.map((m) => m.seq));
  });

  it('leave -> the other sees participant_left (reason left) and the map drops the seat', T, async () => {
    const host = await conn('LHost');
    const mem = await conn('LMem');
    const r = await host.createRoom({ name: 'leave' });
    const hr = await host.join(r.roomCode);
    const mr = await mem.join(r.roomCode);
    const left = next(hr, 'participant_left');
    await mr.leave();
    assert.deepEqual(await left, { userId: mem.user.id, reason: 'left' });
    assert.equal(hr.participants.has(mem.user.id), false);
    assert.equal(mr.active, false);
    assert.equal(mem.rooms.has(r.id), false);
    await assert.rejects(hr.leave(), { code: 'host_cannot_leave' });
  });

  it('a dropped member: participant_left disconnected (offline), then participant_removed after the seat grace', T, async () => {
    const host = await conn('DHost');
    const mem = await registered(port, 'DMem', { reconnect: { enabled: false } });
    await mem.connect();
    const r = await host.createRoom({ name: 'drop' });
    const hr = await host.join(r.roomCode);
    await mem.join(r.roomCode);
    const left = next(hr, 'participant_left');
    const removed = next(hr, 'participant_removed');
    mem.socket._socket.destroy();
    assert.deepEqual(await left, { userId: mem.user.id, reason: 'disconnected' });
    assert.equal(hr.participants.get(mem.user.id).online, false);
    assert.deepEqual(await removed, { userId: mem.user.id, reason: 'timeout' });
    assert.equal(hr.participants.has(mem.user.id), false);
    await until(() => mem.state === 'closed', 2000, 'no reconnect when disabled');
  });

  it('room_deleted reaches connected members; unsubscribe works', T, async () => {
    const host = await conn('RdHost');
    const mem = await conn('RdMem');
    const r = await host.createRoom({ name: 'deleted' });
    await host.join(r.roomCode);
    const mr = await mem.join(r.roomCode);
    let count = 0;
    const off = mr.on('message', () => count++);
    off();
    await host.request('message', { room: r.id, type: 'user_text', content: 'x' });
    const del = next(mr, 'room_deleted');
    await host.deleteRoom(r.id);
    assert.deepEqual(await del, { reason: 'deleted' });
    assert.equal(count, 0);
    assert.equal(mr.active, false);
    await assert.rejects(mr.send('user_text', 'x'), { code: 'forbidden' });
  });

  it('token renewal: setting chorus.token re-authenticates; token_expired then 1008 surfaces as error and reconnects', T, async () => {
    // A dedicated server with short token lifetimes.
    const s2 = await startServer({ args: [...BASE_ARGS, '--token-grace', '300ms'] });
    try {
      const sub = `app-user-${Date.now()}`;
      const short = () => mintJwt({ sub, name: 'Temp', exp: Math.floor(Date.now() / 1000) + 2 });
      const c = client(s2.port, { token: short(), reconnect: { base: 50, max: 200 } });
      open.push(c);
      await c.connect();
      const host = await registered(s2.port, 'TkHost');
      open.push(host);
      const r = await host.createRoom({ name: 'tokens' });
      const room = await c.join(r.roomCode);
      // 1) token_expired arrives; the handler sets a fresh token: no disconnect.
      const exp = await next(c, 'token_expired', () => true, 5000);
      assert.equal(exp.graceMs, 300);
      c.token = mintJwt({ sub, name: 'Temp' });
      await delay(600);
      assert.equal(c.state, 'open');
      assert.ok((await room.send('user_text', 'still here')).seq > 0);

      // 2) Now let a short token expire without renewal: 1008 'token expired' -> 'error', reconnect.
      c.token = short();
      await until(() => c._authToken === c.token, 2000, 'renewal with the short token');
      const errors = [];
      c.on('error', (e) => errors.push(e));
      const states = [];
      c.on('connection', (st) => states.push(st));
      await next(c, 'token_expired', () => true, 5000);
      // The app provides a fresh token only after the close: the reconnect uses it.
      await next(c, 'connection', (st) => st === 'reconnecting', 3000);
      c.token = mintJwt({ sub, name: 'Temp' });
      await next(c, 'connection', (st) => st === 'open', 5000);
      assert.ok(errors.some((e) => e.code === 'token_expired' && e.closeCode === 1008),
        `errors: ${errors.map((e) => e.code)}`);
      assert.ok((await room.send('user_text', 'back')).seq > 0);
      c.close();
    } finally {
      await s2.stop();
    }
  });

  it('request timeout: a server that never replies -> ChorusError timeout', T, async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    wss.on('connection', (sock) => {
      sock.on('message', (raw) => {
        const m = JSON.parse(String(raw));
        if (m.op === 'auth') sock.send(JSON.stringify({ op: 'reply', ref: m.ref, ok: true, data: { user: { id: 'u1' } } }));
        // Anything else: silence.
      });
    });
    try {
      const c = client(wss.address().port, { token: 't', requestTimeout: 200 });
      await c.connect();
      const t0 = Date.now();
      await assert.rejects(c.request('echo', { data: 1 }), (e) => {
        assert.ok(e instanceof ChorusError);
        assert.equal(e.code, 'timeout');
        return true;
      });
      assert.ok(Date.now() - t0 >= 190);
      c.close();
    } finally {
      for (const s of wss.clients) s.terminate();
      await new Promise((r) => wss.close(r));
    }
  });
});
