// bench.test.mjs: a short smoke run of every chorus-bench scenario against a real Chorus
// and against both benchmark peers (bench/peers), and of echo and fanout against Chorus's
// /socket.io/ (--target chorus-sio). Correctness only: exit 0, one JSON
// object, nothing lost, every count above zero. No timing is asserted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import fs from 'node:fs';

import { BIN, makeTempDir, REPO_ROOT, startServer } from './lib/server.mjs';
import { makeCa } from './lib/tls.mjs';

const BENCH = path.join(path.dirname(BIN), 'chorus-bench');
const SECRET = 'bench-smoke-secret-0123456789abcdefghijkl';

// Runs chorus-bench with args; resolves {code, json, stderr}.
function runBench(args, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const p = spawn(BENCH, [...args, '--secret', SECRET, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (s) => (out += s));
    p.stderr.setEncoding('utf8').on('data', (s) => (err += s));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      let json = null;
      try {
        json = JSON.parse(out);
      } catch {
        /* asserted by the caller */
      }
      resolve({ code, json, out, stderr: err });
    });
  });
}

// What must hold of a run whose publishers' messages are counted by every receiver.
const noLoss = (r) => {
  assert.ok(r.published > 0 && r.count > 0);
  assert.equal(r.lost, 0);
  assert.equal(r.duplicates, 0);
};

// The small run of each scenario, and what must hold of its result.
const SCENARIOS = [
  ['echo', ['--connections', '4'], (r) => assert.ok(r.count > 0)],
  ['fanout', ['--subscribers', '5', '--publishers', '2'], noLoss],
  // Subscribers handed to receiving threads, and kept on the main loop (the default).
  ['fanout', ['--subscribers', '40', '--publishers', '2', '--threads', '3'], noLoss],
  ['fanout', ['--subscribers', '5', '--publishers', '2', '--threads', '0'], noLoss],
  ['fanout', ['--subscribers', '5', '--rate', '200'], (r) => {
    // 0.5 s at 200/s: 100 sends when the pacing keeps up; never more.
    assert.ok(r.published >= 60 && r.published <= 101, `published ${r.published}`);
    assert.ok(r.count > 0 && r.lost === 0);
  }],
  ['rooms', ['--rooms', '2', '--room-size', '3'], noLoss],
  ['join-storm', ['--connections', '3'], (r) => assert.ok(r.count > 0)],
  ['connections', ['--connections', '30', '--room-size', '10', '--sources', '2'], (r) => {
    assert.equal(r.connections, 30);
    assert.ok(r.setupS > 0);
  }],
];

// chorus-sio: a Socket.IO client (token in CONNECT's auth, ops as events with ack ids,
// replies from the acks) against Chorus's /socket.io/; only echo and fanout.
const SIO_SCENARIOS = [
  ['echo', ['--connections', '4'], (r) => assert.ok(r.count > 0)],
  ['fanout', ['--subscribers', '5', '--publishers', '2'], noLoss],
  ['fanout', ['--subscribers', '40', '--publishers', '2', '--threads', '3'], noLoss],
];

// --tls: wss:// and HTTPS against Chorus with --tls-cert (make bench's fanout-tls row).
const TLS_SCENARIOS = [
  ['echo', ['--connections', '4', '--tls'], (r) => assert.ok(r.count > 0)],
  ['fanout', ['--subscribers', '5', '--publishers', '2', '--tls'], noLoss],
  ['fanout', ['--subscribers', '40', '--publishers', '2', '--threads', '3', '--tls'], noLoss],
];

async function smoke(target, port, pid, scenarios = SCENARIOS, duration = '0.5') {
  for (const [scenario, args, check] of scenarios) {
    const r = await runBench([scenario, ...args, '--target', target, '--port', String(port),
      '--duration', duration, '--server-pid', String(pid)]);
    const what = `${target} ${scenario} ${args.join(' ')}: exit ${r.code}\n${r.stderr}\n${r.out}`;
    assert.equal(r.code, 0, what);
    assert.ok(r.json, `one JSON object: ${what}`);
    assert.equal(r.json.ok, true, what);
    assert.equal(r.json.scenario, scenario, what);
    assert.equal(r.json.target, target, what);
    assert.equal(r.json.errors, 0, what);
    assert.equal(r.json.failedConnections, 0, what);
    assert.ok(r.json.benchCpuS >= 0 && r.json.serverRssKiB > 0, what);
    check(r.json);
  }
}

describe('chorus-bench smoke', () => {
  test('chorus', async () => {
    const srv = await startServer({
      args: ['--jwt-secret', SECRET, '--ws-rate', '100000', '--ws-burst', '100000'],
    });
    try {
      await smoke('chorus', srv.port, srv.proc.pid);
    } finally {
      await srv.stop();
    }
  });

  test('--procs 2: two generator processes, their connections and counts reported as one', async () => {
    // --room-large 20: presence's room of 34 is large (presence to watchers only); the
    // connections' rooms of 10 are not.
    const srv = await startServer({
      args: ['--jwt-secret', SECRET, '--ws-rate', '100000', '--ws-burst', '100000',
        '--room-large', '20'],
    });
    try {
      const base = ['--port', String(srv.port), '--server-pid', String(srv.proc.pid), '--procs', '2'];
      const c = await runBench(['connections', '--connections', '31', '--room-size', '10',
        '--duration', '0.3', ...base]);
      assert.equal(c.code, 0, c.stderr);
      // Each process set up its share (16 and 15), and the report is of all 31.
      const ready = [...c.stderr.matchAll(/chorus-bench: (\d+) connections ready/g)].map((m) => Number(m[1]));
      assert.deepEqual(ready.sort(), [15, 16]);
      assert.equal(c.json.connections, 31);
      assert.ok(c.json.ok && c.json.failedConnections === 0 && c.json.setupS > 0);
      // echo: the round trips of both processes, their latencies in one histogram.
      const e = await runBench(['echo', '--connections', '4', '--duration', '0.5', ...base]);
      assert.equal(e.code, 0, e.stderr);
      const perProc = [...e.stderr.matchAll(/round trips +(\d+)\/s/g)];
      assert.equal(e.json.connections, 4);
      assert.ok(e.json.count > 0 && e.json.latencyUs.p50 > 0);
      assert.ok(perProc.length >= 2, e.stderr); // a progress line from each process
      // fanout's room has its publishers in one process: refused.
      const f = await runBench(['fanout', ...base]);
      assert.equal(f.code, 2);
      // presence: one room made before the fork; each process its share of watchers (15)
      // and movers (2), each watcher watching movers of its own process, every delivery
      // one a watcher asked for (an unexpected presence event fails the run).
      const p = await runBench(['presence', '--subscribers', '30', '--publishers', '4',
        '--rate', '40', '--watch', '2', '--duration', '1', ...base], 60000);
      assert.equal(p.code, 0, p.stderr);
      const pready = [...p.stderr.matchAll(/chorus-bench: (\d+) connections ready/g)].map((m) => Number(m[1]));
      assert.deepEqual(pready, [17, 17]);
      assert.equal(p.json.scenario, 'presence');
      assert.equal(p.json.connections, 34);
      assert.ok(p.json.ok && p.json.count > 0 && p.json.errors === 0, p.stderr);
      // --watchers 10: five watchers a process, the other ten subscribers idle members who
      // must hear no move (one would fail the run); deliveries only to the watchers.
      const w = await runBench(['presence', '--subscribers', '30', '--publishers', '4',
        '--rate', '40', '--watch', '2', '--watchers', '10', '--duration', '1', ...base], 60000);
      assert.equal(w.code, 0, w.stderr);
      assert.equal(w.json.connections, 34);
      assert.equal(w.json.watchers, 10);
      assert.ok(w.json.ok && w.json.count > 0 && w.json.errors === 0, w.stderr);
      const tooFew = await runBench(['presence', '--subscribers', '30', '--publishers', '1', ...base]);
      assert.equal(tooFew.code, 2);
    } finally {
      await srv.stop();
    }
  });

  test('chorus over TLS: --tls speaks wss:// and HTTPS', async () => {
    const dir = makeTempDir('chorus-bench-tls-');
    const cert = makeCa(dir).issue('server');
    const srv = await startServer({
      probe: false,
      args: ['--jwt-secret', SECRET, '--ws-rate', '100000', '--ws-burst', '100000',
        '--tls-cert', cert.cert, '--tls-key', cert.key],
    });
    try {
      await smoke('chorus', srv.port, srv.proc.pid, TLS_SCENARIOS);
    } finally {
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('chorus-sio: echo and fanout against Chorus\'s /socket.io/', async () => {
    const srv = await startServer({
      args: ['--jwt-secret', SECRET, '--ws-rate', '100000', '--ws-burst', '100000'],
    });
    try {
      await smoke('chorus-sio', srv.port, srv.proc.pid, SIO_SCENARIOS, '1');
      // The other scenarios are refused for this target, saying so.
      for (const scenario of ['rooms', 'connections', 'join-storm']) {
        const r = await runBench([scenario, '--target', 'chorus-sio', '--port', String(srv.port)]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /chorus-sio runs echo and fanout only/);
      }
    } finally {
      await srv.stop();
    }
  });

  for (const [target, file] of [['ws', 'ws_peer.mjs'], ['socketio', 'socketio_peer.mjs']]) {
    describe(target, () => {
      let peer;
      let port;
      before(async () => {
        peer = spawn(process.execPath, [path.join(REPO_ROOT, 'bench', 'peers', file), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
        port = await new Promise((resolve, reject) => {
          let out = '';
          peer.stdout.setEncoding('utf8').on('data', (s) => {
            out += s;
            const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
            if (m) resolve(Number(m[1]));
          });
          peer.on('exit', (code) => reject(new Error(`${file} exited ${code}`)));
        });
      });
      after(() => peer.kill('SIGTERM'));
      test(`every scenario against the ${target} peer`, () => smoke(target, port, peer.pid));
    });
  }

  test('jitter: the machine\'s stalls, one spinning thread per core', async () => {
    const jitter = (args) => new Promise((resolve, reject) => {
      const p = spawn(BENCH, ['jitter', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.setEncoding('utf8').on('data', (s) => (out += s));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, out }));
    });
    const r = await jitter(['--duration', '0.3', '--json']);
    assert.equal(r.code, 0, r.out);
    const j = JSON.parse(r.out);
    assert.equal(j.scenario, 'jitter');
    assert.ok(j.cores >= 1 && j.durationS === 0.3, r.out);
    const per = j.stallsPerCoreSecond;
    // Longer stalls are a subset of shorter ones.
    assert.ok(per.over50Us >= per.over100Us && per.over100Us >= per.over500Us &&
      per.over500Us >= per.over1000Us && per.over1000Us >= 0, r.out);
    assert.ok(j.lostPercent >= 0 && j.lostPercent <= 100 && j.maxStallUs >= 0, r.out);
    assert.equal((await jitter(['--duration', '0'])).code, 2);
    assert.equal((await jitter(['--duration', '0.1'])).code, 0);
  });

  test('refuses a target that is not a loopback address', async () => {
    const r = await runBench(['echo', '--host', '192.0.2.1', '--port', '80']);
    assert.equal(r.code, 2);
  });
});
