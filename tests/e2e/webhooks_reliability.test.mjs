// webhooks_reliability.test.mjs: issue 21's reliability points for webhooks, against a
// deduplicating receiver (a real Node HTTP server this file starts) whose log is checked
// room by room: every stored message's message.created processed exactly once, seqs
// strictly increasing with none missing (1 .. the room's last seq). (a) The receiver down
// (nothing listening) for a while, then back but flapping: some answers lost after
// processing (so the retry is a duplicate it must recognise), some 503s; messages keep
// coming meanwhile. (b) kill -9 of Chorus with deliveries queued while nothing listens,
// restart, receiver up: all delivered. (c), the API key scoping, is server_api.test.mjs's.
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { ON_PG, pgDatabaseFor } from './lib/pg.mjs';
import { allMessages, createRoom, mkUser, RoomWs, until } from './lib/rooms.mjs';
import { makeTempDir, runCli, startServer } from './lib/server.mjs';
import { freePort } from './lib/util.mjs';

const T = { timeout: 60000 };
const SECRET = 'whsec-reliable-0123456789';
const hookArgs = (port) => ['--jwt-secret', TEST_SECRET, ...FAST_HASH,
  '--webhook-url', `http://127.0.0.1:${port}/hooks`, '--webhook-secret', SECRET,
  '--webhook-events', 'message.created', '--webhook-retry-base', '50ms', '--webhook-retry-max', '200ms',
  '--webhook-poll', '50ms', '--webhook-max-attempts', '1000'];

/**
 * A deduplicating receiver on port. fate(n) says what happens to the n-th request (from
 * 0): 'ok' (processed unless its id was, answered 200), 'lost' (processed the same way,
 * then the connection is cut before any answer: Chorus must try again with the same id) or
 * 'busy' (503, not processed). processed: the log, one entry per id, in processing order.
 */
async function receiver(port, fate = () => 'ok') {
  const r = { requests: 0, duplicates: 0, processed: [], seen: new Set() };
  r.server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const what = fate(r.requests++);
      if (what === 'busy') {
        res.writeHead(503).end();
        return;
      }
      const id = req.headers['x-chorus-delivery'];
      if (r.seen.has(id)) {
        r.duplicates++;
      } else {
        r.seen.add(id);
        r.processed.push({ id, room: body.room, seq: body.data.seq, type: body.data.type });
      }
      if (what === 'lost') req.socket.destroy();
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise((resolve) => r.server.listen(port, '127.0.0.1', resolve));
  r.close = () => new Promise((resolve) => {
    r.server.closeAllConnections();
    r.server.close(resolve);
  });
  return r;
}

/** The delivery log's rows (chorus export of dir's database, on the server's store). */
async function deliveryRows(dir) {
  const store = ON_PG ? ['--store', await pgDatabaseFor(dir)] : [];
  const out = await runCli(['export', '--data', dir, ...store], { timeoutMs: 10000 });
  assert.equal(out.code, 0, out.stderr);
  return out.stdout.split('\n').filter((l) => l.includes('"webhook_deliveries"')).map((l) => JSON.parse(l).r);
}

/** Posts each text as a user_text of user's into room, on a connection of its own. */
async function post(port, user, roomId, texts) {
  const c = await RoomWs.open(port, user);
  try {
    await c.join(roomId);
    for (const content of texts) await c.ok('message', { room: roomId, type: 'user_text', content });
  } finally {
    c.close();
  }
}

/**
 * Waits until r processed every stored message of rooms (their history, read through
 * port), then checks the log room by room: exactly those seqs, once each, in order.
 */
async function assertAllOnceInOrder(r, port, user, rooms) {
  const want = new Map();
  for (const room of rooms) want.set(room.id, (await allMessages(port, user, room.id)).map((m) => m.seq));
  const of = (roomId) => r.processed.filter((p) => p.room === roomId).map((p) => p.seq);
  await until(() => rooms.every((room) => of(room.id).length >= want.get(room.id).length), 30000,
    'every message delivered');
  for (const room of rooms) {
    const seqs = want.get(room.id);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'the history has no gap');
    assert.deepEqual(of(room.id), seqs, `room ${room.id}: each seq once, strictly increasing, none missing`);
  }
}

describe('webhooks: reliability at a deduplicating receiver', () => {
  it('down for a while, then back and flapping: every delivery processed once, in each room\'s order', T, async () => {
    const rport = await freePort();
    const srv = await startServer({ args: hookArgs(rport) });
    let r;
    try {
      const host = mkUser('Host');
      const guest = mkUser('Guest');
      const rooms = [await createRoom(srv.port, host), await createRoom(srv.port, host), await createRoom(srv.port, host)];
      await Promise.all(rooms.flatMap((room) => [post(srv.port, host, room.id, ['a1', 'a2', 'a3']),
        post(srv.port, guest, room.id, ['b1', 'b2'])]));
      // Nothing listens: wait until a delivery has failed a few times.
      await until(async () => (await deliveryRows(srv.dataDir)).some((row) => row.attempts >= 3), 20000,
        'deliveries tried while the receiver is down');
      // Back, flapping: the 1st, 4th and 7th answers lost, the 2nd and 5th busy.
      const fates = { 0: 'lost', 1: 'busy', 3: 'lost', 4: 'busy', 6: 'lost' };
      r = await receiver(rport, (n) => fates[n] ?? 'ok');
      await Promise.all(rooms.map((room) => post(srv.port, guest, room.id, ['c1', 'c2'])));
      await assertAllOnceInOrder(r, srv.port, host, rooms);
      assert.ok(r.duplicates >= 1, 'a lost answer brought the same delivery again');
      const rows = await deliveryRows(srv.dataDir);
      assert.equal(rows.length, r.processed.length, 'one delivery per message');
      await until(async () => (await deliveryRows(srv.dataDir)).every((row) => row.state === 1), 10000,
        'every delivery marked delivered');
    } finally {
      await srv.stop();
      await r?.close();
    }
  });

  it('kill -9 with deliveries queued and nothing listening: after the restart, all processed once, in order', T, async () => {
    const rport = await freePort();
    const dir = makeTempDir('chorus-hooks-kill-');
    const start = () => startServer({ data: false, args: ['--data', dir, ...hookArgs(rport)] });
    let srv = await start();
    let r;
    try {
      const host = mkUser('Host');
      const rooms = [await createRoom(srv.port, host), await createRoom(srv.port, host)];
      await Promise.all(rooms.map((room) => post(srv.port, host, room.id, ['x1', 'x2', 'x3'])));
      srv.kill(); // SIGKILL, the acknowledged messages' deliveries queued
      await srv.exited;
      srv = await start();
      r = await receiver(rport);
      await assertAllOnceInOrder(r, srv.port, host, rooms);
      assert.equal(r.duplicates, 0);
    } finally {
      await srv.stop();
      await r?.close();
    }
  });
});
