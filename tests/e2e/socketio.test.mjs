// socketio.test.mjs: Engine.IO 4 / Socket.IO 5 at /socket.io/ (docs/socketio.md) with the
// real socket.io-client 4: websocket-only, polling-only and polling-then-upgrade; CONNECT
// with a Chorus token (refused with CONNECT_ERROR's message), Chorus ops as events with
// acks carrying the /ws reply, errors as "error" events, a Socket.IO user and a /ws user
// in one room, and the limits: oversized messages and payloads, a missing pong, a second
// pending GET, silent polling sessions, session bounds, bad EIO, CORS from --origins.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { io } from 'socket.io-client';
import WebSocket from 'ws';

import { api, FAST_HASH, mintJwt, nowSec, register, TEST_SECRET } from './lib/auth.mjs';
import { assertJsonError, buildRequest, fetchOnce, HttpConn } from './lib/http.mjs';
import { createRoom, mkUser, RoomWs } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';
import { withTimeout } from './lib/util.mjs';

const T = { timeout: 20000 };
const ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];

/** A socket.io-client socket (no reconnection) on port; resolves once connected. */
function connect(port, opts = {}) {
  const s = io(`http://127.0.0.1:${port}`, { reconnection: false, transports: ['websocket'], ...opts });
  return withTimeout(new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', (e) => {
      s.close();
      reject(e);
    });
  }), 5000, 'socket.io connect');
}

/** The connect_error a socket gets (it must not connect). */
function connectError(port, opts = {}) {
  const s = io(`http://127.0.0.1:${port}`, { reconnection: false, transports: ['websocket'], ...opts });
  return withTimeout(new Promise((resolve, reject) => {
    s.once('connect', () => {
      s.close();
      reject(new Error('connected'));
    });
    s.once('connect_error', (e) => {
      s.close();
      resolve(e);
    });
  }), 5000, 'socket.io connect_error');
}

/** The next event name the socket receives (its arguments). */
function nextEvent(s, name, pred = () => true) {
  return withTimeout(new Promise((resolve) => {
    const on = (...args) => {
      if (!pred(...args)) return;
      s.off(name, on);
      resolve(args);
    };
    s.on(name, on);
  }), 5000, `socket.io event ${name}`);
}

/** A raw WebSocket on /socket.io/ (the ws package): messages as strings, in order. */
function rawSio(port, query = 'EIO=4&transport=websocket') {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?${query}`);
  const msgs = [];
  let wake = () => {};
  ws.on('message', (d, binary) => {
    msgs.push(binary ? d : d.toString('utf8'));
    wake();
  });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('error', () => {});
  const next = (label = 'a message') => withTimeout(new Promise((resolve) => {
    const check = () => {
      if (msgs.length) resolve(msgs.shift());
      else wake = check;
    };
    check();
  }), 5000, label);
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
  return { ws, next, closed, opened };
}

describe('socket.io over websocket', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: [...ARGS, '--ws-max-message', '4KiB'] });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('EIO open packet: sid, no upgrades, pings and limits from the /ws options; CONNECT answers a sid', T, async () => {
    const r = rawSio(port);
    await r.opened;
    const open = await r.next('open packet');
    assert.equal(open[0], '0');
    const o = JSON.parse(open.slice(1));
    assert.match(o.sid, /^[0-9a-f]{20}$/);
    assert.deepEqual(o.upgrades, []);
    assert.equal(o.pingInterval, 30000);
    assert.equal(o.pingTimeout, 10000);
    assert.equal(o.maxPayload, 4096);
    r.ws.send('40');
    const c = await r.next('CONNECT');
    assert.match(c, /^40\{"sid":"[0-9a-f]{20}","pid":"[0-9a-f]{32}"\}$/); // pid: connection state recovery (docs/socketio.md)
    r.ws.send('42["echo",{"data":"hi"}]'); // no ack id: an ok reply is not sent
    r.ws.send('427["echo",{"data":{"x":[1,2]}}]');
    assert.equal(await r.next('ack'), '437[{"op":"reply","ref":7,"ok":true,"data":{"x":[1,2]}}]');
    r.ws.close();
  });

  it('auth ok: a Chorus op with an ack gets the /ws reply object', T, async () => {
    const u = mkUser('Ann');
    const s = await connect(port, { auth: { token: u.token } });
    try {
      assert.match(s.id, /^[0-9a-f]{20}$/);
      const echo = await s.emitWithAck('echo', { data: { a: 1 } });
      assert.deepEqual(echo, { op: 'reply', ref: 0, ok: true, data: { a: 1 } });
      const r = await createRoom(port, u, { name: 'sio' });
      const j = await s.emitWithAck('join', { room: r.roomCode });
      assert.equal(j.ok, true);
      assert.equal(j.data.room.id, r.id);
      assert.equal(j.data.role, 'host');
      const bad = await s.emitWithAck('message', { room: r.id, type: 'user_text' });
      assert.equal(bad.ok, false);
      assert.equal(bad.error.code, 'validation_error');
    } finally {
      s.close();
    }
  });

  it('auth refused: CONNECT_ERROR with the reason (bad token, revoked token, wrong type, unknown namespace)', T, async () => {
    let e = await connectError(port, { auth: { token: 'nope' } });
    assert.equal(e.data.code, 'unauthorized');
    assert.match(e.message, /token/);
    const forged = mintJwt('another-secret-0123456789abcdefghijklmnop', { sub: 'x', iat: nowSec() });
    e = await connectError(port, { auth: { token: forged } });
    assert.equal(e.data.code, 'unauthorized');
    e = await connectError(port, { auth: { token: 5 } });
    assert.equal(e.data.code, 'bad_request');
    assert.equal(e.message, 'auth.token must be a string');
    // A token revoked by logout is refused like on /ws.
    const acct = await register(port);
    assert.equal((await api(port, 'POST', '/api/auth/logout', { token: acct.token })).status, 200);
    e = await connectError(port, { auth: { token: acct.token } });
    assert.equal(e.data.code, 'unauthorized');
    assert.match(e.message, /revoked/);
    // Namespaces other than "/".
    const m = io(`http://127.0.0.1:${port}/admin`, { reconnection: false, transports: ['websocket'] });
    const err = await withTimeout(new Promise((resolve) => m.once('connect_error', resolve)), 5000, 'nsp error');
    m.close();
    assert.equal(err.message, 'Invalid namespace');
    assert.equal(err.data.code, 'invalid_namespace');
  });

  it('without a token: only auth and echo until the auth op, as on /ws; errors without an ack come as "error" events', T, async () => {
    const u = mkUser('Bo');
    const s = await connect(port);
    try {
      const no = await s.emitWithAck('join', { room: 'ABCDEF' });
      assert.equal(no.ok, false);
      assert.equal(no.error.code, 'unauthorized');
      const a = await s.emitWithAck('auth', { token: u.token });
      assert.equal(a.ok, true);
      assert.equal(a.data.user.id, u.sub);
      const ev = nextEvent(s, 'error');
      s.emit('no_such_op', {});
      const [err] = await ev;
      assert.deepEqual(err, { op: 'error', error: { code: 'unknown_op', message: 'unknown op "no_such_op"' } });
      const bad = await s.emitWithAck('echo', 'not an object');
      assert.equal(bad.error.code, 'bad_request');
    } finally {
      s.close();
    }
  });

  it('a Socket.IO user and a /ws user in one room see each other', T, async () => {
    const host = mkUser('Host');
    const guest = mkUser('Guest');
    const r = await createRoom(port, host, { name: 'mixed' });
    const ws = await RoomWs.open(port, host);
    const s = await connect(port, { auth: { token: guest.token } });
    try {
      await ws.join(r.roomCode);
      const joined = ws.waitEvent('participant_joined');
      const j = await s.emitWithAck('join', { room: r.roomCode });
      assert.equal(j.ok, true);
      assert.equal((await joined).participant.userId, guest.sub);
      // /ws -> Socket.IO: the event of the same name, with the object /ws clients get.
      const got = nextEvent(s, 'message', (e) => e.message.content === 'hello sio');
      await ws.ok('message', { room: r.id, type: 'user_text', content: 'hello sio' });
      const [m] = await got;
      assert.equal(m.op, 'message');
      assert.equal(m.room, r.id);
      assert.equal(m.message.content, 'hello sio');
      assert.equal(m.message.userId, host.sub);
      // Socket.IO -> /ws.
      const seen = ws.waitEvent((e) => e.op === 'message' && e.message.content === 'hello ws');
      const sent = await s.emitWithAck('message', { room: r.id, type: 'user_text', content: 'hello ws' });
      assert.equal(sent.ok, true);
      const w = await seen;
      assert.equal(w.message.content, 'hello ws');
      assert.equal(w.message.seq, sent.data.message.seq);
      // Presence and broadcasts arrive too.
      const b = nextEvent(s, 'broadcast');
      await ws.ok('broadcast', { room: r.id, event: 'ping', data: { n: 1 } });
      assert.deepEqual((await b)[0].data, { n: 1 });
    } finally {
      s.close();
      ws.ws.close();
    }
  });

  it('binary attachments are refused with an error; the connection stays usable', T, async () => {
    const s = await connect(port, { auth: { token: mkUser('Bin').token } });
    try {
      const r = await s.emitWithAck('echo', { data: Buffer.from([1, 2, 3]) });
      assert.equal(r.ok, false);
      assert.equal(r.error.code, 'unsupported');
      assert.deepEqual(await s.emitWithAck('echo', { data: 1 }), { op: 'reply', ref: 1, ok: true, data: 1 });
    } finally {
      s.close();
    }
  });

  it('limits: a message over --ws-max-message closes 1009; a bad packet closes 1002', T, async () => {
    const r = rawSio(port);
    await r.opened;
    await r.next('open packet');
    r.ws.send('40');
    await r.next('CONNECT');
    r.ws.send(`42["echo",{"data":"${'x'.repeat(5000)}"}]`);
    assert.equal(await r.closed, 1009);
    const b = rawSio(port);
    await b.opened;
    await b.next('open packet');
    b.ws.send('9');
    assert.equal(await b.closed, 1002);
  });

  it('bad EIO version or transport: 400 with a JSON error', T, async () => {
    let res = await fetchOnce(port, 'GET', '/socket.io/?EIO=3&transport=websocket');
    assertJsonError(res, 400, 'unsupported_protocol_version');
    res = await fetchOnce(port, 'GET', '/socket.io/?transport=websocket');
    assertJsonError(res, 400, 'unsupported_protocol_version');
    res = await fetchOnce(port, 'GET', '/socket.io/?EIO=4&transport=carrier-pigeon');
    assertJsonError(res, 400, 'unknown_transport');
  });
});

describe('socket.io keepalive', () => {
  it('the server pings on pingInterval; a client that never answers is dropped', T, async () => {
    const srv = await startServer({ args: [...ARGS, '--ws-ping-interval', '100ms', '--ws-pong-timeout', '100ms'] });
    try {
      // socket.io-client answers pings: it stays connected over several intervals.
      const s = await connect(srv.port);
      const r = rawSio(srv.port);
      await r.opened;
      const open = JSON.parse((await r.next('open')).slice(1));
      assert.equal(open.pingInterval, 100);
      assert.equal(await r.next('ping'), '2');
      assert.equal(await r.closed, 1006); // dropped without a close frame
      assert.equal(s.connected, true);
      assert.deepEqual(await s.emitWithAck('echo', { data: 2 }), { op: 'reply', ref: 0, ok: true, data: 2 });
      s.close();
    } finally {
      await srv.stop();
    }
  });
});

/** A polling session driven by hand over raw HTTP: its sid and the open packet. */
async function pollOpen(port, headers = {}) {
  const res = await fetchOnce(port, 'GET', '/socket.io/?EIO=4&transport=polling', { headers });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text[0], '0');
  return { res, open: JSON.parse(res.text.slice(1)) };
}

const pollPath = (sid) => `/socket.io/?EIO=4&transport=polling&sid=${sid}`;

/** A polling session of user, connected with its token and joined to the room code; what
 * it was sent read up to its join answer (ack 1). Returns its sid. */
async function pollMember(port, user, code) {
  const { open } = await pollOpen(port);
  const res = await fetchOnce(port, 'POST', pollPath(open.sid), {
    body: `40{"token":"${user.token}"}\x1e421["join",{"room":"${code}"}]`,
  });
  assert.equal(res.status, 200, res.text);
  for (let seen = ''; !seen.includes('431[');) {
    const g = await fetchOnce(port, 'GET', pollPath(open.sid));
    assert.equal(g.status, 200, g.text);
    seen += g.text;
  }
  return open.sid;
}

describe('socket.io over polling', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({
      args: [...ARGS, '--ws-max-message', '4KiB', '--origins', 'http://app.example'],
    });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('polling-only: socket.io-client connects, acks and events flow; a /ws user in the room sees it', T, async () => {
    const host = mkUser('Host');
    const guest = mkUser('Poller');
    const r = await createRoom(port, host, { name: 'polling' });
    const ws = await RoomWs.open(port, host);
    const s = await connect(port, { transports: ['polling'], auth: { token: guest.token } });
    try {
      assert.equal(s.io.engine.transport.name, 'polling');
      await ws.join(r.roomCode);
      assert.equal((await s.emitWithAck('join', { room: r.roomCode })).ok, true);
      const got = nextEvent(s, 'message', (e) => e.message.content === 'to the poller');
      await ws.ok('message', { room: r.id, type: 'user_text', content: 'to the poller' });
      assert.equal((await got)[0].message.userId, host.sub);
      const seen = ws.waitEvent((e) => e.op === 'message' && e.message.content === 'from the poller');
      const sent = await s.emitWithAck('message', { room: r.id, type: 'user_text', content: 'from the poller' });
      assert.equal((await seen).message.seq, sent.data.message.seq);
    } finally {
      s.close();
      ws.ws.close();
    }
  });

  it('default transports: polling, then the upgrade to websocket; the session and its room carry over', T, async () => {
    const u = mkUser('Up');
    const r = await createRoom(port, u, { name: 'upgrade' });
    const s = await connect(port, { transports: ['polling', 'websocket'], auth: { token: u.token } });
    try {
      assert.equal((await s.emitWithAck('join', { room: r.roomCode })).ok, true);
      if (s.io.engine.transport.name !== 'websocket')
        await withTimeout(new Promise((resolve) => s.io.engine.once('upgrade', resolve)), 5000, 'upgrade');
      assert.equal(s.io.engine.transport.name, 'websocket');
      const m = await s.emitWithAck('message', { room: r.id, type: 'user_text', content: 'after upgrade' });
      assert.equal(m.ok, true);
      assert.equal(m.data.message.content, 'after upgrade');
      const sid = s.io.engine.id;
      // The upgraded session no longer polls.
      const res = await fetchOnce(port, 'GET', pollPath(sid));
      assertJsonError(res, 400, 'unknown_sid');
    } finally {
      s.close();
    }
  });

  it('handshake, POST and held GET by hand; a second pending GET is refused and closes the session', T, async () => {
    const { open } = await pollOpen(port);
    assert.match(open.sid, /^[0-9a-f]{20}$/);
    assert.deepEqual(open.upgrades, ['websocket']);
    assert.equal(open.maxPayload, 4096);
    let res = await fetchOnce(port, 'POST', pollPath(open.sid), { body: '40' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok');
    res = await fetchOnce(port, 'GET', pollPath(open.sid));
    assert.match(res.text, /^40\{"sid":"[0-9a-f]{20}","pid":"[0-9a-f]{32}"\}$/);
    // Two packets in one POST, answered in one GET with the record separator.
    await fetchOnce(port, 'POST', pollPath(open.sid), { body: '421["echo",{"data":1}]\x1e422["echo",{"data":2}]' });
    res = await fetchOnce(port, 'GET', pollPath(open.sid));
    assert.deepEqual(res.text.split('\x1e'), [
      '431[{"op":"reply","ref":1,"ok":true,"data":1}]',
      '432[{"op":"reply","ref":2,"ok":true,"data":2}]',
    ]);
    // Nothing queued: the GET is held; a second one is refused and the session closed,
    // which answers the first with a close packet.
    const held = await HttpConn.open(port);
    held.send('GET', pollPath(open.sid));
    const first = held.response();
    // Let the first GET reach the server before the second.
    const probe = await fetchOnce(port, 'GET', '/healthz');
    assert.equal(probe.status, 200);
    res = await fetchOnce(port, 'GET', pollPath(open.sid));
    assertJsonError(res, 400, 'bad_request');
    assert.equal((await first).text, '1');
    held.close();
    res = await fetchOnce(port, 'POST', pollPath(open.sid), { body: '42["echo"]' });
    assertJsonError(res, 400, 'unknown_sid');
  });

  it('limits: a POST over maxPayload is 413 and closes the session; a bad payload is 400; an unknown sid is 400', T, async () => {
    const { open } = await pollOpen(port);
    let res = await fetchOnce(port, 'POST', pollPath(open.sid), { body: `42["echo",{"data":"${'x'.repeat(5000)}"}]` });
    assertJsonError(res, 413, 'payload_too_large');
    res = await fetchOnce(port, 'GET', pollPath(open.sid));
    assertJsonError(res, 400, 'unknown_sid');
    const b = await pollOpen(port);
    res = await fetchOnce(port, 'POST', pollPath(b.open.sid), { body: '4x\x1e' });
    assertJsonError(res, 400, 'bad_request');
    res = await fetchOnce(port, 'GET', pollPath('0123456789abcdef0123'));
    assertJsonError(res, 400, 'unknown_sid');
  });

  it('CORS follows --origins: an allowed Origin gets credentials headers and a preflight; another is 403', T, async () => {
    const { res } = await pollOpen(port, { Origin: 'http://app.example' });
    assert.equal(res.headers['access-control-allow-origin'], 'http://app.example');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    const pre = await fetchOnce(port, 'OPTIONS', '/socket.io/?EIO=4&transport=polling', {
      headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(pre.status, 204);
    assert.match(pre.headers['access-control-allow-methods'], /POST/);
    assert.equal(pre.headers['access-control-allow-origin'], 'http://app.example');
    const bad = await fetchOnce(port, 'GET', '/socket.io/?EIO=4&transport=polling', {
      headers: { Origin: 'http://evil.example' },
    });
    assertJsonError(bad, 403, 'forbidden');
    const badEio = await fetchOnce(port, 'GET', '/socket.io/?EIO=3&transport=polling');
    assertJsonError(badEio, 400, 'unsupported_protocol_version');
  });
});

describe('socket.io polling sessions: cleanup and bounds', () => {
  it('a session that stops polling is closed after pingInterval + pingTimeout', T, async () => {
    const srv = await startServer({ args: [...ARGS, '--ws-ping-interval', '100ms', '--ws-pong-timeout', '100ms'] });
    try {
      const { open } = await pollOpen(srv.port);
      // The ping comes in the next GET; never answered, the session goes.
      let res = await fetchOnce(srv.port, 'GET', pollPath(open.sid));
      assert.equal(res.text, '2');
      for (;;) {
        res = await fetchOnce(srv.port, 'GET', pollPath(open.sid));
        if (res.status !== 200) break;
        assert.equal(res.text, '1'); // the close packet, then the sid is unknown
      }
      assertJsonError(res, 400, 'unknown_sid');
    } finally {
      await srv.stop();
    }
  });

  it('a revoked token disconnects its Socket.IO sockets, websocket and polling ("io server disconnect")', T, async () => {
    const srv = await startServer({ args: ARGS });
    try {
      const acct = await register(srv.port);
      const other = await register(srv.port);
      const sockets = [];
      for (const transports of [['websocket'], ['polling'], ['polling', 'websocket']])
        sockets.push(await connect(srv.port, { transports, auth: { token: acct.token } }));
      const bystander = await connect(srv.port, { transports: ['polling'], auth: { token: other.token } });
      const gone = sockets.map((s) => nextEvent(s, 'disconnect'));
      assert.equal((await api(srv.port, 'POST', '/api/auth/logout', { token: acct.token })).status, 200);
      for (const g of gone) assert.equal((await g)[0], 'io server disconnect');
      assert.equal((await bystander.emitWithAck('echo', { data: 3 })).data, 3);
      bystander.close();
    } finally {
      await srv.stop();
    }
  });

  it('a polling client that does not poll while its output passes --ws-max-queue is closed', T, async () => {
    const srv = await startServer({ args: [...ARGS, '--ws-max-queue', '16KiB'] });
    try {
      const host = mkUser('Host');
      const reader = mkUser('Sleepy');
      const r = await createRoom(srv.port, host, { name: 'slow poller' });
      const ws = await RoomWs.open(srv.port, host);
      await ws.join(r.roomCode);
      const { open } = await pollOpen(srv.port);
      // The POST is answered before the join is done: wait until the room has the reader,
      // or the broadcasts below could go out before it is a member.
      const joined = ws.waitEvent('participant_joined');
      await fetchOnce(srv.port, 'POST', pollPath(open.sid), {
        body: `40{"token":"${reader.token}"}\x1e421["join",{"room":"${r.roomCode}"}]`,
      });
      assert.equal((await joined).participant.userId, reader.sub);
      // Its join answer and 20 KiB of broadcasts wait for a GET that never comes.
      const blob = 'x'.repeat(1000);
      for (let i = 0; i < 20; i++) await ws.ok('broadcast', { room: r.id, event: 'big', data: { blob } });
      const res = await fetchOnce(srv.port, 'GET', pollPath(open.sid));
      assertJsonError(res, 400, 'unknown_sid');
      // The other member is unaffected.
      assert.equal((await ws.ok('echo', { data: 1 })), 1);
      ws.ws.close();
    } finally {
      await srv.stop();
    }
  });

  it('two sessions that pass --ws-max-queue in the same broadcast are both closed after it', T, async () => {
    // Closing one inside the broadcast (its participant_left published there) once freed
    // what the broadcast was walking: ASan saw a use after free.
    const srv = await startServer({ args: [...ARGS, '--ws-max-queue', '16KiB'] });
    try {
      const host = mkUser('Host');
      const r = await createRoom(srv.port, host, { name: 'two sleepers' });
      const ws = await RoomWs.open(srv.port, host);
      await ws.join(r.roomCode);
      const a = await pollMember(srv.port, mkUser('A'), r.roomCode);
      const b = await pollMember(srv.port, mkUser('B'), r.roomCode);
      const drained = await fetchOnce(srv.port, 'GET', pollPath(a)); // B's participant_joined
      assert.match(drained.text, /participant_joined/);
      // From here both queues hold the same frames: one broadcast takes both over.
      const blob = 'x'.repeat(1000);
      for (let i = 0; i < 20; i++) await ws.ok('broadcast', { room: r.id, event: 'big', data: { blob } });
      for (const sid of [a, b]) assertJsonError(await fetchOnce(srv.port, 'GET', pollPath(sid)), 400, 'unknown_sid');
      assert.equal((await ws.ok('echo', { data: 1 })), 1);
      ws.ws.close();
    } finally {
      await srv.stop();
    }
  });

  it("a request pipelined behind a held GET runs after the broadcast that answers the GET; a client's close is answered ok", T, async () => {
    // Run from inside the broadcast, the POST below closed session A while the broadcast
    // was walking A's subscription (a use after free under ASan).
    const srv = await startServer({ args: ARGS });
    try {
      const host = mkUser('Host');
      const r = await createRoom(srv.port, host, { name: 'pipelined' });
      const ws = await RoomWs.open(srv.port, host);
      await ws.join(r.roomCode);
      const a = await pollMember(srv.port, mkUser('A'), r.roomCode);
      const b = await pollMember(srv.port, mkUser('B'), r.roomCode);
      await fetchOnce(srv.port, 'GET', pollPath(a)); // B's participant_joined
      const conn = await HttpConn.open(srv.port);
      try {
        conn.write(Buffer.concat([buildRequest('GET', pollPath(b)), buildRequest('POST', pollPath(a), { body: '1' })]));
        await ws.ok('echo', { data: 0 }); // the server read both: the GET is held, the POST waits
        await ws.ok('broadcast', { room: r.id, event: 'x', data: { n: 1 } });
        const got = await conn.response();
        assert.equal(got.status, 200);
        assert.match(got.text, /"x"/);
        const closed = await conn.response();
        assert.equal(closed.status, 200, closed.text);
        assert.equal(closed.text, 'ok');
      } finally {
        conn.close();
      }
      assertJsonError(await fetchOnce(srv.port, 'GET', pollPath(a)), 400, 'unknown_sid');
      assert.equal((await ws.ok('echo', { data: 1 })), 1);
      ws.ws.close();
    } finally {
      await srv.stop();
    }
  });

  it('behind --trusted-proxies a polling session is limited by the address the proxy forwarded', T, async () => {
    const srv = await startServer({ args: [...ARGS, '--trusted-proxies', '127.0.0.1', '--rate-ws-auth', '3/1m'] });
    try {
      const connectAs = async (ip, token) => {
        const headers = { 'X-Forwarded-For': ip };
        const { open } = await pollOpen(srv.port, headers);
        await fetchOnce(srv.port, 'POST', pollPath(open.sid), { headers, body: `40{"token":"${token}"}` });
        return (await fetchOnce(srv.port, 'GET', pollPath(open.sid), { headers })).text;
      };
      for (let i = 0; i < 3; i++) assert.match(await connectAs('10.0.0.1', 'nope'), /^44.*"unauthorized"/);
      assert.match(await connectAs('10.0.0.1', mkUser('C').token), /^44.*"rate_limited"/);
      // Another client behind the same proxy is not limited by the first one's failures.
      assert.match(await connectAs('10.0.0.2', mkUser('D').token), /^40\{"sid"/);
    } finally {
      await srv.stop();
    }
  });

  it('sessions count toward --max-connections-per-ip', T, async () => {
    const srv = await startServer({ args: [...ARGS, '--max-connections-per-ip', '3'] });
    try {
      // One keep-alive connection (1 of 3) opens two sessions (2 and 3): the third is refused.
      const conn = await HttpConn.open(srv.port);
      try {
        for (let i = 0; i < 2; i++) {
          const ok = await conn.request('GET', '/socket.io/?EIO=4&transport=polling');
          assert.equal(ok.status, 200, ok.text);
        }
        const res = await conn.request('GET', '/socket.io/?EIO=4&transport=polling');
        assertJsonError(res, 503, 'service_unavailable');
      } finally {
        conn.close();
      }
    } finally {
      await srv.stop();
    }
  });
});
