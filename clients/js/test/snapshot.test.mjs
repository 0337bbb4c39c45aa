// snapshot.test.mjs: room.snapshotAt against the real server (time travel, issue 25): by
// state version, Date and ISO string, every entity page gathered (a 16 KiB reply budget
// pages them), the document's text then; history_unavailable carries error.oldest.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { snapshotAt } from '../src/snapshot.js';
import { BASE_ARGS, connected, startServer, until } from '../testlib/helpers.mjs';

const T = { timeout: 20000 };

describe('room.snapshotAt', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--ws-max-queue', '64KiB', '--history-retention-count', '30', '--retention-sweep', '100ms'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('rebuilds the room at a version or a time, all entity pages; older moments reject with oldest', T, async () => {
    const host = await connected(srv.port, 'Snap');
    try {
      const info = await host.createRoom({ name: 'snapshot' });
      const room = await host.join(info.roomCode);
      const doc = await room.doc('main');
      const pad = 'p'.repeat(300);
      const created = [];
      for (let i = 0; i < 24; i++) created.push(await room.entities.create({ id: `e${String(i).padStart(2, '0')}`, kind: 'dot', data: { i, pad } }));
      doc.insert(0, 'hello');
      await doc.whenSynced();
      const v = created[23].stateVersion;
      const snap = await room.snapshotAt(v);
      assert.equal(snap.at.stateVersion, v);
      assert.deepEqual(snap.entities.map((e) => e.id), created.map((e) => e.id));
      assert.deepEqual(snap.entities.map((e) => e.data.i), created.map((_, i) => i));
      // They came in pages (a quarter of the 16 KiB reply budget each), all of one moment.
      const asked = [];
      const paged = await snapshotAt((op, fields) => { asked.push(fields); return room._req(op, fields); }, v);
      assert.deepEqual(paged, snap);
      assert.ok(asked.length >= 2, `${asked.length} pages`);
      assert.ok(asked.every((f) => f.at.stateVersion === v));
      // Later: the document has its text; by Date and by ISO string the same moment.
      await room.entities.update('e00', { i: 100 });
      const now = await room.snapshotAt(new Date(Date.now() + 1000));
      assert.equal(now.entities[0].data.i, 100);
      assert.deepEqual(now.documents, [{ id: 'main', version: 1, text: 'hello' }]);
      const iso = await room.snapshotAt(new Date(now.at.time).toISOString());
      assert.deepEqual(iso.at, now.at);
      assert.deepEqual((await room.snapshotAt({ stateVersion: v })).at, snap.at);
      // Past the retention count (30 changes) the oldest moments go.
      for (let i = 0; i < 10; i++) await room.entities.update('e01', { i: 200 + i });
      const err = await until(() => room.snapshotAt(created[0].stateVersion).then(() => null, (e) => e), 10000, 'compaction');
      assert.equal(err.code, 'history_unavailable');
      assert.ok(err.oldest.stateVersion > created[0].stateVersion);
      assert.equal((await room.snapshotAt(err.oldest.stateVersion)).at.stateVersion, err.oldest.stateVersion);
      await assert.rejects(room.snapshotAt('not a time'), TypeError);
    } finally {
      host.close();
    }
  });
});
