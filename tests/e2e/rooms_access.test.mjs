// rooms_access.test.mjs: who learns what about a room (docs/api.md "Rooms", docs/protocol.md
// "Rooms"): the paged public list without state, the same answer for "no such room" and
// "not yours", the failed-lookup limit per user and per IP, state kept to participants,
// and the host's code rotation.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { api, FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { assertJsonError } from './lib/http.mjs';
import { assertRoom, createRoom, expectJson, getOk, mkUser } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];
const get = (port, user, path) => api(port, 'GET', path, { token: user?.token });

describe('GET /api/rooms/public', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--room-max-hosted', '50'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('pages newest first with limit and cursor, and leaves the state out', T, async () => {
    const host = mkUser('Spammer');
    const big = { blob: 'x'.repeat(60000), mode: 'y'.repeat(1000) };
    const made = [];
    for (let i = 0; i < 7; i++) made.push(await createRoom(srv.port, host, { name: `pub ${i}`, isPublic: true, state: big }));
    await createRoom(srv.port, host, { name: 'private', state: big });
    const viewer = mkUser('Lobby');
    const seen = [];
    let cursor = null;
    let pages = 0;
    do {
      const q = cursor ? `?limit=3&cursor=${encodeURIComponent(cursor)}` : '?limit=3';
      const res = await get(srv.port, viewer, `/api/rooms/public${q}`);
      assert.ok(res.text.length < 3 * 2048, `a page of 3 summaries is small: ${res.text.length} bytes`);
      const j = expectJson(res, 200);
      assert.deepEqual(Object.keys(j).sort(), ['nextCursor', 'rooms', 'success']);
      assert.ok(j.rooms.length <= 3);
      j.rooms.forEach((r) => assertRoom(r, { summary: true }));
      seen.push(...j.rooms);
      cursor = j.nextCursor;
      assert.ok(cursor === null || typeof cursor === 'string');
      pages++;
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    const order = [...made].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
    assert.deepEqual(seen.map((r) => r.id), order.map((r) => r.id), 'every public room once, newest first');
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1].createdAt >= seen[i].createdAt);

    // The default page is 50; limit is 1..100; a cursor must be one the server gave.
    const all = await getOk(srv.port, viewer, '/api/rooms/public');
    assert.equal(all.rooms.length, 7);
    assert.equal(all.nextCursor, null);
    for (const q of ['limit=0', 'limit=101', 'limit=x', 'cursor=nope', 'cursor=12.', `cursor=${'1'.repeat(200)}`]) {
      const res = await get(srv.port, viewer, `/api/rooms/public?${q}`);
      assertJsonError(res, 400, 'validation_error');
    }
  });
});
