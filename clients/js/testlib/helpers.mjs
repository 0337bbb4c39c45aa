// helpers.mjs: shared helpers of the SDK tests in ../test/ (kept out of test/, where node --test would run it as a test file).
import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import WebSocket from 'ws';

import { Chorus } from '../chorus.js';
import { BIN, cleanEnv, startServer } from '../../../tests/e2e/lib/server.mjs';

export { startServer, BIN };

export const SECRET = 'sdk-test-secret-0123456789abcdefghijklmnop';
export const BASE_ARGS = ['--password-ops', '1', '--password-memory', '8KiB', '--jwt-secret', SECRET];

export const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves once pred() is truthy (polled), or rejects after ms. */
export async function until(pred, ms = 5000, label = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timeout after ${ms} ms waiting for ${label}`);
    await delay(10);
  }
}

/** Resolves with the next payload of emitter's event (optionally matching pred). */
export function next(emitter, event, pred = () => true, ms = 5000) {
  return new Promise((resolve, reject) => {
    let off = () => {};
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timeout after ${ms} ms waiting for event ${event}`));
    }, ms);
    off = emitter.on(event, (p) => {
      if (!pred(p)) return;
      off();
      clearTimeout(timer);
      resolve(p);
    });
  });
}

export function client(port, opts = {}) {
  return new Chorus({ url: `http://127.0.0.1:${port}`, WebSocket, ...opts });
}

let n = 0;
export const uniqueEmail = (tag = 'u') => `${tag}-${process.pid}-${++n}-${randomUUID().slice(0, 8)}@example.com`;

/** A registered Chorus client (REST only until connect()). */
export async function registered(port, name, opts = {}) {
  const c = client(port, opts);
  const s = await c.register(uniqueEmail(name.toLowerCase()), 'correct horse battery', name);
  c.session = s;
  return c;
}

/** A registered and connected client. */
export async function connected(port, name, opts = {}) {
  const c = await registered(port, name, opts);
  await c.connect();
  return c;
}

export function mintJwt(payload, secret = SECRET) {
  const claims = { exp: Math.floor(Date.now() / 1000) + 3600, iat: Math.floor(Date.now() / 1000), ...payload };
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** Every message of a room over REST (after=0, pages of 200). */
export async function allMessagesRest(c, roomId) {
  const out = [];
  let after = 0;
  for (;;) {
    const page = await c.roomMessages(roomId, { after, limit: 200 });
    if (!page.length) return out;
    out.push(...page);
    after = page.at(-1).seq;
  }
}

/**
 * Spawns `chorus serve` on a given listen address and data dir (for restarts on the same
 * port; the e2e harness always picks a fresh dir). Resolves {proc, port, stop(), kill()}.
 */
export async function spawnServer({ listen = '127.0.0.1:0', dataDir, args = [] }) {
  const proc = spawn(BIN, ['serve', '--listen', listen, '--data', dataDir, ...BASE_ARGS, ...args],
    { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise((r) => proc.on('close', (code, signal) => r({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`chorus did not start: ${stderr}`)), 10000);
    proc.stderr.setEncoding('utf8').on('data', (s) => {
      stderr += s;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    proc.on('close', () => reject(new Error(`chorus exited: ${stderr}`)));
  });
  process.on('exit', () => proc.kill('SIGKILL'));
  return {
    proc,
    port,
    exited,
    get stderr() {
      return stderr;
    },
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

export function tempDir(prefix = 'chorus-sdk-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function rmDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
}
