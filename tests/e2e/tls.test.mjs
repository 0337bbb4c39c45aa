// tls.test.mjs: TLS on the listener (--tls-cert/--tls-key) with a test CA: HTTPS REST and
// static files, wss:// with the ws package, Socket.IO over TLS, session resumption, ALPN,
// a plain request and a bad ClientHello on the TLS port, SIGHUP reloading the certificate
// and the config file, the --tls-redirect listener, SIGTERM's 1001 over TLS.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';

import { io } from 'socket.io-client';
import WebSocket from 'ws';

import { FAST_HASH, mintJwt, nowSec, TEST_SECRET } from './lib/auth.mjs';
import { fetchOnce } from './lib/http.mjs';
import { mkUser } from './lib/rooms.mjs';
import { DEFAULT_WEB, makeTempDir, startServer } from './lib/server.mjs';
import { makeCa } from './lib/tls.mjs';
import { withTimeout } from './lib/util.mjs';
import { JsonWs } from './lib/wsclient.mjs';

const T = { timeout: 20000 };
const BIG = 'x'.repeat(300 * 1024); // more than one static file chunk and one TLS record

/** An HTTPS request; resolves { status, headers, body, socket facts }. */
function get(port, ca, target, { method = 'GET', body, agent = false, headers = {} } = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: target, method, ca, agent, headers,
      ALPNProtocols: ['http/1.1'] }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8'), alpn: res.socket.alpnProtocol,
        version: res.socket.getProtocol?.(), fingerprint: res.socket.getPeerCertificate?.().fingerprint256 }));
    });
    req.on('error', reject);
    req.end(body);
  }), 5000, `https ${method} ${target}`);
}

/** A TLS connection's peer certificate fingerprint and whether its session was reused. */
function handshake(port, ca, session) {
  return withTimeout(new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, session, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
    let ticket = null;
    s.on('session', (t) => { ticket = ticket || t; });
    s.once('secureConnect', () => {
      // TLS 1.3 tickets come after the handshake: ask for a page so they have arrived.
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    let reply = '';
    s.on('data', (d) => { reply += d; });
    s.once('end', () => {
      resolve({ reused: s.isSessionReused(), fingerprint: s.getPeerCertificate().fingerprint256,
        session: ticket, alpn: s.alpnProtocol, reply });
      s.destroy();
    });
    s.once('error', reject);
  }), 5000, 'tls handshake');
}

/** Opens wss://127.0.0.1:port/ws trusting ca. */
function wss(port, ca) {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, { ca });
  const c = new JsonWs(ws);
  return withTimeout(new Promise((resolve, reject) => {
    ws.once('open', () => resolve(c));
    ws.once('error', reject);
  }), 5000, 'wss open');
}

/** Sends raw bytes to port and resolves everything it gets back until the server closes. */
function raw(port, bytes) {
  return withTimeout(new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    const got = [];
    s.on('data', (d) => got.push(d));
    s.on('end', () => { s.destroy(); resolve(Buffer.concat(got)); });
    s.on('error', reject);
  }), 5000, 'raw exchange');
}

describe('TLS on the listener', () => {
  let srv;
  let ca;
  let certs;
  let cert1;
  let cfgFile;
  let redirectPort;
  const tmp = makeTempDir('chorus-tls-');

  before(async () => {
    certs = makeCa(tmp);
    ca = certs.ca;
    cert1 = certs.issue('one');
    fs.copyFileSync(cert1.cert, path.join(tmp, 'live.pem'));
    fs.copyFileSync(cert1.key, path.join(tmp, 'live.key'));
    cfgFile = path.join(tmp, 'chorus.json');
    fs.writeFileSync(cfgFile, JSON.stringify({ http_max_body: '1MiB', jwt_secret: TEST_SECRET }));
    srv = await startServer({
      probe: false,
      webFiles: { ...DEFAULT_WEB, 'big.txt': BIG },
      args: [...FAST_HASH, '--config', cfgFile, // the JWT secret is in the file (reloaded)
        '--tls-cert', path.join(tmp, 'live.pem'), '--tls-key', path.join(tmp, 'live.key'),
        '--tls-redirect', '127.0.0.1:0'],
    });
    const line = await srv.waitForLine(/redirecting plain HTTP on 127\.0\.0\.1:(\d+)/);
    redirectPort = Number(/:(\d+) to https/.exec(line)[1]);
  });

  after(async () => {
    await srv?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('HTTPS: REST and a static file bigger than a record, ALPN http/1.1, TLS 1.3', T, async () => {
    const h = await get(srv.port, ca, '/healthz');
    assert.equal(h.status, 200);
    assert.deepEqual(JSON.parse(h.body), { status: 'ok' });
    assert.equal(h.alpn, 'http/1.1');
    assert.equal(h.version, 'TLSv1.3');
    assert.equal(h.fingerprint, cert1.fingerprint);
    const big = await get(srv.port, ca, '/big.txt');
    assert.equal(big.status, 200);
    assert.equal(big.body.length, BIG.length);
    assert.ok(big.body === BIG);
    const api = await get(srv.port, ca, '/api/rooms/NOPE12', { headers: { Authorization: `Bearer ${mkUser().token}` } });
    assert.equal(api.status, 404);
    assert.equal(JSON.parse(api.body).success, false);
  });

  it('TLS 1.2 works, with the default cipher list; TLS 1.1 is refused', T, async () => {
    const s = await withTimeout(new Promise((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port: srv.port, ca, maxVersion: 'TLSv1.2' }, () => resolve(c));
      c.once('error', reject);
    }), 5000, 'tls 1.2');
    assert.equal(s.getProtocol(), 'TLSv1.2');
    assert.match(s.getCipher().name, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    s.destroy();
    await assert.rejects(new Promise((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port: srv.port, ca, minVersion: 'TLSv1', maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0' }, () => resolve(c));
      c.once('error', reject);
    }));
  });

  it('a session ticket resumes the session on the next connection', T, async () => {
    const first = await handshake(srv.port, ca);
    assert.equal(first.reused, false);
    assert.equal(first.alpn, 'http/1.1');
    assert.match(first.reply, /^HTTP\/1\.1 200/);
    assert.ok(first.session, 'a session ticket arrived');
    const second = await handshake(srv.port, ca, first.session);
    assert.equal(second.reused, true);
  });

  it('wss://: ops and replies through TLS', T, async () => {
    const c = await wss(srv.port, ca);
    try {
      for (let i = 0; i < 20; i++) await c.echo({ i, pad: 'y'.repeat(i * 1000) });
    } finally {
      c.close();
    }
  });

  it('Socket.IO over TLS: websocket and polling transports', T, async () => {
    for (const transports of [['websocket'], ['polling']]) {
      const s = io(`https://127.0.0.1:${srv.port}`, { reconnection: false, transports, ca,
        auth: { token: mkUser('Sio').token } });
      try {
        await withTimeout(new Promise((resolve, reject) => {
          s.once('connect', resolve);
          s.once('connect_error', reject);
        }), 5000, `socket.io connect over ${transports}`);
        const echo = await s.emitWithAck('echo', { data: { t: transports[0] } });
        assert.deepEqual(echo, { op: 'reply', ref: 0, ok: true, data: { t: transports[0] } });
      } finally {
        s.close();
      }
    }
  });

  it('a plain HTTP request to the TLS port gets a 400 saying so, then a close', T, async () => {
    const got = (await raw(srv.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')).toString('utf8');
    assert.match(got, /^HTTP\/1\.1 400 Bad Request\r\n/);
    const body = JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4));
    assert.equal(body.error.code, 'tls_required');
  });

  it('a bad ClientHello gets an alert and a close; the server serves on', T, async () => {
    // A handshake record whose body is not a ClientHello.
    const got = await raw(srv.port, Buffer.from('160301000b0100000701020304050607', 'hex'));
    assert.ok(got.length === 0 || got[0] === 0x15, `an alert or nothing: ${got.toString('hex')}`);
    const junk = await raw(srv.port, Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0, 0, 0]));
    assert.ok(junk.length === 0 || junk[0] === 0x15);
    assert.equal((await get(srv.port, ca, '/healthz')).status, 200);
  });

  it('the redirect listener answers 308 to the https URL, path and query kept', T, async () => {
    const r = await fetchOnce(redirectPort, 'GET', '/rooms/ab%20c?x=1&y=2', { headers: { Host: 'Example.com:8080' } });
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, `https://Example.com:${srv.port}/rooms/ab%20c?x=1&y=2`);
    const v6 = await fetchOnce(redirectPort, 'POST', '/api/x', { headers: { Host: '[::1]' } });
    assert.equal(v6.status, 308);
    assert.equal(v6.headers.location, `https://[::1]:${srv.port}/api/x`);
    // An upload (a route that streams its body) is redirected too, never taken over plain HTTP.
    const up = await fetchOnce(redirectPort, 'POST', '/api/uploads/',
      { headers: { Host: 'example.com', 'Tus-Resumable': '1.0.0', 'Upload-Length': '4' } });
    assert.equal(up.status, 308);
    for (const host of ['evil.com/x', 'a b', 'x:99999999', '']) {
      const bad = await fetchOnce(redirectPort, 'GET', '/', { headers: { Host: host } });
      assert.equal(bad.status, 400, `Host ${JSON.stringify(host)}`);
      assert.equal(bad.json().error.code, 'bad_request');
    }
  });

  it('SIGHUP: a new certificate for new handshakes while a wss stays up; a bad one is refused', T, async () => {
    const c = await wss(srv.port, ca);
    try {
      await c.echo('before');
      const two = certs.issue('two');
      fs.copyFileSync(two.cert, path.join(tmp, 'live.pem'));
      fs.copyFileSync(two.key, path.join(tmp, 'live.key'));
      let from = srv.lines.length;
      srv.proc.kill('SIGHUP');
      await srv.waitForLine(/config: reloaded: .*TLS certificate loaded from .*live\.pem/, 5000, from);
      assert.equal((await get(srv.port, ca, '/healthz')).fingerprint, two.fingerprint);
      await c.echo('after');
      // A broken file: logged, the certificate in use stays.
      fs.writeFileSync(path.join(tmp, 'live.pem'), 'not a certificate\n');
      from = srv.lines.length;
      srv.proc.kill('SIGHUP');
      await srv.waitForLine(/config: reload failed, nothing changed: the TLS certificate/, 5000, from);
      assert.equal((await get(srv.port, ca, '/healthz')).fingerprint, two.fingerprint);
      await c.echo('still');
      assert.equal(c.closeInfo, null);
    } finally {
      c.close();
      fs.copyFileSync(path.join(tmp, 'two.pem'), path.join(tmp, 'live.pem'));
    }
  });

  it('SIGHUP: a broken config file or certificate changes nothing, then a good one applies', T, async () => {
    const body = 'z'.repeat(2048);
    const login = () => get(srv.port, ca, '/api/auth/login', { method: 'POST', body,
      headers: { 'Content-Type': 'application/json' } });
    const hup = async (re) => {
      const from = srv.lines.length;
      srv.proc.kill('SIGHUP');
      return srv.waitForLine(re, 5000, from);
    };
    const was = (await get(srv.port, ca, '/healthz')).fingerprint;
    assert.notEqual((await login()).status, 413);
    // A new certificate on disk, a config file that no longer parses: neither applies.
    const three = certs.issue('three');
    fs.copyFileSync(three.cert, path.join(tmp, 'live.pem'));
    fs.copyFileSync(three.key, path.join(tmp, 'live.key'));
    fs.writeFileSync(cfgFile, '{"http_max_body": "1KiB", ');
    let from = srv.lines.length;
    const line = await hup(/config: reload failed, nothing changed: config .*chorus\.json.*not valid JSON/);
    assert.match(line, /ERROR/);
    assert.equal((await get(srv.port, ca, '/healthz')).fingerprint, was);
    assert.notEqual((await login()).status, 413);
    assert.ok(!srv.lines.slice(from).some((l) => /config: reloaded|tls: .*loaded/.test(l)),
      srv.lines.slice(from).join('\n'));
    // A good config file with a certificate that does not load: the limit does not apply.
    fs.writeFileSync(cfgFile, JSON.stringify({ http_max_body: '1KiB', jwt_secret: TEST_SECRET }));
    fs.writeFileSync(path.join(tmp, 'live.key'), 'not a key\n');
    from = srv.lines.length;
    await hup(/config: reload failed, nothing changed: the TLS certificate or key did not load/);
    assert.notEqual((await login()).status, 413);
    assert.equal((await get(srv.port, ca, '/healthz')).fingerprint, was);
    // Fixed: both apply, and the log names the option that changed.
    fs.copyFileSync(three.key, path.join(tmp, 'live.key'));
    const ok = await hup(/config: reloaded: /);
    assert.match(ok, /1 option changed \(http-max-body\).*TLS certificate loaded/);
    assert.equal((await login()).status, 413);
    assert.equal((await get(srv.port, ca, '/healthz')).fingerprint, three.fingerprint);
    fs.writeFileSync(cfgFile, JSON.stringify({ http_max_body: '1MiB', jwt_secret: TEST_SECRET }));
    await hup(/config: reloaded: /);
  });

  it('SIGHUP: the config file is read again: a limit and the JWT secret apply to new requests', T, async () => {
    const body = 'z'.repeat(2048);
    const before = await get(srv.port, ca, '/api/auth/login', { method: 'POST', body,
      headers: { 'Content-Type': 'application/json' } });
    assert.notEqual(before.status, 413);
    const NEW_SECRET = 'rotated-secret-0123456789abcdefghijklmnopqrs';
    const token = (secret) => mintJwt(secret, { sub: 'rot', name: 'Rot', iat: nowSec() });
    const rooms = (secret) => get(srv.port, ca, '/api/rooms', { headers: { Authorization: `Bearer ${token(secret)}` } });
    assert.equal((await rooms(TEST_SECRET)).status, 200);
    assert.equal((await rooms(NEW_SECRET)).status, 401);
    fs.writeFileSync(cfgFile, JSON.stringify({ http_max_body: '1KiB', jwt_secret: NEW_SECRET }));
    const from = srv.lines.length;
    srv.proc.kill('SIGHUP');
    await srv.waitForLine(/config: reloaded/, 5000, from);
    const after = await get(srv.port, ca, '/api/auth/login', { method: 'POST', body,
      headers: { 'Content-Type': 'application/json' } });
    assert.equal(after.status, 413);
    assert.equal((await rooms(NEW_SECRET)).status, 200);
    assert.equal((await rooms(TEST_SECRET)).status, 401);
  });
});

describe('TLS shutdown', () => {
  it('SIGTERM closes a wss client with 1001 and exits 0', T, async () => {
    const tmp = makeTempDir('chorus-tls-');
    const { ca, issue } = makeCa(tmp);
    const c1 = issue('one');
    const srv = await startServer({ probe: false, args: ['--tls-cert', c1.cert, '--tls-key', c1.key, '--shutdown-timeout', '2s'] });
    try {
      const c = await wss(srv.port, ca);
      await c.echo('x');
      srv.proc.kill('SIGTERM');
      assert.equal((await c.waitClose(3000)).code, 1001);
      assert.deepEqual(await withTimeout(srv.exited, 4000, 'exit'), { code: 0, signal: null });
    } finally {
      srv.kill();
      srv.cleanup();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a bad certificate file stops the start with a message naming it', T, async () => {
    const tmp = makeTempDir('chorus-tls-');
    const bad = path.join(tmp, 'bad.pem');
    fs.writeFileSync(bad, 'nope\n');
    await assert.rejects(startServer({ probe: false, args: ['--tls-cert', bad, '--tls-key', bad] }),
      /cannot load the certificate chain .*bad\.pem/);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});

describe('TLS refusals at accept', () => {
  it('too many connections (503) and too many from one address (429) are answered in HTTPS after the handshake', T, async () => {
    const tmp = makeTempDir('chorus-tls-');
    const { ca, issue } = makeCa(tmp);
    const c1 = issue('one');
    const srv = await startServer({ probe: false, args: ['--tls-cert', c1.cert, '--tls-key', c1.key,
      '--max-connections', '2', '--max-connections-per-ip', '1', '--http-header-timeout', '60s'] });
    const held = [];
    const hold = (localAddress) => withTimeout(new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: srv.port, ca, localAddress }, () => resolve(s));
      s.once('error', reject);
      held.push(s);
    }), 5000, 'tls connect');
    const getFrom = (localAddress) => withTimeout(new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: srv.port, path: '/healthz', ca, agent: false,
        localAddress }, (res) => {
        const chunks = [];
        res.on('data', (d) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      });
      req.on('error', reject);
      req.end();
    }), 5000, 'https refused');
    try {
      await hold('127.0.0.1');
      const perIp = await getFrom('127.0.0.1');
      assert.equal(perIp.status, 429);
      assert.equal(perIp.headers['retry-after'], '1');
      assert.equal(perIp.body.error.code, 'too_many_connections');
      // A refused client that never says hello is closed soon (a second), not after the
      // header timeout (60 s here): refused connections cannot pile up.
      const silent = net.connect({ host: '127.0.0.1', port: srv.port });
      await withTimeout(new Promise((resolve) => silent.once('close', resolve)), 15000,
        'a silent refused connection to be closed');
      await hold('127.0.0.2');
      const busy = await getFrom('127.0.0.3');
      assert.equal(busy.status, 503);
      assert.equal(busy.headers['retry-after'], '1');
      assert.equal(busy.body.error.code, 'service_unavailable');
      // Once the held connections go, their slots come back.
      for (const s of held) s.destroy();
      let ok = null;
      for (let i = 0; i < 50 && ok?.status !== 200; i++) {
        ok = await getFrom('127.0.0.4').catch(() => null);
      }
      assert.equal(ok.status, 200);
      // Records replace plaintext in the queues: what /metrics counts as queued is back to 0.
      const m = await get(srv.port, ca, '/metrics');
      assert.match(m.body, /^chorus_output_queued_bytes 0$/m);
    } finally {
      for (const s of held) s.destroy();
      await srv.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
