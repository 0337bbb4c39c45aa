// redis.mjs: a throwaway redis-server (Debian's redis-server) on 127.0.0.1 for the cluster
// tests: a free port, no persistence (no RDB, no AOF), its configuration given on the
// command line (no file), its working directory a temp folder removed when it stops.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePort, withTimeout } from './util.mjs';

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});

export class Redis {
  constructor(port, dir) {
    this.port = port;
    this.dir = dir;
    this.proc = null;
    this.out = '';
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (or starts again, on the same port, empty) the server; resolves when it serves. */
  async start() {
    const proc = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', this.dir, '--protected-mode', 'yes', '--loglevel', 'warning',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    this.proc = proc;
    this.out = '';
    this.exited = new Promise((resolve) => proc.on('close', (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    }));
    proc.stdout.setEncoding('utf8').on('data', (s) => (this.out += s));
    proc.stderr.setEncoding('utf8').on('data', (s) => (this.out += s));
    await withTimeout(this.#ping(), 10000, `redis-server on ${this.port} to answer; output:\n${this.out}`);
  }

  async #ping() {
    for (;;) {
      const r = spawnSync('redis-cli', ['-p', String(this.port), 'PING'], { encoding: 'utf8' });
      if (r.stdout && r.stdout.trim() === 'PONG') return;
      if (this.proc.exitCode !== null) throw new Error(`redis-server exited:\n${this.out}`);
      await new Promise((r2) => setTimeout(r2, 30));
    }
  }

  /** Runs one command with redis-cli; returns its output, trimmed. */
  cli(...args) {
    const r = spawnSync('redis-cli', ['-p', String(this.port), ...args.map(String)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  }

  /** Stops the server (SIGKILL: what a crash or a lost host looks like to its clients). */
  async kill() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL');
      await withTimeout(this.exited, 10000, 'redis-server to exit');
    }
  }

  /** Stops the server and removes its folder. */
  async stop() {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a throwaway redis-server; resolves the Redis (stop() it when done). */
export async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-redis-'));
  const r = new Redis(await freePort(), dir);
  try {
    await r.start();
  } catch (e) {
    await r.stop();
    throw e;
  }
  return r;
}
