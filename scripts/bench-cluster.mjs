// scripts/bench-cluster.mjs: the cluster section's figures of `make bench` (scripts/bench.sh)
// from chorus-bench's JSON results. Usage: node scripts/bench-cluster.mjs DIR
import { readdirSync, readFileSync } from 'node:fs';

const [dir] = process.argv.slice(2);
const load = (name) => {
  try {
    return JSON.parse(readFileSync(`${dir}/${name}`, 'utf8'));
  } catch {
    return null;
  }
};
const n0 = (v) => Math.round(v).toLocaleString('en-US');

console.log('\ncluster (issue 19)');
const one = load('cluster-fanout-1n.json');
if (one) {
  console.log(`  fan-out, one node, 300 subscribers: ${n0(one.ratePerS)} deliveries/s, ` +
    `p99 ${n0(one.latencyUs.p99)} µs, lost ${one.lost}`);
}
const three = load('cluster-fanout-3n.json'); // bench/cluster_fanout.mjs
if (three) {
  const far = three.latencyOtherPortsUs ?? {};
  console.log(`  fan-out, three nodes, 300 subscribers (a third on the room's home): ` +
    `${n0(three.ratePerS)} deliveries/s, p99 ${n0(three.latencyUs.p99)} µs, on the other ` +
    `two nodes p99 ${n0(far.p99 ?? 0)} µs, lost ${three.lost}`);
}
const redis = load('cluster-redis.json'); // bench/cluster_redis.mjs
for (const r of redis ?? []) {
  console.log(`  Redis, room of ${r.members} over 3 nodes: ${r.perMessage} commands a message ` +
    `(${r.busy.publish ?? 0} PUBLISH for ${r.messages}), ${r.perDelivery} a delivered event`);
}
const conns = readdirSync(dir).filter((f) => /^cluster-conns-\d+\.json$/.test(f)).map(load).filter(Boolean);
if (conns.length) {
  // A generator whose setup timed out (chorus-bench's --setup-limit) reports no joins and a memory
  // figure divided by connections it did not all open: only finished ones count.
  const done = conns.filter((r) => r.ok && r.setupS > 0);
  const wanted = conns.reduce((a, r) => a + r.connections, 0);
  console.log(`  idle joined connections: ${n0(wanted)} wanted over ${conns.length} node processes; ` +
    `${done.length} of ${conns.length} generators finished their setup` +
    (done.length === conns.length ? '' : ' (the others timed out: see cluster-conns-N.log)'));
  if (done.length === conns.length) {
    const joined = done.reduce((a, r) => a + r.connections - r.failedConnections, 0);
    const slowest = Math.max(...done.map((r) => r.setupS));
    console.log(`  join rate: ${n0(joined / slowest)} joins/s over all nodes at once (${n0(joined)} ` +
      `joined, the slowest node in ${slowest.toFixed(1)} s); per node ${done.map((r) => n0(r.ratePerS)).join(', ')}`);
  }
  const bytes = done.map((r) => r.serverBytesPerConnection).filter((b) => b > 0);
  if (bytes.length) {
    const rss = done.reduce((a, r) => a + (r.serverRssKiB ?? 0), 0);
    console.log(`  server bytes/connection (RSS growth): ${bytes.map(n0).join(', ')}; ` +
      `those nodes' RSS ${n0(rss / 1024)} MiB`);
  }
}
