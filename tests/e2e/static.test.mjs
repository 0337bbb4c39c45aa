// static.test.mjs: static files from --web: types, ETag/304, HEAD, index files,
// directory redirects and no way out of the web root.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { assertJsonError, fetchOnce, HttpConn } from './lib/http.mjs';
import { DEFAULT_WEB, startServer } from './lib/server.mjs';

const T = { timeout: 15000 };
const SECRET = 'TOP SECRET: outside the web root\n';

describe('static files', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      setup(base) {
        // base/secret.txt and base/outside/ are next to base/web, not inside it.
        fs.writeFileSync(path.join(base, 'secret.txt'), SECRET);
        fs.mkdirSync(path.join(base, 'outside'));
        fs.writeFileSync(path.join(base, 'outside', 'file.txt'), SECRET);
        fs.symlinkSync(path.join(base, 'secret.txt'), path.join(base, 'web', 'escape.txt'));
        fs.symlinkSync(path.join(base, 'outside'), path.join(base, 'web', 'outlink'));
        fs.symlinkSync('../secret.txt', path.join(base, 'web', 'relescape.txt'));
      },
    });
  });
  after(async () => {
    await srv?.stop();
  });

  const get = (target, opts) => fetchOnce(srv.port, 'GET', target, opts);

  function assertFile(res, rel, typeRe) {
    assert.equal(res.status, 200, `GET ${rel}: status (body ${JSON.stringify(res.text.slice(0, 200))})`);
    assert.deepEqual(res.body, Buffer.from(DEFAULT_WEB[rel]), `body of ${rel}`);
    assert.equal(Number(res.headers['content-length']), res.body.length, `content-length of ${rel}`);
    assert.match(res.headers['content-type'] ?? '', typeRe, `content-type of ${rel}`);
    assert.equal(res.headers['cache-control'], 'no-cache', `cache-control of ${rel}`);
  }

  it('serves files with a Content-Type by extension', T, async () => {
    assertFile(await get('/index.html'), 'index.html', /^text\/html\b/);
    assertFile(await get('/style.css'), 'style.css', /^text\/css\b/);
    assertFile(await get('/app.js'), 'app.js', /^(text|application)\/javascript\b/);
    assertFile(await get('/data.json'), 'data.json', /^application\/json\b/);
    assertFile(await get('/notes.txt'), 'notes.txt', /^text\/plain\b/);
    assertFile(await get('/image.png'), 'image.png', /^image\/png$/);
    assertFile(await get('/blob.bin'), 'blob.bin', /^application\/octet-stream$/);
  });

  it('decodes percent-encoding in the path and ignores the query string', T, async () => {
    assertFile(await get('/hello%20world.txt'), 'hello world.txt', /^text\/plain\b/);
    assertFile(await get('/style.css?v=123'), 'style.css', /^text\/css\b/);
  });

  it('/ serves index.html', T, async () => {
    assertFile(await get('/'), 'index.html', /^text\/html\b/);
  });

  it('/sub -> 301 to /sub/', T, async () => {
    const res = await get('/sub');
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, '/sub/');
  });

  it('/sub/ serves sub/index.html; /sub/page.html serves that file', T, async () => {
    assertFile(await get('/sub/'), 'sub/index.html', /^text\/html\b/);
    assertFile(await get('/sub/page.html'), 'sub/page.html', /^text\/html\b/);
  });

  it('a directory without index.html -> 404, a missing file -> 404 not_found', T, async () => {
    assertJsonError(await get('/noindex/'), 404, 'not_found');
    assertJsonError(await get('/missing.html'), 404, 'not_found');
    assertJsonError(await get('/sub/missing.html'), 404, 'not_found');
  });

  it('ETag + If-None-Match -> 304 without a body; another tag -> 200', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      const first = await c.request('GET', '/style.css');
      assert.equal(first.status, 200);
      const etag = first.headers.etag;
      assert.ok(etag, 'an ETag header');
      assert.match(etag, /^(W\/)?"[^"]+"$/, 'a quoted entity tag');

      const again = await c.request('GET', '/style.css');
      assert.equal(again.headers.etag, etag, 'the ETag is stable');

      const nm = await c.request('GET', '/style.css', { headers: { 'If-None-Match': etag } });
      assert.equal(nm.status, 304);
      assert.equal(nm.body.length, 0);
      assert.equal(nm.headers.etag, etag);

      const other = await c.request('GET', '/style.css', { headers: { 'If-None-Match': '"not-the-tag"' } });
      assertFile(other, 'style.css', /^text\/css\b/);

      const list = await c.request('GET', '/style.css', { headers: { 'If-None-Match': `"x", ${etag}` } });
      assert.equal(list.status, 304, 'a list containing the tag matches');

      // The connection is still in sync after the bodyless 304s.
      assertFile(await c.request('GET', '/notes.txt'), 'notes.txt', /^text\/plain\b/);
    } finally {
      c.close();
    }
  });

  it('different files have different ETags', T, async () => {
    const a = await get('/style.css');
    const b = await get('/app.js');
    assert.notEqual(a.headers.etag, b.headers.etag);
  });

  it('HEAD sends the headers of GET and no body', T, async () => {
    const c = await HttpConn.open(srv.port);
    try {
      const h = await c.request('HEAD', '/index.html');
      assert.equal(h.status, 200);
      assert.equal(Number(h.headers['content-length']), Buffer.byteLength(DEFAULT_WEB['index.html']));
      assert.match(h.headers['content-type'] ?? '', /^text\/html\b/);
      assert.ok(h.headers.etag);
      assertFile(await c.request('GET', '/index.html'), 'index.html', /^text\/html\b/);
      assert.equal(c.reader.length, 0, 'no stray body bytes');
    } finally {
      c.close();
    }
  });

  // [target, allowed statuses]: the contract's cases must be 404; for a raw backslash
  // in the request line a 400 from the HTTP parser is fine too.
  for (const [target, statuses] of [
    ['/../secret.txt', [404]],
    ['/%2e%2e/secret.txt', [404]],
    ['/%2E%2E/secret.txt', [404]],
    ['/%2E%2E%2Fsecret.txt', [404]],
    ['/sub/../../secret.txt', [404]],
    ['/sub/%2e%2e/%2e%2e/secret.txt', [404]],
    ['/..%2fsecret.txt', [404]],
    ['/.%2e/secret.txt', [404]],
    ['/%2e%2e%5csecret.txt', [404]],
    ['/..\\secret.txt', [400, 404]],
  ]) {
    it(`no escape from the web root: GET ${target} -> ${statuses.join(' or ')}`, T, async () => {
      const res = await get(target);
      assert.ok(!res.text.includes('TOP SECRET'), 'the secret must not leak');
      assert.ok(statuses.includes(res.status), `status for ${target}: ${res.status} ${res.text}`);
    });
  }

  it('a symlink inside the web dir pointing outside -> 404', T, async () => {
    for (const target of ['/escape.txt', '/relescape.txt', '/outlink/file.txt']) {
      const res = await get(target);
      assert.ok(!res.text.includes('TOP SECRET'), `secret leaked through ${target}`);
      assertJsonError(res, 404, 'not_found');
    }
  });

  it('an encoded NUL in the path -> 404', T, async () => {
    assertJsonError(await get('/index.html%00.png'), 404, 'not_found');
    assertJsonError(await get('/index.html%00'), 404, 'not_found');
  });

  it('bad percent-encoding -> 404 (or 400)', T, async () => {
    const res = await get('/index%zz.html');
    assert.ok([400, 404].includes(res.status), `status ${res.status}`);
  });

  it('POST and DELETE on a static file -> 405 with "Allow: GET, HEAD"', T, async () => {
    for (const m of ['POST', 'DELETE']) {
      const res = await fetchOnce(srv.port, m, '/index.html', m === 'POST' ? { body: 'x' } : {});
      assertJsonError(res, 405, 'method_not_allowed');
      assert.equal(res.headers.allow, 'GET, HEAD');
    }
  });
});
