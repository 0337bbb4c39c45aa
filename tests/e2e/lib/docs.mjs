// docs.mjs: a client-side OT state machine for the collaborative documents of
// docs/protocol.md ("Documents"), on top of a RoomWs connection, using ot-text-unicode (the
// server's op format) for apply/transform/compose.
//
// ShareDB-like states: synchronized (no inflight, no buffer), awaiting confirm (one op in
// flight), awaiting with buffer (local edits made meanwhile, composed into one op). Local
// edits apply to `text` at once. The server transforms a submitted op against what was
// committed since its base version with side 'left', so the client transforms its
// pending ops against a remote op with 'left' and the remote op against them with 'right'.
//
// Replies to the ops this helper sends and the doc_op events are handled synchronously in
// the order they arrive on the connection (its own 'message' listener, not promises), so
// acknowledgements and events are processed exactly in server order.
import { type as ot } from 'ot-text-unicode';

export { ot };

/** Number of Unicode code points of s (the positions of the protocol). */
export const cpLen = (s) => [...s].length;

/** An insert of str at code point pos, normalized. */
export const insertOp = (pos, str) => ot.normalize([pos, str]);
/** A delete of n code points at pos, normalized. */
export const deleteOp = (pos, n) => ot.normalize([pos, { d: n }]);

export class OtDoc {
  /**
   * c: a RoomWs (joined to room). tag: a prefix for the opIds. errors collects every
   * protocol violation seen (gaps, bad acks, refused ops) so tests can assert it is empty.
   */
  constructor(c, room, doc, tag = 'c') {
    this.room = room;
    this.doc = doc;
    this.tag = tag;
    this.text = null;
    this.version = null;
    this.inflight = null; // {delta, opId, base}
    this.buffer = null; // delta composed from the local edits made while inflight
    this.acked = 0; // ops of this client acknowledged (not duplicates)
    this.duplicates = 0;
    this.remote = 0; // remote ops applied
    this.opSeq = 0;
    this.errors = [];
    this.offline = false; // when true, nothing is sent (edits accumulate in the buffer)
    this.dropSends = false; // when true, flush() makes the op inflight but does not send it
    this.recovering = false;
    this.held = []; // events kept while recovering
    this.latency = 0; // ms each message this helper sends is held back (simulated network)
    this.bind(c);
  }

  bind(c) {
    if (this.c && this.listener) this.c.ws.off('message', this.listener);
    this.c = c;
    this.callbacks = new Map(); // ref -> fn(reply), synchronous
    this.listener = (data) => this.onMessage(JSON.parse(data.toString('utf8')));
    c.ws.on('message', this.listener);
  }

  /** Stops processing anything that arrives on the current connection. */
  detach() {
    if (this.c && this.listener) this.c.ws.off('message', this.listener);
    this.listener = null;
  }

  /** Sends {op, ref, ...fields} outside RoomWs.call; fn(reply) runs in arrival order. */
  rawCall(op, fields, fn) {
    const ref = this.c.nextRef++;
    this.callbacks.set(ref, fn);
    const msg = { op, ref, room: this.room, doc: this.doc, ...fields };
    const c = this.c;
    // A fixed simulated latency keeps the messages of one client in order.
    if (this.latency > 0) setTimeout(() => c.ws.readyState === 1 && c.send(msg), this.latency);
    else c.send(msg);
    return ref;
  }

  /** rawCall as a promise (resolves with the reply, after fn ran). */
  callSync(op, fields, fn = () => {}, timeout = 5000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout: reply to ${op}`)), timeout);
      this.rawCall(op, fields, (m) => {
        clearTimeout(timer);
        try {
          fn(m);
          resolve(m);
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  onMessage(m) {
    if (m.op === 'reply' && this.callbacks.has(m.ref)) {
      const fn = this.callbacks.get(m.ref);
      this.callbacks.delete(m.ref);
      fn(m);
      return;
    }
    if (m.op === 'doc_op' && m.doc === this.doc) {
      if (this.version === null) return; // not open yet
      if (this.recovering) this.held.push(m);
      else this.onRemote(m);
    }
  }

  /** doc_open: takes the snapshot. */
  async open() {
    const m = await this.callSync('doc_open', {}, (r) => {
      if (!r.ok) throw new Error(`doc_open failed: ${JSON.stringify(r)}`);
      this.text = r.data.text;
      this.version = r.data.version;
    });
    return m.data;
  }

  get synced() {
    return !this.inflight && !this.buffer;
  }

  nextOpId() {
    this.opSeq++;
    return `${this.tag}-${this.opSeq}`;
  }

  /** A local edit: applied at once, then sent or buffered. */
  edit(delta) {
    this.text = ot.apply(this.text, delta);
    if (this.inflight || this.offline || this.recovering) {
      this.buffer = this.buffer ? ot.compose(this.buffer, delta) : delta;
      if (this.buffer.length === 0) this.buffer = null;
    } else {
      this.buffer = delta;
    }
    this.flush();
  }

  flush() {
    if (this.inflight || !this.buffer || this.offline || this.recovering) return;
    this.inflight = { delta: this.buffer, opId: this.nextOpId(), base: this.version };
    this.buffer = null;
    if (this.dropSends) return;
    this.sendInflight();
  }

  sendInflight() {
    const f = this.inflight;
    this.rawCall('doc_op', { version: f.base, delta: f.delta, opId: f.opId }, (r) => this.onAck(r, f));
  }

  onAck(r, f) {
    if (this.inflight !== f) {
      this.errors.push(`reply for an op that is not in flight: ${JSON.stringify(r)}`);
      return;
    }
    if (!r.ok) {
      this.errors.push(`doc_op ${f.opId} refused: ${JSON.stringify(r)}`);
      this.inflight = null;
      return;
    }
    this.ackAt(r.data.version, r.data.duplicate === true);
  }

  ackAt(version, duplicate) {
    if (version !== this.version + 1) {
      this.errors.push(`${this.tag}: ack of ${this.inflight.opId} at version ${version}, expected ${this.version + 1}`);
    }
    this.version = version;
    this.inflight = null;
    if (duplicate) this.duplicates++;
    else this.acked++;
    this.flush();
  }

  onRemote(ev) {
    if (ev.version !== this.version + 1) {
      this.errors.push(`${this.tag}: doc_op event version ${ev.version}, expected ${this.version + 1}`);
    }
    let op = ev.delta;
    if (this.inflight) {
      const inf = ot.transform(this.inflight.delta, op, 'left');
      op = ot.transform(op, this.inflight.delta, 'right');
      this.inflight.delta = inf;
    }
    if (this.buffer) {
      const buf = ot.transform(this.buffer, op, 'left');
      op = ot.transform(op, this.buffer, 'right');
      this.buffer = buf;
    }
    try {
      this.text = ot.apply(this.text, op);
    } catch (e) {
      this.errors.push(`${this.tag}: remote op ${JSON.stringify(ev)} does not apply: ${e.message}`);
    }
    this.version = ev.version;
    this.remote++;
  }

  /**
   * After a dropped connection: bind the new connection c (already joined), reopen the
   * document, resubmit the op that was in flight with its original opId and base
   * version, then replay the op log from that base through the state machine: the log
   * entry with the inflight's opId is its acknowledgement, every other one a remote op.
   * Resolves with {resubmit: reply|null, openVersion}.
   */
  async reconnect(c) {
    this.bind(c);
    this.recovering = true;
    this.held = [];
    this.dropSends = false;
    this.offline = false;
    const opened = await this.callSync('doc_open', {});
    if (!opened.ok) throw new Error(`doc_open after reconnect: ${JSON.stringify(opened)}`);
    const openVersion = opened.data.version;
    let resubmit = null;
    const f = this.inflight;
    if (f) {
      resubmit = await this.callSync('doc_op', { version: f.base, delta: f.delta, opId: f.opId });
      if (!resubmit.ok) throw new Error(`resubmission refused: ${JSON.stringify(resubmit)}`);
    }
    const me = this.c.user.sub;
    await this.callSync('doc_ops', { from: this.version }, (r) => {
      if (!r.ok) throw new Error(`doc_ops: ${JSON.stringify(r)}`);
      for (const o of r.data.ops) {
        if (o.version <= this.version) continue;
        if (this.inflight && o.opId === this.inflight.opId && o.author === me) {
          if (o.version !== resubmit.data.version) {
            this.errors.push(`${this.tag}: log has ${o.opId} at ${o.version}, the resubmission said ${resubmit.data.version}`);
          }
          this.ackAt(o.version, resubmit.data.duplicate === true);
        } else {
          this.onRemote(o);
        }
      }
      if (this.inflight) this.errors.push(`${this.tag}: ${this.inflight.opId} not found in the log after resubmission`);
      for (const ev of this.held) if (ev.version > this.version) this.onRemote(ev);
      this.held = [];
      this.recovering = false;
      if (this.version < openVersion) this.errors.push(`${this.tag}: behind the snapshot after recovery`);
      this.flush();
    });
    return { resubmit, openVersion };
  }
}
