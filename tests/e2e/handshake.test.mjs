// handshake.test.mjs: the WebSocket opening handshake at GET /ws: validation, the
// accept value, subprotocol selection and the Origin check (same-origin + allow-list).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { assertJsonError, fetchOnce, HttpConn } from './lib/http.mjs';
import { jsonFrame, OP, RawWs, upgradeHeaders } from './lib/rawws.mjs';
import { startServer } from './lib/server.mjs';
import { JsonWs } from './lib/wsclient.mjs';

const T = { timeout: 15000 };
const SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

describe('WebSocket handshake', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stop();
  });

  it('the RFC 6455 sample key -> 101 with Sec-WebSocket-Accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      const res = await c.request('GET', '/ws', { headers: upgradeHeaders() });
      assert.equal(res.status, 101);
      assert.equal(res.headers['sec-websocket-accept'], SAMPLE_ACCEPT);
      assert.match(res.headers.upgrade ?? '', /^websocket$/i);
      assert.match(res.headers.connection ?? '', /^upgrade$/i);
      assert.equal(res.headers['sec-websocket-protocol'], undefined, 'no subprotocol when none offered');
      assert.equal(res.headers['sec-websocket-extensions'], undefined, 'no extension negotiated');
      assert.equal(res.body.length, 0);
    } finally {
      c.close();
    }
  });

  it('header values are case-insensitive; Connection may be a token list', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      const res = await c.request('GET', '/ws', {
        headers: upgradeHeaders({ Upgrade: 'WebSocket', Connection: 'keep-alive, Upgrade' }),
      });
      assert.equal(res.status, 101);
      assert.equal(res.headers['sec-websocket-accept'], SAMPLE_ACCEPT);
    } finally {
      c.close();
    }
  });

  for (const [name, over] of [
    ['no Upgrade header', { Upgrade: undefined }],
    ['Upgrade: h2c', { Upgrade: 'h2c' }],
    ['no Connection header', { Connection: undefined }],
    ['Connection: keep-alive (no upgrade token)', { Connection: 'keep-alive' }],
    ['no Sec-WebSocket-Key', { 'Sec-WebSocket-Key': undefined }],
    ['a key that is not 16 bytes of base64', { 'Sec-WebSocket-Key': 'c2hvcnQ=' }],
    ['a key that is not base64', { 'Sec-WebSocket-Key': '!!!!not*base64!!!!!!!==' }],
  ]) {
    it(`${name} -> 400 bad_request`, T, async () => {
      const res = await fetchOnce(srv.port, 'GET', '/ws', { headers: upgradeHeaders(over) });
      assertJsonError(res, 400, 'bad_request');
      assert.equal(res.headers['sec-websocket-accept'], undefined);
    });
  }

  it('POST /ws -> 405 with "Allow: GET"', T, async () => {
    const res = await fetchOnce(srv.port, 'POST', '/ws', { body: '' });
    assertJsonError(res, 405, 'method_not_allowed');
    assert.equal(res.headers.allow, 'GET');
  });

  it('a plain GET /ws (no upgrade at all) -> 400 bad_request', T, async () => {
    assertJsonError(await fetchOnce(srv.port, 'GET', '/ws'), 400, 'bad_request');
  });

  for (const [name, version] of [['version 8', '8'], ['version 14', '14'], ['no version', undefined]]) {
    it(`Sec-WebSocket-Version: ${name} -> 426 with "Sec-WebSocket-Version: 13"`, T, async () => {
      const res = await fetchOnce(srv.port, 'GET', '/ws', {
        headers: upgradeHeaders({ 'Sec-WebSocket-Version': version }),
      });
      assertJsonError(res, 426, 'upgrade_required');
      assert.equal(res.headers['sec-websocket-version'], '13');
    });
  }

  it('frames sent in the same write as the handshake are not lost', T, async () => {
    const ws = await RawWs.connect(srv.port, { extra: jsonFrame({ op: 'echo', ref: 1, data: 'early' }) });
    try {
      assert.deepEqual(await ws.nextJson(), { op: 'reply', ref: 1, ok: true, data: 'early' });
    } finally {
      ws.destroy();
    }
  });

  it('an HTTP request before the upgrade on the same connection, then the upgrade', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      assert.equal((await c.request('GET', '/healthz')).status, 200);
      const res = await c.request('GET', '/ws', { headers: upgradeHeaders() });
      assert.equal(res.status, 101);
      c.write(jsonFrame({ op: 'echo', ref: 7, data: 'after keep-alive' }));
      const ws = new RawWs(c.socket, c.reader);
      const f = await ws.nextFrame();
      assert.equal(f.opcode, OP.TEXT);
      assert.deepEqual(JSON.parse(f.payload), { op: 'reply', ref: 7, ok: true, data: 'after keep-alive' });
    } finally {
      c.close();
    }
  });

  it('subprotocol chorus.v1 is selected when offered (ws package)', T, async () => {
    const c = await JsonWs.open(srv.port, { protocols: ['chorus.v1'] });
    try {
      assert.equal(c.ws.protocol, 'chorus.v1');
      await c.echo('with subprotocol');
    } finally {
      c.close();
    }
  });

  it('subprotocol chorus.v1 is selected from a list of offers', T, async () => {
    const res = await fetchOnce(srv.port, 'GET', '/ws', {
      headers: upgradeHeaders({ 'Sec-WebSocket-Protocol': 'foo, chorus.v1, bar' }),
    });
    assert.equal(res.status, 101);
    assert.equal(res.headers['sec-websocket-protocol'], 'chorus.v1');
  });

  it('only unknown subprotocols offered -> 101 without Sec-WebSocket-Protocol', T, async () => {
    const res = await fetchOnce(srv.port, 'GET', '/ws', {
      headers: upgradeHeaders({ 'Sec-WebSocket-Protocol': 'mqtt, foo.v2' }),
    });
    assert.equal(res.status, 101);
    assert.equal(res.headers['sec-websocket-protocol'], undefined);
  });

  it('without --origins a browser from another origin -> 403 forbidden', T, async () => {
    for (const origin of ['http://anything.example', `http://localhost:${srv.port}`,
      `http://127.0.0.1:${srv.port + 1}`, `http://127.0.0.1:${srv.port}.evil.example`, 'null',
      `ftp://127.0.0.1:${srv.port}`]) {
      const res = await fetchOnce(srv.port, 'GET', '/ws', {
        headers: upgradeHeaders({ Host: `127.0.0.1:${srv.port}`, Origin: origin }),
      });
      assertJsonError(res, 403, 'forbidden');
      assert.equal(res.headers['sec-websocket-accept'], undefined);
    }
    await assert.rejects(JsonWs.open(srv.port, { origin: 'http://anything.example' }), (e) => e.statusCode === 403);
  });

  it('without --origins the same origin (Origin host:port = Host) and no Origin -> 101', T, async () => {
    const c = await JsonWs.open(srv.port, { origin: `http://127.0.0.1:${srv.port}` });
    await c.echo('same origin');
    c.close();
    // Behind a proxy that keeps Host: the browser's origin has the default port.
    for (const [host, origin] of [['chat.example.com', 'https://chat.example.com'],
      ['Chat.Example.com:443', 'https://chat.example.com']]) {
      const res = await fetchOnce(srv.port, 'GET', '/ws', { headers: upgradeHeaders({ Host: host, Origin: origin }) });
      assert.equal(res.status, 101, `${host} / ${origin}`);
    }
    const res = await fetchOnce(srv.port, 'GET', '/ws', { headers: upgradeHeaders() });
    assert.equal(res.status, 101);
  });
});

describe('WebSocket handshake: same-origin by --public-url and --origins "*"', () => {
  it('--public-url: its origin is the server\'s own whatever Host says', T, async () => {
    const srv = await startServer({ args: ['--public-url', 'https://chat.example.com/rooms/'] });
    try {
      const ok = await fetchOnce(srv.port, 'GET', '/ws', {
        headers: upgradeHeaders({ Host: `127.0.0.1:${srv.port}`, Origin: 'https://chat.example.com' }),
      });
      assert.equal(ok.status, 101);
      const bad = await fetchOnce(srv.port, 'GET', '/ws', {
        headers: upgradeHeaders({ Host: `127.0.0.1:${srv.port}`, Origin: 'http://chat.example.com' }),
      });
      assertJsonError(bad, 403, 'forbidden');
    } finally {
      await srv.stop();
    }
  });

  it('--origins "*" allows any Origin', T, async () => {
    const srv = await startServer({ args: ['--origins', '*'] });
    try {
      const c = await JsonWs.open(srv.port, { origin: 'http://anything.example' });
      await c.echo('any');
      c.close();
    } finally {
      await srv.stop();
    }
  });
});

describe('WebSocket handshake with --origins', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--origins', 'http://a.example,https://b.example:8443'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('an allowed Origin -> 101', T, async () => {
    for (const origin of ['http://a.example', 'https://b.example:8443']) {
      const c = await JsonWs.open(srv.port, { origin });
      await c.echo(origin);
      c.close();
    }
  });

  it('an Origin not in the list -> 403', T, async () => {
    for (const origin of ['http://evil.example', 'http://a.example.evil.example', 'https://a.example',
      'https://b.example']) {
      const res = await fetchOnce(srv.port, 'GET', '/ws', { headers: upgradeHeaders({ Origin: origin }) });
      assertJsonError(res, 403, 'forbidden');
      assert.equal(res.headers['sec-websocket-accept'], undefined);
    }
  });

  it('the server\'s own origin is allowed besides the list', T, async () => {
    const c = await JsonWs.open(srv.port, { origin: `http://127.0.0.1:${srv.port}` });
    await c.echo('own');
    c.close();
  });

  it('no Origin header (a non-browser client) -> 101', T, async () => {
    const res = await fetchOnce(srv.port, 'GET', '/ws', { headers: upgradeHeaders() });
    assert.equal(res.status, 101);
    assert.equal(res.headers['sec-websocket-accept'], SAMPLE_ACCEPT);
  });

  it('an Origin not in the list -> 403 (ws package)', T, async () => {
    await assert.rejects(JsonWs.open(srv.port, { origin: 'http://evil.example' }), (e) => {
      assert.equal(e.statusCode, 403);
      return true;
    });
  });

  it('CHORUS_ORIGINS in the environment works the same', T, async () => {
    const s2 = await startServer({ env: { CHORUS_ORIGINS: 'http://env.example' } });
    try {
      const ok = await JsonWs.open(s2.port, { origin: 'http://env.example' });
      ok.close();
      const res = await fetchOnce(s2.port, 'GET', '/ws', { headers: upgradeHeaders({ Origin: 'http://a.example' }) });
      assert.equal(res.status, 403);
    } finally {
      await s2.stop();
    }
  });
});
