// admin.test.mjs: the admin REST API under /api/admin/ (docs/api.md, "Admin"): who is an
// admin (--admins, or the token's "role": "admin" claim), the refusals, the live figures
// (connections, rooms and their rates, the busiest rooms, recent errors, the audit log),
// and closing a room (its members get room_deleted with reason closed; audited).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { api, mintJwt, nowSec, TEST_SECRET } from './lib/auth.mjs';
import { assertJsonError } from './lib/http.mjs';
import { RoomWs, createRoom, mkUser } from './lib/rooms.mjs';
import { runCli, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const ROUTES = [
  ['GET', '/api/admin/overview'],
  ['GET', '/api/admin/connections'],
  ['GET', '/api/admin/rooms'],
  ['GET', '/api/admin/rooms/busiest'],
  ['GET', '/api/admin/errors'],
  ['GET', '/api/admin/audit'],
  ['POST', '/api/admin/rooms/nope/close'],
  ['POST', '/api/admin/users/someone/disconnect'],
];

const adminToken = (sub) => mintJwt(TEST_SECRET, { sub, name: 'Root', role: 'admin', iat: nowSec() });

async function ok(port, token, path, method = 'GET') {
  const res = await api(port, method, path, { token });
  assert.equal(res.status, 200, `${method} ${path}: ${res.text}`);
  const j = res.json();
  assert.equal(j.success, true);
  return j;
}

describe('admin API', () => {
  it('disconnecting a user closes each of their connections with 4001; audited', T, async () => {
    const srv = await startServer({ args: ['--jwt-secret', TEST_SECRET] });
    const cs = [];
    try {
      const admin = adminToken('admin-3');
      const [u, other] = [mkUser('Gone'), mkUser('Stays')];
      cs.push(await RoomWs.open(srv.port, u), await RoomWs.open(srv.port, u), await RoomWs.open(srv.port, other));
      const j = await ok(srv.port, admin, `/api/admin/users/${encodeURIComponent(u.sub)}/disconnect`, 'POST');
      assert.equal(j.closed, 2);
      for (const c of cs.slice(0, 2)) assert.deepEqual(await c.closed, { code: 4001, reason: 'disconnected by an admin' });
      await cs[2].sync(); // the other user's connection stays
      const au = await ok(srv.port, admin, '/api/admin/audit?limit=5');
      const row = au.entries.find((x) => x.event === 'admin_user_disconnect');
      assert.equal(row?.userId, 'admin-3');
      assert.equal(row.detail, `user ${u.sub} closed 2`);
      assert.equal((await ok(srv.port, admin, '/api/admin/users/nobody/disconnect', 'POST')).closed, 0);
    } finally {
      cs.forEach((c) => c.close());
      await srv.stop();
    }
  });

  it('refuses non-admins (403 forbidden) and anonymous callers (401) on every route', T, async () => {
    const listed = mkUser('Listed');
    const srv = await startServer({ args: ['--jwt-secret', TEST_SECRET, '--admins', `someone-else, ${listed.sub}`] });
    try {
      const user = mkUser('Plain');
      // A role other than admin is no role; a token claiming admin must still be signed.
      const other = mintJwt(TEST_SECRET, { sub: 'x', role: 'moderator', iat: nowSec() });
      const forged = mintJwt('another-secret-0123456789abcdefghijklmnop', { sub: 'y', role: 'admin', iat: nowSec() });
      for (const [method, path] of ROUTES) {
        assertJsonError(await api(srv.port, method, path, { token: user.token }), 403, 'forbidden');
        assertJsonError(await api(srv.port, method, path, { token: other }), 403, 'forbidden');
        assertJsonError(await api(srv.port, method, path, {}), 401, 'unauthorized');
        assertJsonError(await api(srv.port, method, path, { token: forged }), 401, 'unauthorized');
      }
      // The one route any signed-in user may call: whether they are an admin.
      assert.equal((await ok(srv.port, user.token, '/api/admin/access')).admin, false);
      assert.equal((await ok(srv.port, listed.token, '/api/admin/access')).admin, true);
      assertJsonError(await api(srv.port, 'GET', '/api/admin/access', {}), 401, 'unauthorized');
      // --admins names the subject; the role claim needs no list.
      await ok(srv.port, listed.token, '/api/admin/overview');
      await ok(srv.port, adminToken('not-listed'), '/api/admin/overview');
      assertJsonError(await api(srv.port, 'GET', '/api/admin/rooms?limit=0', { token: listed.token }), 400, 'validation_error');
      assertJsonError(await api(srv.port, 'GET', '/api/admin/rooms?limit=1x', { token: listed.token }), 400, 'validation_error');
      assertJsonError(await api(srv.port, 'POST', '/api/admin/rooms/nope/close', { token: listed.token }), 404, 'not_found');
    } finally {
      await srv.stop();
    }
  });

  it('chorus token --role admin mints an admin token; any other role is refused', T, async () => {
    const srv = await startServer({ args: ['--jwt-secret', TEST_SECRET] });
    try {
      const r = await runCli(['token', '--user', 'ops-1', '--role', 'admin', '--jwt-secret', TEST_SECRET]);
      assert.equal(r.code, 0, r.stderr);
      await ok(srv.port, r.stdout.trim(), '/api/admin/overview');
      const bad = await runCli(['token', '--user', 'ops-1', '--role', 'root', '--jwt-secret', TEST_SECRET]);
      assert.equal(bad.code, 2);
      assert.equal(bad.stderr, "chorus token: --role: invalid value 'root' (want admin)\n");
    } finally {
      await srv.stop();
    }
  });

  it('live figures: connections, rooms with their rates, the busiest, errors, audit', T, async () => {
    // No web directory: the server logs a warning at start, which the errors list shows.
    const srv = await startServer({ web: false, args: ['--jwt-secret', TEST_SECRET, '--web', '/nonexistent/chorus-web'] });
    const cs = [];
    try {
      const admin = adminToken('admin-1');
      const [a, b] = [mkUser('Ann'), mkUser('Bob')];
      const busy = await createRoom(srv.port, a, { name: 'Busy' });
      const quiet = await createRoom(srv.port, b, { name: 'Quiet' });
      const empty = await createRoom(srv.port, b, { name: 'Empty' }); // nobody joins it
      const ca = await RoomWs.open(srv.port, a);
      const cb = await RoomWs.open(srv.port, b);
      cs.push(ca, cb);
      await ca.join(busy.id);
      await cb.join(busy.id);
      await cb.join(quiet.id);
      // Joins post system messages: the figures are read before and after 3 more.
      const rowOf = async (id) => (await ok(srv.port, admin, '/api/admin/rooms')).rooms.find((r) => r.id === id);
      const m0 = (await rowOf(busy.id)).messagesPerMinute;
      const all0 = (await ok(srv.port, admin, '/api/admin/overview')).rooms.messagesPerMinute;
      for (let i = 0; i < 3; i++) await ca.ok('message', { room: busy.id, type: 'user_text', content: `m${i}` });

      const o = await ok(srv.port, admin, '/api/admin/overview');
      assert.equal(o.connections.byKind.websocket, 2);
      assert.equal(o.connections.authenticated, 2);
      assert.equal(o.rooms.count, 3);
      assert.equal(o.rooms.online, 3, 'Ann and Bob in Busy, Bob in Quiet');
      assert.equal(o.rooms.messagesPerMinute, all0 + 3);
      assert.ok(o.errorsLogged >= 1);
      assert.ok(Number.isInteger(o.at));

      const c = await ok(srv.port, admin, '/api/admin/connections');
      const ws = c.list.filter((x) => x.kind === 'websocket');
      assert.deepEqual(ws.map((x) => x.userId).sort(), [a.sub, b.sub].sort());
      assert.deepEqual(ws.map((x) => x.rooms).sort(), [1, 2]);
      assert.equal(ws[0].ip, '127.0.0.1');
      const c1 = await ok(srv.port, admin, '/api/admin/connections?limit=1');
      assert.equal(c1.list.length, 1);
      assert.equal(c1.more, true);

      const rooms = await ok(srv.port, admin, '/api/admin/rooms');
      assert.equal(rooms.total, 3);
      assert.equal(rooms.rooms[0].name, 'Busy', 'busiest first');
      const row = rooms.rooms[0];
      assert.equal(row.id, busy.id);
      assert.equal(row.roomCode, busy.roomCode);
      assert.equal(row.hostId, a.sub);
      assert.equal(row.participants, 2);
      assert.equal(row.online, 2);
      assert.equal(row.messagesPerMinute, m0 + 3);
      assert.equal(row.opsPerMinute, 0);
      const top = await ok(srv.port, admin, '/api/admin/rooms/busiest?limit=5');
      assert.equal(top.rooms[0].id, busy.id);
      assert.ok(!top.rooms.some((r) => r.id === empty.id), 'a room with no traffic is not busy');
      const top1 = await ok(srv.port, admin, '/api/admin/rooms/busiest?limit=1');
      assert.deepEqual(top1.rooms.map((r) => r.id), [busy.id]);

      const e = await ok(srv.port, admin, '/api/admin/errors');
      assert.ok(e.errors.some((x) => x.level === 'warn' && /web directory .* not found/.test(x.message)), JSON.stringify(e));
      assert.ok(e.total >= e.errors.length);

      // Audit: newest first; the room creations are there.
      const au = await ok(srv.port, admin, '/api/admin/audit?limit=10');
      assert.ok(au.entries.length >= 2 && au.entries.length <= 10);
      const creates = au.entries.filter((x) => x.event === 'room_create');
      // (the audit table keeps 36 bytes of a user id: an app's longer subjects are cut)
      assert.deepEqual(creates.map((x) => x.userId), [b.sub, b.sub, a.sub].map((s) => s.slice(0, 36)));
      assert.ok(au.entries.every((x, i, all) => i === 0 || all[i - 1].at >= x.at));
    } finally {
      cs.forEach((c) => c.close());
      await srv.stop();
    }
  });

  it('closing a room: its members get room_deleted (closed), it is gone, and it is audited', T, async () => {
    const srv = await startServer({ args: ['--jwt-secret', TEST_SECRET] });
    let c;
    try {
      const admin = adminToken('admin-2');
      const u = mkUser('Member');
      const room = await createRoom(srv.port, u, { name: 'Doomed' });
      c = await RoomWs.open(srv.port, u);
      await c.join(room.id);
      const j = await ok(srv.port, admin, `/api/admin/rooms/${room.id}/close`, 'POST');
      assert.equal(j.roomId, room.id);
      const ev = await c.waitEvent('room_deleted');
      assert.equal(ev.room, room.id);
      assert.equal(ev.reason, 'closed');
      assertJsonError(await api(srv.port, 'GET', `/api/rooms/${room.id}`, { token: u.token }), 404, 'not_found');
      assertJsonError(await api(srv.port, 'POST', `/api/admin/rooms/${room.id}/close`, { token: admin }), 404, 'not_found');
      const au = await ok(srv.port, admin, '/api/admin/audit?limit=5');
      const row = au.entries.find((x) => x.event === 'admin_room_close');
      assert.ok(row, JSON.stringify(au.entries));
      assert.equal(row.userId, 'admin-2');
      assert.equal(row.detail, `room ${room.id}`);
      assert.equal(row.ip, '127.0.0.1');
    } finally {
      c?.close();
      await srv.stop();
    }
  });
});
