// http_backpressure.test.mjs: an HTTP client that pipelines requests and does not read the
// responses makes the server stop reading its requests once --http-max-queue bytes wait
// for it (static files are sent in chunks as it reads), so its memory stays bounded; the
// held-back requests are answered, in order, once it reads; one that never reads is
// dropped after --http-idle-timeout without progress.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { buildRequest, fetchOnce, takeResponse } from './lib/http.mjs';
import { DEFAULT_WEB, startServer } from './lib/server.mjs';
import { connectTcp, delay, SocketReader } from './lib/util.mjs';

const BIG = 64 * 1024;
const WEB = { ...DEFAULT_WEB, 'big.js': 'x'.repeat(BIG - 1) + '\n' };

/** The server's resident memory in bytes (VmRSS of /proc/PID/status). */
function rss(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

/** Opens a connection that does not read, and writes count requests for target on it. */
async function pipelineUnread(port, target, count) {
  const socket = await connectTcp(port);
  socket.pause();
  const reader = new SocketReader(socket);
  const one = buildRequest('GET', target);
  socket.write(Buffer.concat(Array.from({ length: count }, () => one)));
  return { socket, reader };
}

/** Waits until the socket has handed everything it was given to the kernel. */
async function drained(socket) {
  while (socket.writableLength > 0 && !socket.destroyed) await delay(10);
}

for (const mode of ['on', 'off']) describe(`HTTP output backpressure (--io-uring ${mode})`, () => {
  let srv;
  before(async () => {
    srv = await startServer({ webFiles: WEB, args: ['--io-uring', mode] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('a pipelining client that does not read holds bounded memory, then gets every response in order', { timeout: 60000 }, async () => {
    const N = 1000; // 64 MiB of responses if the server answered them all at once
    await fetchOnce(srv.port, 'GET', '/big.js');
    const base = rss(srv.proc.pid);

    const { socket, reader } = await pipelineUnread(srv.port, '/big.js', N);
    await drained(socket);
    // Other clients are served meanwhile; each answer is a full loop turn for the server.
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      const res = await fetchOnce(srv.port, 'GET', '/healthz');
      assert.equal(res.status, 200);
      peak = Math.max(peak, rss(srv.proc.pid));
      await delay(10);
    }
    const grown = peak - base;
    assert.ok(grown < 16 * 1024 * 1024,
      `the server grew by ${(grown / 1048576).toFixed(1)} MiB for one client that does not read`);

    // Now read: every response arrives, complete and in order.
    socket.resume();
    let got = 0;
    while (got < N) {
      const res = await reader.wait(() => takeResponse(reader), 20000, `response ${got + 1}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.length, BIG);
      got++;
    }
    socket.destroy();
  });

  it('held-back pipelined requests of every kind are answered in order', { timeout: 30000 }, async () => {
    const targets = [];
    for (let i = 0; i < 60; i++) targets.push('/big.js', '/healthz', '/nope.txt', '/api/nope');
    const socket = await connectTcp(srv.port);
    const reader = new SocketReader(socket);
    socket.write(Buffer.concat(targets.map((t) => buildRequest('GET', t))));
    for (let i = 0; i < targets.length; i++) {
      const res = await reader.wait(() => takeResponse(reader), 10000, `response ${i + 1}`);
      const want = targets[i] === '/big.js' || targets[i] === '/healthz' ? 200 : 404;
      assert.equal(res.status, want, `response ${i + 1} (${targets[i]})`);
      if (targets[i] === '/big.js') assert.equal(res.body.length, BIG);
    }
    socket.destroy();
  });
});

describe('HTTP client that never reads (--http-idle-timeout 300ms)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ webFiles: WEB, args: ['--http-idle-timeout', '300ms', '--log-level', 'debug'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('is closed once its responses stop moving', { timeout: 20000 }, async () => {
    const from = srv.lines.length;
    const { socket, reader } = await pipelineUnread(srv.port, '/big.js', 200);
    await srv.waitForLine(/client stopped reading responses/, 10000, from);
    socket.resume();
    await reader.waitDone(10000, 'the server to drop the connection');
    let got = 0;
    try {
      while (takeResponse(reader)) got++;
    } catch {
      /* a cut response at the end */
    }
    assert.ok(got < 200, `all ${got} responses were sent to a client that did not read`);
    const res = await fetchOnce(srv.port, 'GET', '/healthz');
    assert.equal(res.status, 200);
    socket.destroy();
  });
});
