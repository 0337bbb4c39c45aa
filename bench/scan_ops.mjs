// scan_ops.mjs: doc_op or transient entity_update per second through the real server, and
// the server's CPU per op (a benchmark, not a test; chorus-bench has no scenario for them).
// N clients in one room, one op in flight each: `doc` inserts one character into a shared
// document (based on the version last acknowledged, so the server transforms most ops);
// `entity` moves an entity of its own with {"transient": true} patches. Prints one JSON
// line: ops, ops/s and the server's user+system CPU (from /proc) per op in µs. Usage:
//   node bench/scan_ops.mjs doc|entity [clients=10] [seconds=5]   (CHORUS_BIN: the server)
// BENCH_LD_PRELOAD is given to the server alone as LD_PRELOAD (an allocation counter, see
// docs/benchmarks.md), with ALLOC_OUT passed through.
import { readFileSync } from 'node:fs';

import { FAST_HASH, TEST_SECRET } from '../tests/e2e/lib/auth.mjs';
import { createRoom, mkUser, RoomWs } from '../tests/e2e/lib/rooms.mjs';
import { startServer } from '../tests/e2e/lib/server.mjs';

const mode = process.argv[2];
const clients = Number(process.argv[3] ?? 10);
const seconds = Number(process.argv[4] ?? 5);
if (mode !== 'doc' && mode !== 'entity') {
  console.error('usage: node bench/scan_ops.mjs doc|entity [clients] [seconds]');
  process.exit(2);
}
const env = process.env.BENCH_LD_PRELOAD ? { LD_PRELOAD: process.env.BENCH_LD_PRELOAD } : {};
const srv = await startServer({
  args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--room-max-capacity', '1000',
    '--ws-rate', '100000', '--ws-burst', '100000'],
  probe: true,
  env,
});

/** The server's user + system CPU so far, in seconds. */
function serverCpu() {
  const stat = readFileSync(`/proc/${srv.proc.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

try {
  const host = mkUser('host');
  const room = await createRoom(srv.port, host, { name: 'bench', maxParticipants: 1000 });
  const users = Array.from({ length: clients }, (_, i) => mkUser(`c${i}`));
  const cs = await Promise.all(users.map((u) => RoomWs.open(srv.port, u)));
  for (const c of cs) await c.ok('join', { room: room.id });
  const versions = [];
  for (let i = 0; i < clients; i++) {
    if (mode === 'doc') {
      versions.push((await cs[i].ok('doc_open', { room: room.id, doc: 'bench' })).version);
    } else {
      await cs[i].ok('entity_create', { room: room.id, id: `e${i}`, kind: 'dot', data: { pos: [0, 0, 0] } });
    }
  }
  let acked = 0;
  const cpu0 = serverCpu();
  const t0 = Date.now();
  const end = t0 + seconds * 1000;
  await Promise.all(cs.map(async (c, i) => {
    let n = 0;
    while (Date.now() < end) {
      let r;
      if (mode === 'doc') {
        const len = versions[i];
        const pos = Math.floor(Math.random() * (len + 1));
        r = await c.call('doc_op', { room: room.id, doc: 'bench', version: versions[i], delta: pos ? [pos, 'x'] : ['x'] });
        if (r.ok) versions[i] = r.data.version;
      } else {
        n++;
        r = await c.call('entity_update', { room: room.id, id: `e${i}`, transient: true, patch: { pos: [n, n / 2, 0.5] } });
      }
      if (!r.ok) throw new Error(JSON.stringify(r));
      acked++;
    }
  }));
  const wall = (Date.now() - t0) / 1000;
  const cpu = serverCpu() - cpu0;
  console.log(JSON.stringify({ mode, clients, seconds, ops: acked, opsPerSecond: Math.round(acked / wall),
    serverCpuUsPerOp: Number(((cpu * 1e6) / acked).toFixed(2)) }));
  for (const c of cs) c.close();
} finally {
  await srv.stop();
}
