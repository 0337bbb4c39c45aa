// cluster.mjs: a real cluster for the e2e tests: one throwaway PostgreSQL database
// (lib/pg.mjs), one throwaway redis-server (lib/redis.mjs) and N nodes of the real binary,
// each started as startServer starts one, with --cluster, the shared --store and one
// --jwt-secret (a token from any node works on every node).
import { spawnSync } from 'node:child_process';

import { TEST_SECRET } from './auth.mjs';
import { startFront } from './front.mjs';
import { dbUrl, pgCluster, pgDatabase, psql } from './pg.mjs';
import { startRedis } from './redis.mjs';
import { BIN, runCli, startServer } from './server.mjs';
import { withTimeout } from './util.mjs';

const NODE_RE = /cluster: this is node (\d+)/;

let homes = null;
/**
 * True when the binary gives rooms one home in the cluster (leases: --cluster-lease);
 * before that, each --cluster node serves the rooms it is asked for itself.
 */
export function clusterHomes() {
  if (homes === null) {
    const r = spawnSync(BIN, ['serve', '--help'], { encoding: 'utf8' });
    homes = /--cluster-lease\b/.test(`${r.stdout}${r.stderr}`);
  }
  return homes;
}

export class Cluster {
  constructor(redis, store, args) {
    this.redis = redis;
    this.store = store;
    this.args = args;
    this.nodes = []; // Server, with .node (its node id)
  }

  /** Starts one more node; resolves its Server, with .node set to its node id. */
  async addNode(opts = {}) {
    const srv = await startServer({
      ...opts,
      cluster: false,
      args: ['--cluster', this.redis.url, '--store', this.store, '--jwt-secret', TEST_SECRET,
        ...this.args, ...(opts.args ?? [])],
    });
    srv.node = Number(NODE_RE.exec(await srv.waitForLine(NODE_RE))[1]);
    this.nodes.push(srv);
    return srv;
  }

  /** The live node that Redis names as room's home (chorus:room:<id>:home), or undefined. */
  homeOf(roomId) {
    const m = /^(\d+)/.exec(this.redis.cli('GET', `chorus:room:${roomId}:home`));
    return m ? this.nodes.find((n) => !n.exitInfo && n.node === Number(m[1])) : undefined;
  }

  /** The node for the i-th client: round-robin over the live nodes. */
  pick(i) {
    const up = this.nodes.filter((n) => !n.exitInfo);
    return up[i % up.length];
  }

  /** Stops every node still running (each must exit 0), then Redis. */
  async stop() {
    const errors = [];
    for (const n of this.nodes) {
      if (n.exitInfo) n.cleanup();
      else await n.stop().catch((e) => errors.push(e));
    }
    await this.redis.stop();
    if (errors.length) throw errors[0];
  }
}

/**
 * Starts PostgreSQL (a new database), redis-server and n nodes; resolves the Cluster
 * (stop() it when done). args: extra server arguments for every node.
 */
export async function startCluster(n = 3, { args = [] } = {}) {
  const [store, redis] = await Promise.all([pgDatabase(), startRedis()]);
  const c = new Cluster(redis, store, args);
  try {
    for (let i = 0; i < n; i++) await c.addNode();
  } catch (e) {
    await c.stop().catch(() => {});
    throw e;
  }
  return c;
}

/**
 * CHORUS_TEST_CLUSTER=1 (`make e2e-cluster`): what startServer hands a test instead of one
 * server. A cluster of three nodes (a new database in the file's PostgreSQL, a redis-server of
 * its own, every node with the test's arguments) behind a front door (lib/front.mjs) whose
 * `port` gives each connection to the next node: a suite that passes srv.port to its clients
 * has them spread over the nodes, unchanged. `nodes` are the Servers, for a test that picks
 * a node itself. A test that needs one process (it kills or restarts "the server", reads one
 * process's log or metrics) skips itself with ON_CLUSTER (lib/server.mjs) and a reason.
 */
export class ClusterServer {
  constructor(cluster, front) {
    this.cluster = cluster;
    this.front = front;
  }

  get port() {
    return this.front.port;
  }

  get nodes() {
    return this.cluster.nodes;
  }

  get redis() {
    return this.cluster.redis;
  }

  /** The live node that Redis names as room's home, or undefined (Cluster.homeOf). */
  homeOf(roomId) {
    return this.cluster.homeOf(roomId);
  }

  /** The node (Server) that the front gave the connection whose local port is localPort. */
  nodeOf(localPort) {
    const port = this.front.routeOf(localPort);
    return this.nodes.find((n) => n.port === port);
  }

  /** Every node's stderr lines so far, node after node. */
  get lines() {
    return this.nodes.flatMap((n) => n.lines);
  }

  stderrTail(n = 30) {
    return this.nodes.map((s) => `[node ${s.node}]\n${s.stderrTail(n)}`).join('\n');
  }

  /** The first stderr line of any node that matches pred (from a node's first line on). */
  waitForLine(pred, ms = 5000, from = 0) {
    if (from !== 0) throw new Error('cluster mode: waitForLine(from) counts one process\'s lines; skip the test');
    return Promise.any(this.nodes.map((n) => n.waitForLine(pred, ms))).catch((e) => {
      throw e.errors?.[0] ?? e;
    });
  }

  /** Stops the front and every node (each must exit 0), then Redis. */
  async stop() {
    await this.front.close();
    const live = this.nodes.filter((n) => !n.exitInfo);
    this.nodes.filter((n) => n.exitInfo).forEach((n) => n.cleanup());
    const res = await Promise.allSettled(live.map((n) => n.stop()));
    await this.redis.stop();
    const bad = res.find((r) => r.status === 'rejected');
    if (bad) throw bad.reason;
    return { code: 0, signal: null };
  }

  /** SIGKILL to every node and Redis (a last resort). */
  kill() {
    for (const n of this.nodes) n.kill();
    this.front.close();
    this.redis.kill().then(() => this.redis.stop(), () => {});
  }

  cleanup() {
    for (const n of this.nodes) n.cleanup();
  }
}

let template = null; // Promise of the name of the file's migrated template database
let nextCopy = 0;

/**
 * A new database with the schema already made: a copy of a template database that
 * `chorus migrate` made once for the test file (the nodes then skip the migrations, which
 * is most of a cluster's start). Resolves its URL.
 */
export async function migratedDatabase() {
  if (!template) {
    template = pgDatabase().then(async (url) => {
      const r = await runCli(['migrate', '--store', url], { timeoutMs: 60000 });
      if (r.code !== 0) throw new Error(`chorus migrate --store ${url}: ${r.stderr}`);
      return /\/(\w+)\?/.exec(url)[1];
    });
  }
  const tpl = await template;
  const { url } = await pgCluster();
  const name = `${tpl}_${nextCopy++}`;
  await psql(url, `CREATE DATABASE ${name} TEMPLATE ${tpl}`);
  return dbUrl(url, name);
}

/**
 * startServer(opts) in cluster mode (lib/server.mjs): resolves a ClusterServer of n nodes
 * (CHORUS_TEST_CLUSTER_NODES, 3 by default; 1 checks the harness itself: one node behind
 * the front door must pass everything a single server passes).
 */
export async function startClusterServer(opts = {}, n = Number(process.env.CHORUS_TEST_CLUSTER_NODES || 3)) {
  const { args = [], ...rest } = opts;
  const [store, redis] = await Promise.all([migratedDatabase(), startRedis()]);
  const c = new Cluster(redis, store, args);
  let front = null;
  try {
    // The nodes start side by side; the front hands out live nodes in node id order.
    await Promise.all(Array.from({ length: n }, () => c.addNode({ ...rest, listen: '127.0.0.1:0', port: undefined })));
    c.nodes.sort((a, b) => a.node - b.node);
    front = await startFront(() => c.nodes.filter((s) => !s.exitInfo).map((s) => s.port));
  } catch (e) {
    await front?.close();
    await withTimeout(c.stop(), 20000, 'the cluster to stop').catch(() => {});
    throw e;
  }
  return new ClusterServer(c, front);
}
