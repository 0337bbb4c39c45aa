// requests.js: the requests in flight on one client: each gets a `ref`, and exactly one
// of its reply, its timeout or the connection's end settles it (docs/protocol.md
// "Envelope"). No I/O: the caller sends the message and feeds the replies in.

/** @typedef {import('./errors.js').ChorusError} ChorusError */

/** The table of requests waiting for their reply, by ref. */
export class Requests {
  /** @internal */ _ref = 0;
  /** @internal ref -> {resolve, reject, timer, op} */ _pending = new Map();

  /**
   * Registers a request and returns its ref. After ms without a reply, onTimeout() builds
   * the error it is rejected with. Takes resolve and reject (called at most once, by
   * settle(), cancel(), rejectAll() or the timeout).
   * @param {string} op
   * @param {(data: any) => void} resolve
   * @param {(e: ChorusError) => void} reject
   * @param {number} ms
   * @param {() => ChorusError} onTimeout
   * @returns {number}
   */
  add(op, resolve, reject, ms, onTimeout) {
    const ref = ++this._ref;
    const timer = setTimeout(() => {
      if (this._pending.delete(ref)) reject(onTimeout());
    }, ms);
    this._pending.set(ref, { resolve, reject, timer, op });
    return ref;
  }

  /**
   * Forgets ref without settling it (its message could not be sent); false if unknown.
   * @param {number} ref
   * @returns {boolean}
   */
  cancel(ref) {
    const p = this._pending.get(ref);
    if (!p) return false;
    this._pending.delete(ref);
    clearTimeout(p.timer);
    return true;
  }

  /**
   * Settles ref's request with a reply: resolve(data) when ok, else reject(error()). A
   * reply to nothing (late, after a timeout) is ignored: returns false.
   * @param {unknown} ref
   * @param {boolean} ok
   * @param {any} data
   * @param {() => ChorusError} error
   * @returns {boolean}
   */
  settle(ref, ok, data, error) {
    const p = this._pending.get(ref);
    if (!p) return false;
    this._pending.delete(ref);
    clearTimeout(p.timer);
    if (ok) p.resolve(data);
    else p.reject(error());
    return true;
  }

  /**
   * Rejects every request in flight with err (the connection ended).
   * @param {ChorusError} err
   * @returns {void}
   */
  rejectAll(err) {
    const list = [...this._pending.values()];
    this._pending.clear();
    for (const p of list) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}
