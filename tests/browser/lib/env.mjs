// env.mjs: the browser tests' harness: the real server serving the real web app, Debian's
// Chromium through playwright-core, users in their own browser contexts, console-error
// collection and screenshots into CHORUS_ARTIFACTS.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { startServer, makeTempDir, REPO_ROOT } from '../../e2e/lib/server.mjs';
import { freePort } from '../../e2e/lib/util.mjs';

export const CHROMIUM = process.env.CHORUS_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(process.env.CHORUS_ARTIFACTS || path.join(REPO_ROOT, 'build', 'artifacts'));
export const CODE_RE = /^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{6}$/;
export const PASSWORD = 'correct horse battery';
/** What the browser itself logs while the server is away. */
export const CONNECTION_ERRORS = /WebSocket connection to .* failed|net::ERR_CONNECTION_REFUSED|net::ERR_CONNECTION_RESET|net::ERR_EMPTY_RESPONSE/;
/** What the browser itself logs for a REST answer with the given status. */
export const httpStatusError = (status) => new RegExp(`Failed to load resource: the server responded with a status of ${status}`);

const FAST_HASH = ['--password-ops', '1', '--password-memory', '8KiB'];

/**
 * The files of web/ (without web/lib, which the build fills) plus the SDK bundled from
 * clients/js as lib/chorus.js and the vendored editor modules as lib/vendor/: what
 * `make web` ships, always with the current SDK.
 */
export function webFiles() {
  const root = path.join(REPO_ROOT, 'web');
  const files = {};
  const walk = (dir) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, ent.name);
      const rel = path.relative(root, p);
      if (rel === 'lib') continue;
      if (ent.isDirectory()) walk(p);
      else files[rel] = fs.readFileSync(p);
    }
  };
  walk(root);
  // The SDK's modules in one file, as `make web` bundles them (scripts/sdk-bundle.sh).
  const bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-sdk-'));
  try {
    const bundle = path.join(bundleDir, 'chorus.js');
    execFileSync(path.join(REPO_ROOT, 'scripts', 'sdk-bundle.sh'), [bundle], { stdio: ['ignore', 'ignore', 'inherit'] });
    files['lib/chorus.js'] = fs.readFileSync(bundle);
  } finally {
    fs.rmSync(bundleDir, { recursive: true, force: true });
  }
  // The editor's npm modules, as `make web` vendors them (scripts/web-vendor.sh).
  const vendor = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-vendor-'));
  try {
    execFileSync(path.join(REPO_ROOT, 'scripts', 'web-vendor.sh'), [vendor], { stdio: ['ignore', 'ignore', 'inherit'] });
    const walkVendor = (dir) => {
      for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, ent.name);
        if (ent.isDirectory()) walkVendor(p);
        else files[path.join('lib', 'vendor', path.relative(vendor, p))] = fs.readFileSync(p);
      }
    };
    walkVendor(vendor);
  } finally {
    fs.rmSync(vendor, { recursive: true, force: true });
  }
  return files;
}

/** Starts chorus on a fixed port with its own data dir (so it can be restarted in place). */
export class Env {
  /**
   * browserArgs: extra Chromium switches (e.g. --disable-webgl); files: more files to serve
   * (path -> content); serverArgs: more chorus options; tls: { cert, key } (PEM paths): the
   * server speaks HTTPS with them; browserEnv: more environment for Chromium (e.g. a HOME
   * whose NSS database trusts a test CA).
   */
  static async start({ browserArgs = [], browserEnv = {}, files = {}, serverArgs = [], tls } = {}) {
    const env = new Env();
    env.serverArgs = serverArgs;
    env.port = await freePort();
    env.dataDir = makeTempDir('chorus-browser-data-');
    env.files = { ...webFiles(), ...files };
    env.tls = tls;
    env.url = `${tls ? 'https' : 'http'}://127.0.0.1:${env.port}`;
    env.srv = await env.startServer();
    env.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', ...browserArgs],
      env: { ...process.env, ...browserEnv } });
    env.users = [];
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    return env;
  }

  startServer() {
    return startServer({
      listen: `127.0.0.1:${this.port}`,
      data: false,
      webFiles: this.files,
      args: ['--data', this.dataDir, '--public-url', this.url, ...FAST_HASH,
        ...(this.tls ? ['--tls-cert', this.tls.cert, '--tls-key', this.tls.key] : []), ...(this.serverArgs ?? [])],
      probe: !this.tls, // the probe speaks plain HTTP
    });
  }

  /** SIGKILL; resolves when the process is gone. */
  async killServer() {
    this.srv.kill();
    await this.srv.exited;
    this.srv.cleanup();
  }

  async restartServer() {
    this.srv = await this.startServer();
  }

  /** A user with a browser context of their own (own localStorage); context: more newContext options. */
  async newUser(name, { viewport = { width: 1280, height: 800 }, context = {} } = {}) {
    const ctx = await this.browser.newContext({ viewport, ...context });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: this.url });
    const page = await ctx.newPage();
    page.setDefaultTimeout(8000);
    const u = {
      name,
      email: `${name.toLowerCase()}-${Date.now()}-${Math.random().toString(36).slice(2, 7)}@example.com`,
      ctx,
      page,
      errors: [],
    };
    page.on('console', (m) => {
      if (m.type() === 'error') u.errors.push({ text: m.text(), at: Date.now() });
    });
    page.on('pageerror', (e) => u.errors.push({ text: `pageerror: ${e.stack || e}`, at: Date.now() }));
    this.users.push(u);
    return u;
  }

  /**
   * Runs fn; console errors matching re on the given users' pages while it runs (plus
   * slack ms) are expected: the browser logs every 4xx fetch ("Failed to load resource:
   * the server responded with a status of 401") and every refused WebSocket on its own.
   */
  async expectingConsoleErrors(users, re, fn, slack = 500) {
    const from = Date.now();
    try {
      return await fn();
    } finally {
      const to = Date.now() + slack;
      for (const u of users) (u.allowed ??= []).push({ re, from, to });
    }
  }

  /** Asserts no console errors on any page but the expected ones (expectingConsoleErrors). */
  assertNoConsoleErrors() {
    for (const u of this.users) {
      const ok = (e) => (u.allowed ?? []).some((a) => a.re.test(e.text) && e.at >= a.from && e.at <= a.to);
      const bad = u.errors.filter((e) => !ok(e));
      assert.deepEqual(bad.map((e) => e.text), [], `console errors on ${u.name}'s page`);
    }
  }

  async screenshot(user, name) {
    const file = path.join(ARTIFACTS, name);
    await user.page.screenshot({ path: file });
    return file;
  }

  async close() {
    await this.browser?.close().catch(() => {});
    if (this.srv && !this.srv.exitInfo) await this.srv.stop().catch(() => this.srv.kill());
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Polls fn until it returns a truthy value (which it returns) or throws after timeout. */
export async function until(fn, { timeout = 8000, interval = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timeout after ${timeout} ms waiting for ${message}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Waits until the locator's text matches re (string: includes). */
export function untilText(locator, re, opts = {}) {
  const test = typeof re === 'string' ? (t) => t.includes(re) : (t) => re.test(t);
  return until(async () => {
    const t = (await locator.textContent({ timeout: 500 })) ?? '';
    return test(t) ? t : false;
  }, { message: `text ${re}`, ...opts });
}

/** Signs up through the form (the page is on the auth view). */
export async function signUp(page, u) {
  await page.getByTestId('auth-view').waitFor();
  await page.getByTestId('auth-tab-register').click();
  await page.getByTestId('auth-username').fill(u.name);
  await page.getByTestId('auth-email').fill(u.email);
  await page.getByTestId('auth-password').fill(PASSWORD);
  await page.getByTestId('auth-submit').click();
}

/**
 * A signs up and creates a room named name (of capacity seats when given), then B signs up
 * through the room's link. Resolves with the room code once B is in the room.
 */
export async function roomOfTwo(env, A, B, name, { capacity } = {}) {
  await A.page.goto(env.url);
  await signUp(A.page, A);
  await A.page.getByTestId('create-name').fill(name);
  if (capacity) await A.page.getByTestId('create-capacity').fill(String(capacity));
  await A.page.getByTestId('create-submit').click();
  const code = (await untilText(A.page.getByTestId('room-code'), CODE_RE)).trim();
  await B.page.goto(`${env.url}/?room=${code}`);
  await signUp(B.page, B);
  await untilText(B.page.getByTestId('room-code'), code);
  return code;
}

/** The participants list as [{name, online, you, host}] in display order. */
export function participants(page) {
  return page.getByTestId('participants').getByTestId('participant').evaluateAll((els) => els.map((el) => ({
    name: el.querySelector('[data-testid="participant-name"]').textContent,
    online: el.dataset.online === 'true',
    you: !!el.querySelector('[data-testid="you-badge"]'),
    host: !!el.querySelector('[data-testid="host-badge"]'),
  })));
}

/** The message contents shown, in order. */
export function messageTexts(page) {
  return page.getByTestId('messages').getByTestId('message-content').allTextContents();
}

export async function sendMessage(page, text) {
  const input = page.getByTestId('message-input');
  await input.fill(text);
  await input.press('Enter');
}
