// docs.test.mjs: collaborative documents (Room.doc) against the real server: concurrent
// edits converge, remote cursors follow the ops, drops with ops in flight lose nothing and
// apply nothing twice, close() ends the subscription.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { ChorusError, Doc, textType } from '../chorus.js';
import { BASE_ARGS, connected, delay, next, startServer, until } from '../testlib/helpers.mjs';

const T = { timeout: 15000 };
const PIECES = ['a', 'b', ' ', 'é', 'e\u0301', '😀', '👍🏽', '中', '\n'];

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Follows a doc's 'change' events on a copy of its text: it must stay equal to doc.text. */
function shadow(doc) {
  const s = { text: doc.text, errors: [] };
  doc.on('change', ({ op }) => {
    s.text = textType.apply(s.text, op);
  });
  doc.on('error', (e) => s.errors.push(e));
  return s;
}

describe('documents', () => {
  let srv;
  let port;
  const open = [];
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--doc-log-window', '20'] });
    port = srv.port;
  });
  after(async () => {
    for (const c of open) c.close();
    await srv?.stop();
  });
  const conn = async (name, opts) => {
    const c = await connected(port, name, opts);
    open.push(c);
    return c;
  };
  /** A (host) and B in a fresh room, and an observer S for server snapshots. */
  async function trio(bOpts = {}, aOpts = {}) {
    const a = await conn('Ada', aOpts);
    const b = await conn('Bob', bOpts);
    const s = await conn('Sam');
    const info = await a.createRoom({ name: 'docs' });
    const ar = await a.join(info.roomCode, { displayName: 'Ada' });
    const br = await b.join(info.roomCode, { displayName: 'Bob' });
    const sr = await s.join(info.roomCode);
    const snapshot = (doc) => s.request('doc_open', { room: sr.id, doc });
    return { a, b, s, ar, br, sr, snapshot };
  }

  it('two clients editing concurrently converge on the server snapshot', T, async () => {
    const { ar, br, snapshot } = await trio();
    const da = await ar.doc('main');
    const db = await br.doc('main');
    assert.ok(da instanceof Doc);
    assert.equal(await ar.doc('main'), da, 'the same Doc while open');
    assert.equal(da.text, '');
    assert.equal(da.state, 'synchronized');
    const sa = shadow(da);
    const sb = shadow(db);
    const authors = new Set();
    db.on('change', (c) => c.source === 'remote' && authors.add(c.author));

    const edit = (doc, rand) => {
      const len = textType.length(doc.text);
      if (len > 0 && rand() < 0.35) {
        const pos = Math.floor(rand() * len);
        doc.delete(pos, 1 + Math.floor(rand() * Math.min(3, len - pos)));
      } else {
        let s = '';
        for (let i = 0, n = 1 + Math.floor(rand() * 3); i < n; i++) s += PIECES[Math.floor(rand() * PIECES.length)];
        doc.insert(Math.floor(rand() * (len + 1)), s);
      }
    };
    const states = new Set();
    const run = async (doc, seed) => {
      const rand = rng(seed);
      const end = Date.now() + 2000;
      let n = 0;
      while (Date.now() < end) {
        edit(doc, rand);
        states.add(doc.state);
        n++;
        if (rand() < 0.5) await delay(Math.floor(rand() * 4));
        else await delay(0);
      }
      return n;
    };
    const [na, nb] = await Promise.all([run(da, 1), run(db, 2)]);
    await Promise.all([da.whenSynced(), db.whenSynced()]);
    await until(() => da.version === db.version && da.text === db.text, 5000, 'convergence');
    const snap = await snapshot('main');
    assert.equal(da.text, snap.text);
    assert.equal(da.version, snap.version);
    assert.equal(sa.text, da.text, 'A: change events replay to the text');
    assert.equal(sb.text, db.text, 'B: change events replay to the text');
    assert.deepEqual([...sa.errors, ...sb.errors], []);
    assert.ok(states.has('awaiting_with_buffer'), 'ops were buffered');
    assert.ok(authors.has(ar._client.user.id));
    assert.ok(na > 50 && nb > 50, `edits: ${na}, ${nb}`);
    assert.ok(snap.version < na + nb, 'buffered edits were composed');
    assert.equal(da.state, 'synchronized');
  });

  it('submit validates against the local text', T, async () => {
    const { ar } = await trio();
    const d = await ar.doc('v');
    d.insert(0, 'a😀b');
    assert.throws(() => d.submit([4, 'x']), (e) => e instanceof ChorusError && e.code === 'invalid_op');
    assert.throws(() => d.delete(2, 5), (e) => e.code === 'invalid_op');
    assert.throws(() => d.submit([{ x: 1 }]), (e) => e.code === 'invalid_op');
    assert.throws(() => d.submit('abc'), (e) => e.code === 'invalid_op');
    d.submit([1, { d: 1 }, 1, 'c', 0]); // not normalized: accepted
    assert.equal(d.text, 'abc');
    await d.whenSynced();
    assert.equal(d.version, 2);
  });

  it('remote cursors: name/color, moved by local and remote ops, removed by null', T, async () => {
    const { a, ar, br, s, sr } = await trio();
    const da = await ar.doc('cur');
    da.insert(0, 'hello world');
    await da.whenSynced();
    const db = await br.doc('cur');
    assert.equal(db.text, 'hello world');
    const ds = await sr.doc('cur');

    const bId = br._client.user.id;
    const got = next(da, 'cursors', (m) => m.get(bId)?.cursor === 5);
    await db.setPresence({ cursor: 5, selection: [6, 11] });
    const m = await got;
    assert.equal(m.get(bId).name, 'Bob');
    assert.match(m.get(bId).color, /^#/);
    assert.deepEqual(m.get(bId).selection, [6, 11]);

    // A inserts before B's cursor: it moves right at once (and stays after the ack).
    da.insert(0, '😀😀');
    assert.equal(da.cursors.get(bId).cursor, 7);
    assert.deepEqual(da.cursors.get(bId).selection, [8, 13]);
    await da.whenSynced();
    assert.equal(da.cursors.get(bId).cursor, 7);
    // S sees the same through the remote op, and a delete around the selection shrinks it.
    await until(() => ds.text === da.text && ds.cursors.get(bId)?.cursor === 7, 5000, 'S to see the op and the cursor');
    const moved = next(ds, 'cursors', (c) => c.get(bId)?.selection?.[0] === 5);
    da.delete(2, 3); // "😀😀hello world" -> "😀😀lo world"
    await moved;
    assert.equal(ds.cursors.get(bId).cursor, 4);
    assert.deepEqual(ds.cursors.get(bId).selection, [5, 10]);

    // A cursor reported at an older version is brought up to date through the ops since.
    await da.whenSynced();
    const stale = da.version;
    da.insert(0, 'ab');
    await da.whenSynced();
    await until(() => db.version === stale + 1 && ds.version === stale + 1, 5000, 'the op to arrive');
    ds._setCursor(bId, { cursor: 3, version: stale });
    assert.equal(ds.cursors.get(bId).cursor, 5);

    const gone = next(da, 'cursors', (c) => !c.has(bId));
    await db.setPresence(null);
    await gone;
    assert.ok(a.user);
  });

  it('a drop with ops in flight: every edit lands exactly once', T, async () => {
    const { a, ar, br, snapshot } = await trio({}, { reconnect: { base: 150, max: 300 } });
    const da = await ar.doc('drop');
    const db = await br.doc('drop');
    const sa = shadow(da);
    const sb = shadow(db);
    const tokens = [];
    // Tokens go at token boundaries only, so no insert splits another token.
    const put = (doc, tok, rand) => {
      const t = doc.text;
      const bounds = [0];
      for (let i = 0; i < t.length; i++) if (t[i] === ']') bounds.push(textType.length(t.slice(0, i + 1)));
      doc.insert(bounds[Math.floor(rand() * bounds.length)], tok);
      tokens.push(tok);
    };
    const ra = rng(7);
    const rb = rng(8);
    let reopened = 0;
    const states = [];
    a.on("connection", (st) => states.push(st));
    const origRequest = a._requestCb.bind(a);
    a._requestCb = (op, fields, ...rest) => {
      if (op === 'doc_open' && fields.doc === 'drop') reopened++;
      return origRequest(op, fields, ...rest);
    };
    let stop = false;
    const bLoop = (async () => {
      for (let i = 0; !stop; i++) {
        put(db, `[B${i}]`, rb);
        await delay(3);
      }
    })();
    let pendingAtDrop = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 10; i++) {
        put(da, `[A${round}.${i}]`, ra);
        await delay(2);
      }
      put(da, `[A${round}.last]`, ra);
      // Drop after a varying delay: the op may not have left, be applied without its ack, ...
      if (round >= 2) await delay(round === 2 ? 1 : 3);
      if (da.state !== 'synchronized') pendingAtDrop++;
      const reopen = next(a, 'connection', (st) => st === 'open');
      a.socket._socket.destroy();
      put(da, `[A${round}.away]`, ra); // an edit while disconnected
      await reopen;
      await delay(50);
    }
    stop = true;
    await bLoop;
    await Promise.all([da.whenSynced(), db.whenSynced()]);
    await until(() => da.version === db.version && da.text === db.text, 5000, 'convergence');
    const snap = await snapshot('drop');
    assert.equal(da.text, snap.text);
    assert.equal(db.text, snap.text);
    for (const tok of tokens) {
      assert.equal(snap.text.split(tok).length - 1, 1, `token ${tok} exactly once`);
    }
    assert.equal(snap.text.length, tokens.join('').length);
    assert.equal(sa.text, da.text);
    assert.equal(sb.text, db.text);
    assert.deepEqual([...sa.errors, ...sb.errors], []);
    assert.ok(pendingAtDrop >= 2, `ops pending at ${pendingAtDrop} drops`);
    assert.ok(reopened >= 4, `reopened ${reopened} times`);
    assert.deepEqual(states.filter((s) => s === 'reconnecting').length, 4);
  });

  it('an in-flight op older than the log window is resubmitted at the current version', T, async () => {
    const { a, ar, br, snapshot } = await trio({}, { reconnect: { base: 600, max: 600 } });
    const da = await ar.doc('old');
    const db = await br.doc('old');
    const errors = [];
    da.on('error', (e) => errors.push(e));
    const replies = [];
    const origRequest = a._requestCb.bind(a);
    a._requestCb = (op, fields, resolve, reject, o) => {
      if (op !== 'doc_op') return origRequest(op, fields, resolve, reject, o);
      return origRequest(op, fields, (d) => {
        replies.push('ok');
        resolve(d);
      }, (e) => {
        replies.push(e.code);
        reject(e);
      }, o);
    };
    const reopen = next(a, 'connection', (st) => st === 'open');
    // A's op is lost on the way (never reaches the server), then the connection drops.
    const ws = a.socket;
    const sent = [];
    ws.send = (m) => sent.push(JSON.parse(m));
    da.insert(0, '[mine]');
    assert.equal(da.state, 'awaiting_confirm');
    ws._socket.destroy();
    for (let i = 0; i < 30; i++) {
      db.insert(0, `(${i})`);
      await db.whenSynced(); // one version each: past the log window of 20
    }
    await db.whenSynced();
    await reopen;
    await da.whenSynced();
    await until(() => da.text === db.text, 5000, 'convergence');
    const snap = await snapshot('old');
    assert.equal(snap.text.split('[mine]').length, 2);
    assert.equal(da.text, snap.text);
    // The resubmission at the original base was too old; the transformed op went at the current version.
    assert.deepEqual(replies, ['closed', 'version_too_old', 'ok']);
    assert.equal(sent[0].op, 'doc_op');
    assert.deepEqual(errors, []);
  });

  it('a lost ack: the op is recognised by its opId after the reconnect, applied once', T, async () => {
    const { a, ar, br, snapshot } = await trio({}, { reconnect: { base: 100, max: 100 } });
    const da = await ar.doc('ack');
    const db = await br.doc('ack');
    db.insert(0, 'b');
    await until(() => da.text === 'b', 5000, 'A to see B');
    const ws = a.socket;
    ws.onmessage = null; // A hears nothing more: the reply to its op is lost
    da.insert(1, '[lost-ack]');
    await until(() => db.text === 'b[lost-ack]', 5000, 'B to see the op');
    db.insert(0, '<');
    await db.whenSynced();
    const reopen = next(a, 'connection', (st) => st === 'open');
    ws._socket.destroy();
    await reopen;
    await da.whenSynced();
    await until(() => da.text === db.text, 5000, 'convergence');
    const snap = await snapshot('ack');
    assert.equal(snap.text, '<b[lost-ack]');
    assert.equal(da.text, snap.text);
    assert.equal(da.version, snap.version);
  });

  it('the server acknowledges a resubmitted opId as a duplicate', T, async () => {
    const { a, ar } = await trio();
    await ar.doc('dup');
    const op = { room: ar.id, doc: 'dup', version: 0, delta: ['x'], opId: 'raw-1' };
    assert.deepEqual(await a.request('doc_op', op), { version: 1 });
    await a.request('doc_op', { room: ar.id, doc: 'dup', version: 1, delta: [1, 'y'], opId: 'raw-2' });
    assert.deepEqual(await a.request('doc_op', op), { version: 1, duplicate: true });
    const snap = await a.request('doc_open', { room: ar.id, doc: 'dup' });
    assert.equal(snap.text, 'xy');
  });

  it('close() sends doc_close: no more ops, ops refused until reopened', T, async () => {
    const { a, ar, br } = await trio();
    const da = await ar.doc('c');
    const db = await br.doc('c');
    const sent = [];
    const origRequest = a._requestCb.bind(a);
    a._requestCb = (op, ...rest) => {
      sent.push(op);
      return origRequest(op, ...rest);
    };
    da.insert(0, 'x');
    await da.close();
    assert.deepEqual(sent.filter((o) => o.startsWith('doc_')), ['doc_op', 'doc_close'], 'pending edit first, then doc_close');
    assert.equal(da.active, false);
    assert.throws(() => da.insert(0, 'y'), (e) => e.code === 'closed');
    await assert.rejects(a.request('doc_op', { room: ar.id, doc: 'c', version: 1, delta: ['z'] }), (e) => e.code === 'forbidden');
    const events = [];
    a.socket.on('message', (raw) => {
      const m = JSON.parse(String(raw));
      if (m.op === 'doc_op') events.push(m);
    });
    await until(() => db.text === 'x', 5000, 'B to see the edit');
    db.insert(1, 'y');
    await db.whenSynced();
    await delay(100);
    assert.deepEqual(events, [], 'no doc_op reaches a closed document');
    assert.equal(da.text, 'x');
    const again = await ar.doc('c');
    assert.notEqual(again, da);
    assert.equal(again.text, 'xy');
  });
});
