// webhooks.test.mjs: webhook deliveries to a real Node HTTP receiver this file starts:
// each signed (HMAC-SHA-256 of "<timestamp>.<body>", checked here as docs/api.md shows),
// with an id, type, room, time and the message; the receiver down for a while then back:
// every delivery arrives, once to a deduplicating receiver, in each room's order; kill -9
// of Chorus with deliveries queued: delivered after the restart (on PostgreSQL too: make
// e2e-pg runs that test again there); a delivery that keeps failing is dead-lettered after --webhook-max-attempts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { accepted, receiver, verify } from './lib/hooks.mjs';
import { ON_PG } from './lib/pg.mjs';
import { createRoom, mkUser, RoomWs } from './lib/rooms.mjs';
import { makeTempDir, runCli, startServer } from './lib/server.mjs';
import { delay } from './lib/util.mjs';

const T = { timeout: 60000 };
// On PostgreSQL (make e2e-pg) only the durability test runs again: the rest is the same.
const T_SQLITE = { ...T, skip: ON_PG && 'the e2e-pg run repeats the durability test only' };
const SECRET = 'whsec-0123456789abcdef';
const BASE_ARGS = ['--jwt-secret', TEST_SECRET, ...FAST_HASH];

const hookArgs = (url, extra = []) => [
  '--webhook-url', url, '--webhook-secret', SECRET, '--webhook-events', 'message.created',
  '--webhook-retry-base', '20ms', '--webhook-retry-max', '100ms', '--webhook-poll', '50ms', ...extra,
];

async function post(port, user, roomId, contents) {
  const c = await RoomWs.open(port, user);
  try {
    await c.join(roomId);
    for (const content of contents) await c.ok('message', { room: roomId, type: 'user_text', content });
  } finally {
    c.close();
  }
}

const userTexts = (list, roomId) =>
  list.filter((b) => b.room === roomId && b.data.type === 'user_text').map((b) => b.data.content);

describe('webhooks', () => {
  it('signs each delivery and sends its id, type, room, time and the message', T_SQLITE, async () => {
    const r = await receiver();
    const srv = await startServer({ args: [...BASE_ARGS, ...hookArgs(r.url)] });
    try {
      const host = mkUser('Host');
      const room = await createRoom(srv.port, host);
      await post(srv.port, host, room.id, ['one', 'två ✓']);
      await r.until(() => userTexts(accepted(r), room.id).length === 2);
      for (const q of r.requests) {
        assert.ok(verify(q.headers, q.raw, SECRET), 'the signature checks out');
        assert.ok(!verify(q.headers, q.raw, SECRET + 'x'), 'and not with another secret');
        assert.equal(q.headers['content-type'], 'application/json');
        assert.equal(q.headers['x-chorus-delivery'], q.body.id);
        assert.equal(q.headers['x-chorus-event'], 'message.created');
        assert.ok(Math.abs(Number(q.headers['x-chorus-timestamp']) - Date.now() / 1000) < 600);
        assert.deepEqual(Object.keys(q.body).sort(), ['data', 'id', 'room', 'time', 'type']);
        assert.match(q.body.id, /^[0-9a-f-]{36}$/);
        assert.equal(q.body.type, 'message.created');
        assert.equal(q.body.room, room.id);
        assert.ok(Number.isInteger(q.body.time));
        assert.equal(q.body.data.roomId, room.id);
      }
      const texts = accepted(r).filter((b) => b.data.type === 'user_text');
      assert.deepEqual(texts.map((b) => b.data.content), ['one', 'två ✓']);
      assert.equal(texts[0].data.userId, host.sub);
      assert.ok(texts[1].data.seq > texts[0].data.seq);
      // Tampering shows.
      const q = r.requests[0];
      assert.ok(!verify(q.headers, q.raw.replace('message.created', 'message.createD'), SECRET));
    } finally {
      await srv.stop();
      await r.close();
    }
  });

  it('the receiver down for a while, then back: every delivery once, in each room\'s order', T_SQLITE, async () => {
    const r = await receiver();
    let failures = 0;
    r.status = () => (failures++ < 8 ? 503 : 200);
    const srv = await startServer({ args: [...BASE_ARGS, ...hookArgs(r.url)] });
    try {
      const host = mkUser('Host');
      const rooms = [await createRoom(srv.port, host), await createRoom(srv.port, host)];
      const want = ['a', 'b', 'c', 'd', 'e'];
      await Promise.all(rooms.map((room) => post(srv.port, host, room.id, want)));
      await r.until(() => rooms.every((room) => userTexts(accepted(r), room.id).length === want.length));
      assert.ok(r.requests.some((q) => q.status === 503), 'some attempts failed');
      const acc = accepted(r);
      for (const room of rooms) {
        assert.deepEqual(userTexts(acc, room.id), want, 'each once, in order');
        const seqs = acc.filter((b) => b.room === room.id).map((b) => b.data.seq);
        assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'the room\'s order');
        // A delivery that failed was retried under its own id: the same body.
        for (const q of r.requests.filter((x) => x.body.room === room.id && x.status === 503)) {
          const ok = acc.find((b) => b.id === q.body.id);
          assert.deepEqual(ok, q.body);
        }
      }
    } finally {
      await srv.stop();
      await r.close();
    }
  });

  it('kill -9 with deliveries queued: delivered after the restart (SQLite; PostgreSQL in make e2e-pg)', T, async () => {
    const r = await receiver();
    r.status = () => 503; // down: everything stays queued
    const dir = makeTempDir('chorus-hooks-data-');
    const start = () => startServer({ data: false,
      args: ['--data', dir, ...BASE_ARGS, ...hookArgs(r.url, ['--webhook-max-attempts', '1000'])] });
    let srv = await start();
    try {
      const host = mkUser('Host');
      const room = await createRoom(srv.port, host);
      await post(srv.port, host, room.id, ['x1', 'x2', 'x3']); // acknowledged: queued
      await r.until(() => r.requests.length >= 1); // and tried
      srv.kill();
      await srv.exited;
      r.status = () => 200;
      srv = await start();
      await r.until(() => userTexts(accepted(r), room.id).length === 3);
      assert.deepEqual(userTexts(accepted(r), room.id), ['x1', 'x2', 'x3']);
    } finally {
      await srv.stop();
      await r.close();
    }
  });

  it('a delivery that keeps failing is dead-lettered after --webhook-max-attempts', T_SQLITE, async () => {
    const r = await receiver();
    r.status = () => 500;
    const dir = makeTempDir('chorus-hooks-dead-');
    const srv = await startServer({ data: false, store: 'sqlite',
      args: ['--data', dir, ...BASE_ARGS, ...hookArgs(r.url, ['--webhook-max-attempts', '3'])] });
    try {
      const host = mkUser('Host');
      const room = await createRoom(srv.port, host);
      await post(srv.port, host, room.id, ['doomed']);
      const dumpRow = async () => {
        const out = await runCli(['export', '--data', dir]);
        assert.equal(out.code, 0, out.stderr);
        return out.stdout.split('\n').filter((l) => l.includes('"webhook_deliveries"')).map((l) => JSON.parse(l).r)
          .find((row) => JSON.parse(row.body).data.content === 'doomed');
      };
      let row;
      for (;;) {
        row = await dumpRow();
        if (row && row.state === 2) break;
        await delay(50); // polling the export until the row is dead
      }
      assert.equal(row.attempts, 3);
      assert.equal(row.last_status, 500);
      assert.equal(row.last_error, 'HTTP 500');
      const tries = r.requests.filter((q) => q.body.data.content === 'doomed');
      assert.equal(tries.length, 3, 'no attempt after the last');
    } finally {
      await srv.stop();
      await r.close();
    }
  });
});
