// emitter.js: the tiny event emitter the Chorus client, rooms and documents extend.

/**
 * A tiny event emitter: on() returns the unsubscribe function. E maps each event name to
 * its payload; F is the payload of any other name (never: only E's names).
 * @template {object} E
 * @template [F=never]
 */
export class Emitter {
  /** @internal event -> Set of {handler} */
  _handlers = new Map();

  /**
   * Subscribes handler to event; returns the function that unsubscribes it. The same
   * function subscribed twice is called twice and unsubscribed independently.
   * @template {[F] extends [never] ? keyof E & string : string} K
   * @param {K} event
   * @param {(payload: K extends keyof E ? E[K] : F) => void} handler
   * @returns {() => void}
   */
  on(event, handler) {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    let set = this._handlers.get(event);
    if (!set) this._handlers.set(event, (set = new Set()));
    // Wrap so the same function can be subscribed twice and unsubscribed independently.
    const entry = { handler };
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /** @internal */
  _listenerCount(event) {
    return this._handlers.get(event)?.size ?? 0;
  }

  /** @internal */
  _emit(event, payload) {
    const set = this._handlers.get(event);
    if (!set) return;
    for (const { handler } of [...set]) {
      try {
        handler(payload);
      } catch (e) {
        // A throwing application handler must not break the SDK's bookkeeping.
        this._handlerError(e, event);
      }
    }
  }

  /** @internal */
  _handlerError(e) {
    console.error('chorus: an event handler threw:', e);
  }
}
