// http.test.mjs: HTTP/1.1 behaviour: health check, errors, limits, keep-alive,
// pipelining, timeouts and the connection limit.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { assertJsonError, buildRequest, fetchOnce, HttpConn } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';
import { delay } from './lib/util.mjs';

const T = { timeout: 15000 };

function assertHealthy(res) {
  assert.equal(res.status, 200, `status (body ${JSON.stringify(res.text)})`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/);
  assert.deepEqual(res.json(), { status: 'ok' });
  assert.equal(Number(res.headers['content-length']), res.body.length);
}

describe('HTTP with default limits', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stop();
  });

  it('GET /healthz -> 200 {"status":"ok"} application/json', T, async () => {
    const res = await fetchOnce(srv.port, 'GET', '/healthz');
    assertHealthy(res);
    assert.equal(res.version, '1.1');
    assert.equal(res.text, '{"status":"ok"}');
  });

  it('GET /healthz with a query string -> 200', T, async () => {
    assertHealthy(await fetchOnce(srv.port, 'GET', '/healthz?x=1&y=2'));
  });

  it('HEAD /healthz -> 200 with headers and no body', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      const res = await c.request('HEAD', '/healthz');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], '15');
      assert.match(res.headers['content-type'] ?? '', /^application\/json\b/);
      // Had the server sent a body, it would be read as the next response.
      assertHealthy(await c.request('GET', '/healthz'));
    } finally {
      c.close();
    }
  });

  it('GET and HEAD /livez -> 200 {"status":"ok"}; other methods 405', T, async () => {
    assertHealthy(await fetchOnce(srv.port, 'GET', '/livez'));
    const c = await HttpConn.open(srv.port);
    try {
      const res = await c.request('HEAD', '/livez');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], '15');
      assertHealthy(await c.request('GET', '/livez?probe=1'));
    } finally {
      c.close();
    }
    const res = await fetchOnce(srv.port, 'POST', '/livez', { body: '' });
    assertJsonError(res, 405, 'method_not_allowed');
    assert.equal(res.headers.allow, 'GET, HEAD');
  });

  it('unknown path -> 404 not_found', T, async () => {
    assertJsonError(await fetchOnce(srv.port, 'GET', '/no/such/thing'), 404, 'not_found');
    assertJsonError(await fetchOnce(srv.port, 'GET', '/api/nothing-here'), 404, 'not_found');
  });

  it('POST /healthz -> 405 method_not_allowed with "Allow: GET, HEAD"', T, async () => {
    const res = await fetchOnce(srv.port, 'POST', '/healthz', { body: '' });
    assertJsonError(res, 405, 'method_not_allowed');
    assert.equal(res.headers.allow, 'GET, HEAD');
  });

  it('DELETE and PUT /healthz -> 405 with Allow', T, async () => {
    for (const m of ['DELETE', 'PUT']) {
      const res = await fetchOnce(srv.port, m, '/healthz', m === 'PUT' ? { body: 'x' } : {});
      assertJsonError(res, 405, 'method_not_allowed');
      assert.equal(res.headers.allow, 'GET, HEAD');
    }
  });

  it('keep-alive: several requests on one connection', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      for (let i = 0; i < 5; i++) {
        assertHealthy(await c.request('GET', '/healthz'));
        assert.equal(c.done, false, 'connection still open');
      }
      assertJsonError(await c.request('GET', '/nope'), 404, 'not_found');
      assertHealthy(await c.request('GET', '/healthz'));
      assert.equal(c.reader.length, 0, 'no stray bytes after the responses');
    } finally {
      c.close();
    }
  });

  it('pipelining: 3 requests in one write -> 3 responses in order', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      c.write(Buffer.concat([
        buildRequest('GET', '/healthz'),
        buildRequest('GET', '/pipelined-missing'),
        buildRequest('HEAD', '/healthz'),
      ]));
      assertHealthy(await c.response());
      assertJsonError(await c.response(), 404, 'not_found');
      const h = await c.response({ head: true });
      assert.equal(h.status, 200);
      assert.equal(h.body.length, 0);
      assertHealthy(await c.request('GET', '/healthz'));
    } finally {
      c.close();
    }
  });

  it('pipelining: 50 GETs in one write -> 50 responses', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      const reqs = [];
      for (let i = 0; i < 50; i++) reqs.push(buildRequest('GET', i % 2 ? `/missing-${i}` : '/healthz'));
      c.write(Buffer.concat(reqs));
      for (let i = 0; i < 50; i++) {
        const res = await c.response();
        if (i % 2) assertJsonError(res, 404, 'not_found');
        else assertHealthy(res);
      }
    } finally {
      c.close();
    }
  });

  it('a chunked POST /healthz -> 405, body consumed, the pipelined GET still works', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      c.write(Buffer.concat([
        buildRequest('POST', '/healthz', {
          headers: { 'Transfer-Encoding': 'chunked' },
          body: '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
        }),
        buildRequest('GET', '/healthz'),
      ]));
      const r1 = await c.response();
      assertJsonError(r1, 405, 'method_not_allowed');
      assert.equal(r1.headers.allow, 'GET, HEAD');
      assertHealthy(await c.response());
    } finally {
      c.close();
    }
  });

  it('a Content-Length POST body is consumed before the next pipelined request', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      // The body looks like a request: it must not be parsed as one.
      const body = 'GET /should-not-be-a-request HTTP/1.1\r\nHost: x\r\n\r\n';
      c.write(Buffer.concat([buildRequest('POST', '/healthz', { body }), buildRequest('GET', '/healthz')]));
      assertJsonError(await c.response(), 405, 'method_not_allowed');
      assertHealthy(await c.response());
      assert.equal(c.reader.length, 0);
    } finally {
      c.close();
    }
  });

  it('HTTP/1.0 without keep-alive: response then close', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      const res = await c.request('GET', '/healthz', { version: '1.0' });
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), { status: 'ok' });
      await c.waitClosed(2000);
    } finally {
      c.close();
    }
  });

  it('"Connection: close" on HTTP/1.1: response then close', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      assertHealthy(await c.request('GET', '/healthz', { headers: { Connection: 'close' } }));
      await c.waitClosed(2000);
    } finally {
      c.close();
    }
  });

  it('a malformed request line -> 400 bad_request, then close', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      c.write('THIS IS NOT HTTP\r\n\r\n');
      assertJsonError(await c.response(), 400, 'bad_request');
      await c.waitClosed(2000);
    } finally {
      c.close();
    }
  });

  it('a header line without a colon -> 400 bad_request', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      c.write('GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n');
      assertJsonError(await c.response(), 400, 'bad_request');
      await c.waitClosed(2000);
    } finally {
      c.close();
    }
  });

  it('a bad chunk size -> 400 bad_request', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      c.write(buildRequest('POST', '/healthz', {
        headers: { 'Transfer-Encoding': 'chunked' },
        body: 'zz\r\nhello\r\n0\r\n\r\n',
      }));
      assertJsonError(await c.response(), 400, 'bad_request');
      await c.waitClosed(2000);
    } finally {
      c.close();
    }
  });

  it('both Content-Length and Transfer-Encoding -> 400 bad_request (no smuggling)', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      c.write(buildRequest('POST', '/healthz', {
        headers: [['Content-Length', '4'], ['Transfer-Encoding', 'chunked']],
        body: '0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
      }));
      assertJsonError(await c.response(), 400, 'bad_request');
      await c.waitClosed(2000);
    } finally {
      c.close();
    }
  });

  it('bare LF line endings and obs-fold header lines -> 400 bad_request, connection closed', T, async () => {
    const cases = [
      ['GET /healthz HTTP/1.1\nHost: x\n\n', /bare LF/],
      ['GET /healthz HTTP/1.1\r\nHost: x\n\r\n', /bare LF/],
      ['GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n', /obs-fold/],
      ['POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\tx\r\n\r\n0\r\n\r\n', /obs-fold/],
    ];
    for (const [raw, msg] of cases) {
      const c = await HttpConn.open(srv.port);
      try {
        c.write(raw);
        const res = await c.response();
        assertJsonError(res, 400, 'bad_request');
        assert.match(res.json().error.message, msg, JSON.stringify(raw));
        await c.waitClosed(2000);
      } finally {
        c.close();
      }
    }
    // The same requests with CR LF and no folding are fine.
    const c = await HttpConn.open(srv.port);
    try {
      c.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1 2\r\n\r\n');
      assertHealthy(await c.response());
    } finally {
      c.close();
    }
  });

  it('a transfer coding other than chunked -> 400 bad_request', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      c.write(buildRequest('POST', '/healthz', { headers: { 'Transfer-Encoding': 'gzip' }, body: 'xxxx' }));
      assertJsonError(await c.response(), 400, 'bad_request');
    } finally {
      c.close();
    }
  });

  it('two different Content-Length headers -> 400 bad_request', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      c.write(buildRequest('POST', '/healthz', {
        headers: [['Content-Length', '3'], ['Content-Length', '5']],
        body: 'abcde',
      }));
      assertJsonError(await c.response(), 400, 'bad_request');
    } finally {
      c.close();
    }
  });

  it('Content-Length of 2 MiB -> 413 payload_too_large before the body is sent', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      c.write(buildRequest('POST', '/healthz', { headers: { 'Content-Length': String(2 * 1024 * 1024) } }));
      assertJsonError(await c.response(), 413, 'payload_too_large');
      await c.waitClosed(2000);
    } finally {
      c.close();
    }
  });

  it('17 KiB of headers -> 431 headers_too_large', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      const headers = [];
      for (let i = 0; i < 17; i++) headers.push([`X-Fill-${i}`, 'a'.repeat(1024)]);
      c.write(buildRequest('GET', '/healthz', { headers }));
      assertJsonError(await c.response(), 431, 'headers_too_large');
      await c.waitClosed(2000);
    } finally {
      c.close();
    }
  });

  it('a request line of 17 KiB -> 431 headers_too_large', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      c.write(buildRequest('GET', `/healthz?${'q'.repeat(17 * 1024)}`));
      assertJsonError(await c.response(), 431, 'headers_too_large');
    } finally {
      c.close();
    }
  });

  it('15 KiB of headers is still accepted', T, async () => {
    const headers = [];
    for (let i = 0; i < 15; i++) headers.push([`X-Fill-${i}`, 'a'.repeat(1000)]);
    assertHealthy(await fetchOnce(srv.port, 'GET', '/healthz', { headers }));
  });

  it('the server is still healthy after all the bad requests', T, async () => {
    assertHealthy(await fetchOnce(srv.port, 'GET', '/healthz'));
  });
});

describe('HTTP with small limits and short timeouts', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      args: ['--http-header-timeout', '300ms', '--http-idle-timeout', '300ms',
        '--http-max-body', '1KiB', '--http-max-header', '2KiB'],
    });
  });
  after(async () => {
    await srv?.stop();
  });

  it('slowloris: headers trickling in -> 408 request_timeout after ~300 ms, then close', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      const t0 = Date.now();
      c.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      // One more header byte every 50 ms: each byte must not restart the timer.
      const trickle = (async () => {
        for (let i = 0; i < 60 && !c.done; i++) {
          c.write('X-Slow: a\r\n'.slice(i % 11, (i % 11) + 1));
          await delay(50);
        }
      })();
      const res = await c.response({ timeout: 3000 });
      const elapsed = Date.now() - t0;
      assertJsonError(res, 408, 'request_timeout');
      assert.ok(elapsed >= 250, `408 came after ${elapsed} ms, expected ~300`);
      assert.ok(elapsed < 2000, `408 came after ${elapsed} ms, expected ~300`);
      await c.waitClosed(2000);
      await trickle;
    } finally {
      c.close();
    }
  });

  it('a connection that sends nothing is closed (header timeout)', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      const waited = await c.waitClosed(3000);
      assert.ok(waited >= 250, `closed after ${waited} ms`);
    } finally {
      c.close();
    }
  });

  it('an idle keep-alive connection is closed after the idle timeout', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      assertHealthy(await c.request('GET', '/healthz'));
      const waited = await c.waitClosed(3000);
      assert.ok(waited >= 250, `closed ${waited} ms after the response, expected ~300`);
    } finally {
      c.close();
    }
  });

  it('a busy keep-alive connection is not closed by the idle timeout', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      // 8 requests 100 ms apart: 800 ms in all, never 300 ms idle.
      for (let i = 0; i < 8; i++) {
        assertHealthy(await c.request('GET', '/healthz'));
        await delay(100);
        assert.equal(c.done, false, `closed after request ${i + 1}`);
      }
    } finally {
      c.close();
    }
  });

  it('--http-max-body 1KiB: Content-Length 1025 -> 413; 1024 -> 405', T, async () => {
    const big = await fetchOnce(srv.port, 'POST', '/healthz', { body: 'b'.repeat(1025) });
    assertJsonError(big, 413, 'payload_too_large');
    const ok = await fetchOnce(srv.port, 'POST', '/healthz', { body: 'b'.repeat(1024) });
    assertJsonError(ok, 405, 'method_not_allowed');
  });

  it('--http-max-body 1KiB: a chunked body adding up to 1200 bytes -> 413', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      const chunk = `190\r\n${'c'.repeat(400)}\r\n`; // 0x190 = 400
      c.write(buildRequest('POST', '/healthz', {
        headers: { 'Transfer-Encoding': 'chunked' },
        body: `${chunk}${chunk}${chunk}0\r\n\r\n`,
      }));
      assertJsonError(await c.response(), 413, 'payload_too_large');
    } finally {
      c.close();
    }
  });

  it('--http-max-header 2KiB: 3 KiB of headers -> 431', T, async () => {
    const res = await fetchOnce(srv.port, 'GET', '/healthz', { headers: { 'X-Big': 'h'.repeat(3 * 1024) } });
    assertJsonError(res, 431, 'headers_too_large');
  });
});

describe('HTTP connection limit', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--max-connections', '2'] });
  });
  after(async () => {
    await srv?.stop();
  });

  /**
   * A connection the server admitted (GET /healthz answered 200). A connection closed by
   * a client (startServer's probe, an earlier test's) still counts until the server
   * reads its EOF, so retry, bounded, until a slot is free.
   */
  async function admitted() {
    const deadline = Date.now() + 3000;
    for (;;) {
      const c = await HttpConn.open(srv.port);
      const res = await c.request('GET', '/healthz').catch((e) => e);
      if (res.status === 200) return c;
      c.close();
      if (Date.now() > deadline) assert.fail(`no slot freed within 3 s: ${res.status ?? res.message}`);
      await delay(50);
    }
  }

  it('--max-connections 2: the third connection gets 503 service_unavailable and is closed', T, async () => {
    const a = await admitted();
    const b = await admitted();
    let c;
    try {
      c = await HttpConn.open(srv.port);
      // The server answers on accept, without waiting for a request. (Sending one after a
      // short wait raced the server's close under load: the reset could discard the 503.)
      await c.reader.wait(() => (c.reader.length > 0 ? true : undefined), 5000, 'the 503 sent on accept', { allowDone: true });
      const res = await c.response();
      assertJsonError(res, 503, 'service_unavailable');
      assert.equal(res.headers['retry-after'], '1');
      await c.waitClosed(2000);
      // The two admitted connections still work.
      assertHealthy(await a.request('GET', '/healthz'));
      assertHealthy(await b.request('GET', '/healthz'));
    } finally {
      a.close();
      b.close();
      c?.close();
    }
  });

  it('freed slots are usable again', T, async () => {
    // Connections closed by the client are noticed by the server asynchronously, so
    // admitted() retries until one is admitted; then hold it while admitting a second.
    const a = await admitted();
    const b = await admitted();
    try {
      assertHealthy(await a.request('GET', '/healthz'));
      assertHealthy(await b.request('GET', '/healthz'));
    } finally {
      a.close();
      b.close();
    }
  });
});
