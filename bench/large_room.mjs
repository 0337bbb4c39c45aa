// large_room.mjs: issue 26's large-room benchmark (docs/benchmarks.md "Large rooms"; `make
// bench-large`). Fills ONE room to each size in turn, a fresh server (or cluster) each:
// chorus-bench connections --connections N --room-size N (--procs P: one room made before
// the generator processes fork, each of them under the descriptor limit). Reports, per size,
// the server's CPU per join (user + system of every node from /proc over the fill, divided
// by N), the p99 connect→joined, the nodes' RSS growth per member, the join rate and the
// load average; one JSON object a line on stdout, a table on stderr.
//   CHORUS_BIN=build/chorus node bench/large_room.mjs BENCH_BIN [sizes=100,1000,6000,19000]
//     [nodes=1] [procs=auto] [room-size=each size]
// nodes 1: one node (SQLite); nodes > 1: that many --cluster nodes on a throwaway PostgreSQL
// and redis-server (tests/e2e/lib/cluster.mjs), the connections round robin over them and
// the room made on the first (its home). procs auto: one generator process per 15,000
// connections (at least 1). room-size S: the connections join rooms of S instead (N / S rooms,
// the same CPU-per-join figure for rooms of S over as many joins as the large room's: the
// cluster's join at 100 members rests on 12,000 joins that way, not on 100).
import { spawn } from 'node:child_process';

import { TEST_SECRET } from '../tests/e2e/lib/auth.mjs';
import { startCluster } from '../tests/e2e/lib/cluster.mjs';
import { startServer } from '../tests/e2e/lib/server.mjs';

import { LARGE_ARGS as ARGS, load, proc } from './large_common.mjs';

const [bench, sizesArg = '100,1000,6000,19000', nodesArg = '1', procsArg = 'auto', roomSizeArg] =
  process.argv.slice(2);
if (!bench) {
  console.error('usage: node bench/large_room.mjs BENCH_BIN [sizes] [nodes] [procs] [room-size]');
  process.exit(2);
}
const sizes = sizesArg.split(',').map(Number);
const nodes = Number(nodesArg);

/** Runs cmd to its end; resolves { status, stdout, stderr }. */
function run(cmd, args) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s) => (stderr = (stderr + s).slice(-65536)));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

let failed = 0;
for (const n of sizes) {
  const procs = procsArg === 'auto' ? Math.max(1, Math.ceil(n / 15000)) : Number(procsArg);
  const cluster = nodes > 1 ? await startCluster(nodes, { args: ARGS }) : null;
  const servers = cluster ? cluster.nodes : [await startServer({ args: ARGS, web: false })];
  const pids = servers.map((s) => s.proc.pid);
  const before = pids.map(proc);
  const loadBefore = load();
  const t0 = Date.now();
  // Not spawnSync: the nodes' stderr comes to this process, which must go on reading it
  // (a node blocks on a full log pipe otherwise).
  const roomSize = roomSizeArg ? Number(roomSizeArg) : n;
  const r = await run(bench, ['connections', '--connections', String(n), '--room-size', String(roomSize),
    '--procs', String(procs), '--duration', '1', '--setup-limit', '600', '--target', 'chorus',
    '--ports', servers.map((s) => s.port).join(','), '--secret', TEST_SECRET,
    '--server-pid', String(pids[0]), '--json']);
  const after = pids.map(proc);
  const loadAfter = load();
  let res = {};
  try {
    res = JSON.parse(r.stdout);
  } catch {
    res = { ok: false };
  }
  // The setup is the fill; the node CPU here also has the 1 s hold and the room's creation,
  // which idle connections hardly add to.
  const cpuS = after.reduce((a, p, i) => a + p.cpuS - before[i].cpuS, 0);
  const rssGrowKiB = after.reduce((a, p, i) => a + p.rssKiB - before[i].rssKiB, 0);
  const out = {
    members: n, roomSize, nodes, procs, ok: r.status === 0 && res.ok === true,
    serverCpuS: Number(cpuS.toFixed(2)),
    cpuPerJoinMs: Number(((cpuS * 1000) / n).toFixed(3)),
    p99JoinMs: Math.round((res.latencyUs?.p99 ?? 0) / 1000),
    p50JoinMs: Math.round((res.latencyUs?.p50 ?? 0) / 1000),
    joinsPerS: Math.round(res.ratePerS ?? 0),
    setupS: Number((res.setupS ?? 0).toFixed(1)),
    wallS: Math.round((Date.now() - t0) / 1000),
    bytesPerMember: Math.round((rssGrowKiB * 1024) / n),
    nodesRssMiB: Math.round(after.reduce((a, p) => a + p.rssKiB, 0) / 1024),
    benchCpuS: res.benchCpuS,
    load: `${loadBefore} -> ${loadAfter}`,
    failedConnections: res.failedConnections,
  };
  if (!out.ok) {
    failed = 1;
    out.error = r.stderr.split('\n').filter((l) => !l.startsWith('[')).slice(-6).join(' | ');
  }
  console.log(JSON.stringify(out));
  console.error(`large room: ${n} members on ${nodes} node(s): ${out.ok ? 'ok' : 'FAILED'}; ` +
    `server CPU per join ${out.cpuPerJoinMs} ms, p99 connect->joined ${out.p99JoinMs} ms, ` +
    `${out.joinsPerS} joins/s, ${out.bytesPerMember} B/member, load ${out.load}` +
    (out.ok ? '' : `; ${out.error}`));
  if (cluster) await cluster.stop().catch(() => {});
  else await servers[0].stop().catch(() => {});
}
process.exit(failed);
