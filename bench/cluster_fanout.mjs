// cluster_fanout.mjs: fan-out with its subscribers spread over three --cluster nodes (issue
// 19, docs/benchmarks.md "Cluster", `fanout-3n`). A throwaway PostgreSQL and redis-server
// and three nodes (tests/e2e/lib/cluster.mjs); chorus-bench fanout --ports puts the
// publisher and the room (made on the first port: its home) on node 1 and the subscribers
// on the three nodes in turn, so two thirds of them receive through Redis. Prints
// chorus-bench's JSON (latencyOtherPortsUs: those on nodes 2 and 3).
//   CHORUS_BIN=build/chorus node bench/cluster_fanout.mjs BENCH_BIN [subscribers=300] [seconds=5]
import { spawnSync } from 'node:child_process';

import { FAST_HASH, TEST_SECRET } from '../tests/e2e/lib/auth.mjs';
import { startCluster } from '../tests/e2e/lib/cluster.mjs';

const [bench, subs = '300', secs = '5'] = process.argv.slice(2);
if (!bench) {
  console.error('usage: node bench/cluster_fanout.mjs BENCH_BIN [subscribers] [seconds]');
  process.exit(2);
}
const c = await startCluster(3, {
  args: [...FAST_HASH, '--max-connections-per-ip', '0', '--room-max-capacity', '100000',
    '--ws-rate', '1000000', '--ws-burst', '1000000',
    '--rate-api-ip', '1000000/1m', '--rate-api-user', '1000000/1m'],
});
let status = 1;
try {
  const r = spawnSync(bench, ['fanout', '--subscribers', subs, '--publishers', '1', '--window', '16',
    '--target', 'chorus', '--ports', c.nodes.map((n) => n.port).join(','), '--secret', TEST_SECRET,
    '--duration', secs, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(r.stdout);
  status = r.status ?? 1;
} finally {
  await c.stop();
}
process.exit(status);
