// http.mjs: a raw HTTP/1.1 client over TCP (exact bytes out, exact parsing of what
// comes back), so tests can pipeline, send malformed requests and watch closes.
import assert from 'node:assert/strict';

import { connectTcp, SocketReader } from './util.mjs';

/**
 * Builds the bytes of one request. Adds "Host: 127.0.0.1" unless headers has a host,
 * and Content-Length for a body unless headers sets Content-Length or Transfer-Encoding.
 * headers: object or array of [name, value] (arrays allow duplicates and exact order).
 */
export function buildRequest(method, target, { headers = {}, body, version = '1.1' } = {}) {
  const list = Array.isArray(headers) ? [...headers] : Object.entries(headers);
  const has = (n) => list.some(([k]) => k.toLowerCase() === n);
  if (!has('host')) list.unshift(['Host', '127.0.0.1']);
  const bodyBuf = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body);
  if (bodyBuf && !has('content-length') && !has('transfer-encoding')) {
    list.push(['Content-Length', String(bodyBuf.length)]);
  }
  const head = `${method} ${target} HTTP/${version}\r\n` +
    list.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
  return bodyBuf ? Buffer.concat([Buffer.from(head, 'latin1'), bodyBuf]) : Buffer.from(head, 'latin1');
}

/**
 * Tries to take one complete response off the reader. Returns undefined when more bytes
 * are needed. head: the request was HEAD (no body whatever the headers say).
 */
export function takeResponse(reader, { head = false } = {}) {
  const b = reader.bytes();
  const end = b.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = b.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
  const headers = {};
  const headerList = [];
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i <= 0) throw new Error(`bad response header line: ${JSON.stringify(l)}`);
    const name = l.slice(0, i).trim();
    const value = l.slice(i + 1).trim();
    headerList.push([name, value]);
    const k = name.toLowerCase();
    headers[k] = k in headers ? `${headers[k]}, ${value}` : value;
  }
  const status = Number(m[2]);
  let pos = end + 4;
  let body = Buffer.alloc(0);
  const noBody = head || status === 204 || status === 304 || (status >= 100 && status < 200);
  if (!noBody) {
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts = [];
      for (;;) {
        const le = b.indexOf('\r\n', pos);
        if (le < 0) return undefined;
        const size = parseInt(b.subarray(pos, le).toString('latin1'), 16);
        if (Number.isNaN(size)) throw new Error('bad chunk size in response');
        if (b.length < le + 2 + size + 2) return undefined;
        parts.push(b.subarray(le + 2, le + 2 + size));
        pos = le + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
    } else if ('content-length' in headers) {
      const n = Number(headers['content-length']);
      if (b.length < pos + n) return undefined;
      body = b.subarray(pos, pos + n);
      pos += n;
    } else {
      // No length: the body runs to the end of the connection.
      if (!reader.done) return undefined;
      body = b.subarray(pos);
      pos = b.length;
    }
  }
  const res = new HttpResponse(m[1], status, m[3] ?? '', headers, headerList, Buffer.from(body));
  reader.consume(pos);
  return res;
}

export class HttpResponse {
  constructor(version, status, reason, headers, headerList, body) {
    Object.assign(this, { version, status, reason, headers, headerList, body });
  }

  get text() {
    return this.body.toString('utf8');
  }

  json() {
    try {
      return JSON.parse(this.text);
    } catch {
      throw new Error(`response body is not JSON (status ${this.status}): ${JSON.stringify(this.text)}`);
    }
  }
}

/** A raw HTTP connection. */
export class HttpConn {
  static async open(port) {
    return new HttpConn(await connectTcp(port));
  }

  constructor(socket) {
    this.socket = socket;
    this.reader = new SocketReader(socket);
  }

  write(data) {
    this.socket.write(data);
  }

  send(method, target, opts) {
    this.write(buildRequest(method, target, opts));
  }

  /** Waits for the next complete response. */
  response({ head = false, timeout = 5000 } = {}) {
    return this.reader.wait(() => takeResponse(this.reader, { head }), timeout, 'an HTTP response');
  }

  async request(method, target, opts = {}) {
    this.send(method, target, opts);
    return this.response({ head: method === 'HEAD', timeout: opts.timeout });
  }

  /** Resolves with ms waited once the server closed the connection; rejects on timeout. */
  waitClosed(timeout = 3000) {
    return this.reader.waitDone(timeout, 'the server to close the HTTP connection');
  }

  get done() {
    return this.reader.done;
  }

  close() {
    this.socket.destroy();
  }
}

/** One request on a fresh connection, which is then closed. */
export async function fetchOnce(port, method, target, opts = {}) {
  const c = await HttpConn.open(port);
  try {
    return await c.request(method, target, opts);
  } finally {
    c.close();
  }
}

/** Asserts a JSON error response {"success":false,"error":{"code","message"}}. */
export function assertJsonError(res, status, code) {
  assert.equal(res.status, status, `status (body ${JSON.stringify(res.text)})`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/, 'content-type of an error');
  const j = res.json();
  assert.equal(j.success, false, `success in ${res.text}`);
  assert.equal(typeof j.error, 'object', `error object in ${res.text}`);
  assert.equal(j.error.code, code, `error.code in ${res.text}`);
  assert.equal(typeof j.error.message, 'string', `error.message in ${res.text}`);
  assert.ok(j.error.message.length > 0, 'error.message is not empty');
  if ('content-length' in res.headers) {
    assert.equal(Number(res.headers['content-length']), res.body.length, 'content-length');
  }
  return j;
}
