// cluster_redis.mjs: Redis commands per delivered event in a three-node cluster (issue 19,
// docs/benchmarks.md "Cluster"). A throwaway PostgreSQL and redis-server and three nodes
// (tests/e2e/lib/cluster.mjs); for each room size, the members spread over the nodes in
// turn, one member on a node that is not the room's home posts N messages one after
// another, every other member receives each; Redis's INFO commandstats is read before and
// after, and an idle stretch as long as the run is read too (heartbeats and lease
// renewals), so the figure is what the messages cost.
//   CHORUS_BIN=build/chorus node bench/cluster_redis.mjs [N=300] [sizes=2,20]
import { FAST_HASH } from '../tests/e2e/lib/auth.mjs';
import { startCluster } from '../tests/e2e/lib/cluster.mjs';
import { createRoom, mkUser, mkUsers, RoomWs, until } from '../tests/e2e/lib/rooms.mjs';
import { delay } from '../tests/e2e/lib/util.mjs';

const N = Number(process.argv[2] ?? 300);
const SIZES = (process.argv[3] ?? '2,20').split(',').map(Number);

/** Every command's calls so far: {name: calls}. */
function commandstats(redis) {
  const out = {};
  for (const line of redis.cli('INFO', 'commandstats').split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

const diff = (a, b) => {
  const d = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const v = (b[k] ?? 0) - (a[k] ?? 0);
    if (v) d[k] = v;
  }
  return d;
};
const sum = (d) => Object.values(d).reduce((x, y) => x + y, 0);

const c = await startCluster(3, { args: [...FAST_HASH, '--ws-rate', '1000000', '--ws-burst', '1000000'] });
try {
  const results = [];
  for (const size of SIZES) {
    const host = mkUser('Host');
    const room = await createRoom(c.nodes[0].port, host, { name: `r${size}`, maxParticipants: 50 });
    const users = mkUsers(size, `m${size}-`);
    const cs = [];
    for (let i = 0; i < size; i++) cs.push(await RoomWs.open(c.nodes[i % 3].port, users[i]));
    for (const x of cs) await x.join(room.id);
    const home = c.homeOf(room.id);
    const pub = cs.find((x, i) => c.nodes[i % 3] !== home) ?? cs[0];
    const others = cs.filter((x) => x !== pub);
    await delay(500);
    for (const x of cs) x.clear();
    const count = (x) => x.kept((m) => m.op === 'message' && m.message?.type === 'user_text').length;

    const t0 = Date.now();
    const before = commandstats(c.redis);
    for (let k = 0; k < N; k++) await pub.ok('message', { room: room.id, type: 'user_text', content: `m${k}` });
    await until(() => others.every((x) => count(x) >= N), 60000, 'every delivery');
    const busy = diff(before, commandstats(c.redis));
    const ms = Date.now() - t0;
    // The same stretch idle: what the cluster sends Redis anyway.
    const idle0 = commandstats(c.redis);
    await delay(ms);
    const idle = diff(idle0, commandstats(c.redis));
    const delivered = others.reduce((n, x) => n + count(x), 0);
    const net = sum(busy) - sum(idle);
    results.push({ members: size, messages: N, delivered, ms, commands: sum(busy), idle: sum(idle),
      perMessage: +(net / N).toFixed(2), perDelivery: +(net / delivered).toFixed(3), busy, idleCommands: idle });
    cs.forEach((x) => x.close());
  }
  console.log(JSON.stringify(results, null, 1));
} finally {
  await c.stop();
}
