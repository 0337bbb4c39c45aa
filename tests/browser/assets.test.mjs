// assets.test.mjs: files in a room (web/upload.js, docs/assets.md) with two people against
// the real server: A drops an image and a video (drawn and recorded in the page) on the
// room and picks a GLB model (a triangle made here); they upload with a progress bar, B's
// Files list shows them and B's Cosmos shows them as objects (the image's texture loaded at
// its size, the video playing from its signed URL with range requests, the model's mesh
// added); A drags the image and B sees it where A let go. Then the real tus-js-client, in A's page, uploads into the room while the
// page's network is cut mid-way: it resumes (HEAD, then PATCH from the stored offset, one
// POST in all) and the stored bytes are the page's (sha256); and the web app's own upload
// (the SDK over XMLHttpRequest) retries a PATCH whose connection was reset.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { REPO_ROOT } from '../e2e/lib/server.mjs';
import { CONNECTION_ERRORS, Env, roomOfTwo, until } from './lib/env.mjs';

/** A minimal valid GLB: one triangle (glTF 2.0 binary: header, JSON chunk, BIN chunk). */
function triangleGlb() {
  const bin = Buffer.from(new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]).buffer);
  const gltf = {
    asset: { version: '2.0' }, scene: 0, scenes: [{ nodes: [0] }], nodes: [{ mesh: 0 }],
    meshes: [{ primitives: [{ attributes: { POSITION: 0 } }] }],
    buffers: [{ byteLength: bin.length }],
    bufferViews: [{ buffer: 0, byteOffset: 0, byteLength: bin.length, target: 34962 }],
    accessors: [{ bufferView: 0, componentType: 5126, count: 3, type: 'VEC3', min: [0, 0, 0], max: [1, 1, 0] }],
  };
  let json = Buffer.from(JSON.stringify(gltf));
  json = Buffer.concat([json, Buffer.alloc((4 - (json.length % 4)) % 4, 0x20)]);
  const chunk = (type, data) => {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(data.length, 0);
    h.writeUInt32LE(type, 4);
    return Buffer.concat([h, data]);
  };
  const body = Buffer.concat([chunk(0x4e4f534a, json), chunk(0x004e4942, bin)]);
  const head = Buffer.alloc(12);
  head.writeUInt32LE(0x46546c67, 0);
  head.writeUInt32LE(2, 4);
  head.writeUInt32LE(12 + body.length, 8);
  return Buffer.concat([head, body]);
}

/** tus-js-client's browser build as one ES module, served by the test as /tus.js. */
function tusBundle() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-tus-'));
  try {
    const out = path.join(dir, 'tus.js');
    execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'esbuild'),
      [path.join(REPO_ROOT, 'node_modules/tus-js-client/lib.esm/browser/index.js'), '--bundle', '--format=esm',
        '--platform=browser', '--log-level=warning', `--outfile=${out}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const names = (page) => page.getByTestId('assets').getByTestId('asset').getByTestId('asset-open').allTextContents();
const screenPos = (page, id) => page.evaluate((eid) => window.__cosmos.screenPosition(eid), id);
const stored = (page, id) => page.evaluate((eid) => window.__cosmos.entity(eid), id);
const assetItems = (page) => page.evaluate(() => window.__cosmos?.entities().filter((e) => e.kind === 'asset') ?? null);

describe('web app: files in a room', () => {
  let env;
  let A;
  let B;

  before(async () => {
    env = await Env.start({ files: { 'tus.js': tusBundle() } });
    A = await env.newUser('Ada');
    B = await env.newUser('Bob');
  });

  after(async () => {
    await env?.close();
  });

  it('a dropped image and video and a picked GLB upload, list for everyone and show in the Cosmos', async () => {
    await roomOfTwo(env, A, B, 'Files');
    await A.page.getByTestId('assets-panel').waitFor();
    await B.page.getByTestId('tab-cosmos').click();
    await until(() => B.page.evaluate(() => window.__cosmos?.ready === true), { message: "B's cosmos" });
    const ranges = []; // B's requests of blobs with a Range header
    B.page.on('request', (r) => { if (r.url().includes('/api/blobs/') && r.headers().range) ranges.push(r.headers().range); });

    // A drops a 64x32 PNG and a 48x32 WebM (10 frames of a canvas), made in the page, on the room.
    await A.page.evaluate(async () => {
      const c = Object.assign(document.createElement('canvas'), { width: 64, height: 32 });
      const g = c.getContext('2d');
      g.fillStyle = '#e0457b';
      g.fillRect(0, 0, 64, 32);
      const png = await new Promise((r) => c.toBlob(r, 'image/png'));
      const v = Object.assign(document.createElement('canvas'), { width: 48, height: 32 });
      const vg = v.getContext('2d');
      const rec = new MediaRecorder(v.captureStream(30), { mimeType: 'video/webm' });
      const parts = [];
      rec.ondataavailable = (e) => parts.push(e.data);
      const stopped = new Promise((r) => { rec.onstop = r; });
      rec.start();
      for (let i = 0; i < 10; i++) {
        vg.fillStyle = `hsl(${i * 36} 80% 50%)`;
        vg.fillRect(0, 0, 48, 32);
        await new Promise((r) => requestAnimationFrame(r));
      }
      rec.stop();
      await stopped;
      const dt = new DataTransfer();
      dt.items.add(new File([png], 'pink.png', { type: 'image/png' }));
      dt.items.add(new File(parts, 'hues.webm', { type: 'video/webm' }));
      document.querySelector('[data-testid="room-area"]')
        .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    // ...and picks a GLB (a browser gives .glb files no type: upload.js names it).
    await A.page.getByTestId('upload-input').setInputFiles({ name: 'tri.glb', mimeType: '', buffer: triangleGlb() });

    await until(async () => (await A.page.getByTestId('uploads').locator('[data-state="done"]').count()) === 3,
      { message: "A's three uploads done" });
    assert.deepEqual(await A.page.getByTestId('upload-progress').evaluateAll((els) => els.map((e) => e.value)), [1, 1, 1]);
    await until(async () => (await names(B.page)).sort().join() === 'hues.webm,pink.png,tri.glb', { message: "B's list" });

    const items = await until(async () => {
      const its = await assetItems(B.page);
      return its?.length === 3 && its.every((e) => e.body?.status !== 'loading') && its;
    }, { message: "B's cosmos objects loaded" });
    const image = items.find((e) => e.text === 'pink.png');
    const video = items.find((e) => e.text === 'hues.webm');
    const model = items.find((e) => e.text === 'tri.glb');
    assert.deepEqual({ ...image.body }, { media: 'image', status: 'loaded', width: 64, height: 32 });
    assert.deepEqual({ ...video.body }, { media: 'video', status: 'loaded', width: 48, height: 32 });
    assert.deepEqual({ ...model.body }, { media: 'model', status: 'loaded', meshes: 1 });
    assert.ok(ranges.length > 0, 'the video is read with range requests');
    await until(async () => (await A.page.getByTestId('activity').locator('.activity-text').allTextContents())
      .includes('Ada added an asset'), { message: "the activity's sentence" });
    await env.screenshot(B, 'assets-cosmos.png');

    // A drags an asset like an entry: B has it where A let go. The three are placed at random,
    // so one may hide another: once their media are loaded, A takes the first whose own center is not covered (the pointer
    // over it hovers it; the one nearest the camera always qualifies).
    await A.page.getByTestId('tab-cosmos').click();
    await until(() => A.page.evaluate(() => window.__cosmos?.ready === true), { message: "A's cosmos" });
    // (a loaded body takes its media's shape, which changes what covers what)
    await until(async () => (await assetItems(A.page))?.every((e) => e.body?.status === 'loaded'), { message: "A's cosmos objects loaded" });
    const { id: dragged, p } = await until(async () => {
      for (const it of [image, video, model]) {
        const at = await screenPos(A.page, it.id);
        if (!at) continue;
        await A.page.mouse.move(at.x, at.y);
        if (await A.page.evaluate(() => window.__cosmos.hovered) === it.id) return { id: it.id, p: at };
      }
      return false;
    }, { message: 'an asset under A\'s pointer' });
    const before = await stored(B.page, dragged);
    await A.page.mouse.down();
    await A.page.mouse.move(p.x + 12, p.y + 4, { steps: 2 });
    await until(() => A.page.evaluate((eid) => !!window.__cosmos.locks()[eid], dragged), { message: 'A holds the lock' });
    await A.page.mouse.move(p.x + 120, p.y + 40, { steps: 8 });
    await A.page.mouse.up();
    const after = await until(async () => {
      const s = await stored(B.page, dragged);
      return s.version > before.version && !s.lock && s;
    }, { message: 'the move stored and unlocked' });
    assert.notDeepEqual(after.data.pos, before.data.pos, 'it moved');
    assert.equal(after.data.asset, before.data.asset, 'still the same asset');
    env.assertNoConsoleErrors();
  });

  it('tus-js-client in the page: a network cut mid-upload resumes and the bytes match', async () => {
    const reqs = [];
    A.page.on('request', (r) => { if (r.url().includes('/api/uploads/')) reqs.push(r.method()); });
    let cut = false;
    await A.page.exposeFunction('cutNetwork', async () => {
      cut = true;
      await A.ctx.setOffline(true); // the page's requests fail from now on
    });
    await A.page.exposeFunction('retrying', async () => {
      await A.ctx.setOffline(false);
    });
    const code = (await A.page.getByTestId('room-code').textContent()).trim();
    const room = await env.expectingConsoleErrors([A], /ERR_INTERNET_DISCONNECTED|ERR_NETWORK_CHANGED/, () =>
      A.page.evaluate(async (code) => {
        const tus = await import('/tus.js');
        const { token } = JSON.parse(localStorage.getItem('chorus.session'));
        const info = await (await fetch(`/api/rooms/code/${code}`, { headers: { Authorization: `Bearer ${token}` } })).json();
        const bytes = new Uint8Array(1024 * 1024);
        for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
        const want = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
        let cutDone = false;
        const got = await new Promise((resolve, reject) => {
          const up = new tus.Upload(new Blob([bytes]), {
            endpoint: '/api/uploads/', chunkSize: 128 * 1024, retryDelays: Array(40).fill(100),
            headers: { Authorization: `Bearer ${token}` },
            metadata: { filename: 'resume.bin', filetype: 'application/octet-stream', room: info.room.id },
            // The PATCH from 256 KiB on goes out once the network is cut: it fails.
            onBeforeRequest: async (req) => {
              if (!cutDone && req.getMethod() === 'PATCH' && Number(req.getHeader('Upload-Offset')) >= 256 * 1024) {
                cutDone = true;
                await window.cutNetwork();
              }
            },
            onShouldRetry: () => { window.retrying(); return true; },
            onError: reject,
            onSuccess: () => resolve(up.url),
          });
          up.start();
        });
        const head = await fetch(got, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${token}` } });
        return { want, sha256: head.headers.get('upload-sha256'), roomId: info.room.id };
      }, code));
    assert.ok(cut, 'the network was cut mid-upload');
    assert.equal(room.sha256, room.want, 'the stored bytes are the page\'s');
    assert.equal(reqs.filter((m) => m === 'POST').length, 1, 'one upload, resumed');
    const firstHead = reqs.indexOf('HEAD');
    assert.ok(firstHead > 0 && reqs.slice(firstHead).includes('PATCH'), `resumed with HEAD then PATCH: ${reqs.join(' ')}`);
    await until(async () => (await names(B.page)).includes('resume.bin'), { message: 'B lists the resumed upload' });
    env.assertNoConsoleErrors();
  });

  it("the web app's upload resumes after its PATCH's connection is reset", async () => {
    const reqs = [];
    let resets = 0;
    await A.page.route('**/api/uploads/*', (route) => {
      reqs.push(route.request().method());
      if (route.request().method() === 'PATCH' && resets++ === 0) return route.abort('connectionreset');
      return route.continue();
    });
    const want = await env.expectingConsoleErrors([A], CONNECTION_ERRORS, async () => {
      const sum = await A.page.evaluate(async () => {
        const bytes = new Uint8Array(200 * 1024);
        for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'reset.bin', { type: 'application/octet-stream' }));
        document.querySelector('[data-testid="room-area"]')
          .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
        return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
      });
      await until(async () => (await names(B.page)).includes('reset.bin'), { message: 'B lists it' });
      return sum;
    });
    await A.page.unroute('**/api/uploads/*');
    assert.deepEqual(reqs, ['POST', 'PATCH', 'HEAD', 'PATCH']);
    const sha = await B.page.getByTestId('assets').locator('[data-testid="asset"]', { hasText: 'reset.bin' }).getAttribute('data-sha256');
    assert.equal(sha, want);
    env.assertNoConsoleErrors();
  });

  it('the delete button follows the server\'s rule: the asset\'s owner (not the current version\'s uploader) and the host', async () => {
    // B (a participant) picks a file: B owns the asset. A (the host) uploads its version 2.
    await B.page.getByTestId('upload-input').setInputFiles({ name: 'owned.txt', mimeType: 'text/plain', buffer: Buffer.from('v1') });
    const row = (page) => page.getByTestId('assets').locator('[data-testid="asset"]', { hasText: 'owned.txt' });
    const id = await until(() => row(A.page).getAttribute('data-asset-id'), { message: 'A lists it' });
    await A.page.evaluate(async (assetId) => {
      const { token } = JSON.parse(localStorage.getItem('chorus.session'));
      const tus = { Authorization: `Bearer ${token}`, 'Tus-Resumable': '1.0.0' };
      const made = await fetch('/api/uploads/', {
        method: 'POST',
        headers: { ...tus, 'Upload-Length': '2', 'Upload-Metadata': `filename ${btoa('owned.txt')},assetId ${btoa(assetId)}` },
      });
      await fetch(made.headers.get('Location'), {
        method: 'PATCH',
        headers: { ...tus, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
        body: 'v2',
      });
    }, id);
    const v2 = createHash('sha256').update('v2').digest('hex');
    await until(async () => (await row(B.page).getAttribute('data-sha256')) === v2, { message: 'B lists version 2' });
    assert.equal(await row(B.page).getByTestId('asset-delete').count(), 1, 'the owner may delete it');
    assert.equal(await row(A.page).getByTestId('asset-delete').count(), 1, 'the host may delete it');
    env.assertNoConsoleErrors();
  });
});
