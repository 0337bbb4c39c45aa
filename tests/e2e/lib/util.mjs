// util.mjs: small shared helpers for the end-to-end tests (timeouts, TCP connect, a
// buffering socket reader that tests can wait on).
import net from 'node:net';

export const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves like p, or rejects with "timeout: <label>" after ms. */
export function withTimeout(p, ms, label) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Opens a TCP connection to 127.0.0.1:port with Nagle off. */
export function connectTcp(port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host });
    s.setNoDelay(true);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Returns a port that was free a moment ago (bind 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Collects everything a socket receives and remembers how it ended, so a test can
 * wait for "enough bytes" or "closed" with a timeout instead of sleeping.
 */
export class SocketReader {
  constructor(socket) {
    this.socket = socket;
    this.chunks = [];
    this.length = 0;
    this.ended = false; // FIN received
    this.closed = false; // socket fully closed
    this.error = null; // e.g. ECONNRESET / EPIPE
    this.waiters = new Set();
    socket.on('data', (d) => {
      this.chunks.push(d);
      this.length += d.length;
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('error', (e) => {
      this.error = e;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  /** True once the peer closed or reset the connection (or it failed). */
  get done() {
    return this.ended || this.closed || this.error !== null;
  }

  notify() {
    for (const w of [...this.waiters]) w();
  }

  /** All unconsumed bytes as one Buffer. */
  bytes() {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  consume(n) {
    const b = this.bytes();
    this.chunks = n < b.length ? [b.subarray(n)] : [];
    this.length -= n;
  }

  /**
   * Calls check() now and after every socket event until it returns something other
   * than undefined. Rejects when check throws, on timeout, or when the connection is
   * finished and check still has nothing (unless allowDone).
   */
  wait(check, ms, label, { allowDone = false } = {}) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const finish = (fn, v) => {
        this.waiters.delete(run);
        clearTimeout(timer);
        fn(v);
      };
      const run = () => {
        let v;
        try {
          v = check();
        } catch (e) {
          finish(reject, e);
          return;
        }
        if (v !== undefined) finish(resolve, v);
        else if (this.done && !allowDone) {
          const why = this.error ? `error ${this.error.code ?? this.error.message}` : 'closed';
          finish(reject, new Error(`connection ${why} while waiting for ${label}; ` +
            `${this.length} unconsumed bytes: ${JSON.stringify(this.bytes().subarray(0, 200).toString('latin1'))}`));
        }
      };
      timer = setTimeout(() => finish(reject, new Error(`timeout after ${ms} ms waiting for ${label}`)), ms);
      this.waiters.add(run);
      run();
    });
  }

  /** Resolves (with elapsed ms) once the peer has closed/reset the connection. */
  async waitDone(ms, label = 'the connection to close') {
    const t0 = Date.now();
    await this.wait(() => (this.done ? true : undefined), ms, label, { allowDone: true });
    return Date.now() - t0;
  }
}
