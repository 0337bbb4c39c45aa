// webhooks_e2e.mjs: webhook deliveries per second to a local receiver (a benchmark, not a
// test). ROOMS rooms, each with its own member, post MSGS messages each as fast as the
// replies come; a Node HTTP receiver on 127.0.0.1 answers 200 at once. Prints the
// deliveries of message.created received and deliveries/s from the first post to the last
// delivery. Usage:
//   node bench/webhooks_e2e.mjs [rooms=32] [msgs=50]   (CHORUS_BIN: the server binary)
import http from 'node:http';

import { FAST_HASH, TEST_SECRET } from '../tests/e2e/lib/auth.mjs';
import { createRoom, mkUser, RoomWs } from '../tests/e2e/lib/rooms.mjs';
import { startServer } from '../tests/e2e/lib/server.mjs';

const rooms = Number(process.argv[2] ?? 32);
const msgs = Number(process.argv[3] ?? 50);
const want = rooms * msgs;
let got = 0;
let done;
const finished = new Promise((resolve) => { done = resolve; });
const ids = new Set();
const recv = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const b = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200).end();
    if (b.data.type === 'user_text' && !ids.has(b.id)) {
      ids.add(b.id);
      if (++got === want) done();
    }
  });
});
await new Promise((resolve) => recv.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${recv.address().port}/hooks`;
const srv = await startServer({ args: [...FAST_HASH, '--jwt-secret', TEST_SECRET,
  '--ws-rate', '100000', '--ws-burst', '100000', '--webhook-url', url,
  '--webhook-secret', 'bench-secret-0123456789', '--webhook-events', 'message.created',
  '--webhook-max-inflight', String(Math.max(rooms, 1))], probe: true });
try {
  const users = Array.from({ length: rooms }, (_, i) => mkUser(`m${i}`));
  const rs = await Promise.all(users.map((u) => createRoom(srv.port, u, { name: 'bench' })));
  const cs = await Promise.all(users.map((u) => RoomWs.open(srv.port, u)));
  await Promise.all(cs.map((c, i) => c.ok('join', { room: rs[i].id })));
  const t0 = Date.now();
  await Promise.all(cs.map(async (c, i) => {
    for (let k = 0; k < msgs; k++) await c.ok('message', { room: rs[i].id, type: 'user_text', content: `m${k}` });
  }));
  const posted = Date.now() - t0;
  await finished;
  const ms = Date.now() - t0;
  console.log(JSON.stringify({ rooms, msgs, deliveries: got, postedMs: posted, totalMs: ms,
    deliveriesPerSecond: Math.round((got * 1000) / ms) }));
  for (const c of cs) c.close();
} finally {
  await srv.stop();
  recv.close();
}
