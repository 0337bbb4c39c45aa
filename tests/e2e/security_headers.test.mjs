// security_headers.test.mjs: the web app's files come with X-Content-Type-Options,
// X-Frame-Options and Referrer-Policy, and HTML pages with a Content-Security-Policy that
// allows same-origin scripts, the page's own inline scripts by hash, same-origin
// connections, and no framing. (tests/browser checks the real app runs under it.)
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { fetchOnce } from './lib/http.mjs';
import { DEFAULT_WEB, REPO_ROOT, startServer } from './lib/server.mjs';

const MAP = '\n{"imports": {"x": "./x.js"}}\n';
const INLINE = 'document.title = "inline";';
const PAGE = `<!doctype html><script type="importmap">${MAP}</script>` +
  `<script type="module" src="app.js"></script><script>${INLINE}</script><p>page</p>\n`;
const sha = (s) => `'sha256-${crypto.createHash('sha256').update(s).digest('base64')}'`;

/** Parses a CSP header value into {directive: [sources]}. */
function parseCsp(v) {
  const out = {};
  for (const part of v.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out[name] = sources;
  }
  return out;
}

function assertCommon(res) {
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['x-frame-options'], 'DENY');
  assert.equal(res.headers['referrer-policy'], 'no-referrer');
}

describe('security headers on static files', () => {
  let srv;
  before(async () => {
    srv = await startServer({ webFiles: { ...DEFAULT_WEB, 'page.html': PAGE } });
  });
  after(async () => {
    await srv?.stop();
  });

  it('an HTML page has a CSP pinning its inline scripts; nobody may frame it', async () => {
    const res = await fetchOnce(srv.port, 'GET', '/page.html');
    assert.equal(res.status, 200);
    assertCommon(res);
    const csp = parseCsp(res.headers['content-security-policy'] ?? '');
    assert.deepEqual(csp['default-src'], ["'self'"]);
    assert.deepEqual(csp['script-src'], ["'self'", sha(MAP), sha(INLINE)]);
    assert.deepEqual(csp['connect-src'], ["'self'"]);
    assert.deepEqual(csp['frame-ancestors'], ["'none'"]);
    assert.deepEqual(csp['object-src'], ["'none'"]);
    assert.deepEqual(csp['base-uri'], ["'none'"]);
    assert.ok(!csp['script-src'].includes("'unsafe-inline'"), 'no unsafe-inline scripts');
    assert.equal(res.text, PAGE);
  });

  it('/ (index.html), HEAD and 304 carry the headers too', async () => {
    const res = await fetchOnce(srv.port, 'GET', '/');
    assertCommon(res);
    assert.match(res.headers['content-security-policy'], /frame-ancestors 'none'/);
    const head = await fetchOnce(srv.port, 'HEAD', '/page.html');
    assertCommon(head);
    assert.equal(head.headers['content-security-policy'],
      (await fetchOnce(srv.port, 'GET', '/page.html')).headers['content-security-policy']);
    const again = await fetchOnce(srv.port, 'GET', '/page.html', { headers: { 'If-None-Match': head.headers.etag } });
    assert.equal(again.status, 304);
    assertCommon(again);
  });

  it('other files get nosniff, DENY and no-referrer', async () => {
    for (const f of ['/app.js', '/style.css', '/data.json', '/image.png']) {
      const res = await fetchOnce(srv.port, 'GET', f);
      assert.equal(res.status, 200, f);
      assertCommon(res);
    }
  });
});

describe('the real web app', () => {
  it('its import map is allowed by the CSP served with it', async () => {
    const web = path.join(REPO_ROOT, 'web');
    const html = fs.readFileSync(path.join(web, 'index.html'), 'utf8');
    const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)[1];
    const srv = await startServer({ webFiles: { 'index.html': html } });
    try {
      const res = await fetchOnce(srv.port, 'GET', '/');
      const csp = parseCsp(res.headers['content-security-policy']);
      assert.ok(csp['script-src'].includes(sha(map)), `script-src ${csp['script-src']}`);
    } finally {
      await srv.stop();
    }
  });
});
