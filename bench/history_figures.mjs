// history_figures.mjs: the change log's figures (issue 25, docs/benchmarks.md "Time
// travel"): N durable entity changes in one room (10 clients, each moving its own entity
// with durable entity_update patches), then the SQLite bytes the change log holds per
// change (SQLite: dbstat, its table and indexes; PostgreSQL: pg_total_relation_size) and
// snapshot_at's latency at random versions and times (a benchmark run by hand, not a
// test). Usage:
//   node bench/history_figures.mjs [changes=100000] [sqlite|postgres]   (CHORUS_BIN: the server)
// postgres runs a throwaway cluster (scripts/pg-test.sh, as the e2e tests do).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { FAST_HASH, TEST_SECRET } from '../tests/e2e/lib/auth.mjs';
import { pgDatabase, psql } from '../tests/e2e/lib/pg.mjs';
import { createRoom, mkUser, RoomWs } from '../tests/e2e/lib/rooms.mjs';
import { startServer } from '../tests/e2e/lib/server.mjs';

const total = Number(process.argv[2] ?? 100000);
const backend = process.argv[3] ?? 'sqlite';
const clients = 10;
const pgUrl = backend === 'postgres' ? await pgDatabase() : null;
const srv = await startServer({
  args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--history-retention-count', '0',
    '--room-max-capacity', '1000', '--ws-rate', '100000', '--ws-burst', '100000', '--room-quota', '0', '--user-quota', '0',
    ...(pgUrl ? ['--store', pgUrl] : [])],
  store: 'sqlite',
});
try {
  const host = mkUser('host');
  const room = await createRoom(srv.port, host, { name: 'bench', maxParticipants: 100 });
  const cs = await Promise.all(Array.from({ length: clients }, (_, i) => RoomWs.open(srv.port, mkUser(`c${i}`))));
  for (const [i, c] of cs.entries()) {
    await c.ok('join', { room: room.id });
    await c.ok('entity_create', { room: room.id, id: `e${i}`, kind: 'dot', data: { pos: [0, 0, 0], color: '#ff8800' } });
  }
  const t0 = Date.now();
  let done = 0;
  await Promise.all(cs.map(async (c, i) => {
    for (let n = 0; done < total; n++, done++) {
      await c.ok('entity_update', { room: room.id, id: `e${i}`, patch: { pos: [n, n / 2, 0.5] } }, 30000);
    }
  }));
  const writeS = (Date.now() - t0) / 1000;
  const last = (await cs[0].ok('snapshot_at', { room: room.id, at: { stateVersion: 1e12 } })).at;
  const lat = async (at) => {
    const s = process.hrtime.bigint();
    await cs[0].ok('snapshot_at', { room: room.id, at }, 30000);
    return Number(process.hrtime.bigint() - s) / 1e6;
  };
  const byVersion = [];
  const byTime = [];
  for (let k = 0; k < 50; k++) {
    byVersion.push(await lat({ stateVersion: 1 + Math.floor(Math.random() * last.stateVersion) }));
    byTime.push(await lat({ time: t0 + Math.floor(Math.random() * (Date.now() - t0)) }));
  }
  const q = (xs, p) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))].toFixed(2);
  let rows;
  let bytes;
  let tableBytes;
  if (pgUrl) {
    // The table with its TOAST and indexes, and the table alone (its heap).
    await psql(pgUrl, 'VACUUM ANALYZE state_log');
    [rows, bytes, tableBytes] = (await psql(pgUrl, "SELECT count(*), pg_total_relation_size('state_log'), pg_relation_size('state_log') FROM state_log"))
      .trim().split('|').map(Number);
  } else {
    const dataDir = path.join(srv.base ?? srv.dir, 'data');
    const db = fs.readdirSync(dataDir).find((f) => f.endsWith('.db'));
    const sql = "SELECT (SELECT count(*) FROM state_log), (SELECT sum(pgsize) FROM dbstat WHERE name IN ('state_log', 'state_log_key', 'state_log_at')), (SELECT sum(pgsize) FROM dbstat WHERE name = 'state_log')";
    [rows, bytes, tableBytes] = execFileSync('sqlite3', [path.join(dataDir, db), sql]).toString().trim().split('|').map(Number);
  }
  console.log(JSON.stringify({
    backend, changes: done, rows, writeSeconds: writeS, bytesPerChange: +(bytes / rows).toFixed(1),
    tableBytesPerChange: +(tableBytes / rows).toFixed(1),
    snapshotAtMs: { byVersion: { p50: q(byVersion, 0.5), p95: q(byVersion, 0.95) }, byTime: { p50: q(byTime, 0.5), p95: q(byTime, 0.95) } },
  }));
  cs.forEach((c) => c.close());
} finally {
  await srv.stop();
}
