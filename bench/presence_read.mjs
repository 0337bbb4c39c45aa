// presence_read.mjs: the server CPU of one presence_subscribe naming N members of a large
// room (issue 26, docs/benchmarks.md "Reading presence"): a fresh server (SQLite), one room
// of N members online, each with a presence state of its own (a cursor and a status line),
// then one more connection asks presence_subscribe for all N, R times in a row, each waiting
// for its reply. Reports the server's CPU (user + system from /proc) over those R requests
// per request, the reply's size and the load average; then the same for R reads of
// server.presence (GET /api/server/rooms/:roomId/presence with a key made by `chorus apikey
// create`, every member's presence); one JSON object on stdout.
//   CHORUS_BIN=build/chorus node bench/presence_read.mjs [members=1000] [rounds=200]
// Not part of `make bench`.
import { api } from '../tests/e2e/lib/auth.mjs';
import { closeAll, createRoom, mkUser, RoomWs } from '../tests/e2e/lib/rooms.mjs';
import { runCli, startServer } from '../tests/e2e/lib/server.mjs';

import { LARGE_ARGS, load, proc } from './large_common.mjs';

const members = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 200);
const srv = await startServer({ args: [...LARGE_ARGS, '--room-presence-subscribe-max', String(members)] });
const cs = [];
try {
  const users = Array.from({ length: members }, (_, i) => mkUser(`m${i}`));
  const room = await createRoom(srv.port, users[0], { name: 'big', maxParticipants: members + 10 });
  for (let i = 0; i < members; i += 50) {
    const batch = await Promise.all(users.slice(i, i + 50).map((u) => RoomWs.open(srv.port, u, { timeout: 60000 })));
    cs.push(...batch);
    await Promise.all(batch.map((c) => c.join(room.id)));
    await Promise.all(batch.map((c, k) => c.ok('presence', {
      room: room.id, state: { cursor: { x: i + k, y: -(i + k) }, status: `reading page ${i + k} \u00e9` },
    })));
    for (const c of batch) c.events.length = c.all.length = 0; // keep the client's memory flat
  }
  const watcher = await RoomWs.open(srv.port, users[0]);
  cs.push(watcher);
  await watcher.join(room.id);
  const ids = users.map((u) => u.sub);
  const first = await watcher.ok('presence_subscribe', { room: room.id, users: ids });
  const seen = Object.keys(first.presence).length;
  const bytes = JSON.stringify(first).length;
  const before = proc(srv.proc.pid).cpuS;
  for (let r = 0; r < rounds; r++) await watcher.ok('presence_subscribe', { room: room.id, users: ids });
  const cpuS = proc(srv.proc.pid).cpuS - before;
  const made = await runCli(['apikey', 'create', '--name', 'bench', '--data', srv.dataDir], { timeoutMs: 30000 });
  if (made.code !== 0) throw new Error(`apikey create: ${made.stderr}`);
  const key = made.stdout.trim();
  const path = `/api/server/rooms/${room.id}/presence`;
  const res = await api(srv.port, 'GET', path, { token: key });
  if (res.status !== 200) throw new Error(`GET presence: ${res.status}`);
  const restBytes = res.body.length;
  const before2 = proc(srv.proc.pid).cpuS;
  for (let r = 0; r < rounds; r++) await api(srv.port, 'GET', path, { token: key });
  const restS = proc(srv.proc.pid).cpuS - before2;
  console.log(JSON.stringify({
    members, rounds, seen, replyBytes: bytes, cpuMsPerRequest: +(cpuS * 1000 / rounds).toFixed(3),
    restBytes, restCpuMsPerRequest: +(restS * 1000 / rounds).toFixed(3), load: load(),
  }));
} finally {
  closeAll(cs);
  await srv.stop();
}
