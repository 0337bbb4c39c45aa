// docs_e2e.mjs: end-to-end document ops per second through the real server (a benchmark,
// not a test). N editors on one document each send single-character inserts at random
// positions, one op in flight per editor (the SDK's discipline), for SECONDS seconds;
// prints acknowledged ops/s. Usage:
//   node bench/docs_e2e.mjs [editors=10] [seconds=5]   (CHORUS_BIN: the server binary)
import { FAST_HASH, TEST_SECRET } from '../tests/e2e/lib/auth.mjs';
import { createRoom, mkUser, RoomWs } from '../tests/e2e/lib/rooms.mjs';
import { startServer } from '../tests/e2e/lib/server.mjs';

const editors = Number(process.argv[2] ?? 10);
const seconds = Number(process.argv[3] ?? 5);
const srv = await startServer({ args: [...FAST_HASH, '--jwt-secret', TEST_SECRET,
  '--room-max-capacity', '1000', '--ws-rate', '100000', '--ws-burst', '100000'], probe: true });
try {
  const host = mkUser('host');
  const room = await createRoom(srv.port, host, { name: 'bench', maxParticipants: 1000 });
  const users = Array.from({ length: editors }, (_, i) => mkUser(`e${i}`));
  const cs = await Promise.all(users.map((u) => RoomWs.open(srv.port, u)));
  for (const c of cs) await c.ok('join', { room: room.id });
  const open = await Promise.all(cs.map((c) => c.ok('doc_open', { room: room.id, doc: 'bench' })));
  let acked = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(cs.map(async (c, i) => {
    let version = open[i].version;
    let len = 0;
    while (Date.now() < end) {
      // Based on the version last acknowledged to this editor: the server transforms it.
      const pos = Math.floor(Math.random() * (len + 1));
      const r = await c.call('doc_op', { room: room.id, doc: 'bench', version, delta: pos ? [pos, 'x'] : ['x'] });
      if (!r.ok) throw new Error(JSON.stringify(r));
      version = r.data.version;
      len = version; // every op inserts one character
      acked++;
    }
  }));
  console.log(JSON.stringify({ editors, seconds, acked, opsPerSecond: Math.round(acked / seconds) }));
  for (const c of cs) c.close();
} finally {
  await srv.stop();
}
