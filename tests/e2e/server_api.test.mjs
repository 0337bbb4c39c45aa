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
import { mkUser, roomWith, RoomWs } from './lib/rooms.mjs';
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
