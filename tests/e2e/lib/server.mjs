// server.mjs: starts and stops the real chorus binary for end-to-end tests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { fetchOnce } from './http.mjs';
import { ON_PG, pgDatabaseFor } from './pg.mjs';
import { delay, withTimeout, connectTcp } from './util.mjs';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = process.env.CHORUS_BIN
  ? path.resolve(process.env.CHORUS_BIN)
  : path.join(REPO_ROOT, 'build', 'chorus');

/**
 * True when the e2e servers run as a cluster (CHORUS_TEST_CLUSTER=1, `make e2e-cluster`):
 * startServer then starts three --cluster nodes behind a front door that spreads the test's
 * connections over them (lib/cluster.mjs, startClusterServer).
 */
export const ON_CLUSTER = process.env.CHORUS_TEST_CLUSTER === '1';

const LISTEN_RE = /listening on 127\.0\.0\.1:(\d+)/;

// Safety net only: every test stops its servers itself, but a crashed test must not
// leave a process behind.
const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** The environment of this process without any CHORUS_* variable, plus extra. */
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CHORUS_')) env[k] = v;
  return { ...env, ...extra };
}

export function makeTempDir(prefix = 'chorus-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Files the harness writes into every --web dir (path -> content). */
export const DEFAULT_WEB = {
  'index.html': '<!doctype html><title>Chorus</title><h1>root index</h1>\n',
  'style.css': 'body { color: #123456; }\n',
  'app.js': 'console.log("chorus");\n',
  'data.json': '{"hello":"world"}\n',
  'notes.txt': 'plain text file\n',
  'image.png': Buffer.from('89504e470d0a1a0a0000000d4948445200000001', 'hex'),
  'blob.bin': Buffer.from([0, 1, 2, 3, 255, 254]),
  'hello world.txt': 'a file with a space\n',
  'sub/index.html': '<!doctype html><h1>sub index</h1>\n',
  'sub/page.html': '<!doctype html><h1>sub page</h1>\n',
  'noindex/readme.txt': 'a directory without index.html\n',
};

/** Writes files (path -> string|Buffer) under dir, creating parent directories. */
export function writeTree(dir, files) {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
}

function splitLines(stream, onLine) {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (s) => {
    partial += s;
    let i;
    while ((i = partial.indexOf('\n')) >= 0) {
      onLine(partial.slice(0, i).replace(/\r$/, ''));
      partial = partial.slice(i + 1);
    }
  });
  stream.on('end', () => {
    if (partial) onLine(partial);
    partial = '';
  });
}

export class Server {
  constructor(proc, base) {
    this.proc = proc;
    this.base = base; // temp dir holding web/ and data/ (removed on stop)
    this.lines = []; // stderr lines so far
    this.stdout = '';
    this.port = null;
    this.exitInfo = null;
    this.lineWaiters = new Set();
    this.exited = new Promise((resolve) => {
      // 'close' (not 'exit'): fires after stderr is drained, so this.lines is complete.
      proc.on('close', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(proc);
        resolve(this.exitInfo);
        for (const w of [...this.lineWaiters]) w();
      });
    });
    splitLines(proc.stderr, (line) => {
      this.lines.push(line);
      if (process.env.CHORUS_E2E_VERBOSE) process.stderr.write(`[chorus] ${line}\n`);
      for (const w of [...this.lineWaiters]) w();
    });
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (s) => (this.stdout += s));
  }

  get webDir() {
    return path.join(this.base, 'web');
  }

  get dataDir() {
    return path.join(this.base, 'data');
  }

  stderrTail(n = 30) {
    return this.lines.slice(-n).join('\n');
  }

  /**
   * Resolves with the first stderr line at index >= from that matches pred (a RegExp or a
   * function); rejects on timeout or when the process exits first.
   */
  waitForLine(pred, ms = 5000, from = 0) {
    const test = typeof pred === 'function' ? pred : (l) => pred.test(l);
    return new Promise((resolve, reject) => {
      let timer;
      const done = (fn, v) => {
        this.lineWaiters.delete(check);
        clearTimeout(timer);
        fn(v);
      };
      const check = () => {
        for (let i = from; i < this.lines.length; i++) {
          if (test(this.lines[i])) return done(resolve, this.lines[i]);
        }
        if (this.exitInfo) {
          done(reject, new Error(`chorus exited (${JSON.stringify(this.exitInfo)}) before the ` +
            `expected stderr line ${pred}; stderr:\n${this.stderrTail()}`));
        }
      };
      timer = setTimeout(() => done(reject, new Error(
        `timeout after ${ms} ms waiting for stderr line ${pred}; stderr:\n${this.stderrTail()}`)), ms);
      this.lineWaiters.add(check);
      check();
    });
  }

  /** Sends SIGTERM (unless it already exited) and asserts a clean exit with code 0. */
  async stop({ timeoutMs = 10000 } = {}) {
    if (!this.exitInfo) this.proc.kill('SIGTERM');
    let info;
    try {
      info = await withTimeout(this.exited, timeoutMs, 'chorus to exit after SIGTERM');
    } catch (e) {
      this.kill();
      throw new Error(`${e.message}; stderr:\n${this.stderrTail()}`);
    } finally {
      this.cleanup();
    }
    assert.deepEqual(info, { code: 0, signal: null },
      `chorus exit status after SIGTERM; stderr:\n${this.stderrTail()}`);
    return info;
  }

  /** Last resort: SIGKILL, no assertion. */
  kill() {
    if (!this.exitInfo) this.proc.kill('SIGKILL');
  }

  cleanup() {
    if (this.base) fs.rmSync(this.base, { recursive: true, force: true });
  }
}

/**
 * Spawns `chorus serve` with a fresh temp --data and --web dir and waits for the
 * "listening on 127.0.0.1:<port>" stderr line.
 *   args:     extra command-line arguments
 *   env:      extra environment (CHORUS_* from the test runner's env are never passed)
 *   listen:   value for --listen (default 127.0.0.1:0; null to leave the flag out)
 *   web/data: false to leave the --web/--data flag out
 *   webFiles: files for the web dir (default DEFAULT_WEB)
 *   setup:    (baseDir) => void, runs after base/web and base/data exist, before the spawn
 *   port:     when the listening line is not expected (e.g. --log-level warn), the
 *             port to poll with TCP connects instead
 *   probe:    (default true) after the listening line, wait for one answered
 *             GET /healthz, so the event loop is known to run (signal handlers are
 *             installed) before the test starts; shutdown.test.mjs turns it off to test
 *             a SIGTERM that arrives right after the listening line
 * With CHORUS_TEST_STORE=postgres the server also gets --store with the database of its
 * data directory (lib/pg.mjs), unless args hold a --store already or store is 'sqlite'.
 * With CHORUS_TEST_CLUSTER=1 it resolves a ClusterServer (lib/cluster.mjs) instead, unless
 * cluster is false.
 */
export async function startServer(opts = {}) {
  if (ON_CLUSTER && opts.cluster !== false) {
    const { startClusterServer } = await import('./cluster.mjs');
    return startClusterServer(opts);
  }
  const {
    args = [],
    env = {},
    listen = '127.0.0.1:0',
    web = true,
    data = true,
    webFiles = DEFAULT_WEB,
    setup,
    port,
    probe = true,
    timeoutMs = 10000,
  } = opts;
  const base = makeTempDir();
  fs.mkdirSync(path.join(base, 'web'));
  fs.mkdirSync(path.join(base, 'data'));
  writeTree(path.join(base, 'web'), webFiles);
  if (setup) setup(base);
  const argv = ['serve'];
  if (listen !== null) argv.push('--listen', listen);
  if (data) argv.push('--data', path.join(base, 'data'));
  if (web) argv.push('--web', path.join(base, 'web'));
  argv.push(...args);
  if (ON_PG && opts.store !== 'sqlite' && !args.includes('--store')) {
    const at = args.lastIndexOf('--data');
    const dataDir = at >= 0 ? path.resolve(base, args[at + 1]) : path.join(base, 'data');
    argv.push('--store', await pgDatabaseFor(dataDir));
  }

  const proc = spawn(BIN, argv, { cwd: base, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const srv = new Server(proc, base);
  srv.argv = argv;
  const spawnError = new Promise((_, reject) => proc.once('error', reject));
  try {
    if (port === undefined) {
      const line = await Promise.race([srv.waitForLine(LISTEN_RE, timeoutMs), spawnError]);
      srv.port = Number(LISTEN_RE.exec(line)[1]);
    } else {
      srv.port = port;
      await Promise.race([waitForPort(port, timeoutMs, srv), spawnError]);
    }
    if (probe) await fetchOnce(srv.port, 'GET', '/healthz', { timeout: timeoutMs });
  } catch (e) {
    srv.kill();
    await withTimeout(srv.exited, 5000, 'killed chorus to exit').catch(() => {});
    srv.cleanup();
    throw e;
  }
  return srv;
}

async function waitForPort(port, ms, srv) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (srv.exitInfo) throw new Error(`chorus exited early: ${JSON.stringify(srv.exitInfo)}\n${srv.stderrTail()}`);
    try {
      const s = await connectTcp(port);
      s.destroy();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${ms} ms`);
      await delay(20);
    }
  }
}

/**
 * Runs the binary to completion (for --help, --version and bad options).
 * Resolves {code, signal, stdout, stderr}; kills it after timeoutMs (then code is null).
 */
export function runCli(args, { env = {}, timeoutMs = 3000, cwd } = {}) {
  const dir = cwd ?? makeTempDir('chorus-cli-');
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, args, { cwd: dir, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    proc.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
    proc.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, timeoutMs);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      if (!cwd) fs.rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}
