// prometheus.mjs: a throwaway Prometheus (Debian's `prometheus`) on 127.0.0.1 that scrapes
// one Chorus every second, and its HTTP query API.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { makeTempDir } from './server.mjs';
import { delay, freePort } from './util.mjs';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? 'prometheus';

/**
 * Starts Prometheus scraping http://127.0.0.1:target/metrics every second, with its
 * storage in a temporary folder. Resolves once its API answers; stop() ends it and
 * removes the folder.
 */
export async function startPrometheus(target, { scrapeHeaders } = {}) {
  const dir = makeTempDir('chorus-prom-');
  const port = await freePort();
  const job = ['  - job_name: chorus', '    metrics_path: /metrics',
    '    static_configs:', `      - targets: ['127.0.0.1:${target}']`];
  if (scrapeHeaders?.authorization) {
    job.push('    authorization:', `      credentials: '${scrapeHeaders.authorization}'`);
  }
  fs.writeFileSync(path.join(dir, 'prometheus.yml'),
    ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', 'scrape_configs:', ...job, ''].join('\n'));
  const proc = spawn(PROMETHEUS_BIN, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (s) => (stderr += s));
  const exited = new Promise((resolve) => proc.once('close', resolve));
  let dead = false;
  exited.then(() => (dead = true));
  const prom = {
    port,
    /** Runs an instant query; resolves with its result vector ([{metric, value}]). */
    async query(q) {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = await res.json();
      if (body.status !== 'success') throw new Error(`query ${q}: ${JSON.stringify(body)}`);
      return body.data.result;
    },
    /** The value of a query whose result is one sample, or undefined. */
    async value(q) {
      const r = await prom.query(q);
      return r.length === 1 ? Number(r[0].value[1]) : undefined;
    },
    /** Polls q until pred(value) holds; resolves with the value, rejects after ms. */
    async waitFor(q, pred, ms = 30000) {
      const end = Date.now() + ms;
      let v;
      for (;;) {
        v = await prom.value(q);
        if (pred(v)) return v;
        if (Date.now() > end) throw new Error(`${q}: still ${v} after ${ms} ms`);
        await delay(200);
      }
    },
    async stop() {
      if (!dead) proc.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const end = Date.now() + 30000;
  for (;;) {
    if (dead) throw new Error(`prometheus exited at start: ${stderr}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/-/ready`)).status === 200) return prom;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) {
      await prom.stop();
      throw new Error(`prometheus did not become ready: ${stderr}`);
    }
    await delay(100);
  }
}
