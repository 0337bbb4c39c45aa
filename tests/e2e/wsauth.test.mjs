// wsauth.test.mjs: WebSocket authentication (docs/protocol.md "Authentication" and the
// `auth` op): the three ways to present a token, refused tokens at the handshake, the
// auth timeout, token expiry with its grace period and renewal, and re-auth rules.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { decodeJwt, FAST_HASH, mintJwt, nowSec, register, TEST_SECRET } from './lib/auth.mjs';
import { assertJsonError, fetchOnce } from './lib/http.mjs';
import { upgradeHeaders } from './lib/rawws.mjs';
import { makeTempDir, runCli, startServer } from './lib/server.mjs';
import { delay } from './lib/util.mjs';
import { assertErrorReply, JsonWs } from './lib/wsclient.mjs';

const T = { timeout: 20000 };
const AUTH_TIMEOUT_MS = 500;

/**
 * Resolves once the auth timeout has passed for every connection opened before: one opened
 * now that never authenticates is closed (1008) at its own deadline, which comes after
 * theirs. Waits exactly as long as that takes, not a fixed time.
 */
async function pastAuthTimeout(port) {
  const ctl = await JsonWs.open(port);
  assert.equal((await ctl.waitClose(AUTH_TIMEOUT_MS + 5000)).code, 1008);
}

/** Sends auth with a fresh ref and returns the reply. */
const auth = (c, token) => c.call('auth', { token });

/** Asserts the ok reply of auth for claims. */
function assertAuthOk(m, claims) {
  assert.deepEqual(m, {
    op: 'reply',
    ref: m.ref,
    ok: true,
    data: { user: { id: claims.sub, name: claims.name, color: claims.color }, expiresAt: claims.exp * 1000 },
  });
}

describe('WebSocket authentication', () => {
  let srv;
  let port;
  let ada; // a registered account {token, user, claims}
  let bob;
  before(async () => {
    srv = await startServer({
      args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--auth-timeout', `${AUTH_TIMEOUT_MS}ms`],
    });
    port = srv.port;
    ada = await register(port, { username: 'Ada' });
    bob = await register(port, { username: 'Bob' });
  });
  after(async () => {
    await srv?.stop();
  });

  const ext = (over = {}) => ({ sub: 'ext-user-1', name: 'Extern', color: '#123abc', iat: nowSec(), ...over });

  it('first message auth -> ok with data.user {id,name,color} and expiresAt = exp*1000; open past the timeout', T, async () => {
    const c = await JsonWs.open(port, { protocols: 'chorus.v1' });
    try {
      c.send({ op: 'auth', ref: 1, token: ada.token });
      const m = await c.next();
      assertAuthOk(m, ada.claims);
      assert.equal(m.ref, 1);
      assert.equal(m.data.user.id, ada.user.id);
      assert.equal(m.data.user.name, 'Ada');
      assert.equal(m.data.user.color, ada.user.color);
      await pastAuthTimeout(port);
      assert.equal(c.isOpen, true, `still open; close ${JSON.stringify(c.closeInfo)}`);
      await c.echo({ after: 'timeout' });
    } finally {
      c.close();
    }
  });

  it('auth with an app-backend token -> the user from its claims', T, async () => {
    const claims = ext({ exp: nowSec() + 600 });
    const c = await JsonWs.open(port);
    try {
      assertAuthOk(await auth(c, mintJwt(TEST_SECRET, claims)), claims);
    } finally {
      c.close();
    }
    // The longest sub allowed (128 bytes), at the handshake and by the auth op.
    const long = ext({ sub: 'L'.repeat(128), exp: nowSec() + 600 });
    const tok = mintJwt(TEST_SECRET, long);
    const h = await JsonWs.open(port, { headers: { Authorization: `Bearer ${tok}` } });
    try {
      await h.echo('long sub');
      assertAuthOk(await auth(h, tok), long);
    } finally {
      h.close();
    }
    const q = await JsonWs.open(port);
    try {
      assertAuthOk(await auth(q, tok), long);
    } finally {
      q.close();
    }
  });

  it('Authorization: Bearer at the handshake authenticates (open past the timeout, bound to that user)', T, async () => {
    const c = await JsonWs.open(port, { headers: { Authorization: `Bearer ${ada.token}` } });
    try {
      await pastAuthTimeout(port);
      assert.equal(c.isOpen, true, `still open; close ${JSON.stringify(c.closeInfo)}`);
      await c.echo('hello');
      // The connection is Ada's: another user is forbidden, Ada's own token renews.
      assertErrorReply(await auth(c, bob.token), c.nextRef - 1, 'forbidden');
      assertAuthOk(await auth(c, ada.token), ada.claims);
    } finally {
      c.close();
    }
  });

  it('?token= at the handshake authenticates (open past the timeout, bound to that user)', T, async () => {
    const c = await JsonWs.open(port, { path: `/ws?token=${encodeURIComponent(bob.token)}` });
    try {
      await pastAuthTimeout(port);
      assert.equal(c.isOpen, true, `still open; close ${JSON.stringify(c.closeInfo)}`);
      await c.echo([1, 2, 3]);
      assertErrorReply(await auth(c, ada.token), c.nextRef - 1, 'forbidden');
      assertAuthOk(await auth(c, bob.token), bob.claims);
    } finally {
      c.close();
    }
  });

  it('?token= among other query parameters', T, async () => {
    const c = await JsonWs.open(port, { path: `/ws?room=abc&token=${encodeURIComponent(ada.token)}&x=1` });
    try {
      await pastAuthTimeout(port);
      assert.equal(c.isOpen, true, `still open; close ${JSON.stringify(c.closeInfo)}`);
      assertErrorReply(await auth(c, bob.token), 1, 'forbidden');
    } finally {
      c.close();
    }
  });

  it('re-auth as a different user after the auth op -> forbidden; the connection stays as it was', T, async () => {
    const c = await JsonWs.open(port);
    try {
      assertAuthOk(await auth(c, ada.token), ada.claims);
      const m = await auth(c, bob.token);
      assertErrorReply(m, m.ref, 'forbidden');
      const ext1 = mintJwt(TEST_SECRET, ext());
      const m2 = await auth(c, ext1);
      assertErrorReply(m2, m2.ref, 'forbidden');
      await c.echo('still here');
      assertAuthOk(await auth(c, ada.token), ada.claims);
    } finally {
      c.close();
    }
  });

  it('before auth: echo works, unknown ops are unknown_op, a bad auth is unauthorized / bad_request', T, async () => {
    const c = await JsonWs.open(port);
    try {
      await c.echo({ pre: 'auth' });
      const u = await c.call('frobnicate');
      assertErrorReply(u, u.ref, 'unknown_op');
      for (const tok of [
        'garbage',
        mintJwt(TEST_SECRET, ext({ exp: nowSec() - 5 })),
        mintJwt(TEST_SECRET, ext(), { alg: 'none' }),
        mintJwt(TEST_SECRET, ext(), { alg: 'HS512' }),
        mintJwt(`${TEST_SECRET}-other`, ext()),
        mintJwt(TEST_SECRET, ext(), { noExp: true }),
        mintJwt(TEST_SECRET, ext({ nbf: nowSec() + 600 })),
      ]) {
        const m = await auth(c, tok);
        assertErrorReply(m, m.ref, 'unauthorized');
        assert.ok(m.error.message.length > 0, 'the message says why');
      }
      for (const fields of [{}, { token: 42 }, { token: null }, { token: ['x'] }]) {
        const ref = c.nextRef++;
        c.send({ op: 'auth', ref, ...fields });
        assertErrorReply(await c.next(), ref, 'bad_request');
      }
      await c.echo('still open');
    } finally {
      c.close();
    }
  });

  it(`no auth within --auth-timeout (${AUTH_TIMEOUT_MS} ms) -> close 1008 "authentication timeout"`, T, async () => {
    const t0 = Date.now();
    const c = await JsonWs.open(port);
    try {
      await c.echo('echo works unauthenticated');
      const m = await auth(c, 'not-a-token');
      assertErrorReply(m, m.ref, 'unauthorized');
      const info = await c.waitClose(3000);
      const elapsed = Date.now() - t0;
      assert.equal(info.code, 1008, `close code: ${JSON.stringify(info)}`);
      assert.equal(info.reason, 'authentication timeout');
      assert.ok(elapsed >= AUTH_TIMEOUT_MS - 50, `closed after the timeout, not before (${elapsed} ms)`);
      assert.ok(elapsed < 2000, `closed within ~2 s (${elapsed} ms)`);
    } finally {
      c.close();
    }
  });

  it('silent connection (sends nothing) is closed 1008 too', T, async () => {
    const t0 = Date.now();
    const c = await JsonWs.open(port);
    try {
      const info = await c.waitClose(3000);
      assert.equal(info.code, 1008);
      assert.ok(Date.now() - t0 < 2000, `within ~2 s (${Date.now() - t0} ms)`);
    } finally {
      c.close();
    }
  });

  for (const [name, make] of [
    ['garbage', () => 'garbage'],
    ['expired', () => mintJwt(TEST_SECRET, ext({ exp: nowSec() - 5 }))],
    ['alg none', () => mintJwt(TEST_SECRET, ext(), { alg: 'none' })],
    ['another secret', () => mintJwt(`${TEST_SECRET}-other`, ext())],
    ['tampered', () => {
      const [h, , s] = ada.token.split('.');
      const p = Buffer.from(JSON.stringify({ ...ada.claims, sub: bob.user.id })).toString('base64url');
      return `${h}.${p}.${s}`;
    }],
  ]) {
    it(`a refused token at the handshake (${name}) -> HTTP 401, by header and by query`, T, async () => {
      const tok = make();
      await assert.rejects(JsonWs.open(port, { headers: { Authorization: `Bearer ${tok}` } }),
        (e) => e.statusCode === 401, 'header');
      await assert.rejects(JsonWs.open(port, { path: `/ws?token=${encodeURIComponent(tok)}` }),
        (e) => e.statusCode === 401, 'query');
    });
  }

  it('the 401 at the handshake is a JSON unauthorized body', T, async () => {
    for (const opts of [
      { target: '/ws?token=garbage', headers: upgradeHeaders() },
      { target: '/ws', headers: upgradeHeaders({ Authorization: 'Bearer garbage' }) },
    ]) {
      const res = await fetchOnce(port, 'GET', opts.target, { headers: opts.headers });
      const j = assertJsonError(res, 401, 'unauthorized');
      assert.ok(j.error.message.length > 0);
    }
  });
});

// The cases wait for real seconds; they run at the same time.
describe('token expiry', { concurrency: true }, () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--token-grace', '1s'] });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  /** A token for sub that expires at the next whole second + secs (at least secs-1 s from now). */
  const shortToken = (sub, secs = 2) =>
    mintJwt(TEST_SECRET, { sub, name: 'Short', color: '#00ff00', iat: nowSec(), exp: nowSec() + secs });

  it('an expiring token: {op:"token_expired", graceMs:1000} then close 1008 "token expired"', T, async () => {
    const tok = shortToken('exp-user-1');
    const exp = decodeJwt(tok).payload.exp;
    const c = await JsonWs.open(port);
    try {
      const m = await auth(c, tok);
      assert.equal(m.ok, true, JSON.stringify(m));
      assert.equal(m.data.expiresAt, exp * 1000);
      const ev = await c.next(4000);
      const tExpired = Date.now();
      assert.deepEqual(ev, { op: 'token_expired', graceMs: 1000 });
      assert.ok(tExpired >= exp * 1000 - 100, `token_expired not before exp (${tExpired - exp * 1000} ms)`);
      assert.ok(tExpired <= exp * 1000 + 700, `token_expired soon after exp (${tExpired - exp * 1000} ms)`);
      // During the grace period echo still works.
      await c.echo('in grace');
      const info = await c.waitClose(3000);
      const grace = Date.now() - tExpired;
      assert.equal(info.code, 1008, JSON.stringify(info));
      assert.equal(info.reason, 'token expired');
      assert.ok(grace >= 900 && grace < 1800, `closed after the 1 s grace (${grace} ms)`);
    } finally {
      c.close();
    }
  });

  it('a token from the handshake expires the same way', T, async () => {
    const tok = shortToken('exp-user-2');
    const c = await JsonWs.open(port, { headers: { Authorization: `Bearer ${tok}` } });
    try {
      assert.deepEqual(await c.next(4000), { op: 'token_expired', graceMs: 1000 });
      assert.equal((await c.waitClose(3000)).code, 1008);
    } finally {
      c.close();
    }
  });

  it('on token_expired, auth with a fresh token (chorus token --ttl) keeps the connection open', T, async () => {
    const d = makeTempDir();
    try {
      const cli = await runCli(['token', '--user', 'exp-user-3', '--name', 'Cli', '--color', '#abcdef', '--ttl', '2',
        '--jwt-secret', TEST_SECRET, '--data', d]);
      assert.equal(cli.code, 0, cli.stderr);
      const tok = cli.stdout.trim();
      const p = decodeJwt(tok).payload;
      assert.equal(p.exp - p.iat, 2);
      const c = await JsonWs.open(port);
      try {
        assertAuthOk(await auth(c, tok), p);
        assert.deepEqual(await c.next(4000), { op: 'token_expired', graceMs: 1000 });
        // Another user's token does not rescue it.
        const wrong = await auth(c, shortToken('someone-else', 600));
        assertErrorReply(wrong, wrong.ref, 'forbidden');
        const freshClaims = { sub: 'exp-user-3', name: 'Cli', color: '#abcdef', iat: nowSec(), exp: nowSec() + 600 };
        assertAuthOk(await auth(c, mintJwt(TEST_SECRET, freshClaims)), freshClaims);
        await delay(2000);
        assert.equal(c.isOpen, true, `still open after the grace; close ${JSON.stringify(c.closeInfo)}`);
        await c.echo('renewed');
        assert.equal(c.queue.length, 0, `no other message: ${JSON.stringify(c.queue)}`);
      } finally {
        c.close();
      }
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('renewing before expiry cancels the expiry (no token_expired for the old token)', T, async () => {
    const c = await JsonWs.open(port);
    try {
      assert.equal((await auth(c, shortToken('exp-user-4', 2))).ok, true);
      const fresh = { sub: 'exp-user-4', name: 'Short', color: '#00ff00', iat: nowSec(), exp: nowSec() + 600 };
      assertAuthOk(await auth(c, mintJwt(TEST_SECRET, fresh)), fresh);
      await delay(3200);
      assert.equal(c.isOpen, true, `still open; close ${JSON.stringify(c.closeInfo)}`);
      await c.echo('no expiry');
      assert.equal(c.queue.length, 0, `no token_expired: ${JSON.stringify(c.queue)}`);
    } finally {
      c.close();
    }
  });
});
