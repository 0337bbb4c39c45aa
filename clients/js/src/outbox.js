// outbox.js: a room's messages on their way (room.send). Each carries a clientId the SDK
// makes; it goes out at once while the room is joined on the live connection, stays here
// when the connection drops before its reply, and is sent again, in order and with the
// same clientId, once the room is rejoined. The server answers a clientId it stored
// already with the stored message ("duplicate": true), so a message is stored once and
// its promise resolves with it whichever sending was stored (docs/protocol.md "message").

import { ChorusError } from './errors.js';

// A message answered `unavailable` (in a cluster, its room's home died with it on its way)
// goes again with its clientId after the room's rejoin or this backoff, doubling, at most
// UNAVAILABLE_TRIES times before it is refused.
const UNAVAILABLE_BASE_MS = 250;
const UNAVAILABLE_TRIES = 5;

/**
 * A new client id: 16 random bytes (Web Crypto) in base64url, 22 characters.
 * @returns {string}
 */
export function newClientId() {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** @internal The messages of one room waiting for their reply. */
export class Outbox {
  /** @internal */ _room;
  /** @internal */ _items;
  /** @internal */ _sock;
  /** @internal */ _timer;

  /**
   * @param {import('./room.js').Room} room borrowed
   * @param {unknown} sock the socket the room was joined on
   */
  constructor(room, sock) {
    this._room = room;
    this._items = []; // {fields, resolve, reject, sent, resets?, unavailable?}, in the order sent
    this._sock = sock;
    this._timer = null; // the backoff of messages answered unavailable
  }

  /** Messages without a reply yet. */
  get size() {
    return this._items.length;
  }

  /**
   * Sends fields (with their clientId) as a `message` of the room; resolves with the
   * reply's data, also when the message had to be sent again after a reconnect.
   * @param {Record<string, unknown>} fields
   * @returns {Promise<any>}
   */
  send(fields) {
    return new Promise((resolve, reject) => {
      this._items.push({ fields, resolve, reject, sent: false });
      this._flush();
    });
  }

  /** The room was (re)joined on socket sock: what waits goes out, in order. */
  joined(sock) {
    this._sock = sock;
    this._flush();
  }

  /** The room is gone for this client: every message waiting is refused with err. */
  fail(err) {
    clearTimeout(this._timer);
    this._timer = null;
    for (const it of this._items.splice(0)) it.reject(err);
  }

  /** @internal Sends what waits again after delay ms (one timer: a wait asked meanwhile joins it). */
  _later(delay) {
    if (this._timer) return;
    this._timer = setTimeout(() => {
      this._timer = null;
      this._flush();
    }, delay);
    this._timer.unref?.(); // Node: a message waiting for its room keeps no process alive
  }

  /** @internal Sends every message not on its way, if the room is joined on the live socket. */
  _flush() {
    const c = this._room._client;
    if (!this._room._active || this._room._resetting) return; // rejoining: joined() sends
    if (!c._authed || !c._ws || c._ws !== this._sock) return;
    for (const it of this._items) {
      if (it.sent) continue;
      it.sent = true;
      c._requestCb('message', { room: this._room.id, ...it.fields },
        (data) => this._answered(it, null, data), (e) => this._answered(it, e, null));
    }
  }

  /** @internal */
  _answered(it, err, data) {
    const c = this._room._client;
    if (err && err.code === 'closed' && this._room._active && !c._closedByUser) {
      it.sent = false; // no reply: sent again once the room is rejoined
      return;
    }
    if (err && err.code === 'forbidden' && err.message === 'join the room first' &&
        this._room._active && (it.resets = (it.resets ?? 0) + 1) <= 3) {
      // The room's home was taken over (room_reset, maybe still on its way): sent again
      // once the room is rejoined, as after a reconnect.
      it.sent = false;
      if (!this._room._resetting) this._room._reset();
      return;
    }
    if (err && err.code === 'unavailable' && this._room._active && !c._closedByUser &&
        (it.unavailable = (it.unavailable ?? 0) + 1) < UNAVAILABLE_TRIES) {
      // Its room's home was lost with it on its way (maybe stored, maybe not): the same
      // clientId goes again once the room is served (the rejoin after room_reset sends
      // it, or the backoff), and the server stores it once.
      it.sent = false;
      this._later(UNAVAILABLE_BASE_MS * 2 ** (it.unavailable - 1));
      return;
    }
    const i = this._items.indexOf(it);
    if (i >= 0) this._items.splice(i, 1);
    if (err) {
      const e = err instanceof ChorusError ? err : new ChorusError('closed', String(err?.message ?? err));
      e.clientId = /** @type {string} */ (it.fields.clientId);
      it.reject(e);
    } else {
      it.resolve(data);
    }
  }
}
