// readiness.test.mjs: GET /healthz follows the cluster bus (docs/api.md): a node whose
// redis-server goes answers 503 {"status":"unavailable","reasons":["bus"]} while /livez
// stays 200, and 200 again by itself once Redis is back. (The store's half, PostgreSQL
// stopped and started, is in pg_fault.test.mjs.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

import { TEST_SECRET } from './lib/auth.mjs';
import { fetchOnce } from './lib/http.mjs';
import { pgDatabase } from './lib/pg.mjs';
import { startRedis } from './lib/redis.mjs';
import { BIN, startServer } from './lib/server.mjs';
import { delay } from './lib/util.mjs';

function whyNot() {
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) return 'redis-server is not installed (scripts/deps.sh)';
  const help = spawnSync(BIN, ['serve', '--help'], { encoding: 'utf8' });
  return /--cluster\b/.test(`${help.stdout}${help.stderr}`) ? false : 'the binary has no --cluster';
}

/** Polls GET path until its status is want (no fixed wait); resolves the response. */
async function statusBecomes(port, path, want, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await fetchOnce(port, 'GET', path);
    if (res.status === want || Date.now() > deadline) return res;
    await delay(50);
  }
}

/** A node on its own Redis and database; runs fn(srv, redis), then stops both. */
async function withNode(fn) {
  const redis = await startRedis();
  let srv;
  try {
    srv = await startServer({ args: ['--jwt-secret', TEST_SECRET, '--store', await pgDatabase(),
      '--cluster', redis.url, '--cluster-node-ttl', '1s'] });
    assert.equal((await fetchOnce(srv.port, 'GET', '/healthz')).status, 200);
    await fn(srv, redis);
  } finally {
    await srv?.stop();
    await redis.stop();
  }
}

describe('/healthz with --cluster', { skip: whyNot() }, () => {
  it('503 with reason "bus" while Redis is gone; /livez 200', { timeout: 60000 }, () => withNode(async (srv, redis) => {
    await redis.kill();
    const down = await statusBecomes(srv.port, '/healthz', 503);
    assert.equal(down.status, 503, `/healthz without Redis: ${down.text}`);
    assert.deepEqual(down.json(), { status: 'unavailable', reasons: ['bus'] });
    assert.equal((await fetchOnce(srv.port, 'GET', '/livez')).status, 200);
  }));

  // The bus's reconnect is cl-bus's (bus_redis.c); at cl-bus 094da7a a node logs
  // "Redis connection lost ...; reconnecting" and never reconnects (cluster_nodes.test.mjs's
  // Redis restart case fails the same way).
  it('200 again by itself once Redis is back', { timeout: 60000, todo: 'cl-bus: the node does not reconnect to a restarted Redis yet' },
    () => withNode(async (srv, redis) => {
      await redis.kill();
      assert.equal((await statusBecomes(srv.port, '/healthz', 503)).status, 503);
      await redis.start();
      const up = await statusBecomes(srv.port, '/healthz', 200, 15000);
      assert.equal(up.status, 200, `/healthz once Redis is back: ${up.text}`);
    }));
});
