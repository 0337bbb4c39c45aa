// shutdown.test.mjs: SIGTERM closes every WebSocket with 1001 and exits 0 within the
// shutdown timeout.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { HttpConn } from './lib/http.mjs';
import { OP, RawWs } from './lib/rawws.mjs';
import { startServer } from './lib/server.mjs';
import { withTimeout } from './lib/util.mjs';
import { JsonWs } from './lib/wsclient.mjs';

const T = { timeout: 20000 };

describe('graceful shutdown', () => {
  it('SIGTERM: two ws clients get close 1001, the process exits 0 in time', T, async () => {
    const srv = await startServer({ args: ['--shutdown-timeout', '2s'] });
    let a;
    let b;
    try {
      a = await JsonWs.open(srv.port);
      b = await JsonWs.open(srv.port);
      await a.echo('a');
      await b.echo('b');
      const t0 = Date.now();
      srv.proc.kill('SIGTERM');
      const [ca, cb] = await Promise.all([a.waitClose(3000), b.waitClose(3000)]);
      assert.equal(ca.code, 1001);
      assert.equal(cb.code, 1001);
      const info = await withTimeout(srv.exited, 3000, 'exit after SIGTERM');
      assert.deepEqual(info, { code: 0, signal: null }, srv.stderrTail());
      assert.ok(Date.now() - t0 < 3000, `exit took ${Date.now() - t0} ms with --shutdown-timeout 2s`);
    } finally {
      a?.close();
      b?.close();
      srv.kill();
      srv.cleanup();
    }
  });

  it('SIGTERM: a raw client that never answers the close still lets the process exit by the timeout', T, async () => {
    const srv = await startServer({ args: ['--shutdown-timeout', '500ms'] });
    let ws;
    try {
      ws = await RawWs.connect(srv.port);
      ws.sendJson({ op: 'echo', ref: 1, data: 'x' });
      await ws.nextJson();
      const t0 = Date.now();
      srv.proc.kill('SIGTERM');
      const f = await ws.nextFrame(3000);
      assert.equal(f.opcode, OP.CLOSE);
      assert.equal(f.code, 1001);
      // No close reply from us: the server must give up after --shutdown-timeout.
      const info = await withTimeout(srv.exited, 4000, 'exit after SIGTERM');
      const took = Date.now() - t0;
      assert.deepEqual(info, { code: 0, signal: null }, srv.stderrTail());
      assert.ok(took < 3000, `exit took ${took} ms with --shutdown-timeout 500ms`);
      await ws.waitClosed(1000);
    } finally {
      ws?.destroy();
      srv.kill();
      srv.cleanup();
    }
  });

  it('SIGTERM with an idle keep-alive HTTP connection and a WebSocket open: exits 0 promptly', T, async () => {
    const srv = await startServer({ args: ['--shutdown-timeout', '5s'] });
    let http;
    let c;
    try {
      http = await HttpConn.open(srv.port);
      assert.equal((await http.request('GET', '/healthz')).status, 200);
      c = await JsonWs.open(srv.port);
      await c.echo(1);
      const t0 = Date.now();
      srv.proc.kill('SIGTERM');
      assert.equal((await c.waitClose(3000)).code, 1001);
      await http.waitClosed(3000);
      const info = await withTimeout(srv.exited, 6000, 'exit after SIGTERM');
      assert.deepEqual(info, { code: 0, signal: null }, srv.stderrTail());
      // Everyone closed at once, so there is nothing to wait 5 s for.
      assert.ok(Date.now() - t0 < 2000, `exit took ${Date.now() - t0} ms although every client was gone`);
    } finally {
      http?.close();
      c?.close();
      srv.kill();
      srv.cleanup();
    }
  });

  it('SIGINT works like SIGTERM: close 1001, exit 0', T, async () => {
    const srv = await startServer({ args: ['--shutdown-timeout', '2s'] });
    let c;
    try {
      c = await JsonWs.open(srv.port);
      await c.echo('x');
      srv.proc.kill('SIGINT');
      assert.equal((await c.waitClose(3000)).code, 1001);
      const info = await withTimeout(srv.exited, 3000, 'exit after SIGINT');
      assert.deepEqual(info, { code: 0, signal: null }, srv.stderrTail());
    } finally {
      c?.close();
      srv.kill();
      srv.cleanup();
    }
  });

  it('a second SIGTERM drops everything at once', T, async () => {
    const srv = await startServer({ args: ['--shutdown-timeout', '30s'] });
    let ws;
    try {
      ws = await RawWs.connect(srv.port);
      srv.proc.kill('SIGTERM');
      const f = await ws.nextFrame(3000);
      assert.equal(f.code, 1001);
      // We never answer the close, so only the second signal can end it before 30 s.
      const t0 = Date.now();
      srv.proc.kill('SIGTERM');
      await withTimeout(srv.exited, 3000, 'exit after the second SIGTERM');
      assert.ok(Date.now() - t0 < 3000);
      assert.equal(srv.exitInfo.signal, null, 'exits by itself, not killed by the signal');
    } finally {
      ws?.destroy();
      srv.kill();
      srv.cleanup();
    }
  });

  // "Quickly" is said by behaviour, not by a clock (which a loaded or sanitized run
  // stretches): the signal handler ran ("shutting down", exit 0 and not killed by the
  // signal's default action) and nothing waited for the shutdown timeout, set to a minute
  // here so that a drain waiting for it would not finish inside stop()'s 10 s.
  const quickly = ['--shutdown-timeout', '60s'];
  function assertHandled(srv) {
    assert.ok(srv.lines.some((l) => /signal 15: shutting down/.test(l)),
      `the SIGTERM handler ran; stderr:\n${srv.stderrTail()}`);
    assert.ok(!srv.lines.some((l) => /shutdown timeout/.test(l)),
      `nothing waited for the shutdown timeout; stderr:\n${srv.stderrTail()}`);
  }

  it('SIGTERM right after the listening line: handled, exits 0 without waiting', { timeout: 90000 }, async () => {
    // The listening line says the server is ready; a supervisor may stop it at once.
    // 20 starts: the window this guards against is small, one start rarely hits it.
    for (let i = 0; i < 20; i++) {
      const srv = await startServer({ probe: false, args: quickly });
      await srv.stop();
      assertHandled(srv);
    }
  });

  it('SIGTERM with no clients: handled, exits 0 without waiting', T, async () => {
    const srv = await startServer({ args: quickly });
    await srv.stop();
    assertHandled(srv);
  });
});
