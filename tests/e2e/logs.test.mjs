// logs.test.mjs: --log-format json lines with request ids (docs/operations.md "Logs"):
// every HTTP response carries X-Request-Id and its access line the same req_id (a trusted
// proxy's own id taken instead), a WebSocket or Socket.IO session's lines carry its upgrade
// request's id, and no password, token or secret reaches the log.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';

import { io } from 'socket.io-client';
import WebSocket from 'ws';

import { api, FAST_HASH, login, mintJwt, nowSec, register, TEST_SECRET } from './lib/auth.mjs';
import { fetchOnce, HttpConn } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';
import { withTimeout } from './lib/util.mjs';

const T = { timeout: 20000 };
const OUR_ID = /^[0-9a-f]{8}-[0-9a-f]+-[0-9]+$/;

/** The server's stderr lines so far, each parsed (every one must be JSON). */
function jsonLines(srv) {
  return srv.lines.map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      assert.fail(`a log line that is not JSON: ${l}`);
    }
  });
}

/** Resolves with the first JSON line that pred accepts (waits for it to be written). */
async function lineWhere(srv, pred) {
  const line = await srv.waitForLine((l) => {
    try {
      return pred(JSON.parse(l));
    } catch {
      return false;
    }
  }, 5000);
  return JSON.parse(line);
}

function getFrom(port, localAddress, headers) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    s.once('connect', async () => {
      const c = new HttpConn(s);
      try {
        resolve(await c.request('GET', '/healthz', { headers }));
      } catch (e) {
        reject(e);
      } finally {
        c.close();
      }
    });
    s.once('error', reject);
  });
}

/** Opens ws://…path; resolves with {ws, id: the 101's X-Request-Id}. */
function openWs(port, path) {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    let id;
    ws.once('upgrade', (res) => (id = res.headers['x-request-id']));
    ws.once('open', () => resolve({ ws, id }));
    ws.once('error', reject);
  }), 5000, 'WebSocket open');
}

describe('logs: request ids', () => {
  it('every response has X-Request-Id and its access line the same req_id', T, async () => {
    const srv = await startServer({ args: ['--log-format', 'json'] });
    try {
      const a = await fetchOnce(srv.port, 'GET', '/healthz');
      const b = await fetchOnce(srv.port, 'GET', '/no-such-file');
      for (const res of [a, b]) {
        const id = res.headers['x-request-id'];
        assert.match(id, OUR_ID);
        const line = await lineWhere(srv, (j) => j.msg === 'http' && j.req_id === id);
        assert.equal(line.status, res.status);
      }
      assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
      // Two requests on one keep-alive connection: the same connection, the next number.
      const s = net.connect({ port: srv.port, host: '127.0.0.1' });
      await new Promise((r) => s.once('connect', r));
      const c = new HttpConn(s);
      const one = (await c.request('GET', '/healthz')).headers['x-request-id'];
      const two = (await c.request('GET', '/healthz')).headers['x-request-id'];
      c.close();
      assert.equal(one.replace(/-[0-9]+$/, ''), two.replace(/-[0-9]+$/, ''));
      assert.equal(Number(two.split('-')[2]), Number(one.split('-')[2]) + 1);
    } finally {
      await srv.stop();
    }
  });

  it('a trusted proxy\'s X-Request-Id is taken; anyone else\'s, or a malformed one, is not', T, async () => {
    const srv = await startServer({ args: ['--log-format', 'json', '--trusted-proxies', '127.0.0.3'] });
    try {
      const proxied = await getFrom(srv.port, '127.0.0.3', { 'X-Request-Id': 'edge-42.a_b:c' });
      assert.equal(proxied.headers['x-request-id'], 'edge-42.a_b:c');
      await lineWhere(srv, (j) => j.msg === 'http' && j.req_id === 'edge-42.a_b:c');
      const direct = await getFrom(srv.port, '127.0.0.1', { 'X-Request-Id': 'spoofed-1' });
      assert.match(direct.headers['x-request-id'], OUR_ID);
      const bad = await getFrom(srv.port, '127.0.0.3', { 'X-Request-Id': 'a"b\\c' });
      assert.match(bad.headers['x-request-id'], OUR_ID);
      const long = await getFrom(srv.port, '127.0.0.3', { 'X-Request-Id': 'x'.repeat(65) });
      assert.match(long.headers['x-request-id'], OUR_ID);
      assert.ok(!srv.lines.some((l) => l.includes('spoofed-1')));
    } finally {
      await srv.stop();
    }
  });

  it('a WebSocket session\'s lines carry its upgrade request\'s id: auth refused, close code and reason', T, async () => {
    const srv = await startServer({ args: ['--log-format', 'json'] });
    try {
      const { ws, id } = await openWs(srv.port, '/ws');
      assert.match(id, OUR_ID);
      assert.equal((await lineWhere(srv, (j) => j.msg === 'http' && j.req_id === id)).status, 101);
      ws.send(JSON.stringify({ op: 'auth', ref: 1, token: 'not-a-token' }));
      const refused = await lineWhere(srv, (j) => j.req_id === id && /auth refused/.test(j.msg));
      assert.equal(refused.level, 'info');
      ws.close(4000, 'bye now');
      const closed = await lineWhere(srv, (j) => j.req_id === id && /websocket closed by/.test(j.msg));
      assert.match(closed.msg, /websocket closed by the client 4000 bye now$/);
      // A close the server decides: code and reason.
      const two = await openWs(srv.port, '/ws');
      two.ws.send('{not json');
      two.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      const policy = await lineWhere(srv, (j) => j.req_id === two.id && /websocket close /.test(j.msg));
      assert.match(policy.msg, /websocket close 1003 binary messages are not supported$/);
      for (const j of jsonLines(srv)) {
        assert.deepEqual(Object.keys(j).slice(0, 2), ['ts', 'level']);
        assert.equal(typeof j.msg, 'string');
      }
    } finally {
      await srv.stop();
    }
  });
});

describe('logs: no secrets', () => {
  it('no password, token or secret appears across register, login, ?token=, Authorization and Socket.IO auth', T, async () => {
    const srv = await startServer({
      args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--log-format', 'json', '--log-level', 'debug'],
    });
    const secrets = [TEST_SECRET];
    try {
      const password = 'Tr0ub4dor&3-horse';
      const reg = await register(srv.port, { password });
      secrets.push(password, reg.token);
      const session = await login(srv.port, reg.email, password);
      secrets.push(session.token);
      const wrong = 'wrong-Pa55word-123';
      secrets.push(wrong);
      assert.equal((await api(srv.port, 'POST', '/api/auth/login',
        { body: { email: reg.email, password: wrong } })).status, 401);
      const newPassword = 'An0ther-horse-battery';
      secrets.push(newPassword);
      await api(srv.port, 'POST', '/api/auth/password',
        { token: session.token, body: { currentPassword: password, newPassword } });
      assert.equal((await api(srv.port, 'GET', '/api/auth/me', { token: session.token })).status < 500, true);
      // A token in the query, a bad one too.
      const app = mintJwt(TEST_SECRET, { sub: 'app-user-7', name: 'Grace', iat: nowSec() });
      secrets.push(app);
      const { ws } = await openWs(srv.port, `/ws?token=${app}`);
      const badToken = `${app.slice(0, -4)}AAAA`;
      secrets.push(badToken);
      ws.send(JSON.stringify({ op: 'auth', ref: 1, token: badToken }));
      await new Promise((r) => ws.once('message', r));
      ws.close(1000);
      await new Promise((r) => ws.once('close', r));
      await assert.rejects(openWs(srv.port, `/ws?token=${badToken}`));
      // Socket.IO: a good and a refused auth.token.
      for (const token of [app, badToken]) {
        const s = io(`http://127.0.0.1:${srv.port}`, { reconnection: false, transports: ['websocket'], auth: { token } });
        await withTimeout(new Promise((resolve) => {
          s.once('connect', resolve);
          s.once('connect_error', resolve);
        }), 5000, 'socket.io');
        s.close();
      }
      await lineWhere(srv, (j) => /socket\.io auth refused/.test(j.msg));
      assert.ok(srv.lines.length > 10);
      for (const line of srv.lines) {
        for (const secret of secrets) {
          assert.ok(!line.includes(secret), `a log line holds a secret: ${line}`);
          // Nor a JWT's signature alone.
          if (secret.split('.').length === 3) assert.ok(!line.includes(secret.split('.')[2]), line);
        }
      }
    } finally {
      await srv.stop();
    }
  });
});
