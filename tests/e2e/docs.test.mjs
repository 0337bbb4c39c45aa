// docs.test.mjs: collaborative documents over WebSocket (docs/protocol.md "Documents"):
// doc_open/doc_op/doc_ops basics, transformation of concurrent ops, code point
// positions, invalid ops, resubmission by opId, the --doc-* limits, a random 5-client
// convergence run through a client-side OT state machine, a dropped client that
// resubmits, kill -9 durability, doc_presence, and leaving/disconnecting.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { cpLen, deleteOp, insertOp, ot, OtDoc } from './lib/docs.mjs';
import { closeAll, createRoom, mkUser, openAll, roomWith, RoomWs, until } from './lib/rooms.mjs';
import { makeTempDir, ON_CLUSTER, startServer } from './lib/server.mjs';
import { delay, withTimeout } from './lib/util.mjs';

const T = { timeout: 20000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];
const EVENT_KEYS = ['author', 'delta', 'doc', 'op', 'opId', 'room', 'version'];

const rnd = (n) => Math.floor(Math.random() * n);

/** A fresh connection's view of the document: {text, version}. */
async function snapshot(port, user, roomId, doc) {
  const c = await RoomWs.open(port, user);
  try {
    await c.join(roomId);
    return await c.ok('doc_open', { room: roomId, doc });
  } finally {
    c.close();
  }
}

/** doc_op through RoomWs.call (the reply). */
const submit = (c, room, doc, version, delta, opId) =>
  c.call('doc_op', { room, doc, version, delta, ...(opId === undefined ? {} : { opId }) });

/** Waits until every OtDoc is synchronized at the same version; round trips included. */
async function settle(docs, ms = 10000) {
  await until(async () => {
    if (!docs.every((d) => d.synced)) return false;
    await Promise.all(docs.map((d) => d.c.sync()));
    const v = docs[0].version;
    return docs.every((d) => d.synced && d.version === v);
  }, ms, 'every client synchronized at one version', 20);
}

const noErrors = (docs) => {
  for (const d of docs) assert.deepEqual(d.errors, [], `protocol violations seen by ${d.tag}`);
};

const countOf = (text, token) => text.split(token).length - 1;

describe('documents', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: BASE_ARGS });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('basics: doc_open, doc_op -> version, event to the others only, doc_ops, snapshot', T, async () => {
    const [a, b] = [mkUser('A'), mkUser('B')];
    const { room, cs } = await roomWith(port, [a, b]);
    const [ca, cb] = cs;
    try {
      assert.deepEqual(await ca.ok('doc_open', { room: room.roomCode, doc: 'main' }), { doc: 'main', text: '', version: 0 });
      assert.deepEqual(await cb.ok('doc_open', { room: room.id, doc: 'main' }), { doc: 'main', text: '', version: 0 });
      // Opening twice on one connection is harmless (one subscription).
      assert.deepEqual(await cb.ok('doc_open', { room: room.id, doc: 'main' }), { doc: 'main', text: '', version: 0 });

      const r1 = await submit(ca, room.id, 'main', 0, ['hello'], 'a-1');
      assert.deepEqual(r1, { op: 'reply', ref: r1.ref, ok: true, data: { version: 1 } });
      const ev = await cb.waitEvent('doc_op');
      assert.deepEqual(Object.keys(ev).sort(), EVENT_KEYS, JSON.stringify(ev));
      assert.deepEqual({ ...ev }, { op: 'doc_op', room: room.id, doc: 'main', version: 1, delta: ['hello'], author: a.sub, opId: 'a-1' });

      const r2 = await cb.ok('doc_op', { room: room.id, doc: 'main', version: 1, delta: [5, ' world'], opId: 'b-1' });
      assert.deepEqual(r2, { version: 2 });
      const ev2 = await ca.waitEvent('doc_op');
      assert.equal(ev2.version, 2);
      assert.deepEqual(ev2.delta, [5, ' world']);
      assert.equal(ev2.author, b.sub);

      // Another connection of the same user is another subscriber: it gets A's ops.
      const ca2 = await RoomWs.open(port, a);
      cs.push(ca2);
      await ca2.join(room.id);
      assert.deepEqual(await ca2.ok('doc_open', { room: room.id, doc: 'main' }), { doc: 'main', text: 'hello world', version: 2 });
      assert.deepEqual(await ca.ok('doc_op', { room: room.id, doc: 'main', version: 2, delta: [{ d: 5 }, 'HELLO'], opId: 'a-2' }), { version: 3 });
      const ev3 = await ca2.waitEvent('doc_op');
      assert.deepEqual([ev3.version, ev3.author, ev3.opId], [3, a.sub, 'a-2']);
      assert.deepEqual((await cb.waitEvent('doc_op')).version, 3);

      await Promise.all([ca.sync(), cb.sync()]);
      assert.deepEqual(ca.kept('doc_op'), [], 'the author never gets its own op as an event');
      assert.equal(cb.kept('doc_op').length, 0, 'exactly one event per op');

      const ops = (await ca.ok('doc_ops', { room: room.id, doc: 'main', from: 0 })).ops;
      assert.deepEqual(ops, [
        { version: 1, delta: ['hello'], author: a.sub, opId: 'a-1' },
        { version: 2, delta: [5, ' world'], author: b.sub, opId: 'b-1' },
        { version: 3, delta: [{ d: 5 }, 'HELLO'], author: a.sub, opId: 'a-2' },
      ]);
      assert.deepEqual((await ca.ok('doc_ops', { room: room.id, doc: 'main', from: 1 })).ops.map((o) => o.version), [2, 3]);
      assert.deepEqual((await ca.ok('doc_ops', { room: room.id, doc: 'main', from: 3 })).ops, []);
      assert.deepEqual(await snapshot(port, a, room.id, 'main'), { doc: 'main', text: 'HELLO world', version: 3 });
      // Documents are independent.
      assert.deepEqual(await ca.ok('doc_open', { room: room.id, doc: 'other' }), { doc: 'other', text: '', version: 0 });
    } finally {
      closeAll(cs);
    }
  });

  it('concurrent ops from the same base version are transformed; both clients converge on the snapshot', T, async () => {
    const users = [mkUser('A'), mkUser('B')];
    const { room, cs } = await roomWith(port, users);
    try {
      for (let round = 0; round < 5; round++) {
        const doc = `conc-${round}`;
        const docs = cs.map((c, i) => new OtDoc(c, room.id, doc, `c${i}`));
        await Promise.all(docs.map((d) => d.open()));
        if (round > 0) {
          docs[0].edit(['0123456789']);
          await settle(docs);
        }
        // Both from the same version, at the same position (and overlapping deletes).
        docs[0].edit(insertOp(round > 0 ? 3 : 0, 'AAA'));
        docs[1].edit(insertOp(round > 0 ? 3 : 0, 'BB'));
        if (round > 0) {
          docs[0].edit(deleteOp(round, 5));
          docs[1].edit(deleteOp(round + 1, 6));
        }
        await settle(docs);
        noErrors(docs);
        const snap = await snapshot(port, users[0], room.id, doc);
        assert.equal(docs[0].text, docs[1].text, `round ${round}: clients converge`);
        assert.equal(snap.text, docs[0].text, `round ${round}: clients equal the server snapshot`);
        assert.equal(snap.version, docs[0].version);
        if (round === 0) assert.ok(snap.text === 'AAABB' || snap.text === 'BBAAA', snap.text);
        docs.forEach((d) => d.detach());
      }
    } finally {
      closeAll(cs);
    }
  });

  it('positions count code points: emoji and combining marks', T, async () => {
    const [a, b] = [mkUser('A'), mkUser('B')];
    const { room, cs } = await roomWith(port, [a, b]);
    const [ca, cb] = cs;
    const R = room.id;
    try {
      await ca.ok('doc_open', { room: R, doc: 'u' });
      await cb.ok('doc_open', { room: R, doc: 'u' });
      let expect = '';
      const step = async (c, version, delta) => {
        expect = ot.apply(expect, delta);
        assert.deepEqual(await c.ok('doc_op', { room: R, doc: 'u', version, delta }), { version: version + 1 });
      };
      await step(ca, 0, ['😀e\u0301x']);
      assert.equal(cpLen(expect), 4);
      await step(ca, 1, [1, { d: 1 }]); // deletes exactly the 'e', keeps the combining mark
      assert.equal(expect, '😀\u0301x');
      await step(cb, 2, [1, '🎉']); // after the emoji (one code point), before the mark
      assert.equal(expect, '😀🎉\u0301x');
      await step(cb, 3, [2, { d: '\u0301' }, 1, '👍🏽']); // {d: "text"} form; 👍🏽 is 2 code points
      assert.equal(expect, '😀🎉x👍🏽');
      await step(ca, 4, [4, 'end', 1, '!']); // skip 4 lands between 👍 and 🏽
      assert.equal(expect, '😀🎉x👍end🏽!');
      // Past the end in code points (5 code points x 2 bytes would be more).
      await ca.err('doc_op', { room: R, doc: 'u', version: 5, delta: [cpLen(expect) + 1, 'z'] }, 'invalid_op');
      await step(ca, 5, [cpLen(expect), 'z']);
      assert.deepEqual(await snapshot(port, a, R, 'u'), { doc: 'u', text: expect, version: 6 });
      // The other subscriber's events, applied in order, give the same text.
      await cb.sync();
      const evs = cb.kept('doc_op');
      let t = '';
      const all = [...evs, ...(await cb.ok('doc_ops', { room: R, doc: 'u', from: 0 })).ops];
      for (const o of all.filter((o, i, arr) => arr.findIndex((p) => p.version === o.version) === i).sort((x, y) => x.version - y.version)) {
        t = ot.apply(t, o.delta);
      }
      assert.equal(t, expect);
      assert.deepEqual(evs.map((e) => e.version), [1, 2, 5, 6], 'cb got events for the ops of ca');
    } finally {
      closeAll(cs);
    }
  });

  it('invalid ops -> invalid_op and nothing changes; version ahead, no doc_open, no join', T, async () => {
    const [a, b, outsider] = [mkUser('A'), mkUser('B'), mkUser('Out')];
    const { room, cs } = await roomWith(port, [a, b]);
    const [ca, cb] = cs;
    const co = await RoomWs.open(port, outsider);
    const R = room.id;
    try {
      await ca.ok('doc_open', { room: R, doc: 'v' });
      await cb.ok('doc_open', { room: R, doc: 'v' });
      assert.deepEqual(await ca.ok('doc_op', { room: R, doc: 'v', version: 0, delta: ['hello'] }), { version: 1 });
      await cb.waitEvent('doc_op');
      const bad = [
        [6, 'x'], // skip past end
        [5, { d: 1 }], // delete past end
        [3, { d: 3 }],
        [{ d: 6 }],
        [{ d: 'hellox' }],
        [{ d: 0 }],
        [{ d: '' }],
        [{ d: -1 }],
        [-1, 'x'],
        [1.5, 'x'],
        [{ d: 1.5 }],
        [''], // empty insert
        [1, ''],
        [[1]], // nested arrays
        [1, ['x']],
        [['x']],
        [true],
        [null],
        [{}],
        [{ i: 'x' }],
        'hello', // not an array
        5,
        { d: 1 },
        {},
        true,
      ];
      for (const delta of bad) {
        const m = await ca.err('doc_op', { room: R, doc: 'v', version: 1, delta }, 'invalid_op');
        assert.ok(m.error.message.length > 0);
      }
      await ca.err('doc_op', { room: R, doc: 'v', version: 2, delta: [1, 'x'] }, 'validation_error')
        .then((m) => assert.equal(m.error.field, 'version', JSON.stringify(m)));
      await ca.err('doc_op', { room: R, doc: 'v', version: -1, delta: [1, 'x'] }, 'validation_error')
        .then((m) => assert.equal(m.error.field, 'version', JSON.stringify(m)));
      await ca.err('doc_op', { room: R, doc: 'v', version: '1', delta: [1, 'x'] }, 'validation_error')
        .then((m) => assert.equal(m.error.field, 'version', JSON.stringify(m)));
      await ca.err('doc_op', { room: R, doc: 'v', version: 1 }, 'validation_error')
        .then((m) => assert.equal(m.error.field, 'delta', JSON.stringify(m)));
      await ca.err('doc_op', { room: R, doc: 'v', version: 1, delta: ['x'], opId: 'x'.repeat(65) }, 'validation_error')
        .then((m) => assert.equal(m.error.field, 'opId', JSON.stringify(m)));
      await ca.err('doc_op', { room: R, doc: 'v', version: 1, delta: ['x'], opId: 7 }, 'validation_error')
        .then((m) => assert.equal(m.error.field, 'opId', JSON.stringify(m)));
      // Nothing changed, and the other subscriber saw nothing.
      await cb.sync();
      assert.deepEqual(cb.kept('doc_op'), []);
      assert.deepEqual(await snapshot(port, a, R, 'v'), { doc: 'v', text: 'hello', version: 1 });
      assert.equal((await ca.ok('doc_ops', { room: R, doc: 'v', from: 0 })).ops.length, 1);
      // Still usable: a valid op right after the refusals.
      assert.deepEqual(await ca.ok('doc_op', { room: R, doc: 'v', version: 1, delta: [5, '!'] }), { version: 2 });

      // doc_op without doc_open (room joined) -> forbidden, on this doc and on an unloaded one.
      await cb.err('doc_op', { room: R, doc: 'never-opened', version: 0, delta: ['x'] }, 'forbidden');
      // Not in the room: as for no room.
      await co.err('doc_open', { room: R, doc: 'v' }, 'not_found');
      await co.err('doc_op', { room: R, doc: 'v', version: 2, delta: ['x'] }, 'not_found');
      await co.err('doc_ops', { room: R, doc: 'v', from: 0 }, 'not_found');
      await co.err('doc_presence', { room: R, doc: 'v', presence: { cursor: 1 } }, 'not_found');
      await co.join(R);
      await co.err('doc_op', { room: R, doc: 'v', version: 2, delta: ['x'] }, 'forbidden');
      // Field errors of doc_open.
      await ca.err('doc_open', { room: R, doc: '' }, 'validation_error');
      await ca.err('doc_open', { room: R, doc: 'x'.repeat(129) }, 'validation_error');
      await ca.ok('doc_open', { room: R, doc: 'x'.repeat(128) });
      await ca.err('doc_open', { room: R }, 'validation_error');
      await ca.err('doc_open', { doc: 'v' }, 'bad_request');
      await ca.err('doc_open', { room: 'NOPE00', doc: 'v' }, 'not_found');
      assert.deepEqual(await snapshot(port, a, R, 'v'), { doc: 'v', text: 'hello!', version: 2 });
    } finally {
      closeAll([...cs, co]);
    }
  });

  it('resubmission with the same opId and base version is acknowledged as a duplicate, applied once', T, async () => {
    const [a, b] = [mkUser('A'), mkUser('B')];
    const { room, cs } = await roomWith(port, [a, b]);
    const [ca, cb] = cs;
    const R = room.id;
    const op = (c, version, delta, opId) => c.ok('doc_op', { room: R, doc: 'r', version, delta, opId });
    try {
      await ca.ok('doc_open', { room: R, doc: 'r' });
      await cb.ok('doc_open', { room: R, doc: 'r' });
      assert.deepEqual(await op(ca, 0, ['abc'], 'X'), { version: 1 });
      assert.deepEqual(await op(ca, 0, ['abc'], 'X'), { version: 1, duplicate: true });
      // After others' ops too (the resubmission is based on version 0, now at 2).
      assert.deepEqual(await op(cb, 1, [3, 'def'], 'Y'), { version: 2 });
      assert.deepEqual(await op(ca, 0, ['abc'], 'X'), { version: 1, duplicate: true });
      assert.deepEqual(await op(cb, 1, [3, 'def'], 'Y'), { version: 2, duplicate: true });
      // The same opId from another author is a different op.
      assert.deepEqual(await op(cb, 0, ['abc'], 'X'), { version: 3 });
      // An opId reused later (base after the first use) is a new op.
      assert.deepEqual(await op(ca, 3, ['Z'], 'X'), { version: 4 });
      await Promise.all([ca.sync(), cb.sync()]);
      assert.deepEqual(cb.kept('doc_op').map((e) => [e.version, e.opId]), [[1, 'X'], [4, 'X']], 'no event for a duplicate');
      assert.deepEqual(ca.kept('doc_op').map((e) => [e.version, e.opId]), [[2, 'Y'], [3, 'X']]);
      const snap = await snapshot(port, a, R, 'r');
      assert.equal(snap.version, 4);
      // b's "abc" (side left) goes before a's at the same position.
      assert.equal(snap.text, 'Zabcabcdef');
      assert.equal((await ca.ok('doc_ops', { room: R, doc: 'r', from: 0 })).ops.length, 4);
    } finally {
      closeAll(cs);
    }
  });

  it('the 5-client random run converges: equal texts, equal to the snapshot, version = ops acknowledged', { timeout: 30000 }, async () => {
    const users = Array.from({ length: 5 }, (_, i) => mkUser(`R${i + 1}`));
    const { room, cs } = await roomWith(port, users);
    const docs = cs.map((c, i) => new OtDoc(c, room.id, 'rand', `r${i + 1}`));
    try {
      await Promise.all(docs.map((d) => d.open()));
      // Simulated send latency: ops stay in flight longer, so remote ops arrive meanwhile
      // and the inflight/buffer transforms are exercised.
      docs.forEach((d, i) => (d.latency = [0, 3, 10, 20, 40][i]));
      const ALPH = ['a', 'b', 'c', 'x', 'y', 'z', ' ', 'é', '😀', 'e\u0301', '🎉'];
      const end = Date.now() + 3000;
      let edits = 0;
      await Promise.all(docs.map(async (d) => {
        while (Date.now() < end) {
          await delay(5 + rnd(26));
          const len = cpLen(d.text);
          if (len > 0 && rnd(10) < 4) {
            const pos = rnd(len);
            d.edit(deleteOp(pos, 1 + rnd(Math.min(3, len - pos))));
          } else {
            let s = '';
            for (let k = 1 + rnd(3); k > 0; k--) s += ALPH[rnd(ALPH.length)];
            // A third of the inserts go to either end, so concurrent inserts at one
            // position (where the transform sides decide the order) are frequent.
            const pos = rnd(3) === 0 ? (rnd(2) ? 0 : len) : rnd(len + 1);
            d.edit(insertOp(pos, s));
          }
          edits++;
        }
      }));
      await settle(docs, 15000);
      noErrors(docs);
      const texts = docs.map((d) => d.text);
      for (const t of texts) assert.equal(t, texts[0], 'every client has the same text');
      const snap = await snapshot(port, users[0], room.id, 'rand');
      assert.equal(snap.text, texts[0], 'clients equal the server snapshot');
      const acked = docs.reduce((n, d) => n + d.acked, 0);
      assert.equal(snap.version, acked, 'one version per acknowledged op');
      assert.equal(docs[0].version, snap.version);
      for (const d of docs) assert.equal(d.acked + d.remote, snap.version, `${d.tag}: own + remote ops = version`);
      assert.ok(acked > 100, `enough ops went through (${acked} ops from ${edits} edits)`);
      // Replaying the log gives the snapshot too.
      let t = '';
      let from = 0;
      for (;;) {
        const ops = (await cs[0].ok('doc_ops', { room: room.id, doc: 'rand', from })).ops;
        if (!ops.length) break;
        for (const o of ops) {
          assert.equal(o.version, from + 1);
          t = ot.apply(t, o.delta);
          from = o.version;
        }
      }
      assert.equal(from, snap.version);
      assert.equal(t, snap.text, 'the op log replays to the snapshot');
    } finally {
      docs.forEach((d) => d.detach());
      closeAll(cs);
    }
  });

  it('a dropped client resubmits with the same opId and base: every edit lands exactly once', { timeout: 30000 }, async () => {
    const users = Array.from({ length: 4 }, (_, i) => mkUser(`D${i + 1}`));
    const { room, cs } = await roomWith(port, users);
    const docs = cs.map((c, i) => new OtDoc(c, room.id, 'drop', `d${i + 1}`));
    const tokens = new Set();
    const paused = new Set();
    let conns = [...cs];
    /** Inserts a fresh unique token at a random token boundary of d's text. */
    const addToken = (d) => {
      const tok = `[${d.tag}-${tokens.size + 1}]`;
      tokens.add(tok);
      const bounds = [0];
      let n = 0;
      for (const ch of d.text) {
        n++;
        if (ch === ']') bounds.push(n);
      }
      d.edit(insertOp(bounds[rnd(bounds.length)], tok));
    };
    try {
      await Promise.all(docs.map((d) => d.open()));
      docs[0].latency = 5;
      docs[1].latency = 20;
      const end = Date.now() + 2500;
      const loops = Promise.all(docs.map(async (d) => {
        while (Date.now() < end) {
          await delay(5 + rnd(26));
          if (!paused.has(d)) addToken(d);
        }
      }));
      const stats = [];
      // d3: the op reaches the server but its acknowledgement is lost.
      // d4: the op is in flight in the client's mind but never reaches the server.
      const drop = async (d, i, mode) => {
        await delay(400 + rnd(300));
        paused.add(d);
        await until(() => !d.inflight, 5000, `${d.tag} idle`, 1);
        if (mode === 'ack-lost') {
          addToken(d); // sent now
          assert.ok(d.inflight);
          d.detach(); // the ack is never processed
          d.offline = true;
          const opId = d.inflight.opId;
          // Wait until another client saw it applied, then drop the socket.
          await until(() => docs[0].c.all.some((e) => e.op === 'doc_op' && e.opId === opId && e.author === d.c.user.sub),
            5000, `${opId} applied`, 2);
        } else {
          d.dropSends = true;
          addToken(d); // inflight, never sent
          assert.ok(d.inflight);
          d.offline = true;
        }
        d.c.ws._socket.destroy();
        paused.delete(d); // keeps editing offline: the edits go to the buffer
        await delay(150 + rnd(150));
        const c = await RoomWs.open(port, users[i]);
        conns.push(c);
        await c.join(room.id);
        const inflightOpId = d.inflight.opId;
        const { resubmit, openVersion } = await d.reconnect(c);
        stats.push({ mode, inflightOpId, resubmit: resubmit.data, openVersion });
        if (mode === 'ack-lost') {
          assert.equal(resubmit.data.duplicate, true, `${d.tag}: the applied op is a duplicate: ${JSON.stringify(resubmit)}`);
          assert.ok(resubmit.data.version <= openVersion);
        } else {
          assert.equal(resubmit.data.duplicate, undefined, `${d.tag}: the lost op is applied now: ${JSON.stringify(resubmit)}`);
          assert.ok(resubmit.data.version > openVersion);
        }
      };
      await Promise.all([loops, drop(docs[2], 2, 'ack-lost'), drop(docs[3], 3, 'lost')]);
      await settle(docs, 15000);
      noErrors(docs);
      const snap = await snapshot(port, users[0], room.id, 'drop');
      for (const d of docs) assert.equal(d.text, snap.text, `${d.tag} equals the snapshot`);
      for (const tok of tokens) assert.equal(countOf(snap.text, tok), 1, `${tok} appears exactly once`);
      assert.equal(snap.text.length, [...tokens].reduce((n, t) => n + t.length, 0), 'nothing else in the text');
      // The op whose ack was lost was applied once (then acknowledged as a duplicate).
      assert.equal(snap.version, docs.reduce((n, d) => n + d.acked + d.duplicates, 0), 'one version per op');
      assert.equal(docs[2].duplicates, 1);
      assert.ok(tokens.size > 100, `${tokens.size} tokens`);
    } finally {
      docs.forEach((d) => d.detach());
      closeAll(conns);
    }
  });

  it('doc_presence: others get presence with state.docs.<doc>; null removes it', T, async () => {
    const [a, b] = [mkUser('A'), mkUser('B')];
    const { room, cs } = await roomWith(port, [a, b]);
    const [ca, cb] = cs;
    const R = room.id;
    try {
      await ca.ok('doc_open', { room: R, doc: 'p' });
      const pres = { cursor: 7, selection: [3, 7], version: 0 };
      await ca.ok('doc_presence', { room: R, doc: 'p', presence: pres });
      const ev = await cb.waitEvent((m) => m.op === 'presence' && m.state?.docs?.p);
      assert.equal(ev.userId, a.sub);
      assert.equal(ev.room, R);
      assert.deepEqual(ev.state.docs.p, pres);
      // A second document sits next to the first.
      await ca.ok('doc_presence', { room: R, doc: 'q', presence: { cursor: 1 } });
      await cb.waitEvent((m) => m.op === 'presence' && m.state?.docs?.q);
      let joined = await snapshotPresence(port, mkUser('C'), R, a.sub);
      assert.deepEqual(joined.docs, { p: pres, q: { cursor: 1 } });
      await ca.ok('doc_presence', { room: R, doc: 'p', presence: null });
      const ev2 = await cb.waitEvent((m) => m.op === 'presence' && m.state?.docs && 'p' in m.state.docs);
      assert.equal(ev2.state.docs.p, null);
      joined = await snapshotPresence(port, mkUser('C'), R, a.sub);
      assert.deepEqual(joined.docs, { q: { cursor: 1 } }, JSON.stringify(joined));
      await ca.err('doc_presence', { room: R, doc: 'p', presence: 5 }, 'validation_error');
      await ca.err('doc_presence', { room: R, doc: 'p', presence: 'x'.repeat(10) }, 'validation_error');
      await ca.err('doc_presence', { room: R, doc: 'p', presence: { big: 'x'.repeat(4096) } }, 'payload_too_large');
    } finally {
      closeAll(cs);
    }
  });

  it('leave closes the documents of the room; doc_close; disconnect cleans up', T, async () => {
    const [h, m, d] = [mkUser('H'), mkUser('M'), mkUser('Disc')];
    const { room, cs } = await roomWith(port, [h, m, d]);
    const [ch, cm, cd] = cs;
    const R = room.id;
    const op = (c, version, delta) => c.call('doc_op', { room: R, doc: 'l', version, delta });
    try {
      await ch.ok('doc_open', { room: R, doc: 'l' });
      await cm.ok('doc_open', { room: R, doc: 'l' });
      await cd.ok('doc_open', { room: R, doc: 'l' });
      await cm.ok('doc_open', { room: R, doc: 'l2' });
      assert.equal((await op(cm, 0, ['m'])).ok, true);
      // Disconnect with the document open and 30 ops in flight (replies to a gone client).
      await cd.ok('doc_open', { room: R, doc: 'flood' });
      for (let i = 0; i < 30; i++) cd.send({ op: 'doc_op', ref: 1000 + i, room: R, doc: 'flood', version: 0, delta: [`<${i}>`], opId: `f${i}` });
      cd.terminate();
      await cm.ok('leave', { room: R });
      await cm.err('doc_op', { room: R, doc: 'l', version: 1, delta: ['x'] }, 'not_found'); // no longer in it
      assert.equal((await op(ch, 1, [1, 'h'])).ok, true);
      await cm.sync();
      assert.deepEqual(cm.kept('doc_op'), [], 'no events after leave');
      // Back in the room, the document is still closed until doc_open.
      await cm.join(R);
      await cm.err('doc_op', { room: R, doc: 'l', version: 2, delta: ['x'] }, 'forbidden');
      await cm.err('doc_op', { room: R, doc: 'l2', version: 0, delta: ['x'] }, 'forbidden');
      assert.deepEqual(await cm.ok('doc_open', { room: R, doc: 'l' }), { doc: 'l', text: 'mh', version: 2 });
      // doc_close ends the subscription.
      await cm.ok('doc_close', { room: R, doc: 'l' });
      await cm.err('doc_close', { room: R, doc: 'l' }, 'not_found');
      assert.equal((await op(ch, 2, [2, '!'])).ok, true);
      await cm.sync();
      assert.deepEqual(cm.kept('doc_op'), []);
      await cm.err('doc_op', { room: R, doc: 'l', version: 3, delta: ['x'] }, 'forbidden');
      // Everyone gone: the document reloads from the store with the same text.
      ch.close();
      cm.close();
      await delay(100);
      assert.deepEqual(await snapshot(port, h, R, 'l'), { doc: 'l', text: 'mh!', version: 3 });
      assert.deepEqual((await snapshot(port, h, R, 'l2')), { doc: 'l2', text: '', version: 0 });
      // What the flood got in is consistent: the log replays to the snapshot, no op twice.
      const flood = await snapshot(port, h, R, 'flood');
      const c2 = await RoomWs.open(port, h);
      try {
        await c2.join(R);
        const ops = (await c2.ok('doc_ops', { room: R, doc: 'flood', from: 0 })).ops;
        assert.equal(ops.length, flood.version);
        assert.equal(ops.reduce((t, o) => ot.apply(t, o.delta), ''), flood.text);
        assert.equal(new Set(ops.map((o) => o.opId)).size, ops.length);
        for (let i = 0; i < 30; i++) assert.ok(countOf(flood.text, `<${i}>`) <= 1);
      } finally {
        c2.close();
      }
    } finally {
      closeAll(cs);
    }
  });
});

/** The presence of userId as a fresh member sees it in the join reply. */
async function snapshotPresence(port, user, roomId, userId) {
  const c = await RoomWs.open(port, user);
  try {
    const j = await c.join(roomId);
    return j.participants.find((p) => p.userId === userId).presence;
  } finally {
    c.close();
  }
}

describe('documents: limits', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({
      args: [...BASE_ARGS, '--doc-max-size', '1KiB', '--doc-max-op', '1KiB', '--doc-log-window', '5'],
    });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('--doc-max-size, --doc-max-op, --doc-log-window', T, async () => {
    const a = mkUser('A');
    const { room, cs } = await roomWith(port, [a]);
    const [c] = cs;
    const R = room.id;
    const op = (doc, version, delta) => c.call('doc_op', { room: R, doc, version, delta });
    try {
      for (const doc of ['size', 'op', 'win']) await c.ok('doc_open', { room: R, doc });
      // Size counts UTF-8 bytes: 1020 + a 4-byte emoji = 1024 fits, one more byte does not.
      assert.equal((await op('size', 0, ['x'.repeat(1000)])).ok, true);
      assert.equal((await op('size', 1, [1000, 'y'.repeat(20) + '😀'])).ok, true);
      let m = await op('size', 2, [1021, 'z']);
      assert.equal(m.error?.code, 'document_too_large', JSON.stringify(m));
      m = await op('size', 2, ['é']);
      assert.equal(m.error?.code, 'document_too_large', JSON.stringify(m));
      assert.deepEqual(await c.ok('doc_open', { room: R, doc: 'size' }), { doc: 'size', text: 'x'.repeat(1000) + 'y'.repeat(20) + '😀', version: 2 });
      // Replacing within the limit still works.
      assert.equal((await op('size', 2, [{ d: 1 }, 'w'])).ok, true);

      // The op's JSON: ["<1020 chars>"] is 1024 bytes, one more char is over.
      m = await op('op', 0, ['a'.repeat(2048)]);
      assert.equal(m.error?.code, 'payload_too_large', JSON.stringify(m));
      m = await op('op', 0, ['a'.repeat(1021)]);
      assert.equal(m.error?.code, 'payload_too_large', JSON.stringify(m));
      assert.equal((await op('op', 0, ['a'.repeat(1020)])).ok, true);

      // Log window 5: at version 7, a base of 2 is transformed through 5 ops, 1 is too old.
      for (let v = 0; v < 7; v++) assert.equal((await op('win', v, insertOp(v, String(v)))).ok, true);
      m = await op('win', 1, ['old']);
      assert.equal(m.error?.code, 'version_too_old', JSON.stringify(m));
      m = await op('win', 0, ['old']);
      assert.equal(m.error?.code, 'version_too_old', JSON.stringify(m));
      m = await op('win', 2, ['B']);
      assert.deepEqual(m.data, { version: 8 });
      const snap = await c.ok('doc_open', { room: R, doc: 'win' });
      assert.deepEqual(snap, { doc: 'win', text: 'B0123456', version: 8 });
    } finally {
      closeAll(cs);
    }
  });
});

describe('documents: durability', () => {
  // A document loaded from the store (after a restart, or after its last subscriber left)
  // refills its transform window from the op log, past its last snapshot.
  it('a reloaded document still transforms ops based before its last snapshot (within the log window)',
    { timeout: 20000 }, async () => {
      const srv = await startServer({ args: [...BASE_ARGS, '--doc-snapshot-every', '7'] });
      let c;
      try {
        const a = mkUser('S');
        const room = await createRoom(srv.port, a, { name: 'reload' });
        c = await RoomWs.open(srv.port, a);
        await c.join(room.id);
        await c.ok('doc_open', { room: room.id, doc: 's' });
        for (let v = 0; v < 10; v++) {
          await c.ok('doc_op', { room: room.id, doc: 's', version: v, delta: insertOp(v, String(v)), opId: `s-${v}` });
        }
        // Loaded in memory: base 3 is transformed / recognised.
        assert.deepEqual(await c.ok('doc_op', { room: room.id, doc: 's', version: 3, delta: [3, '3'], opId: 's-3' }),
          { version: 4, duplicate: true });
        c.close();
        await delay(100); // the document unloads once its last subscriber is gone
        c = await RoomWs.open(srv.port, a);
        await c.join(room.id);
        assert.deepEqual(await c.ok('doc_open', { room: room.id, doc: 's' }), { doc: 's', text: '0123456789', version: 10 });
        const dup = await c.call('doc_op', { room: room.id, doc: 's', version: 3, delta: [3, '3'], opId: 's-3' });
        assert.deepEqual(dup.data, { version: 4, duplicate: true }, `resubmission after reload: ${JSON.stringify(dup)}`);
        const late = await c.call('doc_op', { room: room.id, doc: 's', version: 3, delta: ['L'], opId: 'late' });
        assert.deepEqual(late.data, { version: 11 }, `op based on version 3 after reload: ${JSON.stringify(late)}`);
      } finally {
        c?.close();
        await srv.stop();
      }
    });

  it('kill -9 while ops are acknowledged: every acknowledged op survives the restart', { timeout: 30000, skip: ON_CLUSTER && 'restarts the server on its data dir (cluster mode: cluster_chaos.test.mjs kills a home instead)' }, async () => {
    const dir = makeTempDir('chorus-docs-');
    const args = [...BASE_ARGS, '--data', dir, '--doc-snapshot-every', '7'];
    let srv = await startServer({ data: false, args });
    let c;
    try {
      const a = mkUser('K');
      const room = await createRoom(srv.port, a, { name: 'durable' });
      c = await RoomWs.open(srv.port, a);
      await c.join(room.id);
      await c.ok('doc_open', { room: room.id, doc: 'k' });
      const tok = (i) => `<${i}>`;
      const killAt = 80 + rnd(40);
      let lastAcked = 0;
      let text = '';
      for (let i = 0; i < 200; i++) {
        const p = c.call('doc_op', { room: room.id, doc: 'k', version: i, delta: text ? [cpLen(text), tok(i)] : [tok(i)], opId: `k-${i}` }, 3000);
        if (i === killAt) srv.kill(); // with op i in flight
        let m;
        try {
          m = await p;
        } catch {
          break;
        }
        if (!m.ok) break;
        assert.equal(m.data.version, i + 1);
        lastAcked = i + 1;
        text += tok(i);
      }
      await withTimeout(srv.exited, 5000, 'chorus to die');
      assert.ok(lastAcked >= killAt, `acked ${lastAcked} before the kill at ${killAt}`);
      c.close();
      srv.cleanup();

      srv = await startServer({ data: false, args });
      c = await RoomWs.open(srv.port, a);
      await c.join(room.id);
      const snap = await c.ok('doc_open', { room: room.id, doc: 'k' });
      assert.ok(snap.version >= lastAcked, `version ${snap.version} >= last acknowledged ${lastAcked}`);
      assert.ok(snap.version <= lastAcked + 1, `version ${snap.version}: at most the in-flight op more`);
      let want = '';
      for (let i = 0; i < snap.version; i++) want += tok(i);
      assert.equal(snap.text, want, 'every acknowledged op in order');
      const ops = (await c.ok('doc_ops', { room: room.id, doc: 'k', from: 0 })).ops;
      assert.deepEqual(ops.map((o) => o.version), Array.from({ length: snap.version }, (_, i) => i + 1));
      assert.deepEqual(ops.map((o) => o.opId), Array.from({ length: snap.version }, (_, i) => `k-${i}`));
      // A client that never saw its last ack resubmits it: recognised, not applied twice
      // (also when a snapshot was taken at that version).
      const last = snap.version;
      assert.deepEqual(await c.ok('doc_op', { room: room.id, doc: 'k', version: last - 1, delta: ops[last - 1].delta, opId: `k-${last - 1}` }), { version: last, duplicate: true });
      // The recovered document takes the next op.
      assert.deepEqual(await c.ok('doc_op', { room: room.id, doc: 'k', version: snap.version, delta: ['!'], opId: 'k-next' }), { version: snap.version + 1 });
      c.close();
      await srv.stop();
      srv = null;
    } finally {
      c?.close();
      srv?.kill();
      if (srv) await withTimeout(srv.exited, 5000, 'chorus exit').catch(() => {});
      srv?.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
