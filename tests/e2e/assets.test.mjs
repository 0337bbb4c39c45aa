// assets.test.mjs: asset records (docs/assets.md, "Assets in rooms"): an upload with
// tus-js-client into a room becomes an asset, told to the room's connections
// (asset_added); the room's assets are listed a page at a time, read and deleted (the
// uploader or the host; asset_removed) by participants only; refusals for strangers and
// malformed rooms; an asset recorded again by HEAD after the server lost it; export and
// import keep it. Blobs are read by the room's participants (and the uploader) only, or
// with a signed, expiring URL (GET /api/assets/:id/url) that needs no token. Versions: an
// upload naming an asset (assetId) is its next version (the owner or the room's host
// only; asset_updated), listed, behind the stable redirecting URL, the older contents
// still readable and kept by the collector.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import * as tus from 'tus-js-client';

import { createStoryEngine } from '../../examples/story-engine/story-engine.mjs';
import { TEST_SECRET } from './lib/auth.mjs';
import { assertJsonError, fetchOnce } from './lib/http.mjs';
import { closeAll, createRoom, del, expectJson, get, joinRest, mkUser, post, roomWith } from './lib/rooms.mjs';
import { makeTempDir, runCli, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const ARGS = ['--jwt-secret', TEST_SECRET];
const TUS = { 'Tus-Resumable': '1.0.0' };
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const b64 = (s) => Buffer.from(s).toString('base64');
const ASSET_KEYS = ['createdAt', 'id', 'name', 'owner', 'roomId', 'sha256', 'size', 'type', 'uploadedBy', 'url', 'version'];

/** Uploads data with tus-js-client as user; resolves with {id, assetId} (Asset-Id header). */
function tusUpload(port, user, data, metadata = {}) {
  return new Promise((resolve, reject) => {
    let assetId = null;
    const up = new tus.Upload(data, {
      endpoint: `http://127.0.0.1:${port}/api/uploads/`,
      headers: { Authorization: `Bearer ${user.token}` },
      metadata,
      retryDelays: [],
      onError: reject,
      onAfterResponse: (req, res) => {
        assetId = res.getHeader('Asset-Id') ?? assetId;
      },
      onSuccess: () => resolve({ id: up.url.split('/').pop(), assetId }),
    });
    up.start();
  });
}

/** POST /api/uploads/ with Upload-Metadata meta (an object of strings). */
function create(port, user, length, meta) {
  const m = Object.entries(meta).map(([k, v]) => `${k} ${b64(v)}`).join(',');
  return fetchOnce(port, 'POST', '/api/uploads/', {
    headers: { ...TUS, Authorization: `Bearer ${user.token}`, 'Upload-Length': String(length), 'Upload-Metadata': m },
  });
}

describe('assets in rooms', () => {
  it('an upload into a room is an asset: event, list, read, delete, and who may', T, async () => {
    const srv = await startServer({ args: ARGS });
    const [host, member, other, stranger] = [mkUser('host'), mkUser('member'), mkUser('other'), mkUser('stranger')];
    let cs = [];
    try {
      const w = await roomWith(srv.port, [host, member, other]);
      cs = w.cs;
      const room = w.room;
      const theirs = await createRoom(srv.port, stranger, { name: 'Elsewhere' });

      const data = randomBytes(3000);
      const up = await tusUpload(srv.port, member, data, { filename: 'pic é.png', filetype: 'image/png', room: room.id });
      assert.match(up.id, /^[0-9a-f]{32}$/);
      assert.equal(up.assetId, up.id, 'the asset id is the upload id, in Asset-Id');
      const ev = await cs[0].waitEvent('asset_added');
      assert.equal(ev.room, room.id);
      assert.deepEqual(Object.keys(ev.asset).sort(), ASSET_KEYS);
      assert.equal(ev.asset.id, up.id);
      assert.equal(ev.asset.roomId, room.id);
      assert.equal(ev.asset.uploadedBy, member.sub);
      assert.equal(ev.asset.sha256, sha256(data));
      assert.equal(ev.asset.size, 3000);
      assert.equal(ev.asset.name, 'pic é.png');
      assert.equal(ev.asset.type, 'image/png');
      assert.equal(ev.asset.url, `/api/blobs/${sha256(data)}`);
      assert.ok(Math.abs(ev.asset.createdAt - Date.now()) < 60000);
      await cs[1].waitEvent('asset_added'); // the uploader's connection too

      // A stranger cannot upload into the room (404, as for any room they are not in); a
      // malformed room or too long a name is a validation error.
      assertJsonError(await create(srv.port, stranger, 10, { room: room.id }), 404, 'not_found');
      assertJsonError(await create(srv.port, member, 10, { room: 'no-such-room' }), 404, 'not_found');
      let r = await create(srv.port, member, 10, { room: '' });
      assertJsonError(r, 400, 'validation_error');
      assert.equal(r.json().error.field, 'Upload-Metadata');
      assertJsonError(await create(srv.port, member, 10, { room: room.id, filename: 'x'.repeat(256) }), 400, 'validation_error');
      // An upload without a room is no asset.
      await tusUpload(srv.port, member, randomBytes(100), { filename: 'loose.bin' });

      // Three more, then pages of two, newest first.
      const ids = [up.id];
      for (let i = 0; i < 3; i++) ids.push((await tusUpload(srv.port, host, randomBytes(10 + i), { room: room.id })).id);
      let j = expectJson(await get(srv.port, other, `/api/rooms/${room.id}/assets?limit=2`), 200);
      assert.deepEqual(j.assets.map((a) => a.id), [ids[3], ids[2]]);
      assert.match(j.next, /^[0-9a-f]+$/); // opaque: the page's last asset
      j = expectJson(await get(srv.port, other, `/api/rooms/${room.id}/assets?limit=2&before=${j.next}`), 200);
      assert.deepEqual(j.assets.map((a) => a.id), [ids[1], ids[0]]);
      j = expectJson(await get(srv.port, other, `/api/rooms/${room.id}/assets?limit=2&before=${j.next}`), 200);
      assert.deepEqual(j.assets, []);
      assert.equal(j.next, null);
      j = expectJson(await get(srv.port, other, `/api/rooms/${room.id}/assets`), 200);
      assert.equal(j.assets.length, 4);
      assert.equal(j.next, null);
      assertJsonError(await get(srv.port, other, `/api/rooms/${room.id}/assets?limit=0`), 400, 'validation_error');
      assertJsonError(await get(srv.port, other, `/api/rooms/${room.id}/assets?before=nope`), 400, 'validation_error');
      assertJsonError(await get(srv.port, stranger, `/api/rooms/${room.id}/assets`), 404, 'not_found');
      assert.deepEqual(expectJson(await get(srv.port, stranger, `/api/rooms/${theirs.id}/assets`), 200).assets, []);

      // One asset's record: participants only.
      j = expectJson(await get(srv.port, other, `/api/assets/${up.id}`), 200);
      assert.deepEqual(j.asset, ev.asset);
      assertJsonError(await get(srv.port, stranger, `/api/assets/${up.id}`), 404, 'not_found');
      assertJsonError(await get(srv.port, other, `/api/assets/${'0'.repeat(32)}`), 404, 'not_found');
      assertJsonError(await get(srv.port, other, '/api/assets/xyz'), 404, 'not_found');
      assertJsonError(await get(srv.port, null, `/api/assets/${up.id}`), 401, 'unauthorized');

      // Delete: not a stranger (404), not another member (403); the host may.
      assertJsonError(await del(srv.port, stranger, `/api/assets/${up.id}`), 404, 'not_found');
      assertJsonError(await del(srv.port, other, `/api/assets/${up.id}`), 403, 'forbidden');
      for (const c of cs) c.clear();
      j = expectJson(await del(srv.port, host, `/api/assets/${up.id}`), 200);
      assert.equal(j.asset.id, up.id);
      const gone = await cs[1].waitEvent('asset_removed');
      assert.equal(gone.asset.id, up.id);
      assert.equal(gone.room, room.id);
      assertJsonError(await get(srv.port, member, `/api/assets/${up.id}`), 404, 'not_found');
      assertJsonError(await del(srv.port, host, `/api/assets/${up.id}`), 404, 'not_found');
      // The uploader may delete their own.
      const mine = (await tusUpload(srv.port, other, randomBytes(5), { room: room.id })).id;
      expectJson(await del(srv.port, other, `/api/assets/${mine}`), 200);
      // The upload's record went with the asset: a HEAD does not bring it back.
      const h = await fetchOnce(srv.port, 'HEAD', `/api/uploads/${up.id}`, { headers: { ...TUS, Authorization: `Bearer ${member.token}` } });
      assert.equal(h.status, 404);
      assertJsonError(await get(srv.port, member, `/api/assets/${up.id}`), 404, 'not_found');

      // Someone who joins later sees the room's assets.
      const late = mkUser('late');
      await joinRest(srv.port, late, room.id);
      assert.equal(expectJson(await get(srv.port, late, `/api/rooms/${room.id}/assets`), 200).assets.length, 3);
    } finally {
      closeAll(cs);
      await srv.stop();
    }
  });

  it('a finished upload whose asset the server lost is recorded again by HEAD; export and import keep assets', T, async () => {
    const dir = makeTempDir('chorus-assets-');
    const args = [...ARGS, '--data', dir];
    let srv = await startServer({ args, data: false, store: 'sqlite' });
    const host = mkUser('host');
    const out = makeTempDir('chorus-assets-out-');
    try {
      const room = await createRoom(srv.port, host, { name: 'R' });
      const data = randomBytes(1000);
      const { id } = await tusUpload(srv.port, host, data, { filename: 'a.txt', filetype: 'text/plain', room: room.id });
      await srv.stop();
      // As if the server stopped between the upload's last record and its asset.
      execFileSync('sqlite3', [path.join(dir, 'chorus.db'), 'DELETE FROM assets']);
      srv = await startServer({ args, data: false, store: 'sqlite' });
      assertJsonError(await get(srv.port, host, `/api/assets/${id}`), 404, 'not_found');
      const h = await fetchOnce(srv.port, 'HEAD', `/api/uploads/${id}`, { headers: { ...TUS, Authorization: `Bearer ${host.token}` } });
      assert.equal(h.status, 200);
      assert.equal(h.headers['upload-sha256'], sha256(data));
      assert.equal(h.headers['asset-id'], id);
      const a = expectJson(await get(srv.port, host, `/api/assets/${id}`), 200).asset;
      assert.equal(a.name, 'a.txt');
      assert.equal(a.size, 1000);
      // A second HEAD finds it recorded: still one asset.
      await fetchOnce(srv.port, 'HEAD', `/api/uploads/${id}`, { headers: { ...TUS, Authorization: `Bearer ${host.token}` } });
      assert.equal(expectJson(await get(srv.port, host, `/api/rooms/${room.id}/assets`), 200).assets.length, 1);
      await srv.stop();

      const dump = path.join(out, 'dump.jsonl');
      let r = await runCli(['export', '--data', dir, '-o', dump]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(fs.readFileSync(dump, 'utf8'), new RegExp(`"t":"assets","r":\\{[^\\n]*"id":"${id}"`));
      const dir2 = path.join(out, 'data2');
      r = await runCli(['import', '--data', dir2, dump]);
      assert.equal(r.code, 0, r.stderr);
      srv = await startServer({ args: [...ARGS, '--data', dir2], data: false, store: 'sqlite' });
      assert.deepEqual(expectJson(await get(srv.port, host, `/api/assets/${id}`), 200).asset, a);
    } finally {
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
  it('blob collection: the last asset of a blob deleted, the blob goes; one of two sharing it, it stays', T, async () => {
    const srv = await startServer({ args: [...ARGS, '--blob-gc-grace', '1s', '--upload-expiry', '1s'] });
    const alice = mkUser('alice');
    const blobFile = (hex) => path.join(srv.dataDir, 'blobs', hex.slice(0, 2), hex);
    try {
      const shared = randomBytes(500);
      const solo = randomBytes(600);
      const a = await tusUpload(srv.port, alice, shared, { filename: 'a' });
      const b = await tusUpload(srv.port, alice, shared, { filename: 'b' }); // dedup: one blob
      const c = await tusUpload(srv.port, alice, solo, { filename: 'c' });
      assert.ok(a.assetId && b.assetId && c.assetId);
      assert.ok(fs.existsSync(blobFile(sha256(shared))) && fs.existsSync(blobFile(sha256(solo))));
      expectJson(await del(srv.port, alice, `/api/assets/${a.id}`), 200);
      expectJson(await del(srv.port, alice, `/api/assets/${c.id}`), 200);
      // The run that collects the younger solo blob has looked at the shared one too.
      await srv.waitForLine(new RegExp(`blob ${sha256(solo)}: no asset names it: collected`));
      assert.equal(fs.existsSync(blobFile(sha256(solo))), false);
      assert.equal(fs.existsSync(blobFile(sha256(shared))), true, 'asset b still names it');
      const r = await fetchOnce(srv.port, 'GET', `/api/blobs/${sha256(shared)}`, { headers: { Authorization: `Bearer ${alice.token}` } });
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(shared));
      expectJson(await del(srv.port, alice, `/api/assets/${b.id}`), 200);
      await srv.waitForLine(new RegExp(`blob ${sha256(shared)}: no asset names it: collected`));
      assert.equal(fs.existsSync(blobFile(sha256(shared))), false);
      // The same bytes again: a new blob.
      await tusUpload(srv.port, alice, shared, { filename: 'again' });
      assert.ok(fs.existsSync(blobFile(sha256(shared))));
    } finally {
      await srv.stop();
    }
  });
  it('versions: an upload naming an asset is its next version; who may, events, list, redirect, old contents kept', T, async () => {
    const srv = await startServer({ args: [...ARGS, '--blob-gc-grace', '1s', '--upload-expiry', '1s'] });
    const [host, owner, other, stranger] = [mkUser('host'), mkUser('owner'), mkUser('other'), mkUser('stranger')];
    const blobFile = (hex) => path.join(srv.dataDir, 'blobs', hex.slice(0, 2), hex);
    let cs = [];
    try {
      const w = await roomWith(srv.port, [host, owner, other]);
      cs = w.cs;
      const room = w.room;
      const v1 = randomBytes(1000), v2 = randomBytes(2000), v3 = randomBytes(3000);
      const a = await tusUpload(srv.port, owner, v1, { filename: 'model.glb', room: room.id });
      const id = a.assetId;
      assert.equal((await cs[2].waitEvent('asset_added')).asset.version, 1);

      // Who may: the owner and the room's host; another participant 403, a stranger and an
      // unknown asset 404, a malformed id 400.
      assertJsonError(await create(srv.port, other, 10, { assetId: id }), 403, 'forbidden');
      assertJsonError(await create(srv.port, stranger, 10, { assetId: id }), 404, 'not_found');
      assertJsonError(await create(srv.port, owner, 10, { assetId: 'f'.repeat(32) }), 404, 'not_found');
      assertJsonError(await create(srv.port, owner, 10, { assetId: 'nope' }), 400, 'validation_error');

      // Version 2 by the host (its room is the asset's, whatever "room" says), 3 by the owner.
      const b = await tusUpload(srv.port, host, v2, { filename: 'model-2.glb', assetId: id, room: 'elsewhere' });
      assert.equal(b.assetId, id, 'Asset-Id names the asset');
      let ev = await cs[2].waitEvent('asset_updated');
      assert.equal(ev.room, room.id);
      assert.deepEqual(Object.keys(ev.asset).sort(), ASSET_KEYS);
      assert.equal(ev.asset.id, id);
      assert.equal(ev.asset.version, 2);
      assert.equal(ev.asset.sha256, sha256(v2));
      assert.equal(ev.asset.uploadedBy, host.sub);
      assert.equal(ev.asset.owner, owner.sub, 'the owner stays the first version\'s uploader');
      assert.equal(ev.asset.roomId, room.id);
      await tusUpload(srv.port, owner, v3, { filename: 'model-3.glb', assetId: id });
      ev = await cs[2].waitEvent('asset_updated');
      assert.equal(ev.asset.version, 3);

      // The record and the room's list show the current version, once.
      let j = expectJson(await get(srv.port, other, `/api/assets/${id}`), 200);
      assert.deepEqual(j.asset, ev.asset);
      j = expectJson(await get(srv.port, other, `/api/rooms/${room.id}/assets`), 200);
      assert.deepEqual(j.assets.map((x) => [x.id, x.version]), [[id, 3]]);
      // Versions, newest first, in pages.
      j = expectJson(await get(srv.port, other, `/api/assets/${id}/versions?limit=2`), 200);
      assert.deepEqual(j.versions.map((v) => [v.version, v.sha256, v.size]), [[3, sha256(v3), 3000], [2, sha256(v2), 2000]]);
      assert.equal(j.versions[1].uploadedBy, host.sub);
      assert.equal(j.versions[1].uploadId, b.id);
      assert.equal(j.versions[1].name, 'model-2.glb');
      assert.equal(j.versions[1].url, `/api/blobs/${sha256(v2)}`);
      assert.equal(j.next, 2);
      j = expectJson(await get(srv.port, other, `/api/assets/${id}/versions?before=${j.next}`), 200);
      assert.deepEqual(j.versions.map((v) => [v.version, v.uploadId]), [[1, a.id]]);
      assert.equal(j.next, null);
      assertJsonError(await get(srv.port, stranger, `/api/assets/${id}/versions`), 404, 'not_found');
      assertJsonError(await get(srv.port, other, `/api/assets/${id}/versions?limit=0`), 400, 'validation_error');

      // The stable URL redirects to the current content; an older one stays readable by hash.
      let r = await fetchOnce(srv.port, 'GET', `/api/assets/${id}/content`, { headers: { Authorization: `Bearer ${other.token}` } });
      assert.equal(r.status, 307);
      assert.equal(r.headers.location, `/api/blobs/${sha256(v3)}`);
      assert.match(r.headers['cache-control'], /no-cache/);
      assertJsonError(await get(srv.port, stranger, `/api/assets/${id}/content`), 404, 'not_found');
      r = await fetchOnce(srv.port, 'GET', `/api/blobs/${sha256(v1)}`, { headers: { Authorization: `Bearer ${other.token}` } });
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(v1));

      // The collector keeps every version's content: the run that collects a younger,
      // unnamed blob has looked at the older versions' too.
      const gone = randomBytes(700);
      const g = await tusUpload(srv.port, owner, gone, { room: room.id });
      expectJson(await del(srv.port, owner, `/api/assets/${g.assetId}`), 200);
      await srv.waitForLine(new RegExp(`blob ${sha256(gone)}: no asset names it: collected`), 10000);
      for (const v of [v1, v2, v3]) assert.ok(fs.existsSync(blobFile(sha256(v))), 'a version names it');

      // Deleting the asset takes every version; a version's upload cannot bring it back.
      expectJson(await del(srv.port, owner, `/api/assets/${id}`), 200);
      const rm = await cs[2].waitEvent((m) => m.op === 'asset_removed' && m.asset.id === id);
      assert.equal(rm.asset.version, 3);
      assertJsonError(await get(srv.port, other, `/api/assets/${id}/versions`), 404, 'not_found');
      assertJsonError(await create(srv.port, owner, 10, { assetId: id }), 404, 'not_found');
    } finally {
      closeAll(cs);
      await srv.stop();
    }
  });
  it('who changes and who sees an asset: its owner or a host of its room, taking part in it; a version alone gives no right; one out of the room sees only their own upload', T, async () => {
    const roles = new Map(); // user id -> the role the join hook answers
    const engine = createStoryEngine({
      secret: 'assets-hook-secret-0123456789',
      handle: (call) => (call.type === 'join' ? { allow: true, role: roles.get(call.user.id) ?? 'member' } : { data: null }),
    });
    await new Promise((resolve) => engine.listen(0, '127.0.0.1', resolve));
    const srv = await startServer({
      args: [...ARGS, '--join-hook-url', `http://127.0.0.1:${engine.address().port}/join`,
        '--rpc-secret', 'assets-hook-secret-0123456789'],
    });
    const [host, owner, co, other] = [mkUser('host'), mkUser('owner'), mkUser('co'), mkUser('other')];
    roles.set(co.sub, 'host');
    let cs = [];
    try {
      const w = await roomWith(srv.port, [host, owner, co, other]);
      cs = w.cs;
      const room = w.room;
      const v1 = randomBytes(1000), v2 = randomBytes(1100), v3 = randomBytes(1200);
      const id = (await tusUpload(srv.port, owner, v1, { filename: 'a.bin', room: room.id })).assetId;
      // A co-host adds a version, then is made a member again: the current version is
      // theirs, the asset is not, and they may not delete it (nor may another member).
      await tusUpload(srv.port, co, v2, { filename: 'b.bin', assetId: id });
      roles.set(co.sub, 'member');
      assert.equal((await cs[2].join(room.id)).role, 'member');
      let j = expectJson(await get(srv.port, co, `/api/assets/${id}`), 200);
      assert.equal(j.asset.uploadedBy, co.sub);
      assertJsonError(await del(srv.port, co, `/api/assets/${id}`), 403, 'forbidden');
      assertJsonError(await del(srv.port, other, `/api/assets/${id}`), 403, 'forbidden');
      assertJsonError(await create(srv.port, co, 10, { assetId: id }), 403, 'forbidden');
      j = expectJson(await get(srv.port, owner, `/api/assets/${id}/versions`), 200);
      assert.deepEqual(j.versions.map((v) => v.version), [2, 1]);

      // The owner leaves; the host adds version 3. The owner no longer sees the asset (the
      // record, its versions, its content, a signed URL) nor adds a version; the bytes
      // they uploaded themselves stay theirs to read.
      expectJson(await del(srv.port, owner, `/api/rooms/${room.id}/leave`), 200);
      await tusUpload(srv.port, host, v3, { filename: 'c.bin', assetId: id });
      for (const sub of ['', '/versions', '/content', '/url'])
        assertJsonError(await get(srv.port, owner, `/api/assets/${id}${sub}`), 404, 'not_found');
      assertJsonError(await create(srv.port, owner, 10, { assetId: id }), 404, 'not_found');
      assertJsonError(await del(srv.port, owner, `/api/assets/${id}`), 404, 'not_found');
      let r = await fetchOnce(srv.port, 'GET', `/api/blobs/${sha256(v1)}`, { headers: { Authorization: `Bearer ${owner.token}` } });
      assert.equal(r.status, 200);
      r = await fetchOnce(srv.port, 'GET', `/api/blobs/${sha256(v3)}`, { headers: { Authorization: `Bearer ${owner.token}` } });
      assert.equal(r.status, 404);
      // A banned uploader of an older version sees nothing of the asset either.
      expectJson(await post(srv.port, host, `/api/rooms/${room.id}/kick`, { userId: co.sub, ban: true }), 200);
      for (const sub of ['', '/versions', '/content', '/url'])
        assertJsonError(await get(srv.port, co, `/api/assets/${id}${sub}`), 404, 'not_found');
      assertJsonError(await create(srv.port, co, 10, { assetId: id }), 404, 'not_found');

      // A co-host taking part may delete it (the rule of versions).
      roles.set(other.sub, 'host');
      assert.equal((await cs[3].join(room.id)).role, 'host');
      expectJson(await del(srv.port, other, `/api/assets/${id}`), 200);
    } finally {
      closeAll(cs);
      await srv.stop();
      engine.closeAllConnections?.();
      await new Promise((resolve) => engine.close(resolve));
    }
  });
  it('the list cursor: many assets of the same millisecond page through exactly once, even with the cursor asset deleted', T, async () => {
    const dir = makeTempDir('chorus-assets-');
    const args = [...ARGS, '--data', dir];
    let srv = await startServer({ args, data: false, store: 'sqlite' });
    const host = mkUser('host');
    try {
      const room = await createRoom(srv.port, host, { name: 'R' });
      await srv.stop();
      // Nine assets finished in one millisecond (as parallel uploads may), ids in no order.
      const ids = Array.from({ length: 9 }, () => randomBytes(16).toString('hex'));
      const rows = ids.map((id) => `('${id}','${room.id}','${host.sub}','${'a'.repeat(64)}',1,'f','',1700000000000,'${id}',1,1)`);
      execFileSync('sqlite3', [path.join(dir, 'chorus.db'), `INSERT INTO assets VALUES ${rows.join(',')}`]);
      srv = await startServer({ args, data: false, store: 'sqlite' });
      const seen = [];
      let next = '';
      for (let page = 0; page < 10; page++) {
        const j = expectJson(await get(srv.port, host, `/api/rooms/${room.id}/assets?limit=2${next ? `&before=${next}` : ''}`), 200);
        seen.push(...j.assets.map((a) => a.id));
        if (page === 1) // the cursor's own asset goes: the next page still starts after it
          expectJson(await del(srv.port, host, `/api/assets/${j.assets[1].id}`), 200);
        if (!j.next) break;
        next = j.next;
      }
      assert.deepEqual(seen, [...ids].sort().reverse(), 'each once, by id within the millisecond');
      assertJsonError(await get(srv.port, host, `/api/rooms/${room.id}/assets?before=${ids[0]}`), 400, 'validation_error');
    } finally {
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  it('blobs: read by participants and the uploader only; signed URLs without a token, ranges, tampered and expired ones 403', T, async () => {
    const srv = await startServer({ args: ARGS });
    const [host, member, stranger] = [mkUser('host'), mkUser('member'), mkUser('stranger')];
    const auth = (u) => ({ headers: { Authorization: `Bearer ${u.token}` } });
    try {
      const room = await createRoom(srv.port, host, { name: 'R' });
      await joinRest(srv.port, member, room.id);
      const data = randomBytes(200 * 1024 + 3);
      const hex = sha256(data);
      const { id } = await tusUpload(srv.port, member, data, { filename: 'v.mp4', filetype: 'video/mp4', room: room.id });
      const blob = `/api/blobs/${hex}`;
      for (const u of [host, member]) {
        const r = await fetchOnce(srv.port, 'GET', blob, auth(u));
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, data);
        assert.equal(r.headers['cache-control'], 'private, max-age=31536000, immutable');
      }
      assertJsonError(await fetchOnce(srv.port, 'GET', blob, auth(stranger)), 404, 'not_found');
      assert.equal((await fetchOnce(srv.port, 'HEAD', blob, auth(stranger))).status, 404);
      assertJsonError(await fetchOnce(srv.port, 'GET', blob), 401, 'unauthorized');

      // A signed URL: for participants only; it works without a token, with ranges.
      assertJsonError(await get(srv.port, stranger, `/api/assets/${id}/url`), 404, 'not_found');
      const j = expectJson(await get(srv.port, host, `/api/assets/${id}/url`), 200);
      assert.ok(j.url.startsWith(`${blob}?asset=${id}&exp=`), j.url);
      assert.ok(j.expiresAt > Date.now() + 3500 * 1000 && j.expiresAt <= Date.now() + 3600 * 1000 + 1000, 'an hour');
      let r = await fetchOnce(srv.port, 'GET', j.url);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, data);
      const maxAge = Number(/^public, max-age=(\d+), immutable$/.exec(r.headers['cache-control'])?.[1]);
      assert.ok(maxAge > 3500 && maxAge <= 3600, r.headers['cache-control']);
      r = await fetchOnce(srv.port, 'GET', j.url, { headers: { Range: 'bytes=70000-70099' } });
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], `bytes 70000-70099/${data.length}`);
      assert.deepEqual(r.body, data.subarray(70000, 70100));

      // Tampered: the signature, the expiry, the asset, another blob: 403 with a JSON body.
      const u = new URL(j.url, 'http://x');
      const q = Object.fromEntries(u.searchParams);
      const at = (over, path = blob) => `${path}?${new URLSearchParams({ ...q, ...over })}`;
      const flip = (s) => s.slice(0, -1) + (s.endsWith('0') ? '1' : '0');
      for (const bad of [at({ sig: flip(q.sig) }), at({ exp: String(Number(q.exp) + 3600) }),
        at({ asset: '0'.repeat(32) }), at({}, `/api/blobs/${'1'.repeat(64)}`), at({ sig: 'zz' }),
        `${blob}?sig=${q.sig}`]) {
        const res = await fetchOnce(srv.port, 'GET', bad);
        assertJsonError(res, 403, 'invalid_signature');
      }
      // Expired: signed with the server's key (DATA/asset_url_key) a second in the past.
      const key = Buffer.from(fs.readFileSync(path.join(srv.dataDir, 'asset_url_key'), 'utf8').trim(), 'hex');
      assert.equal(key.length, 32);
      const exp = Math.floor(Date.now() / 1000) - 1;
      const sig = createHmac('sha256', key).update(`chorus asset url\n${id}\n${hex}\n${exp}\n`).digest('hex');
      assertJsonError(await fetchOnce(srv.port, 'GET', at({ exp: String(exp), sig })), 403, 'url_expired');
      // The same way, a second in the future: it works (the signature is what the docs say).
      const exp2 = exp + 120;
      const sig2 = createHmac('sha256', key).update(`chorus asset url\n${id}\n${hex}\n${exp2}\n`).digest('hex');
      assert.equal((await fetchOnce(srv.port, 'HEAD', at({ exp: String(exp2), sig: sig2 }))).status, 200);

      // Someone who leaves the room can no longer read it by token.
      const leaver = mkUser('leaver');
      await joinRest(srv.port, leaver, room.id);
      assert.equal((await fetchOnce(srv.port, 'GET', blob, auth(leaver))).status, 200);
      expectJson(await del(srv.port, leaver, `/api/rooms/${room.id}/leave`), 200);
      assertJsonError(await fetchOnce(srv.port, 'GET', blob, auth(leaver)), 404, 'not_found');
    } finally {
      await srv.stop();
    }
  });
  it('--upload-quota-user: a creation past the stored asset bytes of the user is 413 quota_exceeded; deleting frees room', T, async () => {
    const srv = await startServer({ args: [...ARGS, '--upload-quota-user', '10KiB'] });
    const [alice, bob] = [mkUser('alice'), mkUser('bob')];
    try {
      const a = await tusUpload(srv.port, alice, randomBytes(6 * 1024), { filename: 'a' });
      let r = await create(srv.port, alice, 5 * 1024, { filename: 'b' });
      const j = assertJsonError(r, 413, 'quota_exceeded');
      assert.match(j.error.message, /6144 of 10240 bytes/);
      r = await fetchOnce(srv.port, 'POST', '/api/uploads/', {
        headers: { ...TUS, Authorization: `Bearer ${alice.token}`, 'Upload-Length': '5120',
          'Content-Type': 'application/offset+octet-stream', 'Content-Length': '5120' },
        body: randomBytes(5120),
      });
      assertJsonError(r, 413, 'quota_exceeded'); // creation-with-upload too
      await tusUpload(srv.port, alice, randomBytes(4 * 1024), { filename: 'c' }); // exactly full
      assertJsonError(await create(srv.port, alice, 1, {}), 413, 'quota_exceeded');
      assert.equal((await create(srv.port, bob, 10 * 1024, {})).status, 201, 'per user');
      expectJson(await del(srv.port, alice, `/api/assets/${a.id}`), 200);
      assert.equal((await create(srv.port, alice, 6 * 1024, {})).status, 201, 'room again');
    } finally {
      await srv.stop();
    }
  });
  it('--upload-quota-user holds under parallel creations: unfinished uploads count until deleted, finished ones as assets', T, async () => {
    const srv = await startServer({ args: [...ARGS, '--upload-quota-user', '10KiB', '--upload-max-concurrent', '100'] });
    const alice = mkUser('alice');
    try {
      // Eight creations of 3 KiB at once: three fit in 10 KiB, whatever the interleaving.
      const rs = await Promise.all(Array.from({ length: 8 }, () => create(srv.port, alice, 3 * 1024, {})));
      const made = rs.filter((r) => r.status === 201);
      assert.equal(made.length, 3, rs.map((r) => r.status).join(','));
      for (const r of rs.filter((x) => x.status !== 201)) assertJsonError(r, 413, 'quota_exceeded');
      const auth = { ...TUS, Authorization: `Bearer ${alice.token}` };
      // Deleting an unfinished upload gives its bytes back.
      const [u1, u2] = made.map((r) => r.headers.location);
      assert.equal((await fetchOnce(srv.port, 'DELETE', u1, { headers: auth })).status, 204);
      const again = await create(srv.port, alice, 3 * 1024, {});
      assert.equal(again.status, 201);
      assertJsonError(await create(srv.port, alice, 2 * 1024, {}), 413, 'quota_exceeded');
      // Finishing one: its bytes now count as an asset (still 9 KiB held).
      const r = await fetchOnce(srv.port, 'PATCH', u2, {
        headers: { ...auth, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
        body: randomBytes(3 * 1024),
      });
      assert.equal(r.status, 204, r.text);
      const j = assertJsonError(await create(srv.port, alice, 2 * 1024, {}), 413, 'quota_exceeded');
      assert.match(j.error.message, /9216 of 10240 bytes/);
      assert.equal((await create(srv.port, alice, 1024, {})).status, 201, 'exactly full');
    } finally {
      await srv.stop();
    }
  });
  it('--upload-quota-room: parallel creations by several users into one room; other rooms and own uploads apart', T, async () => {
    const srv = await startServer({ args: [...ARGS, '--upload-quota-room', '10KiB', '--upload-max-concurrent', '100'] });
    const [host, member] = [mkUser('host'), mkUser('member')];
    let cs = [];
    try {
      const w = await roomWith(srv.port, [host, member]);
      cs = w.cs;
      const rs = await Promise.all(Array.from({ length: 8 }, (_, i) =>
        create(srv.port, i % 2 ? member : host, 3 * 1024, { filename: `f${i}`, room: w.room.id })));
      const made = rs.filter((r) => r.status === 201);
      assert.equal(made.length, 3, rs.map((r) => r.status).join(','));
      for (const r of rs.filter((x) => x.status !== 201)) {
        const j = assertJsonError(r, 413, 'room_quota_exceeded');
        assert.match(j.error.message, /(6144|9216) of 10240 bytes/);
      }
      const other = await createRoom(srv.port, host, { name: 'Other' });
      assert.equal((await create(srv.port, host, 10 * 1024, { room: other.id })).status, 201, 'per room');
      assert.equal((await create(srv.port, member, 10 * 1024, {})).status, 201, 'no room: no room quota');
      // A finished upload counts as the room's asset.
      const a = await tusUpload(srv.port, member, randomBytes(1024), { filename: 'last', room: w.room.id });
      assert.equal(a.assetId, a.id);
      assertJsonError(await create(srv.port, host, 1, { room: w.room.id }), 413, 'room_quota_exceeded');
    } finally {
      closeAll(cs);
      await srv.stop();
    }
  });
  it('--upload-max-incomplete: a user with that many unfinished uploads is 429 too_many_incomplete until one finishes or is deleted', T, async () => {
    const srv = await startServer({ args: [...ARGS, '--upload-max-incomplete', '2'] });
    const [alice, bob] = [mkUser('alice'), mkUser('bob')];
    try {
      const auth = { ...TUS, Authorization: `Bearer ${alice.token}` };
      const u1 = (await create(srv.port, alice, 10, {})).headers.location;
      const u2 = (await create(srv.port, alice, 10, {})).headers.location;
      const j = assertJsonError(await create(srv.port, alice, 10, {}), 429, 'too_many_incomplete');
      assert.match(j.error.message, /2 unfinished uploads/);
      assert.equal((await create(srv.port, bob, 10, {})).status, 201, 'per user');
      const r = await fetchOnce(srv.port, 'PATCH', u1, {
        headers: { ...auth, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
        body: randomBytes(10),
      });
      assert.equal(r.status, 204, r.text);
      const u3 = (await create(srv.port, alice, 10, {})).headers.location;
      assertJsonError(await create(srv.port, alice, 10, {}), 429, 'too_many_incomplete');
      assert.equal((await fetchOnce(srv.port, 'DELETE', u2, { headers: auth })).status, 204);
      assert.equal((await create(srv.port, alice, 10, {})).status, 201);
      assert.ok(u3);
    } finally {
      await srv.stop();
    }
  });
});
