// wsclient.mjs: a JSON client on top of the `ws` package with awaitable messages,
// replies by ref and the close code.
import assert from 'node:assert/strict';

import WebSocket from 'ws';

import { withTimeout } from './util.mjs';

export class JsonWs {
  /**
   * Opens ws://127.0.0.1:port/ws. protocols: subprotocol offers; options go to `ws`
   * (origin, headers, ...). Rejects when the handshake fails (err.statusCode is the
   * HTTP status of an unexpected response).
   */
  static open(port, { path = '/ws', protocols, timeout = 5000, ...options } = {}) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols, options);
    const client = new JsonWs(ws);
    const opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (req, res) => {
        const err = new Error(`unexpected handshake response ${res.statusCode}`);
        err.statusCode = res.statusCode;
        err.headers = res.headers;
        req.destroy();
        reject(err);
      });
      ws.once('error', reject);
    });
    return withTimeout(opened, timeout, 'WebSocket open');
  }

  constructor(ws) {
    this.ws = ws;
    this.queue = []; // received messages not yet taken: parsed JSON, or {raw, isBinary}
    this.waiters = [];
    this.pings = 0;
    this.closeInfo = null;
    this.nextRef = 1;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        resolve(this.closeInfo);
        this.wake();
      });
    });
    ws.on('error', () => {}); // surfaces as a close
    ws.on('ping', () => this.pings++);
    ws.on('message', (data, isBinary) => {
      let msg;
      try {
        msg = isBinary ? { raw: data, isBinary } : JSON.parse(data.toString('utf8'));
      } catch {
        msg = { raw: data.toString('utf8'), notJson: true };
      }
      this.queue.push(msg);
      this.wake();
    });
  }

  wake() {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Sends a JS value as JSON, or a string as-is (a text frame). */
  send(v) {
    this.ws.send(typeof v === 'string' ? v : JSON.stringify(v));
  }

  /** Resolves with the next message; rejects on timeout or close. */
  next(timeout = 5000) {
    return withTimeout(new Promise((resolve, reject) => {
      const check = () => {
        if (this.queue.length) return resolve(this.queue.shift());
        if (this.closeInfo) {
          return reject(new Error(`connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) ` +
            'while waiting for a message'));
        }
        this.waiters.push(check);
      };
      check();
    }), timeout, 'a WebSocket message');
  }

  /** Sends {op, ref, ...fields} with a fresh ref; resolves with the next message. */
  async call(op, fields = {}, timeout = 5000) {
    const ref = this.nextRef++;
    this.send({ op, ref, ...fields });
    const m = await this.next(timeout);
    assert.equal(m.ref, ref, `reply ref (got ${JSON.stringify(m).slice(0, 300)})`);
    return m;
  }

  /** An echo that must succeed with data deep-equal to what was sent. */
  async echo(data, timeout = 5000) {
    const m = await this.call('echo', { data }, timeout);
    assert.equal(m.op, 'reply');
    assert.equal(m.ok, true, `echo reply ok (got ${JSON.stringify(m).slice(0, 300)})`);
    assert.deepEqual(m.data, data);
    return m;
  }

  /** Resolves with {code, reason} once closed; rejects on timeout. */
  waitClose(timeout = 5000) {
    return withTimeout(this.closed, timeout, 'the WebSocket to close');
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
  }
}

/** Asserts an ok reply {"op":"reply","ref":ref,"ok":true,"data":data} (exact). */
export function assertOkReply(m, ref, data) {
  assert.deepEqual(m, { op: 'reply', ref, ok: true, data });
}

/** Asserts an error reply {"op":"reply","ref":ref,"ok":false,"error":{code,message}}. */
export function assertErrorReply(m, ref, code) {
  const s = JSON.stringify(m);
  assert.equal(m.op, 'reply', `op in ${s}`);
  assert.equal(m.ref, ref, `ref in ${s}`);
  assert.equal(m.ok, false, `ok in ${s}`);
  assert.equal(m.error?.code, code, `error.code in ${s}`);
  assert.equal(typeof m.error.message, 'string', `error.message in ${s}`);
  assert.deepEqual(Object.keys(m).sort(), ['error', 'ok', 'op', 'ref'], `keys of ${s}`);
}

/** Asserts an error event {"op":"error","error":{code,message}} (no ref). */
export function assertErrorEvent(m, code) {
  const s = JSON.stringify(m);
  assert.equal(m.op, 'error', `op in ${s}`);
  assert.equal(m.error?.code, code, `error.code in ${s}`);
  assert.equal(typeof m.error.message, 'string', `error.message in ${s}`);
  assert.equal(m.ok, undefined, `an event has no ok: ${s}`);
}
