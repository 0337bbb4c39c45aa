// large_presence.mjs: issue 26's presence benchmark in a large room (docs/benchmarks.md
// "Presence at 19,000 and 100,000 members"): one room of N members on a fresh server (or
// cluster), M of them moving their cursors at H Hz, W of the others each watching K movers
// with presence_subscribe (the rest idle members who watch nobody), for D seconds:
// chorus-bench presence --procs P (one room made before the generator processes fork, each
// of them under the descriptor limit). Reports the deliveries a second, the p50/p99
// move→seen, the server CPU over the moving window (user + system of every node from /proc,
// from the generators' "ready" line to the end of the window) per delivery, the nodes' RSS
// and the load average; one JSON object on stdout, a line on stderr.
//   CHORUS_BIN=build/chorus node bench/large_presence.mjs BENCH_BIN [members=19000]
//     [movers=1000] [hz=10] [watch=1] [watchers=all] [nodes=1] [procs=auto] [duration=20]
// nodes 1: one node (SQLite); nodes > 1: that many --cluster nodes on a throwaway PostgreSQL
// and redis-server (tests/e2e/lib/cluster.mjs), the connections round robin over them and
// the room made on the first (its home). procs auto: one generator process per 15,000
// connections. Not part of `make bench`: a 100,000-member run takes the machine for minutes.
// LARGE_ARGS_EXTRA="--room-large-rate 10000 …": more arguments for every node.
// LARGE_DIAG=1 (a cluster): every 2 s of the run, each node's CPU and Redis's view of its
// connections (CLIENT LIST: output buffer omem, commands sent), Redis's INFO counters at the
// end, and every node's warnings, on stderr: what to look at when the movement fails.
import { spawn } from 'node:child_process';

import { TEST_SECRET } from '../tests/e2e/lib/auth.mjs';
import { startCluster } from '../tests/e2e/lib/cluster.mjs';
import { startServer } from '../tests/e2e/lib/server.mjs';

import { LARGE_ARGS as ARGS, load, proc } from './large_common.mjs';

const [bench, membersA = '19000', moversA = '1000', hzA = '10', watchA = '1', watchersA = 'all',
  nodesA = '1', procsA = 'auto', durationA = '20'] = process.argv.slice(2);
if (!bench) {
  console.error('usage: node bench/large_presence.mjs BENCH_BIN [members] [movers] [hz] ' +
    '[watch] [watchers] [nodes] [procs] [duration]');
  process.exit(2);
}
const members = Number(membersA);
const movers = Number(moversA);
const nodes = Number(nodesA);
const duration = Number(durationA);
const subs = members - movers;
const procs = procsA === 'auto' ? Math.max(1, Math.ceil(members / 15000)) : Number(procsA);

const cpuOf = (pids) => pids.reduce((a, pid) => a + proc(pid).cpuS, 0);
const diag = process.env.LARGE_DIAG === '1';

const args0 = [...ARGS, ...(process.env.LARGE_ARGS_EXTRA ?? '').split(' ').filter(Boolean)];
const cluster = nodes > 1 ? await startCluster(nodes, { args: args0 }) : null;
const servers = cluster ? cluster.nodes : [await startServer({ args: args0, web: false })];
const pids = servers.map((s) => s.proc.pid);
let diagTimer = null;
if (diag && cluster) {
  let last = pids.map((p) => proc(p).cpuS);
  diagTimer = setInterval(() => {
    const now = pids.map((p) => proc(p).cpuS);
    const cpu = now.map((c, i) => (c - last[i]).toFixed(1)).join(' ');
    last = now;
    const clients = cluster.redis.cli('CLIENT', 'LIST').split('\n')
      .filter((l) => / sub=[1-9]/.test(l) || /psub=0/.test(l) && / cmd=(publish|evalsha|eval)/.test(l))
      .map((l) => l.replace(/.*?addr=\S+:(\d+).* sub=(\d+).* qbuf=(\d+).* omem=(\d+).* tot-mem=\d+.* cmd=(\S+).*/,
        'port $1 sub $2 qbuf $3 omem $4 cmd $5'));
    console.error(`diag: node cpu s/2s ${cpu} | ${clients.join(' ; ')}`);
  }, 2000);
}
const rss0 = pids.map((p) => proc(p).rssKiB);
const cpu0 = cpuOf(pids);
const t0 = Date.now();
const args = ['presence', '--subscribers', String(subs), '--publishers', String(movers),
  '--rate', String(movers * Number(hzA)), '--watch', watchA,
  ...(watchersA === 'all' ? [] : ['--watchers', watchersA]),
  '--procs', String(procs), '--sources', '2', '--duration', String(duration),
  '--setup-limit', '900', '--ports', servers.map((s) => s.port).join(','),
  '--secret', TEST_SECRET, '--server-pid', String(pids[0]), '--json'];
// The window: from the first "ready" line (every process starts its run together) to its
// end; the nodes' CPU is read at both ends.
let win = null;
const said = [];
let loadRun = '';
const r = await new Promise((resolve) => {
  const p = spawn(bench, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
  p.stderr.setEncoding('utf8').on('data', (s) => {
    stderr = (stderr + s).slice(-65536);
    // what went wrong first, not only last: the first 20 lines other than progress
    for (const l of s.split('\n')) if (l && !l.startsWith('[') && said.length < 20) said.push(l);
    if (!win && /connections ready in/.test(s)) {
      win = { cpu: cpuOf(pids), setupS: (Date.now() - t0) / 1000 };
      setTimeout(() => {
        win.cpuEnd = cpuOf(pids);
        loadRun = load();
      }, duration * 1000);
    }
  });
  p.on('close', (status) => resolve({ status, stdout, stderr }));
});
let res = {};
try {
  res = JSON.parse(r.stdout);
} catch {
  res = { ok: false };
}
const rss1 = pids.map((p) => proc(p).rssKiB);
if (diagTimer) {
  clearInterval(diagTimer);
  const info = cluster.redis.cli('INFO', 'all').split('\n').filter((l) =>
    /^(connected_clients|client_recent_max_output_buffer|total_commands_processed|total_net|pubsub_channels|client_output_buffer_limit_disconnections|total_connections_received|instantaneous_ops|cmdstat_publish|used_cpu)/.test(l));
  console.error(`diag: redis ${info.map((l) => l.trim()).join(' ')}`);
  for (const s of servers)
    console.error(`diag: node ${s.node} port ${s.port}:\n${s.lines.filter((l) => /warn|error|cluster:/.test(l)).slice(-15).join('\n')}`);
}
const runCpu = win?.cpuEnd !== undefined ? win.cpuEnd - win.cpu : NaN;
const out = {
  members, movers, hz: Number(hzA), watch: Number(watchA), watchers: res.watchers, nodes, procs,
  ok: r.status === 0 && res.ok === true,
  askedPerS: Math.round(movers * Number(hzA) * ((res.watchers ?? subs) * Number(watchA)) / movers),
  deliveriesPerS: Math.round(res.ratePerS ?? 0),
  movesPerS: Math.round(res.publishedPerS ?? 0),
  p50Ms: Math.round((res.latencyUs?.p50 ?? 0) / 1000),
  p99Ms: Math.round((res.latencyUs?.p99 ?? 0) / 1000),
  setupS: Number((win?.setupS ?? 0).toFixed(1)),
  setupCpuS: Number(((win?.cpu ?? 0) - cpu0).toFixed(1)),
  runCpuS: Number(runCpu.toFixed(2)),
  usPerDelivery: Number(((runCpu * 1e6) / (res.count || NaN)).toFixed(2)),
  benchCpuS: res.benchCpuS,
  nodesRssMiB: Math.round(rss1.reduce((a, b) => a + b, 0) / 1024),
  rssGrowthPerMember: Math.round((rss1.reduce((a, b, i) => a + b - rss0[i], 0) * 1024) / members),
  loadAtEndOfRun: loadRun,
  load: load(),
  failedConnections: res.failedConnections,
};
if (!out.ok) out.error = [...said, ...r.stderr.split('\n').filter((l) => !l.startsWith('[')).slice(-6)].join(' | ');
console.log(JSON.stringify(out));
console.error(`presence: ${members} members on ${nodes} node(s), ${movers} movers at ${hzA} Hz: ` +
  `${out.ok ? 'ok' : 'FAILED'}; ${out.deliveriesPerS} deliveries/s of ${out.askedPerS}, p99 ` +
  `${out.p99Ms} ms, ${out.usPerDelivery} us server CPU a delivery, load ${out.loadAtEndOfRun}`);
if (cluster) await cluster.stop().catch(() => {});
else await servers[0].stop().catch(() => {});
process.exit(out.ok ? 0 : 1);
