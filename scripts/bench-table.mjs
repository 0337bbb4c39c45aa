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

// name, what is shown, how to read it from a result, whether higher is better, and for the
// Socket.IO rows the scenario run and where Chorus's result comes from: chorus-bench as a
// Socket.IO client against Chorus's /socket.io/ (bench.sh's chorus-sio runs), compared with
// the Socket.IO peer's run of the same scenario; the ws peer has no such row.
const rows = [
  ['echo', 'round trips/s', (r) => r.ratePerS, true],
  ['fanout', 'deliveries/s', (r) => r.ratePerS, true],
  ['fanout-tls', 'deliveries/s (wss://, TLS 1.3, Chorus with --tls-cert)', (r) => r.ratePerS, true],
  ['fanout-100k', 'p99 µs at 1000 pub/s x 100 subs', (r) => r.latencyUs['p99'], false],
  ['rooms', 'deliveries/s (stored messages)', (r) => r.ratePerS, true],
  ['rooms-pg', 'deliveries/s (stored messages, Chorus on PostgreSQL)', (r) => r.ratePerS, true],
  ['join-storm', 'joins/s', (r) => r.ratePerS, true],
  ['connections', 'server bytes/connection', (r) => r.serverBytesPerConnection, false],
  ['echo (socket.io)', 'round trips/s, Socket.IO clients', (r) => r.ratePerS, true,
    { scenario: 'echo', chorus: 'chorus-sio', peers: ['socketio'] }],
  ['fanout (socket.io)', 'deliveries/s, Socket.IO clients', (r) => r.ratePerS, true,
    { scenario: 'fanout', chorus: 'chorus-sio', peers: ['socketio'] }],
];
// The result file of target t for a row: null where the row has none (the ws peer in the
// Socket.IO rows), else its name and target as bench.sh wrote them.
const source = (t, name, sio) => {
  if (!sio) return { t, name };
  if (t === 'chorus') return { t: sio.chorus, name: sio.scenario };
  return sio.peers.includes(t) ? { t, name: sio.scenario } : null;
};
const loadRow = (t, name, sio) => {
  const src = source(t, name, sio);
  return src ? load(src.t, src.name) : null;
};

const fmt = (v) => (v === undefined || v === null || Number.isNaN(v) ? '-' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
// A fixed-rate run the server could not keep up with measures its queue, not its latency.
const saturated = (r) => r.rate > 0 && r.ratePerS < 0.95 * r.rate * r.subscribers;
const cell = (r, get) => (!r ? 'missing' : !r.ok ? 'FAILED' : saturated(r) ? `saturated (${fmt(r.ratePerS)}/s)` : fmt(get(r)));
const pct = (r, key) => {
  const span = r.scenario === 'connections' ? r.setupS : r.durationS;
  return span > 0 && r[key] !== undefined ? `${Math.round((100 * r[key]) / span)}%` : '-';
};

// The server's CPU (user + system, from /proc) per unit the scenario counts (a round trip,
// a delivery, a join; connections: a connection set up), in µs.
const cpuPerUnit = (r) => {
  if (!r?.ok || r.serverCpuS === undefined) return '-';
  const units = r.scenario === 'connections' ? r.connections : r.count;
  return units > 0 ? ((1e6 * r.serverCpuS) / units).toFixed(2) : '-';
};

// Chorus's /metrics page scraped before a scenario and after its aftermath (bench.sh):
// { max: seconds, le: [cumulative counts of the buckets 1, 2, 5, 10 ms, +Inf] } or null.
const LE = ['0.001', '0.002', '0.005', '0.010', '+Inf'];
const metrics = (t, name, i) => {
  let text;
  try {
    text = readFileSync(`${dir}/${t}-${name}.metrics${i}`, 'utf8');
  } catch {
    return null;
  }
  const get = (re) => Number(re.exec(text)?.[1]);
  const max = get(/^chorus_loop_iteration_seconds_max ([0-9.]+)$/m);
  const le = LE.map((b) => get(new RegExp(`^chorus_loop_iteration_seconds_bucket\\{le="${b.replace('+', '\\+')}[0-9]*"\\} ([0-9]+)$`, 'm')));
  return Number.isNaN(max) || le.some(Number.isNaN) ? null : { max, le };
};
// The longest iteration in between: the maximum when it grew, else the highest histogram
// bucket that gained iterations ("<= 2 ms"); "-" without /metrics (the peers).
const loopMax = (t, name) => {
  const a = metrics(t, name, 0), b = metrics(t, name, 1);
  if (!a || !b) return '-';
  if (b.max > a.max) return `${(b.max * 1e3).toFixed(2)} ms`;
  for (let i = LE.length - 1; i >= 0; i--) {
    const added = b.le[i] - a.le[i] - (i ? b.le[i - 1] - a.le[i - 1] : 0);
    if (added > 0) return i === LE.length - 1 ? '> 10 ms' : `<= ${Number(LE[i]) * 1e3} ms`;
  }
  return '-';
};

const peers = targets.filter((t) => t !== 'chorus');
const head = ['scenario', 'measure', ...targets, ...targets.map((t) => `${t} server µs/unit`),
  ...(targets.includes('chorus') ? ['chorus longest loop iteration'] : []),
  ...peers.map((p) => `chorus vs ${p}`)];
const body = [];
for (const [name, what, get, higher, sio] of rows) {
  const res = Object.fromEntries(targets.map((t) => [t, loadRow(t, name, sio)]));
  // rooms-pg: Chorus's own store choice; the peers store nothing; fanout-tls: Chorus's own
  // TLS (the peers have none). The Socket.IO rows: only the Socket.IO peer speaks that
  // client protocol.
  const none = (t) => ((name === 'rooms-pg' || name === 'fanout-tls') && t !== 'chorus') ||
    !source(t, name, sio);
  const line = [name, what, ...targets.map((t) => (none(t) ? '-' : cell(res[t], get))),
    ...targets.map((t) => (none(t) ? '-' : cpuPerUnit(res[t])))];
  if (targets.includes('chorus')) {
    const src = source('chorus', name, sio);
    line.push(loopMax(src.t, src.name));
  }
  for (const p of peers) {
    const c = res.chorus, o = res[p];
    if (none(p)) line.push('-');
    else if (!c?.ok || !o?.ok || !get(c) || !get(o) || saturated(c)) line.push('-');
    else if (saturated(o)) line.push(`${p} saturated`);
    else line.push(`${(higher ? get(c) / get(o) : get(o) / get(c)).toFixed(1)}x`);
  }
  body.push(line);
}
const cpuHead = ['scenario', ...targets.map((t) => `${t} gen/server CPU`)];
const cpuBody = rows.map(([name, , , , sio]) => [name, ...targets.map((t) => {
  const r = loadRow(t, name, sio);
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
