// revoke.test.mjs: tokens can be revoked (docs/api.md "Sessions"): logout (this token),
// logout everywhere (the account's token epoch), password change and account deletion;
// WebSockets using a revoked token are closed 1008; revocations survive a restart;
// app-backend tokens (no jti / ep) keep working.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';

import { api, decodeJwt, FAST_HASH, login, mintJwt, register, TEST_SECRET } from './lib/auth.mjs';
import { assertJsonError } from './lib/http.mjs';
import { makeTempDir, startServer } from './lib/server.mjs';
import { JsonWs } from './lib/wsclient.mjs';

const T = { timeout: 30000 };
const PW = 'correct horse battery';
const ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];

const me = (port, token) => api(port, 'GET', '/api/auth/me', { token });
const ok = (res) => {
  assert.equal(res.status, 200, res.text);
  return res.json();
};
const openWs = (port, token) => JsonWs.open(port, { path: `/ws?token=${token}` });

async function assertRevoked(port, token) {
  const res = await me(port, token);
  const j = assertJsonError(res, 401, 'unauthorized');
  assert.match(j.error.message, /revoked/);
  const err = await openWs(port, token).then(() => null, (e) => e);
  assert.equal(err?.statusCode, 401, 'the handshake refuses it');
  const ws = await JsonWs.open(port);
  const m = await ws.call('auth', { token });
  assert.equal(m.error?.code, 'unauthorized', JSON.stringify(m));
  ws.close();
}

describe('token revocation', () => {
  it('tokens carry jti and ep; logout revokes this token only and closes its WebSockets with 1008', T, async () => {
    const srv = await startServer({ args: ARGS });
    try {
      const acct = await register(srv.port);
      const other = await login(srv.port, acct.email, PW);
      const c = decodeJwt(acct.token).payload;
      assert.match(c.jti, /^[0-9a-f]{32}$/);
      assert.equal(c.ep, 0);
      const wsA = await openWs(srv.port, acct.token);
      const wsB = await openWs(srv.port, other.token);
      assert.deepEqual(ok(await api(srv.port, 'POST', '/api/auth/logout', { token: acct.token })), { success: true });
      assert.equal((await wsA.waitClose()).code, 1008);
      await assertRevoked(srv.port, acct.token);
      ok(await me(srv.port, other.token));
      await wsB.echo('still here');
      wsB.close();
    } finally {
      await srv.stop();
    }
  });

  it('logout-all revokes every token of the account and closes every connection; a new login works', T, async () => {
    const srv = await startServer({ args: ARGS });
    try {
      const acct = await register(srv.port);
      const other = await login(srv.port, acct.email, PW);
      const wsA = await openWs(srv.port, acct.token);
      const wsB = await JsonWs.open(srv.port);
      assert.equal((await wsB.call('auth', { token: other.token })).ok, true);
      ok(await api(srv.port, 'POST', '/api/auth/logout-all', { token: acct.token }));
      assert.equal((await wsA.waitClose()).code, 1008);
      assert.equal((await wsB.waitClose()).code, 1008);
      await assertRevoked(srv.port, acct.token);
      await assertRevoked(srv.port, other.token);
      const fresh = await login(srv.port, acct.email, PW);
      assert.equal(fresh.claims.ep, 1);
      ok(await me(srv.port, fresh.token));
    } finally {
      await srv.stop();
    }
  });

  it('revocations survive a restart', T, async () => {
    const d = makeTempDir('chorus-e2e-data-');
    const start = () => startServer({ data: false, args: ['--data', d, ...ARGS] });
    let srv;
    try {
      srv = await start();
      const a = await register(srv.port);
      const b = await register(srv.port);
      const b2 = await login(srv.port, b.email, PW);
      ok(await api(srv.port, 'POST', '/api/auth/logout', { token: a.token }));
      ok(await api(srv.port, 'POST', '/api/auth/logout-all', { token: b.token }));
      await srv.stop();
      srv = await start();
      await assertRevoked(srv.port, a.token);
      await assertRevoked(srv.port, b2.token);
      ok(await me(srv.port, (await login(srv.port, b.email, PW)).token));
    } finally {
      if (srv) await srv.stop().catch(() => {});
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('password change: checks the current password, revokes older tokens, returns a fresh one', T, async () => {
    const srv = await startServer({ args: ARGS });
    try {
      const acct = await register(srv.port);
      const ws = await openWs(srv.port, acct.token);
      const change = (body) => api(srv.port, 'POST', '/api/auth/password', { token: acct.token, body });
      assertJsonError(await change({ currentPassword: 'not the password', newPassword: 'brand new secret' }), 401, 'invalid_credentials');
      const short = assertJsonError(await change({ currentPassword: PW, newPassword: 'short' }), 400, 'validation_error');
      assert.equal(short.error.field, 'newPassword');
      assert.equal(assertJsonError(await change({ newPassword: 'brand new secret' }), 400, 'validation_error').error.field, 'currentPassword');
      ok(await me(srv.port, acct.token)); // nothing changed yet
      const j = ok(await change({ currentPassword: PW, newPassword: 'brand new secret' }));
      assert.equal(j.success, true);
      assert.equal(decodeJwt(j.token).payload.ep, 1);
      assert.equal((await ws.waitClose()).code, 1008);
      await assertRevoked(srv.port, acct.token);
      ok(await me(srv.port, j.token));
      assertJsonError(await api(srv.port, 'POST', '/api/auth/login', { body: { email: acct.email, password: PW } }), 401, 'invalid_credentials');
      await login(srv.port, acct.email, 'brand new secret');
    } finally {
      await srv.stop();
    }
  });

  it('account deletion: needs the password, revokes every token, frees the email', T, async () => {
    const srv = await startServer({ args: ARGS });
    try {
      const acct = await register(srv.port);
      const ws = await openWs(srv.port, acct.token);
      assertJsonError(await api(srv.port, 'DELETE', '/api/users/me', { token: acct.token, body: { password: 'nope nope nope' } }),
        401, 'invalid_credentials');
      ok(await me(srv.port, acct.token));
      ok(await api(srv.port, 'DELETE', '/api/users/me', { token: acct.token, body: { password: PW } }));
      assert.equal((await ws.waitClose()).code, 1008);
      await assertRevoked(srv.port, acct.token);
      // Even a token an app backend mints for the deleted id is refused.
      await assertRevoked(srv.port, mintJwt(TEST_SECRET, { sub: acct.user.id }));
      assertJsonError(await api(srv.port, 'POST', '/api/auth/login', { body: { email: acct.email, password: PW } }), 401, 'invalid_credentials');
      await register(srv.port, { email: acct.email });
    } finally {
      await srv.stop();
    }
  });

  it('app-backend tokens (no jti, no ep) keep working and cannot be revoked alone', T, async () => {
    const srv = await startServer({ args: ARGS });
    try {
      const tok = mintJwt(TEST_SECRET, { sub: 'app-user-1', name: 'App' });
      ok(await me(srv.port, tok));
      assertJsonError(await api(srv.port, 'POST', '/api/auth/logout', { token: tok }), 400, 'not_revocable');
      assertJsonError(await api(srv.port, 'POST', '/api/auth/logout-all', { token: tok }), 404, 'not_found');
      ok(await me(srv.port, tok));
      const ws = await openWs(srv.port, tok);
      await ws.echo(1);
      ws.close();
      // A malformed ep is refused like any malformed claim.
      assertJsonError(await me(srv.port, mintJwt(TEST_SECRET, { sub: 'x', ep: 'one' })), 401, 'unauthorized');
    } finally {
      await srv.stop();
    }
  });

  it('--revocations-max 1: a revocation past the bound is 503 revocations_full, nothing changes', T, async () => {
    const srv = await startServer({ args: [...ARGS, '--revocations-max', '1'] });
    try {
      const a = await register(srv.port);
      const b = await register(srv.port);
      ok(await api(srv.port, 'POST', '/api/auth/logout', { token: a.token }));
      const res = await api(srv.port, 'POST', '/api/auth/logout', { token: b.token });
      assertJsonError(res, 503, 'revocations_full');
      assert.match(res.headers['retry-after'] ?? '', /^\d+$/);
      ok(await me(srv.port, b.token));
    } finally {
      await srv.stop();
    }
  });
});
