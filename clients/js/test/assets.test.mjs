// assets.test.mjs: room.assets and room.upload() against the real server (docs/assets.md):
// an upload in chunks with progress becomes an asset everyone's list shows, dedup by hash,
// signed URLs without a token, delete, refusals, abort and resume by URL, the list read
// again after a reconnect, and an upload that resumes across a kill -9 of the server.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { BASE_ARGS, connected, next, rmDir, spawnServer, startServer, tempDir, until } from '../testlib/helpers.mjs';

const T = { timeout: 20000 };
const sha = (b) => createHash('sha256').update(b).digest('hex');

/** A fetch that records each request's method and path (the real one does the work). */
function recordingFetch(log) {
  return (url, init = {}) => {
    log.push(`${init.method ?? 'GET'} ${new URL(url).pathname}`);
    return fetch(url, init);
  };
}

describe('room assets', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--upload-max-size', '1MiB'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('upload in chunks with progress; everyone lists it; signed URL; dedup; delete', T, async () => {
    const reqs = [];
    const host = await connected(srv.port, 'Host');
    const mem = await connected(srv.port, 'Mem', { fetch: recordingFetch(reqs) });
    try {
      const info = await host.createRoom({ name: 'assets' });
      const hroom = await host.join(info.roomCode);
      const mroom = await mem.join(info.roomCode);
      assert.deepEqual(await hroom.assets.load(), []);
      assert.equal(hroom.assets.loaded, true);
      const added = next(hroom, 'asset_added');

      const bytes = randomBytes(100 * 1024);
      const progress = [];
      const asset = await mroom.upload(bytes, {
        name: 'noise.bin', type: 'application/octet-stream', chunkSize: 40 * 1024,
        onProgress: (sent, total) => progress.push([sent, total]),
      });
      assert.equal(asset.name, 'noise.bin');
      assert.equal(asset.type, 'application/octet-stream');
      assert.equal(asset.size, bytes.length);
      assert.equal(asset.sha256, sha(bytes));
      assert.equal(asset.uploadedBy, mem.user.id);
      const ups = reqs.filter((r) => r.includes('/api/uploads/')).map((r) => r.split(' ')[0]);
      assert.deepEqual(ups, ['POST', 'PATCH', 'PATCH', 'PATCH'], 'created, then three chunks');
      assert.deepEqual(progress.at(-1), [bytes.length, bytes.length]);
      assert.ok(progress.some(([s]) => s > 0 && s < bytes.length), 'progress within the upload');
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i][0] >= progress[i - 1][0]);

      assert.deepEqual((await added).asset, asset);
      assert.deepEqual(hroom.assets.list(), [asset]);
      await until(() => mroom.assets.has(asset.id), 5000, 'the uploader lists it');

      // A signed URL reads the bytes without a token, whole and by range; the same URL again.
      const url = await hroom.assetUrl(asset);
      assert.equal(await hroom.assetUrl(asset.id), url);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(sha(Buffer.from(await res.arrayBuffer())), asset.sha256);
      const part = await fetch(url, { headers: { Range: 'bytes=10-19' } });
      assert.equal(part.status, 206);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(10, 20));

      // The same bytes again: the server has them and so does the room (its list, read
      // once for this): nothing goes up.
      const before = reqs.length;
      const again = await mroom.upload(new Blob([bytes]), { name: 'copy.bin' });
      assert.deepEqual(again, asset);
      assert.deepEqual(reqs.slice(before),
        [`HEAD /api/assets/by-hash/${asset.sha256}`, `GET /api/rooms/${info.id}/assets`]);
      // dedup: false makes a second asset of the same content.
      const second = await mroom.upload(bytes, { name: 'copy.bin', dedup: false });
      assert.notEqual(second.id, asset.id);
      assert.equal(second.sha256, asset.sha256);
      await until(() => hroom.assets.size === 2, 5000, 'the second asset');
      assert.deepEqual(hroom.assets.list().map((a) => a.id), [second.id, asset.id]);
      const page = await hroom.assets.page({ limit: 1 });
      assert.deepEqual(page.assets.map((a) => a.id), [second.id]);
      assert.equal((await hroom.assets.page({ before: page.next, limit: 1 })).assets[0].id, asset.id);

      // Delete: both lists drop it; only the uploader or the host may.
      const removed = next(mroom, 'asset_removed');
      await hroom.assets.delete(second.id);
      assert.equal((await removed).asset.id, second.id);
      assert.equal(hroom.assets.has(second.id), false);
      await until(() => !mroom.assets.has(second.id), 5000, 'gone for the uploader');
    } finally {
      host.close();
      mem.close();
    }
  });

  it('refusals are ChorusErrors with the server code; abort, then resume by URL', T, async () => {
    const host = await connected(srv.port, 'Host');
    try {
      const info = await host.createRoom({ name: 'refusals' });
      const room = await host.join(info.roomCode);
      await assert.rejects(room.upload(Buffer.alloc(1024 * 1024 + 1)),
        (e) => e.code === 'upload_too_large' && e.status === 413);
      await assert.rejects(room.upload('text'), (e) => e.code === 'validation_error');
      const empty = await room.upload(new Uint8Array(0), { name: 'empty' });
      assert.equal(empty.size, 0);
      assert.equal(empty.sha256, sha(Buffer.alloc(0)));

      // Aborted after the first chunk: rejects 'aborted'; uploadUrl resumes where it stopped.
      const bytes = randomBytes(64 * 1024);
      const ctl = new AbortController();
      let created = null;
      await assert.rejects(room.upload(bytes, {
        chunkSize: 16 * 1024, signal: ctl.signal, onCreated: (u) => { created = u; },
        onProgress: (sent) => { if (sent >= 16 * 1024) ctl.abort(); },
      }), (e) => e.code === 'aborted');
      assert.match(created, /\/api\/uploads\/[0-9a-f]{32}$/);
      const head = await fetch(created, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${host.token}` } });
      const stored = Number(head.headers.get('upload-offset'));
      assert.ok(stored >= 16 * 1024 && stored < bytes.length, `stored ${stored}`);
      const progress = [];
      const asset = await room.upload(bytes, { uploadUrl: created, onProgress: (s) => progress.push(s) });
      assert.equal(progress[0], stored, 'resumed from the stored offset');
      assert.equal(asset.id, created.split('/').pop());
      assert.equal(asset.sha256, sha(bytes));
    } finally {
      host.close();
    }
  });

  it('the list is read again after a reconnect: what was removed meanwhile is emitted', T, async () => {
    const host = await connected(srv.port, 'Host', { reconnect: { base: 1000, max: 2000 } });
    const mem = await connected(srv.port, 'Mem');
    try {
      const info = await host.createRoom({ name: 'rejoin' });
      const hroom = await host.join(info.roomCode);
      const mroom = await mem.join(info.roomCode);
      const a = await mroom.upload(Buffer.from('one'), { name: 'one.txt' });
      await hroom.assets.load();
      assert.ok(hroom.assets.has(a.id));
      const removed = next(hroom, 'asset_removed', () => true, 8000);
      host.socket._socket.destroy(); // a network drop: the event below is missed
      await mroom.assets.delete(a.id);
      assert.notEqual(host.state, 'open', 'deleted while the host was away');
      assert.equal((await removed).asset.id, a.id);
      assert.equal(hroom.assets.size, 0);
    } finally {
      host.close();
      mem.close();
    }
  });
});

describe('upload across a server restart', () => {
  it('kill -9 mid-upload: the upload resumes (HEAD + PATCH) and the bytes match', T, async () => {
    const dataDir = tempDir();
    let srv = await spawnServer({ dataDir });
    const port = srv.port;
    const reqs = [];
    const c = await connected(port, 'Up', { fetch: recordingFetch(reqs), reconnect: { base: 100, max: 500 } });
    try {
      const info = await c.createRoom({ name: 'restart' });
      const room = await c.join(info.roomCode);
      const bytes = randomBytes(1024 * 1024);
      let restarted = null;
      const asset = await room.upload(bytes, {
        name: 'big.bin', chunkSize: 64 * 1024, retryDelays: Array(100).fill(50),
        onProgress: (sent) => {
          if (sent >= 256 * 1024 && !restarted) {
            srv.proc.kill('SIGKILL');
            restarted = srv.exited.then(() => spawnServer({ dataDir, listen: `127.0.0.1:${port}` })).then((s) => { srv = s; });
          }
        },
      });
      await restarted;
      assert.equal(reqs.filter((r) => r === 'POST /api/uploads/').length, 1, 'one upload, resumed');
      const posts = reqs.indexOf('POST /api/uploads/');
      assert.ok(reqs.slice(posts + 1).some((r) => r.startsWith('HEAD /api/uploads/')), 'resumed with HEAD');
      assert.equal(asset.sha256, sha(bytes));
      const res = await fetch(await room.assetUrl(asset));
      assert.equal(sha(Buffer.from(await res.arrayBuffer())), sha(bytes));
    } finally {
      c.close();
      await srv.stop();
      rmDir(dataDir);
    }
  });
});
