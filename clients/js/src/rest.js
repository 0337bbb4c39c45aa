// rest.js: the REST transport of the client (docs/api.md): JSON in and out, bearer token,
// timeout, and errors as ChorusError with the server's code. The routes are the Chorus
// methods (client.js).

import { ChorusError, errorFromReply } from './errors.js';

/**
 * What a REST call needs from the client: the server's base URL, a fetch, the token (or
 * undefined) and the timeout in ms.
 * @typedef {{ url: string | undefined; fetch: any; token: string | undefined; timeout: number }} RestConfig
 */

/**
 * One REST call: method + path (with its query) on cfg.url, body as JSON when given, the
 * bearer token when auth and there is one. Resolves with the answer's JSON; rejects with
 * ChorusError: the server's code (with `status`, and `retryAfter` from a Retry-After
 * header), `http_error` for an answer without one, `timeout`, or `network`.
 * Borrows cfg; body is encoded, not kept.
 * @param {RestConfig} cfg
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {{ auth?: boolean }} [opts]
 * @returns {Promise<any>}
 */
export async function restRequest(cfg, method, path, body, { auth = true } = {}) {
  if (!cfg.url) throw new ChorusError('network', 'no url: pass options.url');
  if (!cfg.fetch) throw new ChorusError('network', 'no fetch implementation');
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && cfg.token) headers.Authorization = `Bearer ${cfg.token}`;
  const ctl = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = ctl ? setTimeout(() => ctl.abort(), cfg.timeout) : null;
  let res;
  let text;
  try {
    res = await cfg.fetch(cfg.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: ctl?.signal,
    });
    text = await res.text();
  } catch (e) {
    if (ctl?.signal.aborted) throw new ChorusError('timeout', `${method} ${path}: no answer within ${cfg.timeout} ms`);
    throw new ChorusError('network', `${method} ${path}: ${e?.message ?? e}`);
  } finally {
    if (timer) clearTimeout(timer);
  }
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!res.ok || !json || json.success === false) {
    const ra = res.headers?.get?.('retry-after');
    const extra = { status: res.status };
    if (ra != null && ra !== '') extra.retryAfter = Number(ra);
    if (json && json.error) throw errorFromReply(json.error, extra);
    throw new ChorusError('http_error', `${method} ${path}: HTTP ${res.status}`, extra);
  }
  return json;
}
