// server_api.test.mjs: the server API for app backends (docs/api.md, "Backends"): API keys
// made by `chorus apikey create|list|revoke` (on the server's store: SQLite here, and
// PostgreSQL when make e2e-pg runs this file), the key check of every /api/server/ route,
// and the scoping both ways: a user's token is refused there, a key everywhere else.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { io } from 'socket.io-client';

import { api, FAST_HASH, register, TEST_SECRET } from './lib/auth.mjs';
import { assertJsonError } from './lib/http.mjs';
import { ON_PG, pgDatabaseFor } from './lib/pg.mjs';
import { mkUser, roomWith, RoomWs, until } from './lib/rooms.mjs';
import { runCli, startServer } from './lib/server.mjs';
import { withTimeout } from './lib/util.mjs';
import { JsonWs } from './lib/wsclient.mjs';

const T = { timeout: 30000 };
const ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];
const KEY_RE = /^chk_([0-9a-f]{16})_[0-9a-f]{64}$/;

/** Runs `chorus apikey ...args` on srv's database (its --data, or its PostgreSQL one). */
async function apikey(srv, ...args) {
  const store = ON_PG ? ['--store', await pgDatabaseFor(srv.dataDir)] : [];
  return runCli(['apikey', ...args, '--data', srv.dataDir, ...store], { timeoutMs: 10000 });
}

/** A new key on srv: {key, id}. */
export async function newKey(srv, name = 'backend') {
  const r = await apikey(srv, 'create', '--name', name);
  assert.equal(r.code, 0, r.stderr);
  const key = r.stdout.trim();
  const m = KEY_RE.exec(key);
  assert.ok(m, `a key: ${key}`);
  return { key, id: m[1] };
}

const whoami = (port, token, headers) => api(port, 'GET', '/api/server/whoami', { token, headers });

describe('API keys', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ARGS });
  });
  after(async () => {
    await srv?.stop();
  });

  it('create prints the key once, list shows it without the secret, revoke refuses it from the next request', T, async () => {
    const a = await newKey(srv, 'ai responder');
    const b = await newKey(srv, 'story engine');
    assert.notEqual(a.id, b.id);
    let res = await whoami(srv.port, a.key);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { success: true, key: { id: a.id } });
    let l = await apikey(srv, 'list');
    assert.equal(l.code, 0, l.stderr);
    const lines = l.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0], new RegExp(`^${a.id}  \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  -\\s+  ai responder$`));
    assert.match(lines[1], new RegExp(`^${b.id} .* story engine$`));
    assert.ok(!l.stdout.includes(a.key.slice(21)) && !l.stdout.includes(b.key.slice(21)), 'no secret listed');

    const r = await apikey(srv, 'revoke', a.id);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`revoked ${a.id} \\(ai responder\\)`));
    res = await whoami(srv.port, a.key);
    const j = assertJsonError(res, 401, 'invalid_api_key');
    assert.match(j.error.message, /revoked/);
    assert.equal((await whoami(srv.port, b.key)).status, 200);
    l = await apikey(srv, 'list');
    assert.match(l.stdout.split('\n')[0], new RegExp(`^${a.id}  \\S+Z  \\d{4}-\\S+Z  ai responder$`));
  });

  it('CLI refusals: exit 2 for bad usage, 1 for an unknown key', T, async () => {
    let r = await apikey(srv, 'create');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--name NAME is required/);
    r = await apikey(srv, 'create', '--name', 'x'.repeat(129));
    assert.equal(r.code, 2);
    r = await apikey(srv, 'revoke', 'nothex');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ID is required/);
    r = await apikey(srv, 'revoke', '0123456789abcdef');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no key 0123456789abcdef/);
    r = await apikey(srv, 'rotate');
    assert.equal(r.code, 2);
    r = await runCli(['apikey', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /chk_<id>_<secret>/);
  });

  it('a missing, malformed, unknown or forged key, or a user token, is 401 invalid_api_key', T, async () => {
    const { key, id } = await newKey(srv);
    const user = mkUser('Ada');
    const acct = await register(srv.port);
    const forged = `chk_${id}_${'0'.repeat(64)}`;
    const unknown = `chk_${'f'.repeat(16)}_${key.slice(21)}`;
    for (const token of [undefined, '', 'nope', user.token, acct.token, forged, unknown, key.toUpperCase(), `${key}0`]) {
      const res = await whoami(srv.port, token);
      assertJsonError(res, 401, 'invalid_api_key');
      assert.match(res.headers['www-authenticate'] ?? '', /^Bearer /);
    }
    // Basic, not Bearer: no key.
    assertJsonError(await whoami(srv.port, undefined, { Authorization: `Basic ${key}` }), 401, 'invalid_api_key');
    assert.equal((await whoami(srv.port, key)).status, 200);
  });

  it('a key is refused wherever a user token is expected: user routes, /ws, Socket.IO', T, async () => {
    const { key } = await newKey(srv);
    assertJsonError(await api(srv.port, 'GET', '/api/auth/me', { token: key }), 401, 'unauthorized');
    assertJsonError(await api(srv.port, 'GET', '/api/rooms', { token: key }), 401, 'unauthorized');
    assertJsonError(await api(srv.port, 'POST', '/api/rooms/create', { token: key, body: { name: 'x' } }), 401,
      'unauthorized');
    const err = await JsonWs.open(srv.port, { path: `/ws?token=${key}` }).then(() => null, (e) => e);
    assert.equal(err?.statusCode, 401);
    const ws = await JsonWs.open(srv.port);
    const m = await ws.call('auth', { token: key });
    assert.equal(m.error?.code, 'unauthorized', JSON.stringify(m));
    ws.close();
    const s = io(`http://127.0.0.1:${srv.port}`, { reconnection: false, transports: ['websocket'], auth: { token: key } });
    const e = await withTimeout(new Promise((resolve, reject) => {
      s.once('connect', () => reject(new Error('connected with an API key')));
      s.once('connect_error', resolve);
    }), 5000, 'socket.io connect_error');
    s.close();
    assert.equal(e.data.code, 'unauthorized');
  });
});

/** A socket.io-client socket of user on port, connected; transports as given. */
function sio(port, user, transports) {
  const s = io(`http://127.0.0.1:${port}`, { reconnection: false, transports, auth: { token: user.token } });
  return withTimeout(new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  }), 5000, 'socket.io connect');
}

describe('disconnect a user everywhere', () => {
  let srv;
  let key;
  before(async () => {
    srv = await startServer({ args: ARGS });
    ({ key } = await newKey(srv));
  });
  after(async () => {
    await srv?.stop();
  });

  it('closes every connection of the user (/ws 4001 with the reason, Socket.IO over WebSocket and polling); another user stays', T, async () => {
    const a = mkUser('Ada');
    const b = mkUser('Bob');
    const { room, cs } = await roomWith(srv.port, [b, a]);
    const [bWs, aWs1] = cs;
    const aWs2 = await RoomWs.open(srv.port, a);
    const aSioWs = await sio(srv.port, a, ['websocket']);
    const aSioPoll = await sio(srv.port, a, ['polling']);
    const bSio = await sio(srv.port, b, ['websocket']);
    const sioGone = (s) => withTimeout(new Promise((resolve) => s.once('disconnect', resolve)), 5000, 'socket.io disconnect');
    const gone = [sioGone(aSioWs), sioGone(aSioPoll)];
    const res = await api(srv.port, 'POST', `/api/server/users/${encodeURIComponent(a.sub)}/disconnect`,
      { token: key, body: { reason: 'moderation' } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { success: true, closed: 4 });
    for (const c of [aWs1, aWs2]) assert.deepEqual(await withTimeout(c.closed, 5000, 'close'), { code: 4001, reason: 'moderation' });
    assert.deepEqual(await Promise.all(gone), ['io server disconnect', 'io server disconnect']);
    // Bob's connections stay, and his room sees Ada leave.
    const left = await bWs.waitEvent((m) => m.op === 'participant_left' && m.userId === a.sub);
    assert.equal(left.room, room.id);
    await bWs.sync();
    assert.equal(bSio.connected, true);
    // Nobody left to close: 0, and no body is fine (the default reason).
    const again = await api(srv.port, 'POST', `/api/server/users/${encodeURIComponent(a.sub)}/disconnect`, { token: key });
    assert.deepEqual(again.json(), { success: true, closed: 0 });
    const a3 = await RoomWs.open(srv.port, a);
    const res3 = await api(srv.port, 'POST', `/api/server/users/${encodeURIComponent(a.sub)}/disconnect`, { token: key });
    assert.deepEqual(res3.json(), { success: true, closed: 1 });
    assert.deepEqual(await withTimeout(a3.closed, 5000, 'close'), { code: 4001, reason: 'disconnected by the app' });
    bSio.close();
    bWs.close();
  });

  it('refusals: a user token, a bad reason, a bad user id', T, async () => {
    const a = mkUser('Ada');
    const path = `/api/server/users/${encodeURIComponent(a.sub)}/disconnect`;
    assertJsonError(await api(srv.port, 'POST', path, { token: a.token }), 401, 'invalid_api_key');
    for (const reason of ['', 5, 'x'.repeat(101)]) {
      const j = assertJsonError(await api(srv.port, 'POST', path, { token: key, body: { reason } }), 400, 'validation_error');
      assert.equal(j.error.field, 'reason');
    }
    assertJsonError(await api(srv.port, 'POST', path, { token: key, body: [] }), 400, 'bad_request');
    assertJsonError(await api(srv.port, 'POST', path, { token: key, body: '{' }), 400, 'bad_json');
    const j = assertJsonError(await api(srv.port, 'POST', `/api/server/users/${'x'.repeat(129)}/disconnect`, { token: key }), 400,
      'validation_error');
    assert.equal(j.error.field, 'userId');
    assertJsonError(await api(srv.port, 'POST', '/api/server/users/a%00b/disconnect', { token: key }), 400, 'validation_error');
    assertJsonError(await api(srv.port, 'GET', path, { token: key }), 405, 'method_not_allowed');
  });
});

describe('server API routes (a member connected over /ws sees each effect)', () => {
  let srv;
  let key;
  let host;
  let member;
  let room;
  let hc;
  let mc;
  const call = (method, path, body) => api(srv.port, method, `/api/server${path}`, { token: key, body });
  before(async () => {
    srv = await startServer({ args: ARGS });
    ({ key } = await newKey(srv));
    host = mkUser('Host');
    member = mkUser('Mia');
    ({ room, cs: [hc, mc] } = await roomWith(srv.port, [host, member]));
  });
  after(async () => {
    hc?.close();
    mc?.close();
    await srv?.stop();
  });

  it('posts messages of any type as the app: next seq, author label, app flag, live and in history', T, async () => {
    const own = await mc.ok('message', { room: room.id, type: 'user_text', content: 'hi' });
    let res = await call('POST', `/rooms/${room.id}/messages`, { type: 'ai_response', content: 'Hello!', author: 'Assistant', metadata: { model: 'm1' } });
    assert.equal(res.status, 200, res.text);
    const m = res.json().message;
    assert.equal(m.seq, own.message.seq + 1);
    assert.equal(m.userId, null);
    assert.equal(m.displayName, 'Assistant');
    assert.equal(m.app, true);
    assert.deepEqual(m.metadata, { model: 'm1' });
    const live = await mc.waitEvent((e) => e.op === 'message' && e.message.seq === m.seq);
    assert.deepEqual(live.message, m);
    // system and app types too; the member's own message has no app flag.
    for (const type of ['system', 'x-turn_done']) {
      res = await call('POST', `/rooms/${room.roomCode}/messages`, { type, content: type, author: 'Engine' });
      assert.equal(res.status, 200, res.text);
    }
    res = await call('GET', `/rooms/${room.id}/messages?limit=10`);
    assert.equal(res.status, 200, res.text);
    const hist = res.json().messages.filter((x) => x.seq >= own.message.seq);
    assert.deepEqual(hist.map((x) => [x.type, x.app ?? false]),
      [['user_text', false], ['ai_response', true], ['system', true], ['x-turn_done', true]]);
    assert.deepEqual(hist[1], m);
    // The same checks as the message op.
    const bad = [
      [{ type: 'nope', content: 'x', author: 'A' }, 400, 'validation_error', 'type'],
      [{ type: 'ai_response', content: 5, author: 'A' }, 400, 'validation_error', 'content'],
      [{ type: 'ai_response', content: 'x', author: 'A', metadata: [] }, 400, 'validation_error', 'metadata'],
      [{ type: 'ai_response', content: 'x'.repeat(70000), author: 'A' }, 413, 'payload_too_large'],
      [{ type: 'ai_response', content: 'x' }, 400, 'validation_error', 'author'],
      [{ type: 'ai_response', content: 'x', author: 'a\u0007b' }, 400, 'validation_error', 'author'],
    ];
    for (const [body, status, code, field] of bad) {
      const j = assertJsonError(await call('POST', `/rooms/${room.id}/messages`, body), status, code);
      if (field) assert.equal(j.error.field, field, JSON.stringify(j));
    }
    assertJsonError(await call('POST', '/rooms/NOROOM/messages', { type: 'ai_response', content: 'x', author: 'A' }), 404, 'not_found');
    // Nothing refused took a seq: the next one follows.
    const next = await mc.ok('message', { room: room.id, type: 'user_text', content: 'after' });
    assert.equal(next.message.seq, m.seq + 3);
  });

  it('broadcasts an event, patches the state, lists participants with presence', T, async () => {
    let res = await call('POST', `/rooms/${room.id}/broadcast`, { event: 'story_update', data: { chapter: 2 } });
    assert.equal(res.status, 200, res.text);
    const b = await mc.waitEvent('broadcast');
    assert.deepEqual({ event: b.event, from: b.from, data: b.data }, { event: 'story_update', from: '', data: { chapter: 2 } });
    assertJsonError(await call('POST', `/rooms/${room.id}/broadcast`, { event: '' }), 400, 'validation_error');
    assertJsonError(await call('POST', `/rooms/${room.id}/broadcast`, { event: 'e', data: 'x'.repeat(70000) }), 413, 'payload_too_large');

    res = await call('PATCH', `/rooms/${room.id}/state`, { turn: 'Mia' });
    assert.equal(res.status, 200, res.text);
    const st = res.json();
    assert.deepEqual(st.state.turn, 'Mia');
    const ev = await mc.waitEvent('state');
    assert.equal(ev.stateVersion, st.stateVersion);
    assert.equal(ev.state.turn, 'Mia');
    assertJsonError(await call('PATCH', `/rooms/${room.id}/state`, [1]), 400, 'validation_error');

    await mc.call('presence', { room: room.id, state: { cursor: 7 } });
    await until(async () => {
      const j = (await call('GET', `/rooms/${room.id}/participants`)).json();
      const p = j.participants.find((x) => x.userId === member.sub);
      return p?.online && p.presence?.cursor === 7;
    }, 5000, 'the presence in the participants');
  });

  it('reads the presence of the participants online; a user token is refused on every server route', T, async () => {
    const late = mkUser('Lou');
    const lc = await RoomWs.open(srv.port, late);
    await lc.join(room.id);
    await lc.ok('presence', { room: room.id, state: { cursor: { x: 3, y: 4 } } });
    const read = async () => {
      const res = await call('GET', `/rooms/${room.roomCode}/presence`);
      assert.equal(res.status, 200, res.text);
      const j = res.json();
      assert.equal(j.success, true);
      return new Map(j.presence.map((p) => [p.userId, p]));
    };
    let p = await until(async () => {
      const m = await read();
      return m.get(late.sub)?.state.cursor ? m : null;
    }, 5000, 'the presence read');
    assert.deepEqual([...p.keys()].sort(), [host.sub, member.sub, late.sub].sort(), 'those online');
    const lou = p.get(late.sub);
    assert.deepEqual(Object.keys(lou).sort(), ['displayName', 'state', 'userId']);
    assert.equal(lou.displayName, 'Lou');
    assert.deepEqual(lou.state.cursor, { x: 3, y: 4 });
    assert.equal(typeof p.get(host.sub).state, 'object');
    // Offline: no longer listed (still a participant).
    lc.close();
    await hc.waitEvent((e) => e.op === 'participant_left' && e.userId === late.sub);
    p = await read();
    assert.ok(!p.has(late.sub) && p.has(member.sub));
    const parts = (await call('GET', `/rooms/${room.id}/participants`)).json().participants;
    assert.equal(parts.find((x) => x.userId === late.sub)?.online, false);
    assertJsonError(await call('GET', '/rooms/NOROOM/presence'), 404, 'not_found');
    // A user's token (even the host's) is no key, on any route of the server API.
    const routes = [['GET', '/whoami'], ['POST', '/tokens'], ['POST', '/rooms'], ['POST', `/users/${member.sub}/disconnect`],
      ['POST', `/rooms/${room.id}/messages`], ['GET', `/rooms/${room.id}/messages`], ['POST', `/rooms/${room.id}/broadcast`],
      ['PATCH', `/rooms/${room.id}/state`], ['POST', `/rooms/${room.id}/kick`], ['GET', `/rooms/${room.id}/participants`],
      ['GET', `/rooms/${room.id}/presence`], ['POST', `/rooms/${room.id}/entities`],
      ['PATCH', `/rooms/${room.id}/entities/e1`], ['DELETE', `/rooms/${room.id}/entities/e1`]];
    for (const [method, path] of routes) {
      const res = await api(srv.port, method, `/api/server${path}`, { token: host.token, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
      assertJsonError(res, 401, 'invalid_api_key');
    }
  });

  it('kicks a member (they get kicked and leave); creates a room for a user; mints a user token', T, async () => {
    const extra = mkUser('Kim');
    const kc = await RoomWs.open(srv.port, extra);
    await kc.join(room.id);
    let res = await call('POST', `/rooms/${room.id}/kick`, { userId: extra.sub, ban: true });
    assert.equal(res.status, 200, res.text);
    const left = await mc.waitEvent((e) => e.op === 'participant_left' && e.userId === extra.sub);
    assert.equal(left.reason, 'banned');
    await kc.err('join', { room: room.id }, 'banned');
    kc.close();
    assertJsonError(await call('POST', `/rooms/${room.id}/kick`, { userId: host.sub }), 400, 'bad_request');
    assertJsonError(await call('POST', `/rooms/${room.id}/kick`, {}), 400, 'validation_error');

    res = await call('POST', '/rooms', { hostId: 'app-user-1', hostName: 'Grace', name: 'Made by the app', maxParticipants: 5 });
    assert.equal(res.status, 201, res.text);
    const made = res.json().room;
    assert.equal(made.hostUserId, 'app-user-1');
    assert.equal(made.maxParticipants, 5);
    assertJsonError(await call('POST', '/rooms', { name: 'x' }), 400, 'validation_error');
    assertJsonError(await call('POST', '/rooms', { hostId: 'h', name: '' }), 400, 'validation_error');

    res = await call('POST', '/tokens', { userId: 'app-user-1', name: 'Grace', ttl: 60 });
    assert.equal(res.status, 200, res.text);
    const { token, expiresAt } = res.json();
    assert.ok(Math.abs(expiresAt - Date.now() - 60000) < 5000);
    const gc = await RoomWs.open(srv.port, { token });
    const joined = await gc.join(made.id);
    assert.equal(joined.room.id, made.id);
    gc.close();
    assertJsonError(await call('POST', '/tokens', { userId: 'u', ttl: 0 }), 400, 'validation_error');
    assertJsonError(await call('POST', '/tokens', { userId: 'u', ttl: 86401 }), 400, 'validation_error');
    assertJsonError(await call('POST', '/tokens', {}), 400, 'validation_error');
  });
});

describe('server API entities', () => {
  it('creates, updates and deletes entities as the host would; a member sees each entity event', T, async () => {
    const srv = await startServer({ args: ARGS });
    try {
      const { key } = await newKey(srv);
      const call = (method, path, body) => api(srv.port, method, `/api/server${path}`, { token: key, body });
      const host = mkUser('Host');
      const member = mkUser('Mia');
      const { room, cs: [hc, mc] } = await roomWith(srv.port, [host, member]);
      let res = await call('POST', `/rooms/${room.id}/entities`, { id: 'card-1', kind: 'card', data: { text: 'hi' } });
      assert.equal(res.status, 200, res.text);
      const created = res.json().entity;
      assert.equal(created.version, 1);
      let ev = await mc.waitEvent((e) => e.op === 'entity' && e.action === 'create');
      assert.deepEqual(ev.entity, created);
      assert.equal(ev.by, host.sub);
      res = await call('PATCH', `/rooms/${room.id}/entities/card-1`, { patch: { text: 'bye' }, baseVersion: 1 });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().entity.data.text, 'bye');
      ev = await mc.waitEvent((e) => e.op === 'entity' && e.action === 'update');
      assert.equal(ev.entity.version, 2);
      // The same refusals as the ops: a stale base, a taken id, a bad kind, a missing entity.
      assertJsonError(await call('PATCH', `/rooms/${room.id}/entities/card-1`, { patch: { a: 1 }, baseVersion: 1 }), 409, 'conflict');
      assertJsonError(await call('POST', `/rooms/${room.id}/entities`, { id: 'card-1', kind: 'card' }), 409, 'exists');
      const j = assertJsonError(await call('POST', `/rooms/${room.id}/entities`, { kind: '' }), 400, 'validation_error');
      assert.equal(j.error.field, 'kind');
      assertJsonError(await call('DELETE', `/rooms/${room.id}/entities/nope`), 404, 'not_found');
      // A member's owner-only entity: the app, with the host's rights, may delete it.
      const mine = await mc.ok('entity_create', { room: room.id, id: 'mine', kind: 'pin', ownerOnly: true });
      assert.equal(mine.entity.ownerOnly, true);
      res = await call('DELETE', `/rooms/${room.id}/entities/mine`);
      assert.equal(res.status, 200, res.text);
      ev = await hc.waitEvent((e) => e.op === 'entity' && e.action === 'delete' && e.id === 'mine');
      assert.equal(ev.by, host.sub);
      hc.close();
      mc.close();
    } finally {
      await srv.stop();
    }
  });
});
