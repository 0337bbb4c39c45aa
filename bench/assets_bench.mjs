// assets_bench.mjs: upload and download of one large generated file through a real
// chorus (tus-js-client up, plain HTTP GET down, loopback), with throughput, the server's
// peak RSS during each (from /proc: VmRSS sampled, VmHWM at the end) and the SHA-256
// checked end to end, next to the disk's own throughput measured with dd in the same run.
// Not part of `make test`. Usage:
//   node bench/assets_bench.mjs [--size 10GiB] [--bin build/chorus] [--dir /tmp]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import * as tus from 'tus-js-client';

import { mintJwt } from '../tests/e2e/lib/auth.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const units = { k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };
const parseSize = (s) => {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(s);
  return Number(m[1]) * (m[2] ? units[m[2].toLowerCase()] : 1);
};
const SIZE = parseSize(arg('size', '10GiB'));
const BIN = path.resolve(arg('bin', 'build/chorus'));
const base = fs.mkdtempSync(path.join(arg('dir', os.tmpdir()), 'chorus-assets-bench-'));
const SECRET = 'assets-bench-secret-0123456789abcdefghijkl';
const MB = 1e6;

function dd(args) {
  const out = spawnSync('dd', args, { encoding: 'utf8' }).stderr;
  const m = /copied, ([\d.]+) s/.exec(out);
  return m ? SIZE / Number(m[1]) / MB : NaN;
}

function rssOf(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)[1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

let server = null; // the chorus this run started: stopped however the run ends

async function main() {
  const src = path.join(base, 'source.bin');
  const MiB = 1024 * 1024;
  // The source: random 1 MiB blocks (each different, so nothing compresses or repeats).
  console.error(`generating ${SIZE} bytes in ${base}`);
  const h = createHash('sha256');
  const fd = fs.openSync(src, 'w');
  for (let off = 0; off < SIZE; off += MiB) {
    const b = randomBytes(Math.min(MiB, SIZE - off));
    h.update(b);
    fs.writeSync(fd, b);
  }
  fs.closeSync(fd);
  const want = h.digest('hex');

  const ddWrite = dd(['if=' + src, 'of=' + path.join(base, 'dd.bin'), 'bs=1M', 'conv=fdatasync']);
  fs.rmSync(path.join(base, 'dd.bin'));
  execFileSync('sh', ['-c', 'sync']);
  const ddRead = dd(['if=' + src, 'of=/dev/null', 'bs=1M', 'iflag=direct']); // not the page cache

  const data = path.join(base, 'data');
  fs.mkdirSync(data);
  const proc = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data', data, '--jwt-secret', SECRET,
    '--http-request-timeout', '24h', '--upload-max-size', '1024GiB',
    '--upload-quota-user', '0', '--upload-quota-room', '0'], // no quotas: one big upload
  { stdio: ['ignore', 'ignore', 'pipe'] });
  server = proc;
  let port;
  await new Promise((resolve) => {
    let buf = '';
    proc.stderr.on('data', (d) => {
      buf += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(buf);
      if (m && !port) { port = Number(m[1]); resolve(); }
    });
    setTimeout(resolve, 10000);
  });
  if (!port) throw new Error('the server did not start');
  await new Promise((r) => setTimeout(r, 200));
  const idle = rssOf(proc.pid).rss;
  const token = mintJwt(SECRET, { sub: 'bench', name: 'bench' });

  const sample = () => {
    let peak = 0;
    const t = setInterval(() => { peak = Math.max(peak, rssOf(proc.pid).rss); }, 100);
    return () => { clearInterval(t); return Math.max(peak, rssOf(proc.pid).rss); };
  };

  let stop = sample();
  let t0 = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    const up = new tus.Upload(fs.createReadStream(src), {
      endpoint: `http://127.0.0.1:${port}/api/uploads/`,
      headers: { Authorization: `Bearer ${token}` },
      uploadSize: SIZE,
      chunkSize: 256 * MiB, // a stream is read one chunk at a time by the client
      retryDelays: [0, 1000],
      onError: reject,
      onSuccess: resolve,
    });
    up.start();
  });
  const upSecs = Number(process.hrtime.bigint() - t0) / 1e9;
  const upPeak = stop();
  const blob = path.join(data, 'blobs', want.slice(0, 2), want);
  const stored = fs.existsSync(blob);

  stop = sample();
  t0 = process.hrtime.bigint();
  const got = await new Promise((resolve, reject) => {
    const dh = createHash('sha256');
    let n = 0;
    http.get({ host: '127.0.0.1', port, path: `/api/blobs/${want}`, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      res.on('data', (d) => { dh.update(d); n += d.length; });
      res.on('end', () => resolve({ status: res.statusCode, n, hex: dh.digest('hex') }));
      res.on('error', reject);
    }).on('error', reject);
  });
  const downSecs = Number(process.hrtime.bigint() - t0) / 1e9;
  const downPeak = stop();
  const hwm = rssOf(proc.pid).hwm;
  proc.kill('SIGTERM');

  const mib = (b) => (b / MiB).toFixed(1);
  console.log(`size ${SIZE} bytes (${(SIZE / 1024 ** 3).toFixed(2)} GiB), sha256 ${want}`);
  console.log(`dd write (fdatasync) ${ddWrite.toFixed(0)} MB/s, dd read ${ddRead.toFixed(0)} MB/s`);
  console.log(`upload   ${(SIZE / upSecs / MB).toFixed(0)} MB/s (${upSecs.toFixed(1)} s), blob stored with the right name: ${stored}`);
  console.log(`download ${(SIZE / downSecs / MB).toFixed(0)} MB/s (${downSecs.toFixed(1)} s), status ${got.status}, ${got.n} bytes, sha256 ${got.hex === want ? 'matches' : 'DIFFERS'}`);
  console.log(`server RSS: idle ${mib(idle)} MiB, peak during upload ${mib(upPeak)} MiB, during download ${mib(downPeak)} MiB, VmHWM ${mib(hwm)} MiB`);
  fs.rmSync(base, { recursive: true, force: true });
  if (!stored || got.hex !== want) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  server?.kill('SIGKILL');
  fs.rmSync(base, { recursive: true, force: true });
  process.exit(1);
});
