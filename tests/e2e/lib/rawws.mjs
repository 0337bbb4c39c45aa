// rawws.mjs: a raw WebSocket client over TCP. Builds any frame (masked or not, any
// flags, opcode and length encoding), sends it whole or a byte at a time, and parses
// what the server sends, close codes included.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

import { buildRequest, takeResponse } from './http.mjs';
import { connectTcp, delay, SocketReader } from './util.mjs';

export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

/** The Sec-WebSocket-Accept value for a key. */
export function acceptFor(key) {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** RFC 6455's sample key (section 1.3). */
export const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** The headers of a valid upgrade request, with over's on top (an undefined one is left out). */
export function upgradeHeaders(over = {}) {
  const h = {
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': SAMPLE_KEY,
    'Sec-WebSocket-Version': '13',
    ...over,
  };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  return h;
}

const toBuf = (p) => (p === undefined ? Buffer.alloc(0) : Buffer.isBuffer(p) ? p : Buffer.from(p));

/**
 * Encodes one frame.
 *   opcode, payload (string = UTF-8, or Buffer), fin (default true),
 *   rsv: 3-bit number (4 = RSV1, 2 = RSV2, 1 = RSV3), mask (default true),
 *   maskKey (4-byte Buffer, default random), lenBytes: 0 (7-bit), 2 or 8 to force an
 *   encoding of the length (default: the minimal one).
 */
export function frame({ opcode, payload, fin = true, rsv = 0, mask = true, maskKey, lenBytes } = {}) {
  const data = toBuf(payload);
  const n = data.length;
  const enc = lenBytes ?? (n < 126 ? 0 : n < 65536 ? 2 : 8);
  const head = [((fin ? 1 : 0) << 7) | ((rsv & 7) << 4) | (opcode & 0xf)];
  const maskBit = mask ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (enc === 0) {
    assert.ok(n < 126, '7-bit length');
    head.push(maskBit | n);
  } else if (enc === 2) {
    head.push(maskBit | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(n);
  } else {
    head.push(maskBit | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(n));
  }
  if (!mask) return Buffer.concat([Buffer.from(head), ext, data]);
  const key = maskKey ?? randomBytes(4);
  const masked = Buffer.alloc(n);
  for (let i = 0; i < n; i++) masked[i] = data[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), ext, key, masked]);
}

export const textFrame = (payload, o = {}) => frame({ ...o, opcode: OP.TEXT, payload });
export const jsonFrame = (obj, o = {}) => textFrame(JSON.stringify(obj), o);

/** A close payload: 2-byte code + UTF-8 reason (reason may be a Buffer). */
export function closePayload(code, reason = '') {
  const c = Buffer.alloc(2);
  c.writeUInt16BE(code);
  return Buffer.concat([c, toBuf(reason)]);
}

export const closeFrame = (code, reason = '', o = {}) =>
  frame({ ...o, opcode: OP.CLOSE, payload: code === null ? Buffer.alloc(0) : closePayload(code, reason) });

/**
 * Parses one frame from the start of buf. Returns null when incomplete, else
 * {frame: {fin, rsv, opcode, masked, lenBytes, payload, code?, reason?}, used}.
 */
export function parseFrame(buf) {
  if (buf.length < 2) return null;
  const b0 = buf[0];
  const b1 = buf[1];
  let len = b1 & 0x7f;
  let pos = 2;
  let lenBytes = 0;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    pos = 4;
    lenBytes = 2;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`absurd frame length ${big}`);
    len = Number(big);
    pos = 10;
    lenBytes = 8;
  }
  const masked = (b1 & 0x80) !== 0;
  let key = null;
  if (masked) {
    if (buf.length < pos + 4) return null;
    key = buf.subarray(pos, pos + 4);
    pos += 4;
  }
  if (buf.length < pos + len) return null;
  const payload = Buffer.from(buf.subarray(pos, pos + len));
  if (key) for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
  const f = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0xf, masked, lenBytes, payload };
  if (f.opcode === OP.CLOSE) {
    f.code = len >= 2 ? payload.readUInt16BE(0) : null;
    f.reason = len > 2 ? payload.subarray(2).toString('utf8') : '';
  }
  return { frame: f, used: pos + len };
}

/** Parses every complete frame in buf (a trailing partial frame is ignored). */
export function parseAllFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    const r = parseFrame(buf.subarray(off));
    if (!r) break;
    frames.push(r.frame);
    off += r.used;
  }
  return { frames, rest: buf.length - off };
}

const opName = (op) => Object.keys(OP).find((k) => OP[k] === op) ?? `0x${op.toString(16)}`;

export function describeFrame(f) {
  if (f.opcode === OP.CLOSE) return `close(${f.code}${f.reason ? ` "${f.reason}"` : ''})`;
  const p = f.payload.length > 80 ? `${f.payload.subarray(0, 80).toString('latin1')}...` : f.payload.toString('latin1');
  return `${opName(f.opcode)}${f.fin ? '' : '(fin=0)'}[${f.payload.length}] ${JSON.stringify(p)}`;
}

export class RawWs {
  /**
   * Connects and performs the opening handshake, asserting 101 and the accept value.
   * extra: bytes appended to the handshake request in the same write.
   */
  static async connect(port, { path = '/ws', headers = {}, key, extra } = {}) {
    const socket = await connectTcp(port);
    const reader = new SocketReader(socket);
    const k = key ?? randomBytes(16).toString('base64');
    const req = buildRequest('GET', path, {
      headers: {
        Upgrade: 'websocket',
        Connection: 'Upgrade',
        'Sec-WebSocket-Key': k,
        'Sec-WebSocket-Version': '13',
        ...headers,
      },
    });
    socket.write(extra ? Buffer.concat([req, extra]) : req);
    let res;
    try {
      res = await reader.wait(() => takeResponse(reader), 5000, 'the handshake response');
      assert.equal(res.status, 101, `handshake status (body ${JSON.stringify(res.text)})`);
      assert.equal(res.headers['sec-websocket-accept'], acceptFor(k), 'Sec-WebSocket-Accept');
    } catch (e) {
      socket.destroy();
      throw e;
    }
    const ws = new RawWs(socket, reader);
    ws.handshake = res;
    return ws;
  }

  constructor(socket, reader) {
    this.socket = socket;
    this.reader = reader;
  }

  send(buf) {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(buf);
  }

  /**
   * Writes buf one byte per write with a small pause in between, so the server sees the
   * bytes in separate reads. Stops early (by default) once the server sent anything or
   * closed: it has then already judged the bytes so far. upto: only the first upto bytes
   * go one at a time, the rest in one write.
   */
  async sendBytewise(buf, { pauseMs = 1, stopOnReply = true, upto = buf.length } = {}) {
    const start = this.reader.length;
    const n = Math.min(upto, buf.length);
    for (let i = 0; i < n; i++) {
      if (this.reader.done || (stopOnReply && this.reader.length > start)) return false;
      this.send(buf.subarray(i, i + 1));
      await delay(pauseMs);
    }
    if (n < buf.length) this.send(buf.subarray(n));
    return true;
  }

  /** Sends in either mode: 'whole' (one write) or 'bytewise'. */
  async sendMode(buf, mode, opts) {
    if (mode === 'bytewise') return this.sendBytewise(buf, opts);
    this.send(buf);
    return true;
  }

  sendJson(obj) {
    this.send(jsonFrame(obj));
  }

  /** Resolves with the next complete frame; asserts it is a well-formed server frame. */
  async nextFrame(timeout = 5000) {
    const f = await this.reader.wait(() => {
      const r = parseFrame(this.reader.bytes());
      if (!r) return undefined;
      this.reader.consume(r.used);
      return r.frame;
    }, timeout, 'a WebSocket frame from the server');
    assert.equal(f.masked, false, `server frames must not be masked: ${describeFrame(f)}`);
    assert.equal(f.rsv, 0, `server frame RSV bits: ${describeFrame(f)}`);
    return f;
  }

  /** Next frame, which must be a complete text frame holding JSON; returns the value. */
  async nextJson(timeout = 5000) {
    const f = await this.nextFrame(timeout);
    assert.equal(f.opcode, OP.TEXT, `expected a text frame, got ${describeFrame(f)}`);
    assert.equal(f.fin, true, 'text frame FIN');
    return JSON.parse(f.payload.toString('utf8'));
  }

  /**
   * Reads frames until a close frame and asserts its code (null = empty payload).
   * Then (reply) answers with a close frame as RFC 6455 asks and waits for the server to
   * close the TCP connection. Returns {code, reason, before: [frames before the close]}.
   */
  async expectClose(code, { timeout = 5000, reply = true, closeTimeout = 3000 } = {}) {
    const before = [];
    let f;
    for (;;) {
      try {
        f = await this.nextFrame(timeout);
      } catch (e) {
        e.message = `expected close ${code}; frames before: [${before.map(describeFrame).join(', ')}]; ${e.message}`;
        throw e;
      }
      if (f.opcode === OP.CLOSE) break;
      before.push(f);
    }
    assert.equal(f.code, code,
      `close code (reason "${f.reason}", frames before: [${before.map(describeFrame).join(', ')}])`);
    assert.equal(f.fin, true, 'close frame FIN');
    if (reply) this.send(closeFrame(f.code === null ? null : f.code));
    await this.waitClosed(closeTimeout);
    return { code: f.code, reason: f.reason, before };
  }

  /** Resolves with ms waited once the server has closed (or reset) the connection. */
  waitClosed(timeout = 3000) {
    return this.reader.waitDone(timeout, 'the server to close the TCP connection');
  }

  destroy() {
    this.socket.destroy();
  }
}

/** A JSON echo request padded so its text is exactly size bytes (ASCII padding). */
export function echoOfSize(ref, size) {
  const empty = JSON.stringify({ op: 'echo', ref, data: '' });
  assert.ok(size >= empty.length, `size ${size} too small for an echo`);
  const data = 'x'.repeat(size - empty.length);
  const text = JSON.stringify({ op: 'echo', ref, data });
  assert.equal(Buffer.byteLength(text), size);
  return { text, data };
}
