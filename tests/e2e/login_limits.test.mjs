// login_limits.test.mjs: password guessing is limited per account as well as per address
// (docs/api.md "Rate limits"), --trusted-proxies decides whose X-Forwarded-For /
// Forwarded counts, and IPv6 clients share one per-IP bucket per /64.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';

import { api, FAST_HASH, register, uniqueEmail } from './lib/auth.mjs';
import { assertJsonError, HttpConn } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const PW = 'correct horse battery';

/** One JSON request from the local address from (127.0.0.x). */
async function apiFrom(from, port, method, target, { body, headers = {} } = {}) {
  const s = net.connect({ port, host: '127.0.0.1', localAddress: from });
  await new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  const c = new HttpConn(s);
  try {
    const raw = body === undefined ? undefined : JSON.stringify(body);
    const h = raw === undefined ? headers : { 'Content-Type': 'application/json', ...headers };
    return await c.request(method, target, { headers: h, body: raw });
  } finally {
    c.close();
  }
}

const guess = (i) => ({ password: `wrong-guess-${i}` });

describe('per-account login limit', () => {
  it('--rate-login-account 3/1m: guesses from 127.0.0.2 and 127.0.0.3 share one bucket; the 4th is 429', T, async () => {
    const srv = await startServer({ args: [...FAST_HASH, '--rate-auth', '1000/1m', '--rate-login-account', '3/1m'] });
    try {
      const acct = await register(srv.port);
      const other = await register(srv.port);
      for (let i = 0; i < 3; i++) {
        const from = i % 2 ? '127.0.0.3' : '127.0.0.2';
        const res = await apiFrom(from, srv.port, 'POST', '/api/auth/login', { body: { email: acct.email, ...guess(i) } });
        assertJsonError(res, 401, 'invalid_credentials');
      }
      for (const from of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
        const res = await apiFrom(from, srv.port, 'POST', '/api/auth/login', { body: { email: acct.email, ...guess(9) } });
        assertJsonError(res, 429, 'rate_limited');
        // 3 per minute: the next try comes within 20 s, never a long lock-out.
        const ra = Number(res.headers['retry-after']);
        assert.ok(ra >= 1 && ra <= 20, `Retry-After in 1..20: ${res.headers['retry-after']}`);
      }
      // The email's case and spaces do not make a new bucket.
      const res = await api(srv.port, 'POST', '/api/auth/login', { body: { email: ` ${acct.email.toUpperCase()} `, ...guess(10) } });
      assertJsonError(res, 429, 'rate_limited');
      // Another account from the same address is not affected.
      assert.equal((await api(srv.port, 'POST', '/api/auth/login', { body: { email: other.email, password: PW } })).status, 200);
    } finally {
      await srv.stop();
    }
  });

  it('only failures count; unknown emails are limited the same way (a 429 does not tell an account exists)', T, async () => {
    const srv = await startServer({ args: [...FAST_HASH, '--rate-auth', '1000/1m', '--rate-login-account', '2/1m'] });
    try {
      const acct = await register(srv.port);
      for (let i = 0; i < 5; i++) {
        assert.equal((await api(srv.port, 'POST', '/api/auth/login', { body: { email: acct.email, password: PW } })).status, 200);
      }
      const ghost = uniqueEmail('ghost');
      for (let i = 0; i < 2; i++) {
        assertJsonError(await api(srv.port, 'POST', '/api/auth/login', { body: { email: ghost, ...guess(i) } }), 401, 'invalid_credentials');
      }
      assertJsonError(await api(srv.port, 'POST', '/api/auth/login', { body: { email: ghost, ...guess(3) } }), 429, 'rate_limited');
    } finally {
      await srv.stop();
    }
  });
});

describe('--trusted-proxies', () => {
  const xff = (v) => ({ headers: { 'X-Forwarded-For': v } });

  it('X-Forwarded-For from a trusted proxy gives each client its own per-IP bucket', T, async () => {
    const srv = await startServer({ args: [...FAST_HASH, '--rate-auth', '2/1m', '--trusted-proxies', '127.0.0.1, 10.0.0.0/8'] });
    try {
      const login = (o) => api(srv.port, 'POST', '/api/auth/login', { body: { email: uniqueEmail(), ...guess(1) }, ...o });
      assert.equal((await login(xff('198.51.100.1'))).status, 401);
      assert.equal((await login(xff('198.51.100.1'))).status, 401);
      assertJsonError(await login(xff('198.51.100.1')), 429, 'rate_limited');
      // A spoofed left part changes nothing: the proxy appended the real client.
      assertJsonError(await login(xff('203.0.113.7, 198.51.100.1')), 429, 'rate_limited');
      // Trusted hops on the right are skipped.
      assertJsonError(await login(xff('198.51.100.1, 10.1.2.3')), 429, 'rate_limited');
      // Another client behind the same proxy has its own bucket.
      assert.equal((await login(xff('198.51.100.2')).then((r) => r.status)), 401);
      // Forwarded (RFC 7239) is read too, and wins over X-Forwarded-For.
      assertJsonError(await login({ headers: { Forwarded: 'for=198.51.100.1;proto=https', 'X-Forwarded-For': '198.51.100.3' } }),
        429, 'rate_limited');
      assert.equal((await login({ headers: { Forwarded: 'for="[2001:db8::1]:4711"' } })).status, 401);
    } finally {
      await srv.stop();
    }
  });

  it('from an address not in the list, forwarding headers are ignored', T, async () => {
    const srv = await startServer({ args: [...FAST_HASH, '--rate-auth', '2/1m', '--trusted-proxies', '10.0.0.1'] });
    try {
      const login = (ip) => api(srv.port, 'POST', '/api/auth/login', { body: { email: uniqueEmail(), ...guess(1) }, ...xff(ip) });
      assert.equal((await login('198.51.100.1')).status, 401);
      assert.equal((await login('198.51.100.2')).status, 401);
      assertJsonError(await login('198.51.100.3'), 429, 'rate_limited');
    } finally {
      await srv.stop();
    }
  });

  it('IPv6 clients share a per-IP bucket per /64', T, async () => {
    const srv = await startServer({ args: [...FAST_HASH, '--rate-auth', '2/1m', '--trusted-proxies', '127.0.0.1'] });
    try {
      const login = (ip) => api(srv.port, 'POST', '/api/auth/login', { body: { email: uniqueEmail(), ...guess(1) }, ...xff(ip) });
      assert.equal((await login('2001:db8:0:1::1')).status, 401);
      assert.equal((await login('2001:db8:0:1::2')).status, 401);
      assertJsonError(await login('2001:db8:0:1:ffff::3'), 429, 'rate_limited');
      assert.equal((await login('2001:db8:0:2::1')).status, 401, 'another /64');
    } finally {
      await srv.stop();
    }
  });

  it('an invalid list is refused at start', T, async () => {
    await assert.rejects(startServer({ args: ['--trusted-proxies', '10.0.0.0/99'] }), /trusted-proxies/);
  });
});
