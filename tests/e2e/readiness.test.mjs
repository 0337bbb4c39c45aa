// readiness.test.mjs: GET /healthz follows the cluster bus (docs/api.md): a node whose
// redis-server goes answers 503 {"status":"unavailable","reasons":["bus"]} while /livez
// stays 200. (Its return to 200 once Redis is back is the bus's reconnect, cl-bus's
// cluster_nodes.test.mjs; the store's half, PostgreSQL stopped and started, is in
// pg_fault.test.mjs.)
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
});
