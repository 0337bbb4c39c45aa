// scripts/bench-table.mjs: the comparison table of `make bench` from chorus-bench's JSON
// results. Usage: node scripts/bench-table.mjs DIR chorus ws socketio
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const [dir, ...targets] = process.argv.slice(2);
const load = (t, name) => {
  try {
    return JSON.parse(readFileSync(`${dir}/${t}-${name}.json`, 'utf8'));
  } catch {
    return null;
  }
};

// name, what is shown, how to read it from a result, and whether higher is better
const rows = [
  ['echo', 'round trips/s', (r) => r.ratePerS, true],
  ['fanout', 'deliveries/s', (r) => r.ratePerS, true],
  ['fanout-100k', 'p99 µs at 1000 pub/s x 100 subs', (r) => r.latencyUs['p99'], false],
  ['rooms', 'deliveries/s (stored messages)', (r) => r.ratePerS, true],
  ['rooms-pg', 'deliveries/s (stored messages, Chorus on PostgreSQL)', (r) => r.ratePerS, true],
  ['join-storm', 'joins/s', (r) => r.ratePerS, true],
  ['connections', 'server bytes/connection', (r) => r.serverBytesPerConnection, false],
];

const fmt = (v) => (v === undefined || v === null || Number.isNaN(v) ? '-' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
// A fixed-rate run the server could not keep up with measures its queue, not its latency.
const saturated = (r) => r.rate > 0 && r.ratePerS < 0.95 * r.rate * r.subscribers;
const cell = (r, get) => (!r ? 'missing' : !r.ok ? 'FAILED' : saturated(r) ? `saturated (${fmt(r.ratePerS)}/s)` : fmt(get(r)));
const pct = (r, key) => {
  const span = r.scenario === 'connections' ? r.setupS : r.durationS;
  return span > 0 && r[key] !== undefined ? `${Math.round((100 * r[key]) / span)}%` : '-';
};

const peers = targets.filter((t) => t !== 'chorus');
const head = ['scenario', 'measure', ...targets, ...peers.map((p) => `chorus vs ${p}`)];
const body = [];
for (const [name, what, get, higher] of rows) {
  const res = Object.fromEntries(targets.map((t) => [t, load(t, name)]));
  // rooms-pg: Chorus's own store choice; the peers store nothing.
  const only = name === 'rooms-pg';
  const line = [name, what, ...targets.map((t) => (only && t !== 'chorus' ? '-' : cell(res[t], get)))];
  for (const p of peers) {
    const c = res.chorus, o = res[p];
    if (only) line.push('-');
    else if (!c?.ok || !o?.ok || !get(c) || !get(o) || saturated(c)) line.push('-');
    else if (saturated(o)) line.push(`${p} saturated`);
    else line.push(`${(higher ? get(c) / get(o) : get(o) / get(c)).toFixed(1)}x`);
  }
  body.push(line);
}
const cpuHead = ['scenario', ...targets.map((t) => `${t} gen/server CPU`)];
const cpuBody = rows.map(([name]) => [name, ...targets.map((t) => {
  const r = load(t, name);
  return r ? `${pct(r, 'benchCpuS')} / ${pct(r, 'serverCpuS')}` : '-';
})]);

const print = (h, b) => {
  const w = h.map((_, i) => Math.max(...[h, ...b].map((l) => String(l[i]).length)));
  const line = (l) => `| ${l.map((c, i) => String(c).padEnd(w[i])).join(' | ')} |`;
  console.log(line(h));
  console.log(`|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`);
  for (const l of b) console.log(line(l));
};

console.log(`\nchorus-bench: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), generator and server on the same machine`);
console.log('ratios: how many times better Chorus is (higher rate, or lower latency/memory); >1 = Chorus better\n');
print(head, body);
console.log('\nCPU over the measured window (connections: over the setup), % of one core:\n');
print(cpuHead, cpuBody);

// The machine's own stalls (chorus-bench jitter, run before the servers): the state of
// the machine the figures above were taken on (a shared VM's moves during the day).
let jitter = null;
try {
  jitter = JSON.parse(readFileSync(`${dir}/jitter.json`, 'utf8'));
} catch {
  /* not run */
}
if (jitter) {
  const per = jitter.stallsPerCoreSecond;
  console.log(`\nmachine stalls (chorus-bench jitter, ${jitter.durationS} s on each of ${jitter.cores} cores): ` +
    `${per.over500Us.toFixed(1)}/s of 0.5 ms or more and ${per.over1000Us.toFixed(1)}/s of 1 ms or more per core, ` +
    `longest ${fmt(jitter.maxStallUs)} µs, ${jitter.lostPercent.toFixed(1)}% of the time taken away`);
}
