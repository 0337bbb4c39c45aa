// sfu.test.mjs: a call past the mesh size goes through a real Janus in Chromium (docs/webrtc.md
// "SFU"): with --rtc-mesh-max 1 two pages suffice; both join the call through the SDK's
// room.call with fake media devices, the call switches to SFU mode, and media flows (getStats'
// bytes received rise on both pages) over connections whose remote candidate is Janus's (its
// RTP port range, lib/janus.mjs), not the other page's.
//
// Chromium hides host candidates behind mDNS names by default, which Janus (ignore_mdns) does
// not resolve: the test turns that off (WebRtcHideLocalIpsWithMdns).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { TEST_SECRET } from '../e2e/lib/auth.mjs';
import { haveJanus, startJanus } from '../e2e/lib/janus.mjs';
import { createRoom, mkUser } from '../e2e/lib/rooms.mjs';
import { makeTempDir } from '../e2e/lib/server.mjs';
import { Env, until } from './lib/env.mjs';

const FAKE_MEDIA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required', '--disable-features=WebRtcHideLocalIpsWithMdns'];
const RTP = [41000, 41999];

// A page that joins a room's call through the SDK and reports what its connections receive.
const PAGE = `<!doctype html><meta charset="utf-8"><title>sfu</title>
<script type="module">
import { Chorus } from '/lib/chorus.js';
window.__errors = [];
window.__start = async (token, roomId) => {
  const chorus = new Chorus({ url: location.origin });
  chorus.token = token;
  await chorus.connect();
  const room = await chorus.join(roomId);
  window.__call = room.call;
  room.call.on('error', (e) => window.__errors.push(e.code + ': ' + e.message));
  const id = await room.call.join({ audio: true, video: { width: 160, height: 120, frameRate: 10 } });
  return { id, mode: room.call.mode };
};
window.__stats = async () => {
  const call = window.__call;
  const out = { mode: call.mode, audioIn: 0, videoIn: 0, remote: [], local: [] };
  for (const id of ['pub', ...call.members.keys()]) {
    const pc = call.peerConnection(id);
    if (!pc) continue;
    const st = await pc.getStats();
    st.forEach((r) => {
      if (r.type === 'inbound-rtp') out[r.kind === 'audio' ? 'audioIn' : 'videoIn'] += r.bytesReceived ?? 0;
      if (r.type === 'candidate-pair' && r.state === 'succeeded' && r.nominated) {
        const rc = st.get(r.remoteCandidateId);
        const lc = st.get(r.localCandidateId);
        if (id !== 'pub') out.remote.push(rc.port);
        out.local.push(lc.port);
      }
    });
  }
  return out;
};
</script>`;

describe('calls through the SFU (Janus)', { skip: !haveJanus() && 'janus is not installed' }, () => {
  let janus;
  let env;
  before(async () => {
    janus = await startJanus({ rtpPorts: RTP.join('-') });
    const dir = makeTempDir('chorus-sfu-browser-');
    const secret = path.join(dir, 'secret');
    fs.writeFileSync(secret, janus.adminSecret);
    env = await Env.start({
      browserArgs: FAKE_MEDIA,
      files: { 'sfu.html': PAGE },
      serverArgs: ['--jwt-secret', TEST_SECRET, '--rtc-mesh-max', '1', '--janus-url', janus.url,
        '--janus-admin-url', janus.adminUrl, '--janus-admin-secret-file', secret],
    });
  });
  after(async () => {
    await env?.close();
    await janus?.stop();
  });

  it('two pages past --rtc-mesh-max 1 exchange audio and video through Janus', { timeout: 90000 }, async () => {
    const [a, b] = [mkUser('A'), mkUser('B')];
    const room = await createRoom(env.port, a);
    const pages = [];
    for (const u of [a, b]) {
      const user = await env.newUser(u.name);
      await user.page.goto(`${env.url}/sfu.html`);
      pages.push(user.page);
    }
    const ja = await pages[0].evaluate(([t, r]) => window.__start(t, r), [a.token, room.id]);
    assert.equal(ja.mode, 'mesh');
    const jb = await pages[1].evaluate(([t, r]) => window.__start(t, r), [b.token, room.id]);
    assert.equal(jb.mode, 'sfu');
    const stats = (p) => p.evaluate(() => window.__stats());
    const flowing = async (p) => {
      const first = await until(async () => {
        const s = await stats(p);
        return s.audioIn > 0 && s.videoIn > 0 ? s : null;
      }, { timeout: 40000, message: 'audio and video bytes received' }).catch(async (e) => {
        throw new Error(`${e.message}: ${JSON.stringify({ stats: await stats(p), errors: await p.evaluate(() => window.__errors) })}`);
      });
      return until(async () => {
        const s = await stats(p);
        return s.audioIn > first.audioIn && s.videoIn > first.videoIn ? s : null;
      }, { timeout: 20000, message: 'the received bytes to rise' });
    };
    const [sa, sb] = [await flowing(pages[0]), await flowing(pages[1])];
    for (const [s, other] of [[sa, sb], [sb, sa]]) {
      assert.equal(s.mode, 'sfu');
      assert.ok(s.remote.length >= 1, JSON.stringify(s));
      for (const port of s.remote) {
        assert.ok(port >= RTP[0] && port <= RTP[1], `the remote candidate is Janus's: ${port}`);
        assert.ok(!other.local.includes(port), `not the other page's: ${port}`);
      }
    }
    assert.deepEqual(await pages[0].evaluate(() => window.__errors), []);
  });
});
