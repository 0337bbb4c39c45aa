// bounded.test.mjs: memory and replies bounded by bytes (issue 14, items 2 and 5): the
// document op window by bytes (--doc-log-max-bytes).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { insertOp } from './lib/docs.mjs';
import { createRoom, mkUser, RoomWs } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];

/** A room of user's with one joined connection. */
async function roomAndClient(port, user, name = 'bounded') {
  const room = await createRoom(port, user, { name });
  const c = await RoomWs.open(port, user);
  await c.join(room.id);
  c.clear();
  return { room, c };
}

describe('document op window by bytes (--doc-log-max-bytes)', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--doc-log-max-bytes', '64KiB', '--doc-snapshot-every', '3'] });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('big insert/delete pairs push old versions out of the window; small ops stay', T, async () => {
    const a = mkUser('A');
    const { room, c } = await roomAndClient(port, a);
    const R = room.id;
    const op = (doc, version, delta) => c.call('doc_op', { room: R, doc, version, delta });
    try {
      await c.ok('doc_open', { room: R, doc: 'big' });
      // Four 20 KB inserts, each deleted again: the text stays empty, the ops hold ~80 KB.
      const big = 'x'.repeat(20000);
      let v = 0;
      let m;
      for (let i = 0; i < 4; i++) {
        for (const delta of [[big], [{ d: big.length }]]) {
          m = await op('big', v++, delta);
          assert.equal(m.ok, true, JSON.stringify(m).slice(0, 300));
        }
      }
      assert.deepEqual(await c.ok('doc_open', { room: R, doc: 'big' }), { doc: 'big', text: '', version: 8 });
      // The oldest versions left the window (by count they would still be in it: 1000).
      m = await op('big', 0, ['late']);
      assert.equal(m.error?.code, 'version_too_old', JSON.stringify(m).slice(0, 300));
      // The newest ones are still there: an op based on 6 is transformed through 7 and 8.
      m = await op('big', 6, ['late']);
      assert.equal(m.ok, true, JSON.stringify(m).slice(0, 300));
      assert.equal(m.data.version, 9);

      // Many small ops fit in the same budget: a base 50 versions back is still served.
      await c.ok('doc_open', { room: R, doc: 'small' });
      for (let i = 0; i < 60; i++) assert.equal((await op('small', i, insertOp(i, 'a'))).ok, true);
      m = await op('small', 10, ['b']);
      assert.equal(m.ok, true, JSON.stringify(m).slice(0, 300));

      // Reloaded from the store (closed, so unloaded): the window is bounded the same way.
      await c.ok('doc_close', { room: R, doc: 'big' });
      assert.deepEqual(await c.ok('doc_open', { room: R, doc: 'big' }), { doc: 'big', text: 'late', version: 9 });
      m = await op('big', 1, ['again']);
      assert.equal(m.error?.code, 'version_too_old', JSON.stringify(m).slice(0, 300));
      m = await op('big', 8, ['again']);
      assert.equal(m.ok, true, JSON.stringify(m).slice(0, 300));
      assert.equal(m.data.version, 10);
    } finally {
      c.close();
    }
  });
});
