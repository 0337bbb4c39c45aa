// cluster_nodes.test.mjs: --cluster's nodes (bus_redis.c) with a real redis-server and
// PostgreSQL: what --cluster needs, node ids unique in the cluster, heartbeats through
// which every node sees the live ones (a stopped node at once, a killed one at its ttl),
// and a node that keeps its id across a Redis restart.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startCluster } from './lib/cluster.mjs';
import { pgDatabase } from './lib/pg.mjs';
import { runCli } from './lib/server.mjs';
import { freePort, withTimeout } from './lib/util.mjs';

const TTL = ['--cluster-node-ttl', '2s'];

/** Resolves the first "live nodes: ..." line of srv after line index from listing want. */
const liveIs = (srv, want, from = 0) =>
  srv.waitForLine((l) => {
    const m = /live nodes: ([\d,]*)$/.exec(l);
    return m && m[1] === [...want].sort((a, b) => a - b).join(',');
  }, 10000, from);

test('--cluster needs a PostgreSQL store and a redis:// URL (exit 2, one line)', async () => {
  let r = await runCli(['serve', '--cluster', 'redis://127.0.0.1:6379']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'chorus serve: --cluster needs a PostgreSQL --store (postgres://...)\n');
  r = await runCli(['serve', '--cluster', 'http://127.0.0.1:6379', '--store', 'postgres://u@h/db']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'chorus serve: --cluster: not a redis:// URL (want redis://host[:port][/db])\n');
  r = await runCli(['check-config', '--cluster', 'redis://h:0', '--store', 'postgres://u@h/db']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^chorus check-config: --cluster: bad URL/);
});

test('a node that cannot reach Redis does not start', async () => {
  const store = await pgDatabase();
  const port = await freePort();
  const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--cluster', `redis://127.0.0.1:${port}`,
    '--store', store, '--jwt-secret', 'e2e-test-secret-0123456789abcdefghijklmnop'], { timeoutMs: 20000 });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`cluster: cannot reach Redis at 127\\.0\\.0\\.1:${port}`));
});

describe('three nodes', () => {
  let c;
  before(async () => {
    c = await startCluster(3, { args: TTL });
  });
  after(async () => {
    await c?.stop();
  });

  test('each has its own node id and sees the live nodes; a stopped node goes at once, a killed one at its ttl', async () => {
    const ids = c.nodes.map((n) => n.node);
    assert.equal(new Set(ids).size, 3, `distinct ids: ${ids}`);
    for (const id of ids) assert.ok(id >= 1 && id <= 65535);
    for (const n of c.nodes) await liveIs(n, ids);
    for (const id of ids) assert.notEqual(c.redis.cli('GET', `chorus:node:${id}`), '');

    // A clean stop releases the node's key: the others see it gone.
    const [a, b, gone] = c.nodes;
    const fromA = a.lines.length;
    await gone.stop();
    assert.equal(c.redis.cli('EXISTS', `chorus:node:${gone.node}`), '0');
    await liveIs(a, [a.node, b.node], fromA);

    // A node killed keeps its key until the ttl: then the others see it gone, and the
    // next node gets an id no live node has.
    const fromA2 = a.lines.length;
    b.kill();
    await withTimeout(b.exited, 5000, 'killed node to exit');
    await liveIs(a, [a.node], fromA2);
    const d = await c.addNode();
    assert.notEqual(d.node, a.node);
    await liveIs(d, [a.node, d.node]);
  });

  test('a node keeps its id across a Redis restart and announces itself again', async () => {
    const a = c.nodes.find((n) => !n.exitInfo);
    const from = a.lines.length;
    await c.redis.kill();
    await a.waitForLine(/cluster: Redis connection (lost|dropped)/, 10000, from);
    await c.redis.start(); // empty: nothing persisted
    await a.waitForLine(/cluster: connected to Redis/, 15000, from);
    // Its first heartbeat on the new connection writes its key again.
    const up = c.nodes.filter((n) => !n.exitInfo).map((n) => String(n.node)).sort();
    await withTimeout((async () => {
      while (c.redis.cli('SMEMBERS', 'chorus:nodes').split('\n').filter(Boolean).sort().join() !== up.join())
        await new Promise((r) => setTimeout(r, 50));
    })(), 15000, 'the nodes to announce themselves again');
    assert.notEqual(c.redis.cli('GET', `chorus:node:${a.node}`), '');
  });
});
