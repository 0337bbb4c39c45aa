// cluster.mjs: a real cluster for the e2e tests: one throwaway PostgreSQL database
// (lib/pg.mjs), one throwaway redis-server (lib/redis.mjs) and N nodes of the real binary,
// each started as startServer starts one, with --cluster, the shared --store and one
// --jwt-secret (a token from any node works on every node).
import { TEST_SECRET } from './auth.mjs';
import { pgDatabase } from './pg.mjs';
import { startRedis } from './redis.mjs';
import { startServer } from './server.mjs';

const NODE_RE = /cluster: this is node (\d+)/;

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
      args: ['--cluster', this.redis.url, '--store', this.store, '--jwt-secret', TEST_SECRET,
        ...this.args, ...(opts.args ?? [])],
    });
    srv.node = Number(NODE_RE.exec(await srv.waitForLine(NODE_RE))[1]);
    this.nodes.push(srv);
    return srv;
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
