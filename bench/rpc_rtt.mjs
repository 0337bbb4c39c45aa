// rpc_rtt.mjs: the rpc op's round trip to a local app backend (not a test): starts chorus
// (build/chorus, or CHORUS_BIN) with --rpc-url pointing at a Node HTTP backend on
// 127.0.0.1, then C connections (default 4) in one room each send N rpc calls (default
// 2000 in all), one at a time per connection, and the client-side round trip of each
// (op sent to reply received, through Chorus, HTTP to the backend and back) is measured.
// Two methods: `plain` (the backend answers data only) and `effects` (it also posts one
// message in the room, applied at the room's home before the reply). Prints p50/p90/p99.
//   node bench/rpc_rtt.mjs [N] [C]
import http from 'node:http';
import { performance } from 'node:perf_hooks';

import { mintJwt, TEST_SECRET, FAST_HASH } from '../tests/e2e/lib/auth.mjs';
import { createRoom, RoomWs } from '../tests/e2e/lib/rooms.mjs';
import { startServer } from '../tests/e2e/lib/server.mjs';

const N = Number(process.argv[2] ?? 2000);
const C = Number(process.argv[3] ?? 4);

const backend = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const call = JSON.parse(body);
    const answer = call.method === 'effects'
      ? { data: { ok: true }, effects: { messages: [{ type: 'story_update', content: 'tick' }] } }
      : { data: { ok: true } };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer));
  });
});
await new Promise((r) => backend.listen(0, '127.0.0.1', r));
const srv = await startServer({
  args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--rpc-url', `http://127.0.0.1:${backend.address().port}/`,
    '--rpc-secret', 'bench-secret', '--ws-rate', '100000', '--ws-burst', '100000', '--room-quota', '0',
    '--user-quota', '0'],
});
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
try {
  const clients = [];
  for (let i = 0; i < C; i++) {
    const sub = `bench-${i}`;
    const user = { sub, name: sub, token: mintJwt(TEST_SECRET, { sub, name: sub, iat: Math.floor(Date.now() / 1000) }) };
    const room = await createRoom(srv.port, user, { name: `rpc ${i}` });
    const c = await RoomWs.open(srv.port, user);
    await c.join(room.roomCode);
    clients.push({ c, room });
  }
  for (const method of ['plain', 'effects']) {
    const per = Math.ceil(N / C);
    for (const { c, room } of clients) for (let i = 0; i < 50; i++) await c.ok('rpc', { room: room.id, method }); // warm up
    const times = [];
    const t0 = performance.now();
    await Promise.all(clients.map(async ({ c, room }) => {
      for (let i = 0; i < per; i++) {
        const s = performance.now();
        await c.ok('rpc', { room: room.id, method, data: { i } });
        times.push(performance.now() - s);
        c.events.length = 0;
      }
    }));
    const wall = (performance.now() - t0) / 1000;
    times.sort((a, b) => a - b);
    console.log(`rpc ${method}: ${times.length} calls, ${C} connections: p50 ${pct(times, 50).toFixed(2)} ms, ` +
      `p90 ${pct(times, 90).toFixed(2)} ms, p99 ${pct(times, 99).toFixed(2)} ms, ${(times.length / wall).toFixed(0)} calls/s`);
  }
  for (const { c } of clients) c.close();
} finally {
  await srv.stop();
  backend.closeAllConnections();
  backend.close();
}
