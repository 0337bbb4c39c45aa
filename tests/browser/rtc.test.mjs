// rtc.test.mjs: calls in Chromium with fake media devices (docs/webrtc.md): two people in
// the web app join a mesh call with the camera and exchange audio and video (getStats'
// bytes received rise on both pages); a screen share reaches the other page as a tile and
// as a textured surface in the cosmos; and a call relayed through a real coturn started
// here (use-auth-secret, on 127.0.0.1) with iceTransportPolicy 'relay' connects and
// carries media, which proves the TURN credentials Chorus hands out. The Voice button and a
// seed 003 Socket.IO client's room:voice-start / room:voice-stop are one call: each sees the
// other come and go.
//
// Headless Chromium cannot pick a screen for getDisplayMedia, so the share test shares a
// canvas's captureStream() through the same path as the Share button (call.shareScreen).
//
// For the relay over 127.0.0.1 coturn needs allow-loopback-peers (it refuses loopback
// peers by default), listening-ip and relay-ip 127.0.0.1, no-cli (else it wants a CLI
// password), and its own userdb file (else it opens /var/lib/turn).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { io } from 'socket.io-client';

import { register } from '../e2e/lib/auth.mjs';
import { makeTempDir } from '../e2e/lib/server.mjs';
import { freePort } from '../e2e/lib/util.mjs';
import { CODE_RE, Env, roomOfTwo, signUp, until, untilText } from './lib/env.mjs';

const FAKE_MEDIA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'];
const TURN_SECRET = 'browser-test-turn-secret';

/** Starts coturn on 127.0.0.1:port with the shared secret; resolves once it serves. */
async function startCoturn(dir, port) {
  const conf = path.join(dir, 'turnserver.conf');
  const relay = await freePort();
  fs.writeFileSync(conf, [
    'listening-ip=127.0.0.1', 'relay-ip=127.0.0.1', `listening-port=${port}`,
    `min-port=${relay}`, `max-port=${relay + 20}`,
    'use-auth-secret', `static-auth-secret=${TURN_SECRET}`, 'realm=chorus.test',
    'allow-loopback-peers', 'no-cli', 'no-tls', 'no-dtls', 'fingerprint',
    'log-file=stdout', 'simple-log', 'verbose', `pidfile=${path.join(dir, 'turn.pid')}`, `userdb=${path.join(dir, 'turndb')}`,
  ].join('\n'));
  const proc = spawn('turnserver', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  await until(() => /Total General servers/.test(out) || proc.exitCode !== null, { timeout: 8000, message: 'coturn to start' });
  assert.equal(proc.exitCode, null, `coturn exited: ${out}`);
  proc.log = () => out;
  return proc;
}

/** Waits until the page's call receives audio and video, and the byte counts keep rising. */
async function mediaFlows(page, { relay = false } = {}) {
  const stats = () => page.evaluate(() => window.__call.stats());
  const first = await until(async () => {
    const s = await stats();
    return s.audioIn > 0 && s.videoIn > 0 ? s : null;
  }, { timeout: 30000, message: 'audio and video bytes received' }).catch(async (e) => {
    const d = await page.evaluate(() => ({ errors: window.__call.errors(), peers: window.__call.peers(), stats: null }));
    d.stats = await stats();
    throw new Error(`${e.message}: ${JSON.stringify(d)}`);
  });
  const later = await until(async () => {
    const s = await stats();
    return s.audioIn > first.audioIn && s.videoIn > first.videoIn ? s : null;
  }, { timeout: 20000, message: 'the received bytes to rise' });
  if (relay) assert.equal(later.relay, true, 'the selected candidate pair is a relay one');
  return later;
}

describe('web app: calls', () => {
  let env;
  let A;
  let B;
  let turn;
  let dir;
  let turnPort;

  before(async () => {
    dir = makeTempDir('chorus-turn-');
    turnPort = await freePort();
    turn = await startCoturn(dir, turnPort);
    env = await Env.start({
      browserArgs: FAKE_MEDIA,
      serverArgs: ['--turn-urls', `turn:127.0.0.1:${turnPort}?transport=udp`, '--turn-secret', TURN_SECRET],
    });
    A = await env.newUser('Ada');
    B = await env.newUser('Bob');
    for (const u of [A, B]) await u.ctx.grantPermissions(['camera', 'microphone'], { origin: env.url });
  });

  after(async () => {
    await env?.close();
    turn?.kill();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('two pages in a mesh call exchange audio and video; a shared screen reaches the other', async () => {
    await roomOfTwo(env, A, B, 'Call');
    for (const u of [A, B]) {
      await u.page.getByTestId('call-camera').click();
      await until(() => u.page.evaluate(() => window.__call?.joined), { message: 'in the call' });
    }
    await Promise.all([mediaFlows(A.page), mediaFlows(B.page)]);
    // Each sees the other's camera tile besides its own.
    for (const u of [A, B]) {
      await until(async () => (await u.page.evaluate(() => window.__call.tiles())).filter((t) => t.kind === 'video').length === 2,
        { message: 'two camera tiles' });
    }
    // Voices go through Web Audio: one panner per remote voice.
    assert.equal((await A.page.evaluate(() => window.__call.voices())).length, 1);

    // A shares a canvas stream through the Share path (headless has no screen to pick).
    await A.page.evaluate(() => {
      const c = document.createElement('canvas');
      c.width = 320;
      c.height = 180;
      const g = c.getContext('2d');
      let n = 0;
      setInterval(() => { g.fillStyle = `hsl(${(n += 7) % 360} 80% 50%)`; g.fillRect(0, 0, 320, 180); }, 50);
      return window.__call.share(c.captureStream(10));
    });
    await until(async () => (await B.page.evaluate(() => window.__call.tiles())).some((t) => t.kind === 'screen'),
      { timeout: 10000, message: 'B to show A\'s screen' });
    // In B's cosmos the screen is a surface at the place the entity says, textured.
    await B.page.getByTestId('tab-cosmos').click();
    const screens = await until(async () => {
      const s = await B.page.evaluate(() => window.__call.screens());
      return s.length === 1 && s[0].textured ? s : null;
    }, { timeout: 30000, message: 'a textured screen surface in B\'s cosmos' });
    await A.page.getByTestId('tab-cosmos').click();
    const aScreens = await until(async () => {
      const s = await A.page.evaluate(() => window.__call.screens());
      return s.length === 1 ? s : null;
    }, { timeout: 30000, message: 'A\'s own screen surface' });
    assert.deepEqual(aScreens[0].pos, screens[0].pos, 'everyone sees the screen at the same place');
    env.assertNoConsoleErrors();
  });

  it('a call relayed through coturn (relay only) connects and media flows', async () => {
    // Both pages are in the room of the first test; they leave the call and join again
    // through the SDK with iceTransportPolicy 'relay', so only TURN candidates are used.
    for (const u of [A, B]) {
      await u.page.evaluate(() => window.__call.leave()); // as the Voice button does
      await until(() => u.page.evaluate(() => !window.__call.joined), { message: 'out of the call' });
    }
    const join = (u) => u.page.evaluate(() => window.__call.joinWith({ audio: true, video: true, rtcConfig: { iceTransportPolicy: 'relay' } }));
    await join(A);
    await join(B);
    await Promise.all([mediaFlows(A.page, { relay: true }), mediaFlows(B.page, { relay: true })]);
    // coturn allocated relays for them: it accepted the credentials Chorus made.
    assert.match(turn.log(), /ALLOCATE processed, success/, turn.log().split('\n').filter((l) => /ALLOCATE|401|session/.test(l)).slice(0, 10).join('\n'));
    env.assertNoConsoleErrors();
  });

  it('the Voice button and a seed 003 Socket.IO client\'s room:voice-start are one call', async () => {
    const C = await env.newUser('Cy');
    await C.ctx.grantPermissions(['camera', 'microphone'], { origin: env.url });
    await C.page.goto(env.url);
    await signUp(C.page, C);
    await C.page.getByTestId('create-name').fill('Voice');
    await C.page.getByTestId('create-submit').click();
    const code = (await untilText(C.page.getByTestId('room-code'), CODE_RE)).trim();

    // A seed 003 client (socket.io-client in Node) in the same room.
    const d = await register(env.port, { username: 'Seedy' });
    const sock = io(env.url, { auth: { token: d.token }, transports: ['websocket'], reconnection: false, forceNew: true });
    const got = [];
    sock.onAny((name, arg) => got.push([name, arg]));
    const find = (name, pred = () => true) => got.find(([n, a]) => n === name && pred(a))?.[1];
    try {
      sock.emit('room:join', { roomCode: code, displayName: 'Seedy' });
      await until(() => find('room:joined'), { message: 'the seed client joined' });

      // The Voice button: the seed client sees the web user's voice start.
      await C.page.getByTestId('call-voice').click();
      await until(() => C.page.evaluate(() => window.__call?.joined), { message: 'in the call' });
      const webId = await C.page.evaluate(() => window.__call.id);
      const started = await until(() => find('room:voice-started', (a) => a.member.id === webId), { message: 'room:voice-started of the web user' });
      assert.deepEqual([started.member.audio, started.member.video, started.mode], [true, false, 'mesh']);

      // The seed client starts its voice: it is in the web app's call; it stops: it is not.
      const ack = await sock.timeout(5000).emitWithAck('room:voice-start', {});
      assert.equal(ack.ok, true, JSON.stringify(ack));
      assert.deepEqual(ack.data.members.map((m) => m.id), [webId, ack.data.id]);
      const inCall = async () => (await C.page.evaluate(() => window.__call.peers())).some((p) => p.member === ack.data.id);
      await until(inCall, { message: 'the seed client in the web app\'s call' });
      assert.equal((await sock.timeout(5000).emitWithAck('room:voice-stop')).ok, true);
      await until(async () => !(await inCall()), { message: 'the seed client out of the web app\'s call' });

      // The Voice button again: the web user leaves, the seed client sees it.
      await C.page.getByTestId('call-voice').click();
      await until(() => find('room:voice-stopped', (a) => a.member.id === webId), { message: 'room:voice-stopped of the web user' });
      // The seed client's event can come before the web app has read its own leave's reply.
      await until(async () => (await C.page.evaluate(() => window.__call.joined)) === false, { message: 'the web user out of the call' });
      assert.equal(find('room:error'), undefined);
    } finally {
      sock.disconnect();
    }
    env.assertNoConsoleErrors();
  });
});
