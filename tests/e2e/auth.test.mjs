// auth.test.mjs: accounts and tokens over REST (docs/api.md "The REST API"): register,
// login, me, profile update, every validation error, app-backend tokens and refused
// tokens, `chorus token`, the generated secret, persistence across a restart, the
// auth rate limit, the audit table and pipelining of asynchronous API requests.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  api, assertSession, decodeJwt, FAST_HASH, login, mintJwt, nowSec, register,
  TEST_SECRET, uniqueEmail,
} from './lib/auth.mjs';
import { assertJsonError, buildRequest, HttpConn } from './lib/http.mjs';
import { makeTempDir, runCli, startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const PW = 'correct horse battery';

/** Asserts a 400 validation_error naming field. */
function assertValidation(res, field) {
  const j = assertJsonError(res, 400, 'validation_error');
  assert.equal(j.error.field, field, `error.field in ${res.text}`);
  return j;
}

/** Asserts 401 unauthorized with the WWW-Authenticate challenge. */
function assertUnauthorized(res) {
  const j = assertJsonError(res, 401, 'unauthorized');
  assert.equal(res.headers['www-authenticate'], 'Bearer realm="chorus"', 'WWW-Authenticate header');
  return j;
}

/** Starts a server on an existing data dir (kept on stop; the caller removes it). */
function startOnData(dataDir, args = []) {
  return startServer({ data: false, args: ['--data', dataDir, ...FAST_HASH, ...args] });
}

describe('register, login, me, PATCH users/me', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({
      args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--rate-auth', '10000/1m', '--http-max-body', '4KiB'],
    });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('register -> 201 {success, token, user_id, user}; email trimmed and lower-cased; 24 h token', T, async () => {
    const email = uniqueEmail('Ada.Lovelace').toUpperCase();
    const res = await api(port, 'POST', '/api/auth/register', {
      body: { email: `  ${email}  `, password: PW, username: 'Ada' },
    });
    const { token, user, claims } = assertSession(res, 201, { email: email.toLowerCase(), username: 'Ada' });
    const { header, payload } = decodeJwt(token);
    assert.equal(header.alg, 'HS256');
    assert.deepEqual(Object.keys(payload).sort(), ['color', 'ep', 'exp', 'iat', 'jti', 'name', 'sub'], JSON.stringify(payload));
    assert.equal(claims.sub, user.id);
    assert.equal(claims.exp - claims.iat, 86400, 'default --jwt-ttl is 24 h');
  });

  it('two accounts get different ids', T, async () => {
    const a = await register(port);
    const b = await register(port);
    assert.notEqual(a.user.id, b.user.id);
  });

  it('login -> 200 with the same shape and the same user; the email is case-insensitive', T, async () => {
    const acct = await register(port, { username: 'Grace' });
    for (const email of [acct.email, acct.email.toUpperCase(), `  ${acct.email}  `]) {
      const s = await login(port, email, PW);
      assert.deepEqual(s.user, acct.user, `login as ${email}`);
      assert.equal(s.claims.exp - s.claims.iat, 86400);
    }
  });

  it('wrong password and unknown email give identical 401 invalid_credentials bodies', T, async () => {
    const acct = await register(port);
    const wrong = await api(port, 'POST', '/api/auth/login', { body: { email: acct.email, password: `${PW}!` } });
    const unknown = await api(port, 'POST', '/api/auth/login', { body: { email: uniqueEmail('nobody'), password: PW } });
    assertJsonError(wrong, 401, 'invalid_credentials');
    assertJsonError(unknown, 401, 'invalid_credentials');
    assert.equal(wrong.text, unknown.text, 'same body for both');
    assert.equal(wrong.headers['content-length'], unknown.headers['content-length']);
    assert.equal(wrong.headers['www-authenticate'], undefined, 'no bearer challenge on a login failure');
    // Also a password differing only in case.
    assertJsonError(await api(port, 'POST', '/api/auth/login', { body: { email: acct.email, password: PW.toUpperCase() } }),
      401, 'invalid_credentials');
  });

  it('login: a missing or non-string field -> 400 validation_error naming it', T, async () => {
    const L = (body) => api(port, 'POST', '/api/auth/login', { body });
    assertValidation(await L({ password: PW }), 'email');
    assertValidation(await L({ email: uniqueEmail() }), 'password');
    assertValidation(await L({ email: 42, password: PW }), 'email');
    assertValidation(await L({ email: uniqueEmail(), password: null }), 'password');
    assertValidation(await L({ email: uniqueEmail(), password: ['x'] }), 'password');
    assertJsonError(await L([]), 400, 'bad_request');
    assertJsonError(await L('{"email":'), 400, 'bad_json');
  });

  it('me with the token -> 200 {success, user}', T, async () => {
    const acct = await register(port, { username: 'Me Myself' });
    const res = await api(port, 'GET', '/api/auth/me', { token: acct.token });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { success: true, user: acct.user });
  });

  it('me without a token (or not a Bearer one) -> 401 unauthorized with WWW-Authenticate', T, async () => {
    assertUnauthorized(await api(port, 'GET', '/api/auth/me'));
    const acct = await register(port);
    assertUnauthorized(await api(port, 'GET', '/api/auth/me', { headers: { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } }));
    assertUnauthorized(await api(port, 'GET', '/api/auth/me', { headers: { Authorization: acct.token } }));
    assertUnauthorized(await api(port, 'GET', '/api/auth/me', { headers: { Authorization: 'Bearer ' } }));
  });

  it('me with a garbage, tampered or expired token -> 401', T, async () => {
    const acct = await register(port);
    const [h, p, s] = acct.token.split('.');
    const claims = decodeJwt(acct.token).payload;
    const forged = Buffer.from(JSON.stringify({ ...claims, name: 'Mallory' })).toString('base64url');
    const otherSig = mintJwt('x'.repeat(40), claims).split('.')[2];
    for (const [what, tok] of [
      ['garbage', 'garbage'],
      ['two parts', `${h}.${p}`],
      ['four parts', `${acct.token}.x`],
      ['bad base64 payload', `${h}.!!!!.${s}`],
      ['payload changed, old signature', `${h}.${forged}.${s}`],
      ['signature of other content', `${h}.${p}.${otherSig}`],
      ['empty signature', `${h}.${p}.`],
      ['expired (signed with the right secret)', mintJwt(TEST_SECRET, { ...claims, iat: nowSec() - 7200, exp: nowSec() - 10 })],
    ]) {
      const res = await api(port, 'GET', '/api/auth/me', { token: tok });
      assert.equal(res.status, 401, `${what}: ${res.text}`);
      assertUnauthorized(res);
    }
    // The original still works.
    assert.equal((await api(port, 'GET', '/api/auth/me', { token: acct.token })).status, 200);
  });

  it('PATCH /api/users/me username and color -> 200 {success, user, token} with new claims', T, async () => {
    const acct = await register(port, { username: 'Before' });
    const res = await api(port, 'PATCH', '/api/users/me', { token: acct.token, body: { username: 'After', color: '#22c55e' } });
    assert.equal(res.status, 200, res.text);
    const j = res.json();
    assert.deepEqual(Object.keys(j).sort(), ['success', 'token', 'user']);
    assert.equal(j.success, true);
    assert.deepEqual(j.user, { ...acct.user, username: 'After', color: '#22c55e' });
    const c = decodeJwt(j.token).payload;
    assert.equal(c.sub, acct.user.id);
    assert.equal(c.name, 'After');
    assert.equal(c.color, '#22c55e');
    assert.equal(c.exp - c.iat, 86400);
    for (const tok of [j.token, acct.token]) {
      const me = await api(port, 'GET', '/api/auth/me', { token: tok });
      assert.equal(me.status, 200, me.text);
      assert.deepEqual(me.json().user, j.user, 'me shows the update (with the new and the old token)');
    }
    // One field at a time.
    const r2 = await api(port, 'PATCH', '/api/users/me', { token: j.token, body: { color: '#0000ff' } });
    assert.equal(r2.status, 200, r2.text);
    assert.deepEqual(r2.json().user, { ...j.user, color: '#0000ff' });
    assert.equal(decodeJwt(r2.json().token).payload.name, 'After');
    const r3 = await api(port, 'PATCH', '/api/users/me', { token: j.token, body: { username: '  Trimmed  ' } });
    assert.equal(r3.status, 200, r3.text);
    assert.deepEqual(r3.json().user, { ...j.user, username: 'Trimmed', color: '#0000ff' });
    // Login returns the updated profile.
    assert.deepEqual((await login(port, acct.email, PW)).user, r3.json().user);
  });

  it('PATCH /api/users/me: usernames of exactly 32 code points are accepted', T, async () => {
    const acct = await register(port);
    for (const name of ['x'.repeat(32), 'é'.repeat(32), '😀'.repeat(32)]) {
      const res = await api(port, 'PATCH', '/api/users/me', { token: acct.token, body: { username: name } });
      assert.equal(res.status, 200, `${name}: ${res.text}`);
      assert.equal(res.json().user.username, name);
    }
  });

  it('PATCH /api/users/me: bad input -> 400 validation_error with field', T, async () => {
    const acct = await register(port);
    const P = (body) => api(port, 'PATCH', '/api/users/me', { token: acct.token, body });
    for (const color of ['red', '#12345', '#1234567', '#12345g', '112233', '', 123, null]) {
      assertValidation(await P({ color }), 'color');
    }
    for (const username of ['', '   ', 'x'.repeat(33), 'é'.repeat(33), 'Ada\u0007', 'A\nB', 'tab\there', 'del\u007f', 5, null, ['Ada']]) {
      assertValidation(await P({ username }), 'username');
    }
    assertValidation(await P({ email: 'new@example.com' }), 'email');
    assertValidation(await P({ username: 'Ok', password: 'newpassword' }), 'password');
    const empty = assertJsonError(await P({}), 400, 'validation_error');
    assert.equal(typeof empty.error.field, 'string', 'an empty object names a field');
    assertJsonError(await P([]), 400, 'bad_request');
    assertJsonError(await P('{"username":'), 400, 'bad_json');
    // Nothing changed.
    const me = await api(port, 'GET', '/api/auth/me', { token: acct.token });
    assert.deepEqual(me.json().user, acct.user);
    // And without a token.
    assertUnauthorized(await api(port, 'PATCH', '/api/users/me', { body: { username: 'x' } }));
  });

  describe('register: every bad input', () => {
    const good = () => ({ email: uniqueEmail('bad'), password: PW, username: 'Ada' });
    const R = (body) => api(port, 'POST', '/api/auth/register', { body });

    for (const field of ['email', 'password', 'username']) {
      it(`missing ${field} -> 400 validation_error field=${field}`, T, async () => {
        const b = good();
        delete b[field];
        assertValidation(await R(b), field);
      });
      for (const [tname, v] of [['a number', 12345678], ['null', null], ['an array', ['a@example.com']], ['an object', {}], ['true', true]]) {
        it(`${field} is ${tname} -> 400 validation_error field=${field}`, T, async () => {
          assertValidation(await R({ ...good(), [field]: v }), field);
        });
      }
    }

    for (const [name, text] of [
      ['truncated', '{"email":"a@example.com",'],
      ['a trailing comma', '{"email":"a@example.com","password":"12345678","username":"A",}'],
      ['single quotes', "{'email':'a@example.com'}"],
      ['a bare word', 'register'],
    ]) {
      it(`invalid JSON (${name}) -> 400 bad_json with line and column`, T, async () => {
        const j = assertJsonError(await R(text), 400, 'bad_json');
        assert.match(j.error.message, /line \d+/, j.error.message);
        assert.match(j.error.message, /column \d+/, j.error.message);
      });
    }

    it('duplicate keys -> 400 bad_json', T, async () => {
      const e = uniqueEmail();
      assertJsonError(await R(`{"email":"${e}","email":"${e}","password":"${PW}","username":"A"}`), 400, 'bad_json');
    });

    for (const [name, text] of [['an array', '[]'], ['an array of an object', JSON.stringify([good()])], ['a string', '"x"'], ['a number', '42'], ['null', 'null']]) {
      it(`a JSON body that is ${name} -> 400 bad_request`, T, async () => {
        assertJsonError(await R(text), 400, 'bad_request');
      });
    }

    it('no body -> 400', T, async () => {
      const res = await api(port, 'POST', '/api/auth/register', { headers: { 'Content-Length': '0' } });
      assert.equal(res.status, 400, res.text);
      assert.ok(['bad_request', 'bad_json'].includes(res.json().error.code), res.text);
    });

    it('a body over --http-max-body (4 KiB) -> 413 payload_too_large, connection closed', T, async () => {
      const c = await HttpConn.open(port);
      try {
        const body = JSON.stringify({ ...good(), username: 'x'.repeat(5000) });
        const res = await c.request('POST', '/api/auth/register', { body, headers: { 'Content-Type': 'application/json' } });
        assertJsonError(res, 413, 'payload_too_large');
        await c.waitClosed();
      } finally {
        c.close();
      }
    });

    for (const email of [
      'plainaddress', '@example.com', 'ada@', 'ada@@example.com', 'ada example@example.com',
      'adé@example.com', 'ada@exämple.com', '', '   ', 'ada@exa mple.com',
      `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(58)}.com`, // 255 bytes
    ]) {
      it(`bad email ${JSON.stringify(email.length > 40 ? `${email.slice(0, 20)}…(${email.length} bytes)` : email)} -> field=email`, T, async () => {
        assertValidation(await R({ ...good(), email }), 'email');
      });
    }

    it('an email of exactly 254 bytes is accepted', T, async () => {
      const local = `${process.pid}-${Date.now()}`.padEnd(64, 'a').slice(0, 64);
      const email = `${local}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
      assert.equal(email.length, 254);
      const res = await R({ email, password: PW, username: 'Long' });
      assertSession(res, 201, { email });
    });

    for (const [name, password] of [['7 bytes', '1234567'], ['1025 bytes', 'p'.repeat(1025)], ['empty', '']]) {
      it(`password of ${name} -> field=password`, T, async () => {
        assertValidation(await R({ ...good(), password }), 'password');
      });
    }

    it('passwords of exactly 8 and 1024 bytes are accepted (bytes, not characters)', T, async () => {
      for (const password of ['12345678', 'p'.repeat(1024), 'éééé']) {
        const acct = await register(port, { password });
        await login(port, acct.email, password);
      }
    });

    for (const [name, username] of [
      ['empty', ''], ['only spaces', '    '], ['33 characters', 'u'.repeat(33)],
      ['a BEL control character', 'Ada\u0007'], ['a newline inside', 'Ada\nLovelace'],
      ['an escape character', '\u001b[31mred'], ['DEL', 'A\u007fB'],
    ]) {
      it(`username ${name} -> field=username`, T, async () => {
        assertValidation(await R({ ...good(), username }), 'username');
      });
    }

    it('duplicate email -> 409 email_taken (also in another case and with spaces)', T, async () => {
      const acct = await register(port);
      for (const email of [acct.email, acct.email.toUpperCase(), ` ${acct.email} `]) {
        const res = await R({ email, password: 'another password', username: 'Twin' });
        assertJsonError(res, 409, 'email_taken');
      }
      // The original password still logs in.
      await login(port, acct.email, PW);
    });
  });

  it('a wrong method on an API route -> 405 with Allow', T, async () => {
    for (const [method, target, allow] of [
      ['GET', '/api/auth/register', 'POST'],
      ['PUT', '/api/auth/login', 'POST'],
      ['POST', '/api/auth/me', 'GET'],
      ['PUT', '/api/users/me', 'PATCH, DELETE'],
      ['GET', '/api/users/me', 'PATCH, DELETE'],
    ]) {
      const res = await api(port, method, target, method === 'GET' ? {} : { body: {} });
      assertJsonError(res, 405, 'method_not_allowed');
      assert.equal(res.headers.allow, allow, `Allow for ${method} ${target}`);
    }
  });

  it('an unknown path under /api/ -> 404 not_found (with or without a token)', T, async () => {
    const acct = await register(port);
    for (const target of ['/api/nope', '/api/auth', '/api/auth/', '/api/auth/register/extra', '/api/users', '/api/users/me/x', '/api/AUTH/login']) {
      assertJsonError(await api(port, 'GET', target), 404, 'not_found');
      assertJsonError(await api(port, 'POST', target, { token: acct.token, body: {} }), 404, 'not_found');
    }
  });

  it('keep-alive + pipelining: async API responses come back in request order', T, async () => {
    const acct = await register(port);
    const c = await HttpConn.open(port);
    try {
      const json = { 'Content-Type': 'application/json' };
      c.write(Buffer.concat([
        buildRequest('POST', '/api/auth/login', { headers: json, body: JSON.stringify({ email: acct.email, password: 'wrong password' }) }),
        buildRequest('GET', '/healthz'),
        buildRequest('GET', '/api/auth/me'),
        buildRequest('POST', '/api/auth/register', { headers: json, body: JSON.stringify({ email: uniqueEmail('pipe'), password: PW, username: 'Pipe' }) }),
        buildRequest('GET', '/api/auth/me', { headers: { Authorization: `Bearer ${acct.token}` } }),
        buildRequest('POST', '/api/auth/login', { headers: json, body: JSON.stringify({ email: acct.email, password: PW }) }),
        buildRequest('GET', '/healthz'),
      ]));
      assertJsonError(await c.response(), 401, 'invalid_credentials');
      const h1 = await c.response();
      assert.equal(h1.status, 200);
      assert.deepEqual(h1.json(), { status: 'ok' });
      assertUnauthorized(await c.response());
      assertSession(await c.response(), 201, { username: 'Pipe' });
      const me = await c.response();
      assert.equal(me.status, 200, me.text);
      assert.equal(me.json().user.id, acct.user.id);
      const lg = assertSession(await c.response(), 200);
      assert.equal(lg.user.id, acct.user.id);
      assert.equal((await c.response()).status, 200);
      // Still open for one more.
      const again = await c.request('GET', '/api/auth/me', { headers: { Authorization: `Bearer ${lg.token}` } });
      assert.equal(again.status, 200, again.text);
      assert.equal(c.done, false, 'keep-alive: the connection is still open');
    } finally {
      c.close();
    }
  });
});

describe('tokens', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: [...FAST_HASH, '--jwt-secret', TEST_SECRET] });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  const ext = () => ({ sub: 'ext-user-1', name: 'Extern Al', color: '#123abc', iat: nowSec() });

  it('an app-backend HS256 token: me -> the user from the claims, email null', T, async () => {
    const tok = mintJwt(TEST_SECRET, ext());
    const res = await api(port, 'GET', '/api/auth/me', { token: tok });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { success: true, user: { id: 'ext-user-1', email: null, username: 'Extern Al', color: '#123abc' } });
  });

  it('an app-backend token without name or color: me -> username and color null', T, async () => {
    const tok = mintJwt(TEST_SECRET, { sub: 'ext-user-2', iat: nowSec() });
    const res = await api(port, 'GET', '/api/auth/me', { token: tok });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { success: true, user: { id: 'ext-user-2', email: null, username: null, color: null } });
  });

  it('an app-backend token: PATCH /api/users/me -> 404 not_found', T, async () => {
    const tok = mintJwt(TEST_SECRET, ext());
    assertJsonError(await api(port, 'PATCH', '/api/users/me', { token: tok, body: { username: 'New' } }), 404, 'not_found');
    // A sub that looks like a UUID but has no account: the same.
    const tok2 = mintJwt(TEST_SECRET, { ...ext(), sub: '3f0c8a4e-5b1d-4c47-9a43-2c1f8f3a9e11' });
    assertJsonError(await api(port, 'PATCH', '/api/users/me', { token: tok2, body: { color: '#000000' } }), 404, 'not_found');
  });

  for (const [name, make] of [
    ['alg none, empty signature', () => mintJwt(TEST_SECRET, ext(), { alg: 'none' })],
    ['alg "None", empty signature', () => mintJwt(TEST_SECRET, ext(), { alg: 'none', header: { alg: 'None' } })],
    ['alg none with the HS256 signature kept', () => {
      const good = mintJwt(TEST_SECRET, ext()).split('.');
      return `${mintJwt(TEST_SECRET, ext(), { alg: 'none' }).split('.').slice(0, 2).join('.')}.${good[2]}`;
    }],
    ['alg HS512, correctly signed with HS512', () => mintJwt(TEST_SECRET, ext(), { alg: 'HS512' })],
    ['alg HS384, correctly signed with HS384', () => mintJwt(TEST_SECRET, ext(), { alg: 'HS384' })],
    ['alg RS256 header on an HMAC signature', () => {
      const t = mintJwt(TEST_SECRET, ext(), { header: { alg: 'RS256' } });
      return t;
    }],
    ['exp in the past', () => mintJwt(TEST_SECRET, { ...ext(), iat: nowSec() - 100, exp: nowSec() - 5 })],
    ['nbf in the future', () => mintJwt(TEST_SECRET, { ...ext(), nbf: nowSec() + 600 })],
    ['no exp', () => mintJwt(TEST_SECRET, ext(), { noExp: true })],
    ['exp not a number', () => mintJwt(TEST_SECRET, { ...ext(), exp: String(nowSec() + 3600) })],
    ['signed with another secret', () => mintJwt(`${TEST_SECRET}-other`, ext())],
    ['no sub', () => {
      const c = ext();
      delete c.sub;
      return mintJwt(TEST_SECRET, c);
    }],
  ]) {
    it(`refused token: ${name} -> 401 unauthorized`, T, async () => {
      const tok = make();
      assertUnauthorized(await api(port, 'GET', '/api/auth/me', { token: tok }));
      assertUnauthorized(await api(port, 'PATCH', '/api/users/me', { token: tok, body: { username: 'x' } }));
    });
  }

  it('exp a few seconds ahead and nbf in the past are accepted', T, async () => {
    const tok = mintJwt(TEST_SECRET, { ...ext(), nbf: nowSec() - 60, exp: nowSec() + 5 });
    assert.equal((await api(port, 'GET', '/api/auth/me', { token: tok })).status, 200);
  });

  it('chorus token --user --name --color --jwt-secret: a token the server accepts', T, async () => {
    const d = makeTempDir();
    try {
      const r = await runCli(['token', '--user', 'u1', '--name', 'N', '--color', '#112233', '--jwt-secret', TEST_SECRET, '--data', d]);
      assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
      const tok = r.stdout.trim();
      assert.equal(r.stdout, `${tok}\n`, 'one line on stdout');
      const { header, payload } = decodeJwt(tok);
      assert.equal(header.alg, 'HS256');
      assert.equal(payload.sub, 'u1');
      assert.equal(payload.name, 'N');
      assert.equal(payload.color, '#112233');
      assert.equal(payload.exp - payload.iat, 86400, '--ttl defaults to --jwt-ttl (24 h)');
      assert.ok(Math.abs(payload.iat - nowSec()) <= 5);
      const res = await api(port, 'GET', '/api/auth/me', { token: tok });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json().user, { id: 'u1', email: null, username: 'N', color: '#112233' });

      const r2 = await runCli(['token', '--user', 'u2', '--ttl', '60', '--jwt-secret', TEST_SECRET, '--data', d]);
      assert.equal(r2.code, 0, r2.stderr);
      const p2 = decodeJwt(r2.stdout.trim()).payload;
      assert.equal(p2.sub, 'u2');
      assert.equal(p2.exp - p2.iat, 60, '--ttl 60');
      assert.equal((await api(port, 'GET', '/api/auth/me', { token: r2.stdout.trim() })).status, 200);

      const r3 = await runCli(['token', '--user', 'u3', '--jwt-ttl', '2h', '--jwt-secret', TEST_SECRET, '--data', d]);
      assert.equal(r3.code, 0, r3.stderr);
      const p3 = decodeJwt(r3.stdout.trim()).payload;
      assert.equal(p3.exp - p3.iat, 7200, '--ttl defaults to --jwt-ttl');

      // Another secret: the server refuses it.
      const r4 = await runCli(['token', '--user', 'u1', '--jwt-secret', `${TEST_SECRET}-x`, '--data', d]);
      assert.equal(r4.code, 0, r4.stderr);
      assertUnauthorized(await api(port, 'GET', '/api/auth/me', { token: r4.stdout.trim() }));
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('chorus token: usage errors exit 2 with a message and print no token', T, async () => {
    const d = makeTempDir();
    try {
      for (const args of [
        ['token', '--name', 'N', '--jwt-secret', TEST_SECRET, '--data', d],
        ['token', '--user', '', '--jwt-secret', TEST_SECRET, '--data', d],
        ['token', '--user', 'u'.repeat(129), '--jwt-secret', TEST_SECRET, '--data', d],
        ['token', '--user', 'u1', '--color', 'blue', '--jwt-secret', TEST_SECRET, '--data', d],
        ['token', '--user', 'u1', '--ttl', '0', '--jwt-secret', TEST_SECRET, '--data', d],
        ['token', '--user', 'u1', '--ttl', 'soon', '--jwt-secret', TEST_SECRET, '--data', d],
        ['token', '--user', 'u1', '--no-such-option', '--data', d],
        ['token', '--user'],
      ]) {
        const r = await runCli(args);
        assert.equal(r.code, 2, `${args.join(' ')}: exit code; stderr: ${r.stderr}`);
        assert.equal(r.stdout, '', `${args.join(' ')}: no token on stdout`);
        assert.ok(r.stderr.trim().length > 0, `${args.join(' ')}: a message on stderr`);
      }
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('long token subjects', () => {
  // Its own server: a failure here must not take the other token tests down with it.
  it('an app-backend token with a sub of 64..128 bytes is accepted (me and PATCH), 129 bytes refused', T, async () => {
    const srv = await startServer({ args: [...FAST_HASH, '--jwt-secret', TEST_SECRET] });
    try {
      for (const n of [64, 65, 100, 128]) {
        const sub = 's'.repeat(n);
        const tok = mintJwt(TEST_SECRET, { sub, name: 'Long', color: '#123abc' });
        const ok = await api(srv.port, 'GET', '/api/auth/me', { token: tok });
        assert.equal(ok.status, 200, `sub of ${n} bytes: ${ok.text}`);
        assert.equal(ok.json().user.id, sub);
        assertJsonError(await api(srv.port, 'PATCH', '/api/users/me', { token: tok, body: { username: 'x' } }), 404, 'not_found');
      }
      assertUnauthorized(await api(srv.port, 'GET', '/api/auth/me', {
        token: mintJwt(TEST_SECRET, { sub: 's'.repeat(129), name: 'Long', color: '#123abc' }),
      }));
    } finally {
      await srv.stop();
    }
  });
});

describe('--jwt-ttl', () => {
  it('--jwt-ttl 1h: register and login tokens live 3600 s', T, async () => {
    const srv = await startServer({ args: [...FAST_HASH, '--jwt-ttl', '1h'] });
    try {
      const acct = await register(srv.port);
      assert.equal(acct.claims.exp - acct.claims.iat, 3600);
      const s = await login(srv.port, acct.email, acct.password);
      assert.equal(s.claims.exp - s.claims.iat, 3600);
      const p = await api(srv.port, 'PATCH', '/api/users/me', { token: s.token, body: { username: 'Renamed' } });
      assert.equal(p.status, 200, p.text);
      const c = decodeJwt(p.json().token).payload;
      assert.equal(c.exp - c.iat, 3600, 'the PATCH token too');
    } finally {
      await srv.stop();
    }
  });
});

describe('default password hashing parameters', () => {
  it('register, login and a wrong password work with the default argon2id cost', T, async () => {
    const srv = await startServer();
    try {
      const acct = await register(srv.port, { username: 'Default' });
      const s = await login(srv.port, acct.email, acct.password);
      assert.equal(s.user.id, acct.user.id);
      assertJsonError(await api(srv.port, 'POST', '/api/auth/login', { body: { email: acct.email, password: 'nope nope nope' } }),
        401, 'invalid_credentials');
    } finally {
      await srv.stop();
    }
  });
});

describe('the generated secret and persistence', () => {
  it('DATA/jwt_secret is created with mode 0600 and survives a restart (old tokens still work)', T, async () => {
    const d = makeTempDir('chorus-e2e-data-');
    try {
      let srv = await startOnData(d);
      let acct;
      let secret;
      let cliToken;
      try {
        const file = path.join(d, 'jwt_secret');
        const st = fs.statSync(file);
        assert.ok(st.isFile(), 'jwt_secret is a file');
        assert.equal(st.mode & 0o777, 0o600, 'jwt_secret mode');
        secret = fs.readFileSync(file, 'utf8').trim();
        assert.ok(secret.length >= 32, `a secret of 32+ characters: ${secret.length}`);
        acct = await register(srv.port);
        // An app backend signs with the file's contents.
        const own = mintJwt(secret, { sub: 'backend-user', name: 'B', color: '#abcdef' });
        const r = await api(srv.port, 'GET', '/api/auth/me', { token: own });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json().user.id, 'backend-user');
        // So does `chorus token` with the same --data.
        const cli = await runCli(['token', '--user', 'cli-user', '--name', 'C', '--data', d]);
        assert.equal(cli.code, 0, cli.stderr);
        cliToken = cli.stdout.trim();
        const r2 = await api(srv.port, 'GET', '/api/auth/me', { token: cliToken });
        assert.equal(r2.status, 200, r2.text);
        assert.equal(r2.json().user.username, 'C');
        // A token signed with TEST_SECRET is not valid here.
        assertUnauthorized(await api(srv.port, 'GET', '/api/auth/me', { token: mintJwt(TEST_SECRET, { sub: 'x' }) }));
      } finally {
        await srv.stop();
      }
      srv = await startOnData(d);
      try {
        assert.equal(fs.readFileSync(path.join(d, 'jwt_secret'), 'utf8').trim(), secret, 'the same secret after a restart');
        const me = await api(srv.port, 'GET', '/api/auth/me', { token: acct.token });
        assert.equal(me.status, 200, `a token from before the restart: ${me.text}`);
        assert.deepEqual(me.json().user, acct.user);
        assert.equal((await api(srv.port, 'GET', '/api/auth/me', { token: cliToken })).status, 200);
      } finally {
        await srv.stop();
      }
      // A different data dir has a different secret: the old token is refused there.
      srv = await startServer({ args: FAST_HASH });
      try {
        assertUnauthorized(await api(srv.port, 'GET', '/api/auth/me', { token: acct.token }));
      } finally {
        await srv.stop();
      }
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('a restart keeps every account (log in as each, same ids; emails still taken)', T, async () => {
    const d = makeTempDir('chorus-e2e-data-');
    try {
      let srv = await startOnData(d, ['--jwt-secret', TEST_SECRET]);
      const accts = [];
      try {
        for (const [i, name] of ['Ada', 'Grace', 'Edsger'].entries()) {
          accts.push(await register(srv.port, { username: name, password: `password-${i}-${name}` }));
        }
        const p = await api(srv.port, 'PATCH', '/api/users/me', { token: accts[1].token, body: { color: '#010203' } });
        assert.equal(p.status, 200, p.text);
        accts[1].user = p.json().user;
      } finally {
        await srv.stop();
      }
      srv = await startOnData(d, ['--jwt-secret', TEST_SECRET]);
      try {
        for (const a of accts) {
          const s = await login(srv.port, a.email, a.password);
          assert.deepEqual(s.user, a.user, `${a.username} after the restart`);
          assertJsonError(await api(srv.port, 'POST', '/api/auth/login', { body: { email: a.email, password: 'wrong-password' } }),
            401, 'invalid_credentials');
          assertJsonError(await api(srv.port, 'POST', '/api/auth/register', { body: { email: a.email, password: PW, username: 'X' } }),
            409, 'email_taken');
        }
      } finally {
        await srv.stop();
      }
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('rate limit on /api/auth/*', () => {
  it('--rate-auth 5/1m: the 6th request -> 429 rate_limited with Retry-After; register and login share it', T, async () => {
    const srv = await startServer({ args: [...FAST_HASH, '--rate-auth', '5/1m'] });
    try {
      const acct = await register(srv.port); // 1
      for (let i = 2; i <= 5; i++) {
        const res = await api(srv.port, 'POST', '/api/auth/login', { body: { email: acct.email, password: `wrong-${i}-password` } });
        assertJsonError(res, 401, 'invalid_credentials');
      }
      for (const [target, body] of [
        ['/api/auth/login', { email: acct.email, password: PW }], // the right password: still limited
        ['/api/auth/login', { email: acct.email, password: 'wrong-password' }],
        ['/api/auth/register', { email: uniqueEmail(), password: PW, username: 'Late' }],
        ['/api/auth/register', '{broken json'],
      ]) {
        const res = await api(srv.port, 'POST', target, { body });
        assertJsonError(res, 429, 'rate_limited');
        const ra = res.headers['retry-after'];
        assert.match(ra ?? '', /^\d+$/, `Retry-After is an integer: ${ra}`);
        // 5 per minute, refilled evenly: the next token comes within 12 s.
        assert.ok(Number(ra) >= 1 && Number(ra) <= 12, `Retry-After in 1..12: ${ra}`);
      }
      // Other routes are not in this group.
      assert.equal((await api(srv.port, 'GET', '/healthz')).status, 200);
    } finally {
      await srv.stop();
    }
  });

  it('--rate-auth 5/1m: 5 failed logins are answered 401, the 6th is 429', T, async () => {
    const srv = await startServer({ args: [...FAST_HASH, '--rate-auth', '5/1m'] });
    try {
      for (let i = 1; i <= 5; i++) {
        const res = await api(srv.port, 'POST', '/api/auth/login', { body: { email: `brute${i}@example.com`, password: 'guess-guess' } });
        assertJsonError(res, 401, 'invalid_credentials');
      }
      const res = await api(srv.port, 'POST', '/api/auth/login', { body: { email: 'brute6@example.com', password: 'guess-guess' } });
      assertJsonError(res, 429, 'rate_limited');
      assert.match(res.headers['retry-after'] ?? '', /^[1-9]\d*$/);
    } finally {
      await srv.stop();
    }
  });
});

describe('audit', () => {
  it('register, login, login_failed and token_rejected rows with ip 127.0.0.1; the password is nowhere', T, async () => {
    const d = makeTempDir('chorus-e2e-data-');
    const password = `Pl41nText-${process.pid}-${Date.now()}`;
    let srv;
    try {
      srv = await startOnData(d, ['--jwt-secret', TEST_SECRET, '--log-level', 'debug']);
      const acct = await register(srv.port, { password });
      assertJsonError(await api(srv.port, 'POST', '/api/auth/login', { body: { email: acct.email, password: `${password}-wrong` } }),
        401, 'invalid_credentials');
      assertJsonError(await api(srv.port, 'POST', '/api/auth/login', { body: { email: uniqueEmail('ghost'), password } }),
        401, 'invalid_credentials');
      assertUnauthorized(await api(srv.port, 'GET', '/api/auth/me', { token: 'not.a.token' }));
      await login(srv.port, acct.email, password);
      // A bad registration attempt carrying the password must not leak it either.
      assertValidation(await api(srv.port, 'POST', '/api/auth/register', { body: { email: 'bad', password, username: 'X' } }), 'email');
      assertJsonError(await api(srv.port, 'POST', '/api/auth/register', { body: `{"email":"x@example.com","password":"${password}"` }),
        400, 'bad_json');
      await srv.stop();
      srv = null;

      const db = path.join(d, 'chorus.db');
      assert.ok(fs.existsSync(db), 'DATA/chorus.db exists');
      const rows = JSON.parse(execFileSync('sqlite3', ['-json', db, 'select * from audit order by id'], { encoding: 'utf8' }) || '[]');
      const events = rows.map((r) => r.event);
      assert.deepEqual(events, ['register', 'login_failed', 'login_failed', 'token_rejected', 'login'], JSON.stringify(rows));
      for (const r of rows) {
        assert.equal(r.ip, '127.0.0.1', `ip in ${JSON.stringify(r)}`);
        assert.ok('user_id' in r, `user_id column: ${JSON.stringify(r)}`);
      }
      assert.equal(rows[0].user_id, acct.user.id, 'register row has the user id');
      assert.equal(rows[1].user_id, acct.user.id, 'wrong password: the user is known');
      assert.ok(!rows[2].user_id, `unknown email: no user id (${JSON.stringify(rows[2])})`);
      assert.equal(rows[4].user_id, acct.user.id, 'login row has the user id');

      const dump = execFileSync('sqlite3', [db, '.dump'], { encoding: 'utf8', maxBuffer: 64 << 20 });
      assert.ok(dump.includes(acct.user.id), 'the dump holds the data (sanity)');
      assert.ok(!dump.includes(password), 'the plaintext password is not in the database');
      for (const f of fs.readdirSync(d)) {
        const content = fs.readFileSync(path.join(d, f));
        assert.equal(content.includes(password), false, `the password is not in ${f}`);
      }
    } finally {
      if (srv) await srv.stop().catch(() => {});
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('the server log never contains a password or a token', T, async () => {
    const password = `L0gSecret-${process.pid}-${Date.now()}`;
    const srv = await startServer({ args: [...FAST_HASH, '--log-level', 'debug'] });
    let acct;
    try {
      acct = await register(srv.port, { password });
      await login(srv.port, acct.email, password);
      await api(srv.port, 'POST', '/api/auth/login', { body: { email: acct.email, password: `${password}x` } });
      await api(srv.port, 'GET', '/api/auth/me', { token: `${acct.token}x` });
      await api(srv.port, 'POST', '/api/auth/register', { body: { email: 'bad', password, username: 'X' } });
    } finally {
      await srv.stop();
    }
    const all = srv.lines.join('\n');
    assert.ok(all.includes('/api/auth/login'), 'the access log has the requests (sanity)');
    assert.ok(!all.includes(password), 'no password in the log');
    assert.ok(!all.includes(acct.token.split('.')[2]), 'no token signature in the log');
  });
});

describe('RS256 and ES256 with PEM keys', () => {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');

  /** A JWT signed by node:crypto with the given private key (dsaEncoding ieee-p1363 for ES256). */
  function signed(alg, privateKey, claims) {
    const input = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
    const sig = crypto.sign('sha256', Buffer.from(input), alg === 'ES256'
      ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey);
    return `${input}.${sig.toString('base64url')}`;
  }

  for (const [alg, type, opts] of [
    ['RS256', 'rsa', { modulusLength: 2048 }],
    ['ES256', 'ec', { namedCurve: 'P-256' }],
  ]) {
    it(`${alg}: tokens from the app backend's private key are accepted; HS256 (key confusion), alg none and a foreign key are refused; register is 501 without a private key`, T, async () => {
      const { publicKey, privateKey } = crypto.generateKeyPairSync(type, opts);
      const pubPem = publicKey.export({ type: 'spki', format: 'pem' });
      const keyDir = makeTempDir('chorus-keys-');
      const pubFile = path.join(keyDir, 'pub.pem');
      fs.writeFileSync(pubFile, pubPem);
      const srv = await startServer({ args: [...FAST_HASH, '--jwt-alg', alg, '--jwt-public-key', pubFile] });
      try {
        const claims = { sub: 'app-user-7', name: 'Seven', color: '#0a0b0c', iat: nowSec(), exp: nowSec() + 600 };
        const good = await api(srv.port, 'GET', '/api/auth/me', { token: signed(alg, privateKey, claims) });
        assert.equal(good.status, 200, good.text);
        assert.deepEqual(good.json().user, { id: 'app-user-7', email: null, username: 'Seven', color: '#0a0b0c' });
        // The classic confusion: HS256 signed with the public key's PEM as the secret.
        assertUnauthorized(await api(srv.port, 'GET', '/api/auth/me', { token: mintJwt(pubPem, claims) }));
        assertUnauthorized(await api(srv.port, 'GET', '/api/auth/me', { token: mintJwt('x', claims, { alg: 'none' }) }));
        const other = crypto.generateKeyPairSync(type, opts).privateKey;
        assertUnauthorized(await api(srv.port, 'GET', '/api/auth/me', { token: signed(alg, other, claims) }));
        const reg = await api(srv.port, 'POST', '/api/auth/register', { body: { email: uniqueEmail(), password: PW, username: 'A' } });
        assertJsonError(reg, 501, 'not_supported');
        await srv.stop();
      } finally {
        srv.kill();
        fs.rmSync(keyDir, { recursive: true, force: true });
      }
    });
  }
});
