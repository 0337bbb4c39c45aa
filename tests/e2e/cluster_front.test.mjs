// cluster_front.test.mjs: scripts/cluster.sh, the front door (docs/operations.md "Scaling
// out"): redis-server, PostgreSQL, three nodes and HAProxy on free ports; WebSocket
// clients through HAProxy spread over the nodes; kill -9 of one node, HAProxy's health
// check marks it down, its clients reconnect through HAProxy and land on the others; the
// web app is served through it; Ctrl-C (SIGTERM) stops everything.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { TEST_SECRET } from './lib/auth.mjs';
import { fetchOnce } from './lib/http.mjs';
import { scrape } from './lib/metrics.mjs';
import { mkUsers, RoomWs, until } from './lib/rooms.mjs';
import { BIN, cleanEnv, makeTempDir, REPO_ROOT } from './lib/server.mjs';
import { freePort, withTimeout } from './lib/util.mjs';

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'cluster.sh');
const K = 12; // clients: leastconn puts 4 on each node

function whyNot() {
  for (const tool of ['redis-server', 'haproxy'])
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (scripts/deps.sh)`;
  const help = spawnSync(BIN, ['serve', '--help'], { encoding: 'utf8' });
  if (!/--cluster\b/.test(`${help.stdout}${help.stderr}`))
    return 'the binary has no --cluster yet (issue 19: the cluster bus)';
  return false;
}

const echoes = (c) => c.ok('echo', { data: { from: c.user.name } });

describe('scripts/cluster.sh: HAProxy in front of three nodes', { skip: whyNot() }, () => {
  it('routes WebSocket clients over the nodes, stops routing to a killed node, its clients reconnect to the others', { timeout: 180000 }, async () => {
    const dir = makeTempDir('chorus-cluster-');
    const ports = [];
    for (let i = 0; i < 5; i++) ports.push(await freePort());
    const [front, redis, ...nodes] = ports;
    const env = cleanEnv({
      CLUSTER_DIR: dir,
      CLUSTER_PORT: String(front),
      CLUSTER_NODE_PORTS: nodes.join(' '),
      CLUSTER_REDIS_PORT: String(redis),
      CHORUS_BIN: BIN,
      CHORUS_JWT_SECRET: TEST_SECRET,
    });
    const stopSync = () => spawnSync(SCRIPT, ['stop'], { env, stdio: 'ignore' });
    process.on('exit', stopSync); // a crashed test leaves nothing behind
    const proc = spawn(SCRIPT, ['start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (s) => (out += s));
    proc.stderr.setEncoding('utf8').on('data', (s) => (out += s));
    const exited = new Promise((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
    const clients = [];
    try {
      await withTimeout(Promise.race([
        until(() => /cluster: ready/.test(out), 150000, 'cluster: ready'),
        exited.then((e) => { throw new Error(`cluster.sh exited ${JSON.stringify(e)}:\n${out}`); }),
      ]), 160000, `the cluster to start:\n${out}`);

      // The web app and the readiness check, through HAProxy.
      const index = await fetchOnce(front, 'GET', '/');
      assert.equal(index.status, 200);
      assert.match(index.text, /<html/i);
      assert.equal((await fetchOnce(front, 'GET', '/healthz')).status, 200);

      // K clients through HAProxy, spread over the three nodes.
      const users = mkUsers(K, 'c');
      for (const u of users) clients.push(await RoomWs.open(front, u));
      await Promise.all(clients.map(echoes));
      const wsOn = async (port) => (await scrape(port)).samples.get('chorus_connections{state="websocket"}');
      const before = await Promise.all(nodes.map(wsOn));
      assert.deepEqual(before, [4, 4, 4], 'leastconn spreads the clients');

      // kill -9 the second node: HAProxy's check marks it down, its clients are closed.
      const pids = Object.fromEntries(fs.readFileSync(path.join(dir, 'pids'), 'utf8').trim().split('\n')
        .map((l) => l.split(' ')));
      process.kill(Number(pids.node2), 'SIGKILL');
      await until(() => /Server nodes\/node2 is DOWN/.test(fs.readFileSync(path.join(dir, 'haproxy.log'), 'utf8')),
        30000, 'HAProxy to mark node2 down');
      await until(() => clients.filter((c) => c.closeInfo).length === 4, 30000, 'node2\'s clients to be closed');

      // They reconnect through HAProxy and land on the other two; everyone still talks.
      for (let i = 0; i < K; i++) if (clients[i].closeInfo) clients[i] = await RoomWs.open(front, users[i]);
      await Promise.all(clients.map(echoes));
      const after = await Promise.all([nodes[0], nodes[2]].map(wsOn));
      assert.equal(after[0] + after[1], K, `every client on a live node (${after})`);
      assert.ok(after[0] >= 4 && after[1] >= 4, `the others kept theirs (${after})`);
      // New connections go to the live nodes only.
      const more = await Promise.all(mkUsers(4, 'm').map((u) => RoomWs.open(front, u)));
      await Promise.all(more.map(echoes));
      clients.push(...more);
      assert.equal((await fetchOnce(front, 'GET', '/healthz')).status, 200);
    } finally {
      clients.forEach((c) => c.close());
      proc.kill('SIGTERM');
      await withTimeout(exited, 30000, 'cluster.sh to stop').catch(() => stopSync());
      process.off('exit', stopSync);
    }
    // Ctrl-C stopped everything it started.
    assert.match(out, /cluster: stopped/);
    assert.equal(fs.existsSync(path.join(dir, 'pids')), false, 'no process left in the pids file');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
