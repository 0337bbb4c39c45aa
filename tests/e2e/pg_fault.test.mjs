// pg_fault.test.mjs: PostgreSQL stops in the middle of a write burst (pg_ctl stop -m
// immediate, as a crash) and starts again, while one server keeps running: every message,
// document op and entity change acknowledged before, during or after is in the database
// (read with psql and through the API), every refused one was refused with
// service_unavailable and is not there (messages and ops), nothing hangs, message seqs and
// document versions have no gap, and the same server process takes writes again once
// PostgreSQL is back (docs/operations.md "Connection loss"). The same with pg_ctl stop -m
// fast (sessions ended, as a restart does): meanwhile GET /healthz answers 503 with reason
// "store" and /livez 200, and /healthz is 200 again by itself once PostgreSQL is back,
// before anyone writes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { TEST_SECRET, FAST_HASH } from './lib/auth.mjs';
import { allMessages, createRoom, mkUsers, RoomWs } from './lib/rooms.mjs';
import { fetchOnce } from './lib/http.mjs';
import { pgCluster, pgDatabase, pgRestart, pgStop, psql } from './lib/pg.mjs';
import { startServer } from './lib/server.mjs';
import { delay } from './lib/util.mjs';

const T = { timeout: 120000 };
const N = 3; // clients, each writing messages, ops on its own document and its own entity

/** One client's burst: message, doc op, entity update, again, until stop() says so. */
class Writer {
  constructor(c, room, i) {
    this.c = c;
    this.room = room;
    this.i = i;
    this.k = 0;
    this.acked = { msg: [], op: [], ent: [] }; // {tag, seq} / {tag, version} / {n, version}
    this.refused = { msg: [], op: [], ent: [] };
    this.codes = new Set();
    this.docVersion = 0;
    this.reopen = false;
    this.refusals = 0;
    this.acksSince = 0; // acknowledgements since the counter was last reset
  }

  note(kind, m, ok, refused) {
    if (m.ok) {
      this.acked[kind].push(ok(m.data));
      this.acksSince++;
    } else {
      this.codes.add(m.error?.code);
      this.refused[kind].push(refused);
      this.refusals++;
    }
  }

  async step() {
    const { c, room, i } = this;
    const k = ++this.k;
    const tag = `w${i}-${k}`;
    const m = await c.call('message', { room, type: 'user_text', content: tag });
    this.note('msg', m, (d) => ({ tag, seq: d.message.seq }), tag);
    if (this.reopen) {
      const r = await c.call('doc_open', { room, doc: `d${i}` });
      if (r.ok) {
        this.docVersion = r.data.version;
        this.reopen = false;
      } else {
        this.codes.add(r.error?.code);
      }
    } else {
      const r = await c.call('doc_op', { room, doc: `d${i}`, version: this.docVersion, delta: [`${tag} `], opId: tag });
      if (r.ok) this.docVersion = r.data.version;
      else this.reopen = true;
      this.note('op', r, (d) => ({ tag, version: d.version }), tag);
    }
    const e = await c.call('entity_update', { room, id: `e${i}`, patch: { n: k } });
    this.note('ent', e, (d) => ({ n: k, version: d.entity.version }), k);
  }

  /** Steps until pred() holds (checked after each step). */
  async until(pred) {
    while (!pred()) await this.step();
  }
}

/** Polls GET path on port until its status is want (no fixed wait); resolves the response. */
async function statusBecomes(port, path, want, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await fetchOnce(port, 'GET', path);
    if (res.status === want || Date.now() > deadline) return res;
    await delay(50);
  }
}

/** A server on a database of its own with synchronous_commit on; resolves {srv, url}. */
async function serverOnOwnDb() {
  const url = await pgDatabase();
  // The test cluster runs with synchronous_commit off (thrown away); this database gets
  // what production runs with, so a commit PostgreSQL confirmed survives its crash.
  const name = /\/([^/?]+)\?/.exec(url)[1];
  await psql((await pgCluster()).url, `ALTER DATABASE ${name} SET synchronous_commit = on`);
  const srv = await startServer({ args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--store', url] });
  return { srv, url };
}

for (const mode of ['immediate', 'fast']) describe(`PostgreSQL stopped (-m ${mode}) during a write burst`, () => {
  let srv;
  let url;
  before(async () => {
    ({ srv, url } = await serverOnOwnDb());
  });
  after(async () => {
    await srv?.stop();
  });

  it('keeps every acknowledged write, refuses the rest with service_unavailable, and recovers without a restart', T, async () => {
    const users = mkUsers(N, 'w');
    const room = await createRoom(srv.port, users[0], { name: 'burst', maxParticipants: 10 });
    const cs = await Promise.all(users.map((u) => RoomWs.open(srv.port, u)));
    const ws = [];
    try {
      for (let i = 0; i < N; i++) {
        await cs[i].join(room.id);
        await cs[i].ok('doc_open', { room: room.id, doc: `d${i}` });
        await cs[i].ok('entity_create', { room: room.id, id: `e${i}`, kind: 'counter', data: { n: 0 } });
        ws.push(new Writer(cs[i], room.id, i));
      }
      // Before: every client writes for a while.
      await Promise.all(ws.map((w) => w.until(() => w.k >= 5)));
      assert.equal((await fetchOnce(srv.port, 'GET', '/healthz')).status, 200, 'ready before');
      // PostgreSQL stops while the writers keep going; each goes on until it saw a refusal.
      const stop = pgStop(mode);
      await Promise.all(ws.map((w) => w.until(() => w.refusals >= 3)));
      await stop;
      // Not ready meanwhile, alive all along.
      const down = await statusBecomes(srv.port, '/healthz', 503);
      assert.equal(down.status, 503, `/healthz while PostgreSQL is down: ${down.text}`);
      assert.deepEqual(down.json(), { status: 'unavailable', reasons: ['store'] });
      assert.equal((await fetchOnce(srv.port, 'GET', '/livez')).status, 200, '/livez while PostgreSQL is down');
      // Back: ready again by itself, before anyone writes; then each writer goes on until
      // 3 more of each kind were acknowledged.
      await pgRestart();
      const up = await statusBecomes(srv.port, '/healthz', 200);
      assert.equal(up.status, 200, `/healthz once PostgreSQL is back: ${up.text}`);
      ws.forEach((w) => {
        w.acksSince = 0;
      });
      await Promise.all(ws.map((w) => w.until(() => w.acksSince >= 9 && !w.reopen)));
      assert.equal(srv.exitInfo, null, 'the same server process');

      for (const w of ws) {
        assert.deepEqual([...w.codes], ['service_unavailable'], `writer ${w.i}: every refusal's code`);
        assert.ok(w.refused.msg.length > 0, `writer ${w.i} saw refused messages`);
      }

      // Messages: the database holds exactly the acknowledged ones, seqs 1..n without a gap.
      const rows = (await psql(url, `SELECT seq, content FROM room_messages WHERE room_id = '${room.id}' ORDER BY seq`))
        .trim().split('\n').map((l) => l.split('|'));
      rows.forEach(([seq], j) => assert.equal(Number(seq), j + 1, 'message seqs without a gap'));
      const stored = new Map(rows.map(([seq, content]) => [content, Number(seq)]));
      for (const w of ws) {
        for (const { tag, seq } of w.acked.msg) assert.equal(stored.get(tag), seq, `acknowledged message ${tag} stored at its seq`);
        // Refused means not acknowledged, not always not stored: the COMMIT in flight when
        // PostgreSQL died may have landed with its answer lost (docs/store.md). Each writer
        // has one write in flight, so only its first refused message can be that one.
        for (const tag of w.refused.msg.slice(1)) assert.equal(stored.has(tag), false, `refused message ${tag} not stored`);
      }
      const api = await allMessages(srv.port, users[0], room.id);
      assert.deepEqual(api.map((m) => [m.seq, m.content]), rows.map(([s, c]) => [Number(s), c]), 'the API serves what is stored');

      // Document ops: each document's op log is the acknowledged ops, versions 1..n.
      for (const w of ws) {
        const ops = (await psql(url, `SELECT version, op_id FROM doc_ops WHERE room_id = '${room.id}' AND doc_id = 'd${w.i}' ORDER BY version`))
          .trim().split('\n').map((l) => l.split('|'));
        ops.forEach(([v], j) => assert.equal(Number(v), j + 1, `d${w.i}: versions without a gap`));
        const byId = new Map(ops.map(([v, id]) => [id, Number(v)]));
        for (const { tag, version } of w.acked.op) assert.equal(byId.get(tag), version, `acknowledged op ${tag} stored`);
        for (const tag of w.refused.op.slice(1)) assert.equal(byId.has(tag), false, `refused op ${tag} not stored`); // as for messages
        const doc = await cs[w.i].ok('doc_open', { room: room.id, doc: `d${w.i}` });
        assert.equal(doc.version, ops.length, `d${w.i}: the server's version is the stored one`);
      }

      // Entities: the stored value is what the server serves, and at least the last
      // acknowledged change of each.
      const fresh = await RoomWs.open(srv.port, users[0]);
      try {
        const j = await fresh.join(room.id);
        for (const w of ws) {
          const [data, version] = (await psql(url, `SELECT data, version FROM entities WHERE room_id = '${room.id}' AND id = 'e${w.i}'`))
            .trim().split('|');
          const e = j.entities.find((x) => x.id === `e${w.i}`);
          assert.deepEqual(JSON.parse(data), e.data, `e${w.i}: stored data is served`);
          assert.equal(Number(version), e.version, `e${w.i}: stored version is served`);
          const last = w.acked.ent[w.acked.ent.length - 1];
          assert.ok(e.data.n >= last.n && e.version >= last.version, `e${w.i}: the last acknowledged change is kept`);
        }
      } finally {
        fresh.close();
      }
      // The loss and the recovery were logged.
      assert.ok(srv.lines.some((l) => /restored/.test(l)), `a recovery line; stderr:\n${srv.stderrTail()}`);
    } finally {
      cs.forEach((c) => c.close());
    }
  });
});
