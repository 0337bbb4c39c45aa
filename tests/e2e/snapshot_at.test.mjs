// snapshot_at.test.mjs: time travel (issue 25, docs/protocol.md "snapshot_at"): three
// clients change a room (state, entities, a document); snapshot_at at every state version
// equals what a client that recorded every event saw at that version, by version and by
// time; members only; retention compacts the change log and an older moment answers
// history_unavailable naming the oldest one kept; a document whose op log retention
// trimmed moves the oldest moment to its snapshot (the whole request refused before it);
// GET /api/rooms/:id/snapshot and the server API's answer the same.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { assertJsonError } from './lib/http.mjs';
import { ON_PG, pgDatabaseFor } from './lib/pg.mjs';
import { closeAll, get, mkUser, RoomWs, roomWith, until } from './lib/rooms.mjs';
import { runCli, startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];

/** What the recorder saw after each state version: {state, entities: Map id -> entity}. */
class Recorder {
  constructor(c, join) {
    this.c = c;
    this.state = join.state;
    this.entities = new Map(join.entities.map((e) => [e.id, e]));
    this.at = new Map([[join.stateVersion, this.copy()]]);
    this.first = join.stateVersion;
    this.seen = 0;
    this.docText = [''];
    this.docTimes = [];
  }

  copy() {
    return { state: structuredClone(this.state), entities: new Map(this.entities) };
  }

  pump() {
    for (; this.seen < this.c.all.length; this.seen++) {
      const m = this.c.all[this.seen];
      if (m.op === 'state') this.state = m.state;
      else if (m.op === 'entity' && m.action === 'delete') this.entities.delete(m.id);
      else if (m.op === 'entity') this.entities.set(m.entity.id, m.entity);
      else continue;
      this.at.set(m.stateVersion, this.copy());
    }
  }
}

const view = (entities) => [...entities.values()].map((e) => ({ id: e.id, data: e.data, version: e.version }))
  .sort((a, b) => (a.id < b.id ? -1 : 1));

describe('snapshot_at', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: BASE_ARGS });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('equals what a recording client saw at each version, by version and by time', T, async () => {
    const users = [mkUser('host'), mkUser('b'), mkUser('c'), mkUser('rec')];
    const { room, cs } = await roomWith(port, users);
    const [a, b, c, r] = cs;
    const rec = new Recorder(r, await r.ok('join', { room: room.id }));
    r.all.length = 0;
    rec.seen = 0;
    await a.ok('doc_open', { room: room.id, doc: 'main' });
    let docVersion = 0;
    // Three clients change the room for a while: each round a few changes at once.
    const stopAt = Date.now() + 1500;
    for (let round = 0; Date.now() < stopAt; round++) {
      const id = `e${round % 7}`;
      const work = [
        b.call('entity_create', { room: room.id, id, kind: 'star', data: { x: round } }),
        c.call('entity_update', { room: room.id, id: `e${(round + 3) % 7}`, patch: { y: round } }),
        a.ok('doc_op', { room: room.id, doc: 'main', version: docVersion, delta: [`${round % 10}`] }),
      ];
      if (round % 3 === 0) work.push(a.ok('state', { room: room.id, patch: { round } }));
      if (round % 4 === 1) work.push(c.call('entity_delete', { room: room.id, id: `e${(round + 5) % 7}` }));
      const res = await Promise.all(work);
      docVersion = res[2].version;
      rec.docText[docVersion] = `${round % 10}${rec.docText[docVersion - 1]}`;
    }
    await r.sync();
    await until(() => { rec.pump(); return rec.at.size > 20; }, 5000, 'changes recorded');
    const versions = [...rec.at.keys()].sort((x, y) => x - y);
    let lastDoc = 0;
    for (const v of versions) {
      const snap = await r.ok('snapshot_at', { room: room.id, at: { stateVersion: v } });
      const want = rec.at.get(v);
      assert.equal(snap.at.stateVersion, v);
      assert.deepEqual(snap.state, want.state, `state at ${v}`);
      assert.deepEqual(view(snap.entities), view(want.entities), `entities at ${v}`);
      // The document by its own version then: a text the document had, never going back.
      const d = snap.documents.find((x) => x.id === 'main');
      if (d) {
        assert.equal(d.text, rec.docText[d.version], `main at ${v} (version ${d.version})`);
        assert.ok(d.version >= lastDoc);
        lastDoc = d.version;
      }
      // The same moment by its time.
      if (v % 5 === 0) {
        const byTime = await r.ok('snapshot_at', { room: room.id, at: { time: snap.at.time } });
        assert.ok(byTime.at.stateVersion >= v);
        assert.equal(byTime.at.time, snap.at.time);
      }
    }
    assert.ok(lastDoc > 0, 'the document was seen');
    // Validation, and members only.
    await r.err('snapshot_at', { room: room.id, at: { stateVersion: -1 } }, 'validation_error');
    await r.err('snapshot_at', { room: room.id, at: {} }, 'validation_error');
    const outsider = await RoomWs.open(port, mkUser('out'));
    await outsider.err('snapshot_at', { room: room.id, at: { stateVersion: 1 } }, 'not_found');
    closeAll([...cs, outsider]);
  });

  it('retention compacts the log; older moments answer history_unavailable with the oldest', T, async () => {
    const s2 = await startServer({ args: [...BASE_ARGS, '--history-retention-count', '3', '--retention-sweep', '100ms'] });
    try {
      const users = [mkUser('host')];
      const { room, cs } = await roomWith(s2.port, users);
      const [a] = cs;
      const vs = [];
      for (let i = 0; i < 8; i++) {
        const res = await a.ok('entity_create', { room: room.id, id: `k${i}`, kind: 'k', data: { i } });
        vs.push(res.stateVersion ?? res.entity.stateVersion);
      }
      const last = vs[vs.length - 1];
      // The sweep moves the base to the moment before the newest 3 changes.
      let err;
      await until(async () => {
        const m = await a.call('snapshot_at', { room: room.id, at: { stateVersion: vs[0] } });
        err = m.error;
        return m.ok === false;
      }, 10000, 'the oldest changes compacted');
      assert.equal(err.code, 'history_unavailable');
      assert.equal(err.oldest.stateVersion, vs[vs.length - 4]);
      assert.ok(Number.isInteger(err.oldest.time));
      // The oldest moment kept still rebuilds whole, and so does every later one.
      for (let k = vs.length - 4; k < vs.length; k++) {
        const snap = await a.ok('snapshot_at', { room: room.id, at: { stateVersion: vs[k] } });
        assert.deepEqual(snap.entities.map((e) => e.id), vs.slice(0, k + 1).map((_, i) => `k${i}`));
        assert.deepEqual(snap.oldest, err.oldest);
      }
      const byTime = await a.call('snapshot_at', { room: room.id, at: { time: err.oldest.time - 1 } });
      assert.equal(byTime.error?.code, 'history_unavailable');
      assert.equal((await a.ok('snapshot_at', { room: room.id, at: { stateVersion: last + 100 } })).at.stateVersion, last);

      // Over REST (members) and the server API (an API key): the same answers and errors.
      const path = `/api/rooms/${room.id}/snapshot`;
      const rest = async (q, status = 200, who = users[0], p = path) => {
        const res = await get(s2.port, who, `${p}?${q}`);
        assert.equal(res.status, status, res.text);
        return res.json();
      };
      const want = await a.ok('snapshot_at', { room: room.id, at: { stateVersion: vs[6] } });
      assert.deepEqual(await rest(`at=${vs[6]}`), { success: true, ...want });
      const gone = assertJsonError(await get(s2.port, users[0], `${path}?at=${vs[0]}`), 410, 'history_unavailable');
      assert.deepEqual(gone.error.oldest, err.oldest);
      const t = want.at.time;
      const wantT = await a.ok('snapshot_at', { room: room.id, at: { time: t } });
      assert.deepEqual(await rest(`at=${t}ms`), { success: true, ...wantT });
      assert.deepEqual(await rest(`at=${new Date(t).toISOString()}`), { success: true, ...wantT });
      const iso = new Date(t + 3600000).toISOString().replace('Z', '%2B01:00'); // the same instant, UTC+1
      assert.deepEqual(await rest(`at=${iso}`), { success: true, ...wantT });
      const page = await a.ok('snapshot_at', { room: room.id, at: { stateVersion: last }, after: 'k3' });
      assert.deepEqual(await rest(`at=${last}&after=k3`), { success: true, ...page });
      for (const q of ['', 'at=', 'at=abc', 'at=12x', 'at=-1', 'at=5s', 'at=2026-02-30T00:00:00Z', 'at=1969-12-31T23:59:59Z']) {
        assert.equal(assertJsonError(await get(s2.port, users[0], `${path}?${q}`), 400, 'validation_error').error.field, 'at', q);
      }
      assert.equal(assertJsonError(await get(s2.port, users[0], `${path}?at=1&after=%ZZ`), 400, 'validation_error').error.field, 'after');
      assertJsonError(await get(s2.port, mkUser('outsider'), `${path}?at=1`), 404, 'not_found');
      const store = ON_PG ? ['--store', await pgDatabaseFor(s2.dataDir)] : [];
      const key = await runCli(['apikey', 'create', '--name', 'backend', '--data', s2.dataDir, ...store], { timeoutMs: 10000 });
      assert.equal(key.code, 0, key.stderr);
      const app = { token: key.stdout.trim() };
      assert.deepEqual(await rest(`at=${vs[6]}`, 200, app, `/api/server/rooms/${room.id}/snapshot`), { success: true, ...want });
      assert.deepEqual((await rest(`at=${vs[0]}`, 410, app, `/api/server/rooms/${room.id}/snapshot`)).error.oldest, err.oldest);
      assertJsonError(await get(s2.port, app, '/api/server/rooms/no-such-room/snapshot?at=1'), 404, 'not_found');
      closeAll(cs);
    } finally {
      await s2.stop();
    }
  });

  it('a document trimmed by op log retention: the oldest moment is its snapshot, each document whole', T, async () => {
    const s3 = await startServer({ args: [...BASE_ARGS, '--doc-log-retention', '1', '--doc-snapshot-every', '3', '--retention-sweep', '100ms'] });
    try {
      const { room, cs } = await roomWith(s3.port, [mkUser('host')]);
      const [a] = cs;
      await a.ok('doc_open', { room: room.id, doc: 'main' });
      // Entity and document changes in turn: k<i> at vs[i], then, a millisecond later at
      // least (times are in ms), the document's op i + 1.
      const vs = [];
      const text = [''];
      const step = async (i) => {
        const res = await a.ok('entity_create', { room: room.id, id: `k${i}`, kind: 'k', data: { i } });
        vs.push(res.stateVersion ?? res.entity.stateVersion);
        const t = Date.now();
        await until(() => Date.now() > t, 1000, 'the next millisecond');
        await a.ok('doc_op', { room: room.id, doc: 'main', version: i, delta: [`${i}`] });
        text.push(`${i}${text[i]}`);
      };
      for (let i = 0; i < 9; i++) await step(i); // snapshots at 3, 6, 9: ops up to 8 go
      await until(async () => (await a.call('doc_ops', { room: room.id, doc: 'main', from: 0 })).error?.code === 'version_too_old',
        10000, 'the op log trimmed');
      // Before the snapshot (version 9) the document cannot be rebuilt: the whole request
      // is refused, naming the room's version at the snapshot's time.
      const m = await a.call('snapshot_at', { room: room.id, at: { stateVersion: vs[2] } });
      assert.equal(m.error?.code, 'history_unavailable');
      const { oldest } = m.error;
      assert.equal(oldest.stateVersion, vs[8]);
      const byTime = await a.call('snapshot_at', { room: room.id, at: { time: oldest.time - 1 } });
      assert.equal(byTime.error?.code, 'history_unavailable');
      // The oldest moment and every later one: each document with its text then.
      const first = await a.ok('snapshot_at', { room: room.id, at: { stateVersion: vs[8] } });
      assert.deepEqual(first.at, oldest);
      assert.deepEqual(first.oldest, oldest);
      assert.deepEqual(first.documents, [{ id: 'main', version: 9, text: text[9] }]);
      assert.equal(first.entities.length, 9);
      assert.deepEqual((await a.ok('snapshot_at', { room: room.id, at: { time: oldest.time } })).documents, first.documents);
      await step(9);
      const later = await a.ok('snapshot_at', { room: room.id, at: { stateVersion: vs[9] } });
      assert.deepEqual(later.documents, [{ id: 'main', version: 9, text: text[9] }]);
      const now = await a.ok('snapshot_at', { room: room.id, at: { time: Date.now() + 1000 } });
      assert.deepEqual(now.documents, [{ id: 'main', version: 10, text: text[10] }]);
      assert.equal(now.entities.length, 10);
      closeAll(cs);
    } finally {
      await s3.stop();
    }
  });
});
