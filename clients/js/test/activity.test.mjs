// activity.test.mjs: the SDK's activity stream against the real server: room.activity()
// pages newest first by cursor, and the 'activity' event brings each row as it is written
// (a message burst ends when its user leaves; --activity-edit-idle bounds the rest).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BASE_ARGS, connected, until, startServer } from '../testlib/helpers.mjs';

describe('room activity', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--activity-edit-idle', '100ms'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('room.activity pages the log; the activity event brings new rows', async () => {
    const host = await connected(srv.port, 'Host');
    const mem = await connected(srv.port, 'Mem');
    try {
      const info = await host.createRoom({ name: 'activity' });
      const room = await host.join(info.roomCode);
      const rows = [];
      room.on('activity', (row) => rows.push(row));
      const mroom = await mem.join(info.roomCode);
      await mroom.send('user_text', 'one');
      await mroom.send('user_text', 'two');
      await until(() => rows.some((r) => r.kind === 'messages'), 5000, 'the messages row');
      await mroom.leave();
      await until(() => rows.some((r) => r.kind === 'left'), 5000, 'the left row');
      assert.deepEqual(rows.map((r) => `${r.displayName} ${r.kind}`),
        ['Host joined', 'Mem joined', 'Mem messages', 'Mem left']);
      assert.equal(rows[2].data.count, 2);
      assert.equal(rows[2].userId, mem.user.id);

      const p1 = await room.activity({ limit: 3 });
      assert.deepEqual(p1.activity, [...rows].reverse().slice(0, 3));
      assert.equal(p1.nextCursor, String(rows[1].seq));
      const p2 = await room.activity({ before: p1.nextCursor, limit: 3 });
      assert.deepEqual(p2, { activity: [rows[0]], nextCursor: null });
      await assert.rejects(room.activity({ limit: 0 }), (e) => e.code === 'validation_error');
    } finally {
      host.close();
      mem.close();
    }
  });
});
