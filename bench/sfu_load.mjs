// sfu_load.mjs: the SFU load run (docs/benchmarks.md "SFU"; not part of make test):
// N participants, each a Chromium page with fake audio and low-resolution fake video
// (160x120 at 10 fps), join one room's call through Chorus, which puts it on a throwaway
// Janus (tests/e2e/lib/janus.mjs) past --rtc-mesh-max 1. Once every page receives audio and
// video, the CPU time Janus and Chorus use over a window is read from /proc and reported per
// participant, with what the pages received.
// Usage: node bench/sfu_load.mjs [N=6] [window seconds=10]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { TEST_SECRET } from '../tests/e2e/lib/auth.mjs';
import { startJanus } from '../tests/e2e/lib/janus.mjs';
import { createRoom, mkUser } from '../tests/e2e/lib/rooms.mjs';
import { makeTempDir } from '../tests/e2e/lib/server.mjs';
import { Env, until } from '../tests/browser/lib/env.mjs';

const N = Number(process.argv[2] ?? 6);
const WINDOW = Number(process.argv[3] ?? 10);
const TICK = 100; // USER_HZ on Linux

const cpu = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // utime + stime, seconds
};

const PAGE = `<!doctype html><script type="module">
import { Chorus } from '/lib/chorus.js';
window.__start = async (token, roomId) => {
  const chorus = new Chorus({ url: location.origin });
  chorus.token = token;
  await chorus.connect();
  const room = await chorus.join(roomId);
  window.__call = room.call;
  return room.call.join({ audio: true, video: { width: 160, height: 120, frameRate: 10 } });
};
window.__in = async () => {
  const call = window.__call;
  let a = 0, v = 0, peers = 0;
  for (const id of call.members.keys()) {
    const pc = call.peerConnection(id);
    if (!pc) continue;
    let got = false;
    (await pc.getStats()).forEach((r) => {
      if (r.type !== 'inbound-rtp') return;
      if (r.kind === 'audio') a += r.bytesReceived ?? 0; else { v += r.bytesReceived ?? 0; got ||= r.bytesReceived > 0; }
    });
    if (got) peers++;
  }
  return { a, v, peers, mode: call.mode };
};
</script>`;

const janus = await startJanus({ rtpPorts: '42000-44999' });
const dir = makeTempDir('chorus-sfu-load-');
fs.writeFileSync(path.join(dir, 'secret'), janus.adminSecret);
const env = await Env.start({
  browserArgs: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    '--disable-features=WebRtcHideLocalIpsWithMdns'],
  files: { 'sfu.html': PAGE },
  serverArgs: ['--jwt-secret', TEST_SECRET, '--rtc-mesh-max', '1', '--janus-url', janus.url,
    '--janus-admin-url', janus.adminUrl, '--janus-admin-secret-file', path.join(dir, 'secret')],
});
try {
  const users = Array.from({ length: N }, (_, i) => mkUser(`p${i}`));
  const room = await createRoom(env.port, users[0]);
  const pages = [];
  for (const u of users) {
    const ctx = await env.browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${env.url}/sfu.html`);
    await page.evaluate(([t, r]) => window.__start(t, r), [u.token, room.id]);
    pages.push(page);
  }
  const t0 = Date.now();
  await until(async () => {
    const s = await Promise.all(pages.map((p) => p.evaluate(() => window.__in())));
    return s.every((x) => x.peers === N - 1);
  }, { timeout: 120000, interval: 1000, message: `every page receiving video from ${N - 1} others` });
  const ready = (Date.now() - t0) / 1000;
  const chorusPid = env.srv.proc.pid;
  const before = [cpu(janus.pid), cpu(chorusPid)];
  const in0 = await Promise.all(pages.map((p) => p.evaluate(() => window.__in())));
  await new Promise((r) => setTimeout(r, WINDOW * 1000));
  const after = [cpu(janus.pid), cpu(chorusPid)];
  const in1 = await Promise.all(pages.map((p) => p.evaluate(() => window.__in())));
  const [j, c] = [after[0] - before[0], after[1] - before[1]];
  const kbps = in1.reduce((s, x, i) => s + (x.a + x.v - in0[i].a - in0[i].v), 0) * 8 / 1000 / WINDOW / N;
  console.log(JSON.stringify({
    participants: N, cores: os.cpus().length, allFlowingAfterS: ready, windowS: WINDOW,
    janusCpuPct: +(100 * j / WINDOW).toFixed(1), janusCpuPctPerParticipant: +(100 * j / WINDOW / N).toFixed(2),
    chorusCpuPct: +(100 * c / WINDOW).toFixed(2), chorusCpuPctPerParticipant: +(100 * c / WINDOW / N).toFixed(3),
    receivedKbitPerParticipant: Math.round(kbps),
  }));
} finally {
  await env.close();
  await janus.stop();
}
