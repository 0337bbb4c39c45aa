// auth.mjs: helpers for the accounts/token tests: JSON API requests, JWT decoding and
// minting (HS256/HS512 with node:crypto, alg none), and account registration.
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';

import { fetchOnce } from './http.mjs';

/** Server arguments that make argon2id cheap, so tests do not wait for hashing. */
export const FAST_HASH = ['--password-ops', '1', '--password-memory', '8KiB'];

/** A secret of 32+ characters for servers started with --jwt-secret. */
export const TEST_SECRET = 'e2e-test-secret-0123456789abcdefghijklmnop';

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const COLOR = /^#[0-9a-f]{6}$/;
export const B64URL = /^[A-Za-z0-9_-]+$/;

export const b64url = (v) =>
  (Buffer.isBuffer(v) ? v : Buffer.from(typeof v === 'string' ? v : JSON.stringify(v))).toString('base64url');

/** Splits a JWT and decodes its header and payload (no verification). */
export function decodeJwt(token) {
  assert.equal(typeof token, 'string', `token is a string: ${JSON.stringify(token)}`);
  const parts = token.split('.');
  assert.equal(parts.length, 3, `a JWT has 3 dot-separated parts: ${token}`);
  for (const p of parts) assert.match(p, B64URL, `base64url part in ${token}`);
  const dec = (p) => JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  return { header: dec(parts[0]), payload: dec(parts[1]), parts };
}

export const nowSec = () => Math.floor(Date.now() / 1000);

/**
 * Mints a JWT. payload: the claims (exp defaults to now + 1 h unless given; pass
 * exp: undefined explicitly with noExp to leave it out). alg: HS256 (default), HS384,
 * HS512 (signed with that HMAC) or none (empty signature). header: extra header fields.
 */
export function mintJwt(secret, payload, { alg = 'HS256', header = {}, noExp = false } = {}) {
  const claims = { ...payload };
  if (noExp) delete claims.exp;
  else if (claims.exp === undefined) claims.exp = nowSec() + 3600;
  const h = b64url({ alg, typ: 'JWT', ...header });
  const p = b64url(claims);
  const input = `${h}.${p}`;
  if (alg === 'none') return `${input}.`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  assert.ok(hash, `mintJwt: unsupported alg ${alg}`);
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

/**
 * One JSON API request on a fresh connection. body: an object/array/number (sent as
 * JSON), a string or Buffer (sent as-is), or undefined (no body). token: sent as
 * "Authorization: Bearer <token>".
 */
export function api(port, method, target, { body, token, headers = {}, timeout } = {}) {
  const h = { ...headers };
  if (token !== undefined) h.Authorization = `Bearer ${token}`;
  let raw;
  if (body !== undefined) {
    raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  }
  return fetchOnce(port, method, target, { headers: h, body: raw, timeout });
}

let seq = 0;
/** A fresh, unique, lower-case email. */
export function uniqueEmail(tag = 'user') {
  seq++;
  return `${tag}-${process.pid}-${seq}-${randomUUID().slice(0, 8)}@example.com`;
}

/** Asserts the user object shape of docs/api.md (exact keys). */
export function assertUser(u, { email, username } = {}) {
  const s = JSON.stringify(u);
  assert.deepEqual(Object.keys(u).sort(), ['color', 'createdAt', 'email', 'id', 'username'], `user keys: ${s}`);
  assert.match(u.id, UUID_V4, `user.id is a UUID v4: ${s}`);
  assert.match(u.color, COLOR, `user.color is #rrggbb: ${s}`);
  assert.ok(Number.isInteger(u.createdAt), `createdAt is an integer: ${s}`);
  assert.ok(Math.abs(u.createdAt - Date.now()) < 10 * 60 * 1000, `createdAt is unix ms near now: ${s}`);
  if (email !== undefined) assert.equal(u.email, email, `email in ${s}`);
  if (username !== undefined) assert.equal(u.username, username, `username in ${s}`);
}

/**
 * Asserts a session response (register 201 / login 200):
 * {"success":true,"token","user_id","user"} with a token whose claims match the user.
 * Returns {token, user, claims}.
 */
export function assertSession(res, status, expect = {}) {
  assert.equal(res.status, status, `status (body ${res.text})`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/, 'content-type');
  const j = res.json();
  assert.deepEqual(Object.keys(j).sort(), ['success', 'token', 'user', 'user_id'], `keys of ${res.text}`);
  assert.equal(j.success, true);
  assertUser(j.user, expect);
  assert.equal(j.user_id, j.user.id, 'user_id equals user.id');
  const { header, payload } = decodeJwt(j.token);
  assert.equal(header.alg, 'HS256', `token alg: ${JSON.stringify(header)}`);
  assert.equal(payload.sub, j.user.id, 'sub claim');
  assert.equal(payload.name, j.user.username, 'name claim');
  assert.equal(payload.color, j.user.color, 'color claim');
  assert.ok(Number.isInteger(payload.iat) && Number.isInteger(payload.exp), `iat/exp: ${JSON.stringify(payload)}`);
  assert.ok(Math.abs(payload.iat - nowSec()) <= 5, `iat is now: ${payload.iat}`);
  return { token: j.token, user: j.user, claims: payload };
}

/** Registers an account (expects 201). Returns {token, user, claims, email, password, username}. */
export async function register(port, { email = uniqueEmail(), password = 'correct horse battery', username = 'Ada' } = {}) {
  const res = await api(port, 'POST', '/api/auth/register', { body: { email, password, username } });
  const s = assertSession(res, 201, { email: email.trim().toLowerCase(), username: username.trim() });
  return { ...s, email, password, username };
}

/** Logs in (expects 200). Returns {token, user, claims}. */
export async function login(port, email, password) {
  return assertSession(await api(port, 'POST', '/api/auth/login', { body: { email, password } }), 200);
}
