// doc.js: a collaborative text document of a room (docs/protocol.md "Documents"): the
// client side of OT (synchronized / awaiting confirm / awaiting with buffer), reopening
// and catching up after a reconnect, and remote cursors.

import { Emitter } from './emitter.js';
import { ChorusError } from './errors.js';
import { apply, compose, cpLen, diffOp, normalize, transform, transformPosition } from './text_type.js';

/** @typedef {import('./types.js').TextOp} TextOp */
/** @typedef {import('./types.js').RemoteCursor} RemoteCursor */

const CURSOR_LOG = 500; // recent server ops kept to bring late cursor reports up to date
const CATCHUP_RETRIES = 40; // doc_ops polls while the server's store catches up (25 ms apart)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const isPos = (v) => Number.isInteger(v) && v >= 0;

/**
 * The events of a Doc. 'change': every local and remote edit (applying every change's op
 * in order to a copy of the text always gives `doc.text`). 'cursors': the remote cursors
 * changed. 'synced': nothing is pending any more. 'error': the server refused an op, or the
 * catch-up failed (`version_too_old`, `diverged`, …).
 * @typedef {{
 *   change: { op: TextOp; source: 'local' | 'remote'; author?: string };
 *   cursors: Map<string, RemoteCursor>;
 *   synced: { version: number };
 *   error: ChorusError;
 * }} DocEvents
 */

/**
 * A shared text document with the client side of OT: synchronized / awaiting confirm /
 * awaiting with buffer. Local edits apply at once; one op is in flight at a time (with an
 * opId), later ones are composed into a buffer; remote ops transform what is pending and
 * remote cursors. After a reconnect the document is reopened and pending ops are
 * resubmitted with their opIds (the server acknowledges an op it already applied as a
 * duplicate, never twice).
 *
 * Reopening (after a reconnect, a `version_too_old` reply or a gap in the op stream): the
 * ops since `version` are fetched with `doc_ops` and go through the state machine as
 * remote ops; our own in-flight op found among them (same author and opId) counts as
 * acknowledged; otherwise it is resubmitted with its opId at its original base version
 * (and, if that base is older than the server's log window, as transformed at the current
 * version). When the catch-up is impossible, or the server refuses an op (`invalid_op`,
 * `document_too_large`, …), pending edits are dropped, the text becomes the server's
 * snapshot (a 'change' with source 'remote' and a diff op) and 'error' is emitted.
 *
 * The local text is the server's text at `version` with the in-flight op and then the
 * buffer applied to it.
 * @extends {Emitter<DocEvents>}
 */
export class Doc extends Emitter {
  /** @internal */ _room;
  /** @internal */ _client;
  /** @internal */ _id;
  /** @internal */ _text;
  /** @internal */ _version;
  /** @internal */ _inflight;
  /** @internal */ _buffer;
  /** @internal */ _open;
  /** @internal */ _ready;
  /** @internal */ _queue;
  /** @internal */ _gen;
  /** @internal */ _log;
  /** @internal */ _rc;
  /** @internal */ _waiters;
  /** @internal */ _offConn;

  /** @internal */
  constructor(room, id, data) {
    super();
    this._room = room;
    this._client = room._client;
    this._id = id;
    this._text = typeof data.text === 'string' ? data.text : '';
    this._version = data.version ?? 0;
    this._inflight = null; // {op (transformed to `version`), orig, base, opId, sent}
    this._buffer = null; // composed local ops not sent yet
    this._open = true;
    this._ready = true; // false while reopening (remote events are queued)
    this._queue = [];
    this._gen = 0; // bumped by each resync and drop: stale async work stops
    this._log = []; // recent server ops {version, op, author} for cursor reports
    this._rc = new Map(); // userId -> {version, cursor?, selection?} in server text at version
    this._waiters = [];
    this._offConn = this._client.on('connection', (s) => {
      if (s !== 'open' && this._ready) {
        this._ready = false;
        this._gen++;
      }
    });
    this._seedCursors();
  }

  /** @returns {string} */
  get id() {
    return this._id;
  }

  /** @returns {string} */
  get text() {
    return this._text;
  }

  /**
   * The server version the local text is based on.
   * @returns {number}
   */
  get version() {
    return this._version;
  }

  /** @returns {'synchronized' | 'awaiting_confirm' | 'awaiting_with_buffer'} */
  get state() {
    if (!this._inflight) return this._buffer ? 'awaiting_with_buffer' : 'synchronized';
    return this._buffer ? 'awaiting_with_buffer' : 'awaiting_confirm';
  }

  /**
   * False after close(), or once the room is left or the client closed (SDK extension).
   * @returns {boolean}
   */
  get active() {
    return this._open;
  }

  /**
   * Remote users' cursors, in the current local text (a fresh Map each time). Reports are
   * positions at the sender's `version` (plus its pending ops): they are moved through the
   * later ops of other users and through this client's pending ops.
   * @returns {Map<string, RemoteCursor>}
   */
  get cursors() {
    const out = new Map();
    const len = cpLen(this._text);
    for (const [userId, r] of this._rc) {
      const p = this._room._participants.get(userId);
      const c = { userId, name: p?.displayName ?? '', color: p?.color ?? '' };
      const map = (x) => Math.min(len, this._toLocal(x, r.version));
      if (isPos(r.cursor)) c.cursor = map(r.cursor);
      if (Array.isArray(r.selection)) c.selection = [map(r.selection[0]), map(r.selection[1])];
      out.set(userId, c);
    }
    return out;
  }

  /** @internal */
  _handlerError(e, event) {
    this._client._handlerError(e, event);
  }

  /** @internal */
  _me() {
    return this._client.user?.id;
  }

  // ---- local edits ----

  /**
   * Applies op locally (throws ChorusError('invalid_op') if it does not fit) and sends it.
   * @param {TextOp} op
   * @returns {void}
   */
  submit(op) {
    if (!this._open) throw new ChorusError('closed', `document ${this._id} is closed`);
    let norm;
    let text;
    try {
      if (!Array.isArray(op)) throw new Error('an op is an array of components');
      for (const c of op) {
        const ok = typeof c === 'string' || isPos(c)
          || (c && typeof c === 'object' && (isPos(c.d) || typeof c.d === 'string'));
        if (!ok) throw new Error(`invalid component ${JSON.stringify(c)}`);
      }
      norm = normalize(op);
      text = apply(this._text, norm);
    } catch (e) {
      throw new ChorusError('invalid_op', `invalid op for document ${this._id}: ${e.message}`);
    }
    if (!norm.length) return;
    this._text = text;
    this._buffer = this._buffer ? compose(this._buffer, norm) : norm;
    this._emit('change', { op: norm, source: 'local' });
    if (this._rc.size) this._emit('cursors', this.cursors);
    this._flush();
  }

  /**
   * Inserts text at pos (code points).
   * @param {number} pos
   * @param {string} text
   * @returns {void}
   */
  insert(pos, text) {
    if (!isPos(pos)) throw new ChorusError('invalid_op', 'insert: pos must be an integer >= 0');
    if (typeof text !== 'string') throw new ChorusError('invalid_op', 'insert: text must be a string');
    if (!text) return;
    this.submit(pos ? [pos, text] : [text]);
  }

  /**
   * Deletes count code points at pos.
   * @param {number} pos
   * @param {number} count
   * @returns {void}
   */
  delete(pos, count) {
    if (!isPos(pos) || !isPos(count)) throw new ChorusError('invalid_op', 'delete: pos and count must be integers >= 0');
    if (!count) return;
    this.submit(pos ? [pos, { d: count }] : [{ d: count }]);
  }

  /**
   * Resolves when nothing is pending (every local op acknowledged, and the document not
   * being reopened after a reconnect or a room_reset); rejects with ChorusError('closed')
   * if the document is closed first.
   * @returns {Promise<void>}
   */
  whenSynced() {
    if (!this._inflight && !this._buffer && this._ready) return Promise.resolve();
    if (!this._open) return Promise.reject(new ChorusError('closed', `document ${this._id} is closed`));
    return new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
  }

  /**
   * Shares this user's cursor/selection (code points in the local text); null hides it.
   * @param {{ cursor?: number; selection?: [number, number] } | null} p
   * @returns {Promise<void>}
   */
  async setPresence(p) {
    let presence = null;
    if (p) {
      presence = { version: this._version };
      if (p.cursor !== undefined) presence.cursor = p.cursor;
      if (p.selection !== undefined) presence.selection = p.selection;
    }
    await this._room._req('doc_presence', { doc: this._id, presence });
  }

  /**
   * Waits (at most requestTimeout, while connected) for pending edits, then doc_close.
   * @returns {Promise<void>}
   */
  async close() {
    if (!this._open) return;
    if ((this._inflight || this._buffer) && this._client.state === 'open') {
      let timer;
      await Promise.race([
        this.whenSynced().catch(() => {}),
        new Promise((r) => { timer = setTimeout(r, this._client._requestTimeout); }),
      ]);
      clearTimeout(timer);
    }
    if (!this._open) return;
    this._detach();
    if (this._room._docs.get(this._id) === this) this._room._docs.delete(this._id);
    if (this._room._active && this._client._authed) {
      try {
        await this._room._req('doc_close', { doc: this._id });
      } catch (e) {
        if (e.code !== 'closed' && e.code !== 'not_found') throw e;
      }
    }
  }

  /** @internal */
  _detach() {
    if (!this._open) return;
    this._open = false;
    this._ready = false;
    this._gen++;
    this._offConn();
    const err = new ChorusError('closed', `document ${this._id} is closed`);
    for (const w of this._waiters.splice(0)) w.reject(err);
  }

  // ---- sending ----

  /** @internal */
  _flush() {
    if (!this._open || !this._ready || this._inflight || !this._buffer) return;
    const op = this._buffer;
    this._buffer = null;
    const opId = `${this._client._clientId}-${++this._client._opSeq}`;
    this._inflight = { op, orig: op, base: this._version, opId };
    this._send(this._inflight, this._version, op);
  }

  /** @internal */
  _send(inf, version, delta) {
    const gen = this._gen;
    const fields = { room: this._room.id, doc: this._id, version, delta, opId: inf.opId };
    // The ack is handled as soon as it is read: a remote op right behind it must see it.
    this._client._requestCb('doc_op', fields, (data) => this._onAck(inf, data, gen), (e) => {
      // Asynchronously, as a promise rejection would be (the send may fail synchronously).
      queueMicrotask(() => this._onSendError(inf, e, gen));
    });
  }

  /** @internal */
  _onAck(inf, data, gen) {
    // A reply from before a resync or drop: the resync settles that op by its opId.
    if (this._inflight !== inf || gen !== this._gen || !this._ready) return;
    if (data?.version !== this._version + 1) {
      // Ops between are missing here: catch up (the op is recognised there by its opId).
      this._resync();
      return;
    }
    this._acked(data.version);
  }

  /** @internal */
  _acked(version) {
    const inf = this._inflight;
    this._inflight = null;
    this._version = version;
    this._serverOp(version, inf.op, this._me());
    this._flush();
    this._maybeSynced();
  }

  /** @internal */
  _onSendError(inf, e, gen) {
    if (this._inflight !== inf || gen !== this._gen || !this._open) return;
    switch (e.code) {
      case 'closed':
        return; // the reconnect reopens the document and resubmits
      case 'timeout':
        // No answer on a live socket: start over with a fresh connection (as a rejoin does).
        if (this._client._ws) this._client._ws.close(4000, 'doc_op timeout');
        return;
      case 'version_too_old':
        if (inf.sent === 'base') {
          // A resubmission at its original base: the resync verified that the server has
          // not applied it, so send it as transformed to the current version instead.
          inf.sent = 'current';
          this._send(inf, this._version, inf.op);
        } else {
          this._resync();
        }
        return;
      case 'forbidden':
      case 'rate_limited':
        this._resync();
        return;
      default:
        // Refused (invalid_op, document_too_large, payload_too_large, …): the local text
        // can no longer match the server's. Drop what is pending and reload.
        this._resync({ drop: e });
    }
  }

  /** @internal */
  _maybeSynced() {
    if (this._inflight || this._buffer || !this._ready) return;
    for (const w of this._waiters.splice(0)) w.resolve();
    this._emit('synced', { version: this._version });
  }

  // ---- remote ops ----

  /** @internal */
  _onEvent(msg) {
    if (!this._open) return;
    if (!this._ready) {
      this._queue.push(msg);
      return;
    }
    this._ingest(msg);
  }

  /** @internal Takes one server op (event or catch-up) in version order; false on a gap. */
  _ingest(o) {
    if (typeof o.version !== 'number' || o.version <= this._version) return true; // seen
    if (o.version !== this._version + 1) {
      this._resync();
      return false;
    }
    if (this._inflight && o.author === this._me() && o.opId === this._inflight.opId) {
      this._acked(o.version); // our in-flight op (its reply was lost to a drop)
      return true;
    }
    try {
      this._applyRemote(o.delta, o.version, o.author);
    } catch (e) {
      this._resync({ drop: new ChorusError('invalid_op', `a remote op does not apply: ${e.message}`) });
      return false;
    }
    return true;
  }

  /** @internal */
  _applyRemote(delta, version, author) {
    let remote = normalize(delta);
    let inflight = this._inflight?.op;
    let buffer = this._buffer;
    // The server put our pending ops after `remote` (a submitted op takes side left).
    if (inflight) {
      const r = transform(remote, inflight, 'right');
      inflight = transform(inflight, remote, 'left');
      remote = r;
    }
    if (buffer) {
      const r = transform(remote, buffer, 'right');
      buffer = transform(buffer, remote, 'left');
      remote = r;
    }
    const text = apply(this._text, remote);
    this._text = text;
    if (this._inflight) this._inflight.op = inflight;
    this._buffer = buffer;
    this._version = version;
    this._serverOp(version, delta, author);
    this._emit('change', { op: remote, source: 'remote', author });
    if (this._rc.size) this._emit('cursors', this.cursors);
  }

  // ---- reopening ----

  /**
   * Reopens the document (doc_open) and catches up with doc_ops from `version`: the ops
   * go through the client state machine as remote ops, except our own in-flight op
   * (recognised by author and opId), which counts as acknowledged. A pending in-flight op
   * is then resubmitted with its opId at its original base version (the server answers
   * `duplicate` if it had applied it), and the buffer follows. If the catch-up is not
   * possible (the log is gone, the texts disagree) or `drop` is given (the server refused
   * our op), pending edits are dropped, the text is replaced by the snapshot (a 'change'
   * with a diff op) and 'error' is emitted.
   * @internal
   */
  async _resync({ drop } = {}) {
    if (!this._open) return;
    const gen = ++this._gen;
    this._ready = false;
    const room = this._room;
    try {
      const snap = await room._req('doc_open', { doc: this._id });
      if (gen !== this._gen) return;
      let failure = drop ?? null;
      if (!failure && snap.version < this._version) {
        failure = new ChorusError('version_too_old', `document ${this._id} went back from version ${this._version} to ${snap.version}`);
      }
      // Fetch the ops we have not seen (the store may lag behind the snapshot a little).
      const ops = [];
      let from = this._version;
      let tries = 0;
      while (!failure && from < snap.version) {
        const res = await room._req('doc_ops', { doc: this._id, from });
        if (gen !== this._gen) return;
        const got = (res?.ops ?? []).filter((o) => o.version > from && o.version <= snap.version);
        if (!got.length || got[0].version !== from + 1) {
          if (got.length || ++tries > CATCHUP_RETRIES) {
            failure = new ChorusError('version_too_old', `document ${this._id}: the ops after version ${from} are not available`);
            break;
          }
          await sleep(25);
          if (gen !== this._gen) return;
          continue;
        }
        for (const o of got) {
          if (o.version !== from + 1) break;
          ops.push(o);
          from = o.version;
        }
      }
      if (!failure) {
        for (const o of ops) {
          if (!this._ingestCatchUp(o)) {
            failure = new ChorusError('invalid_op', `document ${this._id}: op ${o.version} does not apply`);
            break;
          }
        }
      }
      if (!failure) {
        // The local text must be the snapshot with our pending ops on top.
        let expect = snap.text;
        try {
          if (this._inflight) expect = apply(expect, this._inflight.op);
          if (this._buffer) expect = apply(expect, this._buffer);
        } catch {
          expect = null;
        }
        if (expect !== this._text) failure = new ChorusError('diverged', `document ${this._id}: the local text no longer matches the server's`);
      }
      if (failure) this._reset(snap, failure);
      // Live again: queued events, then the pending ops.
      this._ready = true;
      const queued = this._queue.splice(0).sort((a, b) => a.version - b.version);
      for (const m of queued) if (!this._ingest(m)) return;
      const inf = this._inflight;
      if (inf) {
        inf.sent = 'base';
        this._send(inf, inf.base, inf.orig);
      } else {
        this._flush();
      }
      this._maybeSynced();
    } catch (e) {
      if (gen !== this._gen || !this._open) return;
      if (e.code === 'closed') return; // the next reconnect tries again
      if (e.code === 'timeout') {
        if (this._client._ws) this._client._ws.close(4000, 'doc_open timeout');
        return;
      }
      this._ready = true; // give up: keep the local state, report
      this._emit('error', e);
    }
  }

  /** @internal */
  _ingestCatchUp(o) {
    if (this._inflight && o.author === this._me() && o.opId === this._inflight.opId) {
      const inf = this._inflight;
      this._inflight = null;
      this._version = o.version;
      this._serverOp(o.version, inf.op, o.author);
      return true;
    }
    try {
      this._applyRemote(o.delta, o.version, o.author);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * @internal Drops pending edits and takes the snapshot (emitted as a remote change), then reports err.
   */
  _reset(snap, err) {
    this._inflight = null;
    this._buffer = null;
    this._queue = this._queue.filter((m) => m.version > snap.version);
    const op = diffOp(this._text, snap.text);
    this._text = snap.text;
    this._version = snap.version;
    this._log = [];
    this._seedCursors();
    if (op.length) this._emit('change', { op, source: 'remote' });
    this._emit('cursors', this.cursors);
    this._emit('error', err);
  }

  // ---- remote cursors ----

  /**
   * @internal Records a server op (version, delta as the server has it) and moves cursors through it.
   */
  _serverOp(version, op, author) {
    this._log.push({ version, op, author });
    if (this._log.length > CURSOR_LOG) this._log.splice(0, this._log.length - CURSOR_LOG);
    for (const [userId, r] of this._rc) {
      if (r.version >= version) continue; // reported after this op
      // A user's own ops after the version it reported were most likely already in its
      // text (pending there): its positions include them.
      if (author !== userId) this._moveCursor(r, op);
      r.version = version;
    }
  }

  /** @internal */
  _moveCursor(r, op) {
    if (isPos(r.cursor)) r.cursor = transformPosition(r.cursor, op);
    if (Array.isArray(r.selection)) r.selection = r.selection.map((x) => transformPosition(x, op));
  }

  /**
   * @internal A position in the server text at `version` -> the local text (pending ops on top).
   */
  _toLocal(pos, version) {
    if (version !== this._version) return pos; // reported ahead of us: as is
    if (this._inflight) pos = transformPosition(pos, this._inflight.op);
    if (this._buffer) pos = transformPosition(pos, this._buffer);
    return pos;
  }

  /** @internal */
  _setCursor(userId, p) {
    if (!p || typeof p !== 'object' || (!isPos(p.cursor) && !Array.isArray(p.selection))) {
      this._rc.delete(userId);
      return;
    }
    const r = { version: isPos(p.version) ? p.version : this._version };
    if (isPos(p.cursor)) r.cursor = p.cursor;
    if (Array.isArray(p.selection) && p.selection.length === 2 && p.selection.every(isPos)) r.selection = [...p.selection];
    if (r.version < this._version) {
      // Bring it up to date through the ops logged since (if the log reaches back).
      for (const e of this._log) {
        if (e.version <= r.version) continue;
        if (e.author !== userId) this._moveCursor(r, e.op);
      }
      r.version = this._version;
    }
    this._rc.set(userId, r);
  }

  /** @internal */
  _seedCursors() {
    this._rc.clear();
    const me = this._me();
    for (const [userId, p] of this._room._participants) {
      if (userId === me || p.online === false) continue;
      const d = p.presence?.docs?.[this._id];
      if (d) this._setCursor(userId, d);
    }
  }

  /** @internal */
  _onPresence(userId, patch, presence) {
    if (!this._open || userId === this._me()) return;
    if (!patch || typeof patch !== 'object' || !('docs' in patch)) return;
    const docs = patch.docs;
    if (docs !== null && (typeof docs !== 'object' || !(this._id in docs))) return;
    this._setCursor(userId, presence?.docs?.[this._id]);
    this._emit('cursors', this.cursors);
  }

  /** @internal */
  _onGone(userId) {
    if (this._rc.delete(userId)) this._emit('cursors', this.cursors);
  }
}
