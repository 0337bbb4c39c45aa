// chorus.js: the JavaScript client SDK of Chorus (one ES module, no dependencies).
// Public API: chorus.d.ts. Wire protocol: docs/protocol.md. REST: docs/api.md.
//
// Works in browsers and in Node >= 20: the WebSocket is options.WebSocket, else
// globalThis.WebSocket (browsers, Node >= 22), else in Node the `ws` package when it is
// installed. REST goes through globalThis.fetch.

const DEFAULT_TIMEOUT = 10000;
const DEFAULT_BASE = 250;
const DEFAULT_MAX = 10000;
const HISTORY_PAGE = 200; // the server's maximum `limit`
const MAX_MESSAGES = 1000; // room.messages keeps the newest this many
const ROOM_EVENTS = new Set([
  'message', 'participant_joined', 'participant_left', 'participant_removed', 'presence',
  'state', 'broadcast', 'room_deleted', 'kicked', 'room_code', 'room_updated',
]);
// Entity ops the server sends to a room (docs/protocol.md "Entities").
const ENTITY_OPS = new Set(['entity', 'entity_lock', 'entity_unlock']);
// What a Room emits for its shared scene state (a broadcast by one of these names only
// arrives as 'broadcast', like the other room events).
const ENTITY_EVENTS = ['entity_created', 'entity_updated', 'entity_deleted', 'entity_locked', 'entity_unlocked', 'synced'];
const RESERVED_ROOM_EVENTS = new Set([...ROOM_EVENTS, ...ENTITY_OPS, ...ENTITY_EVENTS, 'error']);
// A burst of transient updates is followed, once quiet for this long, by a sync: the
// server never echoes our own transient batches, so the sync brings their stateVersion
// and the value the server settled on. 250: several coalescing intervals (50 ms).
const TRANSIENT_SETTLE_MS = 250;
const CODE_RE = /^[A-Za-z0-9]{6}$/;

/** An error from the server (its stable `code`) or from the SDK (`timeout`, `closed`, `network`). */
export class ChorusError extends Error {
  constructor(code, message, extra = {}) {
    super(message || code);
    this.name = 'ChorusError';
    this.code = code;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.field !== undefined) this.field = extra.field;
    if (extra.retryAfter !== undefined) this.retryAfter = extra.retryAfter;
    if (extra.room !== undefined) this.room = extra.room;
    if (extra.closeCode !== undefined) this.closeCode = extra.closeCode;
    if (extra.entity !== undefined) this.entity = extra.entity;
  }
}

/** RFC 7396 JSON merge patch: returns a new value (null in the patch removes a field). */
export function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const isObj = target !== null && typeof target === 'object' && !Array.isArray(target);
  const out = isObj ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** A tiny event emitter: on() returns the unsubscribe function. */
class Emitter {
  constructor() {
    this._handlers = new Map();
  }

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

  _listenerCount(event) {
    return this._handlers.get(event)?.size ?? 0;
  }

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

  _handlerError(e) {
    console.error('chorus: an event handler threw:', e);
  }
}

function defaultUrl() {
  const loc = globalThis.location;
  return loc && loc.origin && loc.origin !== 'null' ? loc.origin : undefined;
}

/**
 * Node without a global WebSocket (Node < 22): the `ws` package's constructor, when it can
 * be imported; undefined elsewhere (a browser never reaches the import).
 */
async function nodeWebSocket() {
  if (typeof process === 'undefined' || !process.versions?.node) return undefined;
  try {
    const mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'ws');
    return mod.WebSocket ?? mod.default;
  } catch {
    return undefined;
  }
}

function toWsUrl(base) {
  const u = new URL(base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : u.protocol === 'http:' ? 'ws:' : u.protocol;
  u.pathname = u.pathname.replace(/\/+$/, '') + '/ws';
  u.search = '';
  u.hash = '';
  return u.toString();
}

function errorFromReply(err, extra = {}) {
  const e = err && typeof err === 'object' ? err : {};
  return new ChorusError(typeof e.code === 'string' ? e.code : 'unknown_error',
    typeof e.message === 'string' ? e.message : 'request failed', { field: e.field, entity: e.entity, ...extra });
}

// ---- textType: the ot-text-unicode operational transform type, dependency-free ----
//
// An op is an array of components: a number skips (retains) that many code points, a
// string inserts, {d: N} (or {d: "text"}) deletes N code points. Every length counts
// Unicode code points (a surrogate pair is one), like the server and the npm package.
// The functions below follow ot-text-unicode 4 component for component (test/texttype.test.mjs
// checks them against it), except that apply() also refuses a delete past the end.

const isSurrogate = (code) => code >= 0xd800 && code <= 0xdfff;

/** Code points in s (a UTF-16 surrogate pair counts once). */
function cpLen(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++, n++) if (isSurrogate(s.charCodeAt(i))) i++;
  return n;
}

/** The UTF-16 offset of code point cp in s (s.length when past the end). */
function cpToIndex(s, cp) {
  let i = 0;
  for (; cp > 0 && i < s.length; cp--) i += isSurrogate(s.charCodeAt(i)) ? 2 : 1;
  return Math.min(i, s.length);
}

function cpSlice(s, start, end) {
  const a = cpToIndex(s, start);
  return end == null ? s.slice(a) : s.slice(a, cpToIndex(s, end));
}

const dlen = (d) => (typeof d === 'number' ? d : cpLen(d));

const compLen = (c) => (typeof c === 'number' ? c : typeof c === 'string' ? cpLen(c) : dlen(c.d));

const dslice = (d, start, end) => (typeof d === 'number'
  ? (end == null ? d - start : Math.min(d, end) - start)
  : cpSlice(d, start, end));

function checkOp(op) {
  if (!Array.isArray(op)) throw new Error('Op must be an array of components');
  let last = null;
  for (const c of op) {
    switch (typeof c) {
      case 'object':
        if (c === null || (typeof c.d !== 'number' && typeof c.d !== 'string')) throw new Error('Delete must be number or string');
        if (!(dlen(c.d) > 0)) throw new Error('Deletes must not be empty');
        if (typeof c.d === 'number' && !Number.isInteger(c.d)) throw new Error('Delete lengths must be integers');
        break;
      case 'string':
        if (!(c.length > 0)) throw new Error('Inserts cannot be empty');
        break;
      case 'number':
        if (!(c > 0) || !Number.isInteger(c)) throw new Error('Skip components must be integers > 0');
        if (typeof last === 'number') throw new Error('Adjacent skip components should be combined');
        break;
      default:
        throw new Error('Invalid op component');
    }
    last = c;
  }
  if (typeof last === 'number') throw new Error('Op has a trailing skip');
}

/** Returns a function appending a component to op, merging it with the last one. */
function makeAppend(op) {
  return (c) => {
    if (!c || c.d === 0 || c.d === '') return; // a no-op
    if (op.length === 0) {
      op.push(c);
      return;
    }
    const last = op[op.length - 1];
    if (typeof c !== typeof last) {
      op.push(c);
    } else if (typeof c === 'object') {
      // Merged deletes keep their text only when both have it.
      op[op.length - 1] = {
        d: typeof last.d === 'string' && typeof c.d === 'string' ? last.d + c.d : dlen(last.d) + dlen(c.d),
      };
    } else {
      op[op.length - 1] = last + c;
    }
  };
}

/** take(n, indivisible) hands out op's components, split to at most n code points. */
function makeTake(op) {
  let idx = 0;
  let offset = 0; // into op[idx]: UTF-16 units for inserts, code points otherwise
  const take = (n, indivisible) => {
    if (idx === op.length) return n === -1 ? null : n; // skips forever
    const c = op[idx];
    if (typeof c === 'number') {
      if (n === -1 || c - offset <= n) {
        const part = c - offset;
        idx++;
        offset = 0;
        return part;
      }
      offset += n;
      return n;
    }
    if (typeof c === 'string') {
      const rest = c.slice(offset);
      if (n === -1 || indivisible === 'i' || cpLen(rest) <= n) {
        idx++;
        offset = 0;
        return rest;
      }
      const end = offset + cpToIndex(rest, n);
      const part = c.slice(offset, end);
      offset = end;
      return part;
    }
    if (n === -1 || indivisible === 'd' || dlen(c.d) - offset <= n) {
      const part = { d: dslice(c.d, offset) };
      idx++;
      offset = 0;
      return part;
    }
    const part = { d: dslice(c.d, offset, offset + n) };
    offset += n;
    return part;
  };
  const peek = () => op[idx];
  return { take, peek };
}

function trim(op) {
  if (op.length > 0 && typeof op[op.length - 1] === 'number') op.pop();
  return op;
}

function normalize(op) {
  const out = [];
  const append = makeAppend(out);
  for (const c of op) append(typeof c === 'object' && c !== null ? { d: c.d } : c);
  return trim(out);
}

function apply(text, op) {
  checkOp(op);
  const parts = [];
  let i = 0; // UTF-16 offset into text
  for (const c of op) {
    if (typeof c === 'string') {
      parts.push(c);
      continue;
    }
    const n = compLen(c);
    let j = i;
    for (let k = 0; k < n; k++) {
      if (j >= text.length) throw new Error('The op is too long for this document');
      j += isSurrogate(text.charCodeAt(j)) ? 2 : 1;
    }
    if (typeof c === 'number') parts.push(text.slice(i, j));
    i = j;
  }
  parts.push(text.slice(i));
  return parts.join('');
}

function transform(op, other, side) {
  if (side !== 'left' && side !== 'right') throw new Error(`side (${side}) must be 'left' or 'right'`);
  checkOp(op);
  checkOp(other);
  const out = [];
  const append = makeAppend(out);
  const { take, peek } = makeTake(op);
  for (const c2 of other) {
    let length;
    let c1;
    switch (typeof c2) {
      case 'number':
        length = c2;
        while (length > 0) {
          c1 = take(length, 'i');
          append(c1);
          if (typeof c1 !== 'string') length -= compLen(c1);
        }
        break;
      case 'string':
        // The left side's insert at the same place goes first.
        if (side === 'left' && typeof peek() === 'string') append(take(-1));
        append(cpLen(c2));
        break;
      default:
        length = dlen(c2.d);
        while (length > 0) {
          c1 = take(length, 'i');
          if (typeof c1 === 'number') length -= c1;
          else if (typeof c1 === 'string') append(c1);
          else length -= dlen(c1.d); // deleted by both
        }
    }
  }
  let c;
  while ((c = take(-1))) append(c);
  return trim(out);
}

function compose(a, b) {
  checkOp(a);
  checkOp(b);
  const out = [];
  const append = makeAppend(out);
  const { take } = makeTake(a);
  for (const c of b) {
    let length;
    let chunk;
    switch (typeof c) {
      case 'number':
        length = c;
        while (length > 0) {
          chunk = take(length, 'd');
          append(chunk);
          if (typeof chunk !== 'object') length -= compLen(chunk);
        }
        break;
      case 'string':
        append(c);
        break;
      default: {
        length = dlen(c.d);
        let offset = 0;
        while (offset < length) {
          chunk = take(length - offset, 'd');
          if (typeof chunk === 'number') {
            append({ d: dslice(c.d, offset, offset + chunk) });
            offset += chunk;
          } else if (typeof chunk === 'string') {
            offset += cpLen(chunk);
          } else {
            append(chunk);
          }
        }
      }
    }
  }
  let c;
  while ((c = take(-1))) append(c);
  return trim(out);
}

/**
 * Moves a position (code points) through op. An insert exactly at the position leaves
 * it before the inserted text, unless isOwn (the position's owner typed it): then it
 * moves after it (SDK extension; the npm package has no isOwn).
 */
function transformPosition(cursor, op, isOwn = false) {
  let pos = 0;
  for (let i = 0; i < op.length && (cursor > pos || (isOwn && cursor === pos)); i++) {
    const c = op[i];
    if (typeof c === 'number') {
      pos += c;
    } else if (typeof c === 'string') {
      const n = cpLen(c);
      pos += n;
      cursor += n;
    } else {
      cursor -= Math.min(dlen(c.d), cursor - pos);
    }
  }
  return cursor;
}

/** Pure OT helpers with the semantics of the ot-text-unicode npm package. */
export const textType = Object.freeze({
  name: 'text-unicode',
  create: (text = '') => String(text),
  apply,
  transform,
  compose,
  transformPosition,
  normalize,
  checkOp,
  /** Code points in a string (SDK extension). */
  length: cpLen,
});

export class Chorus extends Emitter {
  constructor(options = {}) {
    super();
    this._url = (options.url ?? defaultUrl())?.replace(/\/+$/, '');
    this._token = options.token;
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this._fetch = options.fetch ?? globalThis.fetch?.bind(globalThis);
    this._requestTimeout = options.requestTimeout ?? DEFAULT_TIMEOUT;
    this._historyPage = Math.max(1, Math.min(HISTORY_PAGE, options.historyPage ?? HISTORY_PAGE));
    this._maxMessages = Math.max(1, Math.floor(options.maxMessages ?? MAX_MESSAGES));
    const rc = options.reconnect ?? {};
    this._reconnect = {
      base: rc.base ?? DEFAULT_BASE,
      max: rc.max ?? DEFAULT_MAX,
      enabled: rc.enabled ?? true,
    };
    this._state = 'closed';
    this._ws = null; // the current socket
    this._authed = false; // the current socket is authenticated
    this._authToken = undefined; // the token the current socket authenticated with
    this._ref = 0;
    this._pending = new Map(); // ref -> {resolve, reject, timer, op}
    this._rooms = new Map(); // room id -> Room
    this._joinsInFlight = 0;
    this._orphans = []; // room events that arrived before their join reply
    this._closedByUser = true;
    this._attempt = 0;
    this._reconnectTimer = null;
    this._connecting = null; // the promise of connect() in progress
    this._abortOpen = null; // rejects the socket opening in progress
    this._waiters = []; // connect() calls while reconnecting: {resolve, reject}
    this.user = null; // {id, name, color} from the auth reply
    this._clientId = randomId(); // opIds of document ops: `${clientId}-${n}`
    this._opSeq = 0;
  }

  // ---- properties ----

  get state() {
    return this._state;
  }

  get token() {
    return this._token;
  }

  /** Setting a fresh token while connected re-authenticates the socket (renewal). */
  set token(t) {
    this._token = t;
    if (this._authed && t && t !== this._authToken) {
      this._renew(t).catch((e) => this._emit('error', e));
    }
  }

  /** The underlying WebSocket object (or null); for diagnostics and tests. */
  get socket() {
    return this._ws;
  }

  /** Rooms this client has joined (id -> Room). */
  get rooms() {
    return new Map(this._rooms);
  }

  _handlerError(e, event) {
    if (event !== 'error' && this._listenerCount('error') > 0) {
      this._emit('error', e instanceof ChorusError ? e : new ChorusError('handler_error', String(e?.stack ?? e)));
    } else {
      console.error('chorus: an event handler threw:', e);
    }
  }

  _setState(s) {
    if (this._state === s) return;
    this._state = s;
    this._emit('connection', s);
  }

  // ---- REST ----

  async _rest(method, path, body, { auth = true } = {}) {
    if (!this._url) throw new ChorusError('network', 'no url: pass options.url');
    if (!this._fetch) throw new ChorusError('network', 'no fetch implementation');
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth && this._token) headers.Authorization = `Bearer ${this._token}`;
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    const timer = ctl ? setTimeout(() => ctl.abort(), this._requestTimeout) : null;
    let res;
    let text;
    try {
      res = await this._fetch(this._url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctl?.signal,
      });
      text = await res.text();
    } catch (e) {
      if (ctl?.signal.aborted) throw new ChorusError('timeout', `${method} ${path}: no answer within ${this._requestTimeout} ms`);
      throw new ChorusError('network', `${method} ${path}: ${e?.message ?? e}`);
    } finally {
      if (timer) clearTimeout(timer);
    }
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    if (!res.ok || !json || json.success === false) {
      const ra = res.headers?.get?.('retry-after');
      const extra = { status: res.status };
      if (ra != null && ra !== '') extra.retryAfter = Number(ra);
      if (json && json.error) throw errorFromReply(json.error, extra);
      throw new ChorusError('http_error', `${method} ${path}: HTTP ${res.status}`, extra);
    }
    return json;
  }

  async register(email, password, username) {
    const j = await this._rest('POST', '/api/auth/register', { email, password, username }, { auth: false });
    this.token = j.token;
    return { token: j.token, user_id: j.user_id, user: j.user };
  }

  async login(email, password) {
    const j = await this._rest('POST', '/api/auth/login', { email, password }, { auth: false });
    this.token = j.token;
    return { token: j.token, user_id: j.user_id, user: j.user };
  }

  async me() {
    return (await this._rest('GET', '/api/auth/me')).user;
  }

  async updateMe(patch) {
    const j = await this._rest('PATCH', '/api/users/me', patch);
    if (j.token) this.token = j.token;
    return j.user;
  }

  /**
   * Signs out: closes the client (no reconnection with a token about to be refused),
   * revokes the token on the server (POST /api/auth/logout) and forgets it. The token is
   * forgotten even when the request fails (the error is then thrown).
   */
  async logout() {
    await this._signOut('/api/auth/logout');
  }

  /** Signs out every session of the account (POST /api/auth/logout-all), this one too. */
  async logoutAll() {
    await this._signOut('/api/auth/logout-all');
  }

  async _signOut(path) {
    const token = this._token;
    this.close();
    if (!token) return;
    try {
      await this._rest('POST', path);
    } finally {
      this._token = undefined;
    }
  }

  /**
   * POST /api/auth/password: every other session of the account ends; this client takes
   * the fresh token (a connected socket re-authenticates or reconnects with it).
   */
  async changePassword(currentPassword, newPassword) {
    const j = await this._rest('POST', '/api/auth/password', { currentPassword, newPassword });
    this.token = j.token;
    return { token: j.token, user_id: j.user_id, user: j.user };
  }

  /**
   * DELETE /api/users/me: deletes the account (the password confirms it), then closes the
   * client and forgets the token. A refusal (wrong password) changes nothing.
   */
  async deleteAccount(password) {
    await this._rest('DELETE', '/api/users/me', { password });
    this.close();
    this._token = undefined;
  }

  async createRoom(opts) {
    return (await this._rest('POST', '/api/rooms/create', opts)).room;
  }

  async getRoom(idOrCode) {
    const p = CODE_RE.test(idOrCode)
      ? `/api/rooms/code/${encodeURIComponent(idOrCode)}`
      : `/api/rooms/${encodeURIComponent(idOrCode)}`;
    return (await this._rest('GET', p)).room;
  }

  async myRooms() {
    return (await this._rest('GET', '/api/rooms')).rooms;
  }

  /** The first page of public rooms (summaries, no state): see publicRoomsPage. */
  async publicRooms(opts = {}) {
    return (await this.publicRoomsPage(opts)).rooms;
  }

  /** GET /api/rooms/public: {limit?, cursor?} -> {rooms, nextCursor} (null on the last page). */
  async publicRoomsPage(opts = {}) {
    const q = new URLSearchParams();
    for (const k of ['limit', 'cursor']) if (opts[k] !== undefined && opts[k] !== null) q.set(k, String(opts[k]));
    const qs = q.toString();
    const j = await this._rest('GET', `/api/rooms/public${qs ? `?${qs}` : ''}`);
    return { rooms: j.rooms, nextCursor: j.nextCursor ?? null };
  }

  async deleteRoom(id) {
    await this._rest('DELETE', `/api/rooms/${encodeURIComponent(id)}`);
  }

  /** POST /api/rooms/:id/code (host): a new room code; the old one stops working. Returns the room. */
  async rotateRoomCode(roomId) {
    return (await this._rest('POST', `/api/rooms/${encodeURIComponent(roomId)}/code`)).room;
  }

  async kick(roomId, userId, ban = false) {
    await this._rest('POST', `/api/rooms/${encodeURIComponent(roomId)}/kick`, { userId, ban: !!ban });
  }

  /** PATCH /api/rooms/:id (host): {name?, maxParticipants?, isPublic?} -> the room. */
  async updateRoom(roomId, patch) {
    return (await this._rest('PATCH', `/api/rooms/${encodeURIComponent(roomId)}`, patch)).room;
  }

  /** GET /api/rooms/:id/bans (host) -> [{userId, displayName, color, bannedAt}], oldest first. */
  async bans(roomId) {
    return (await this._rest('GET', `/api/rooms/${encodeURIComponent(roomId)}/bans`)).bans;
  }

  /** DELETE /api/rooms/:id/bans/:userId (host): the user may join again. */
  async unban(roomId, userId) {
    await this._rest('DELETE', `/api/rooms/${encodeURIComponent(roomId)}/bans/${encodeURIComponent(userId)}`);
  }

  /** GET /api/rooms/:id/messages (extension): {before?, after?, limit?} -> messages ascending. */
  async roomMessages(roomId, opts = {}) {
    const q = new URLSearchParams();
    for (const k of ['before', 'after', 'limit']) if (opts[k] !== undefined) q.set(k, String(opts[k]));
    const qs = q.toString();
    return (await this._rest('GET', `/api/rooms/${encodeURIComponent(roomId)}/messages${qs ? `?${qs}` : ''}`)).messages;
  }

  // ---- WebSocket ----

  /** Opens the WebSocket and authenticates. Resolves when open. */
  connect() {
    if (this._state === 'open') return Promise.resolve();
    if (this._connecting) return this._connecting;
    if (this._state === 'reconnecting') {
      return new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
    }
    this._closedByUser = false;
    this._attempt = 0;
    this._setState('connecting');
    this._connecting = this._openSocket().then(
      async () => {
        // Rooms kept from a drop (reconnection disabled): join them again.
        const sock = this._ws;
        if (this._rooms.size) await this._rejoinAll();
        this._connecting = null;
        if (sock === this._ws && this._authed) {
          this._setState('open');
          return undefined;
        }
        // Dropped while rejoining: _onDrop took over; wait for its outcome.
        if (this._state === 'reconnecting') {
          return new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
        }
        throw new ChorusError('closed', 'the connection closed while rejoining');
      },
      (e) => {
        this._connecting = null;
        this._closeSocket(1000);
        this._setState('closed');
        throw e;
      },
    );
    return this._connecting;
  }

  /** Closes for good (no reconnection); pending requests reject with 'closed'. */
  close() {
    this._closedByUser = true;
    if (this._reconnectTimer) clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    const err = new ChorusError('closed', 'the client was closed');
    this._abortOpen?.(err);
    this._rejectPending(err);
    this._closeSocket(1000);
    for (const room of this._rooms.values()) room._detach();
    this._rooms.clear();
    this._orphans = [];
    for (const w of this._waiters.splice(0)) w.reject(err);
    this._setState('closed');
  }

  _closeSocket(code) {
    const ws = this._ws;
    this._ws = null;
    this._authed = false;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {};
    try {
      ws.close(code);
    } catch {
      /* already closing */
    }
  }

  /**
   * Opens a socket and sends `auth` as the first message. Resolves with the auth reply's
   * data; rejects (and leaves no socket) when the socket fails or the token is refused.
   */
  _openSocket() {
    if (typeof this._WebSocket === 'function') return this._openWith(this._WebSocket);
    return nodeWebSocket().then((WS) => {
      if (this._closedByUser) throw new ChorusError('closed', 'the client was closed');
      if (WS) this._WebSocket = WS;
      return this._openWith(WS);
    });
  }

  _openWith(WS) {
    return new Promise((resolve, reject) => {
      if (typeof WS !== 'function') {
        reject(new ChorusError('network',
          'no WebSocket implementation: pass options.WebSocket (in Node < 22: npm install ws)'));
        return;
      }
      if (!this._url) {
        reject(new ChorusError('network', 'no url: pass options.url'));
        return;
      }
      const token = this._token;
      if (!token) {
        reject(new ChorusError('unauthorized', 'no token: register, login or set chorus.token first'));
        return;
      }
      let sock;
      try {
        sock = new WS(toWsUrl(this._url), ['chorus.v1']);
      } catch (e) {
        reject(new ChorusError('network', `WebSocket: ${e?.message ?? e}`));
        return;
      }
      this._ws = sock;
      this._authed = false;
      let settled = false;
      const fail = (e) => {
        if (settled) return;
        settled = true;
        this._abortOpen = null;
        reject(e);
      };
      this._abortOpen = fail; // close() during the opening rejects it
      sock.onopen = () => {
        if (sock !== this._ws) return;
        const tok = this._token ?? token;
        this._request('auth', { token: tok }, { beforeAuth: true }).then(
          (data) => {
            if (sock !== this._ws || settled) return;
            settled = true;
            this._abortOpen = null;
            this._authed = true;
            this._authToken = tok;
            this.user = data?.user ?? null;
            resolve(data);
          },
          (e) => {
            if (sock === this._ws) this._closeSocket(1000);
            fail(e);
          },
        );
      };
      sock.onmessage = (ev) => {
        if (sock === this._ws) this._onMessage(ev.data);
      };
      sock.onerror = () => {
        /* a close event follows */
      };
      sock.onclose = (ev) => {
        if (sock !== this._ws) return;
        const wasAuthed = this._authed;
        this._ws = null;
        this._authed = false;
        const code = ev?.code;
        const reason = ev?.reason ? String(ev.reason) : '';
        this._rejectPending(new ChorusError('closed', `the connection closed (${code}${reason ? ` ${reason}` : ''})`));
        const policy = this._policyError(code, reason);
        if (policy) this._emit('error', policy);
        if (!wasAuthed || !settled) {
          fail(policy ?? new ChorusError('network', `the connection failed (${code}${reason ? ` ${reason}` : ''})`, { closeCode: code }));
          return;
        }
        this._onDrop();
      };
    });
  }

  _policyError(code, reason) {
    if (code !== 1008 && code !== 1009 && code !== 1002 && code !== 1003 && code !== 1007) return null;
    const r = reason.toLowerCase();
    const c = r.includes('token expired') ? 'token_expired'
      : r.includes('authentication timeout') ? 'auth_timeout'
        : 'connection_closed';
    return new ChorusError(c, `the server closed the connection: ${code} ${reason}`.trim(), { closeCode: code });
  }

  /** The authenticated socket closed without close(): reconnect (unless disabled). */
  _onDrop() {
    if (this._closedByUser) return;
    if (!this._reconnect.enabled) {
      for (const w of this._waiters.splice(0)) w.reject(new ChorusError('closed', 'the connection closed'));
      this._setState('closed');
      return;
    }
    this._setState('reconnecting');
    this._scheduleReconnect();
  }

  /** Backoff: delay = min(max, base * 2^attempt) * (0.5 + random/2). */
  _backoff(attempt) {
    const { base, max } = this._reconnect;
    return Math.min(max, base * 2 ** attempt) * (0.5 + Math.random() / 2);
  }

  _scheduleReconnect() {
    if (this._closedByUser || this._reconnectTimer) return;
    const attempt = this._attempt++;
    const delay = this._backoff(attempt);
    this._emit('reconnect', { attempt: attempt + 1, delay });
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      this._reconnectNow();
    }, delay);
  }

  async _reconnectNow() {
    if (this._closedByUser) return;
    this._emit('reconnect_attempt', { attempt: this._attempt });
    try {
      await this._openSocket();
    } catch (e) {
      if (this._closedByUser) return;
      // A refused token is worth reporting (the app may set a fresh one); network
      // failures are expected while the server is away.
      if (e.code !== 'network' && e.code !== 'closed' && !e.closeCode) this._emit('error', e);
      this._scheduleReconnect();
      return;
    }
    const sock = this._ws;
    await this._rejoinAll();
    if (this._closedByUser || sock !== this._ws || !this._authed) return; // dropped meanwhile
    this._attempt = 0;
    this._setState('open');
    for (const w of this._waiters.splice(0)) w.resolve();
  }

  async _rejoinAll() {
    const rooms = [...this._rooms.values()];
    await Promise.all(rooms.map(async (room) => {
      room._resyncing = true;
      let data;
      try {
        // `since`: the server answers with the changes of the shared state (`sync`).
        data = await this._joinRequest(room.id, room._displayName, room._stateVersion);
      } catch (e) {
        room._resyncing = false;
        if (e.code === 'closed') return; // the next reconnect retries
        if (e.code === 'timeout') {
          // No answer on a live socket: start over with a fresh connection.
          if (this._ws && !this._closedByUser) this._ws.close(4000, 'rejoin timeout');
          return;
        }
        // The room is gone for us (deleted, kicked/banned, full): report and forget it.
        this._rooms.delete(room.id);
        room._detach();
        const err = new ChorusError(e.code, `rejoining room ${room.id}: ${e.message}`, { field: e.field, room: room.id });
        room._emit('error', err);
        this._emit('error', err);
        return;
      }
      room._applyJoin(data, false);
      room._reopenDocs();
      try {
        if (room._paging) await room._paging;
      } catch (e) {
        if (e.code !== 'closed') room._emit('error', e); // 'closed': the next reconnect resyncs
      }
    }));
    this._flushOrphans();
  }

  async _renew(token) {
    const data = await this._request('auth', { token });
    if (this._token === token) this._authToken = token;
    this.user = data?.user ?? this.user;
    return data;
  }

  _rejectPending(err) {
    const list = [...this._pending.values()];
    this._pending.clear();
    for (const p of list) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  /** Sends any op and resolves with the reply's data (rejects with ChorusError). */
  request(op, fields = {}) {
    return this._request(op, fields);
  }

  _request(op, fields = {}, { beforeAuth = false } = {}) {
    return new Promise((resolve, reject) => this._requestCb(op, fields, resolve, reject, beforeAuth));
  }

  /**
   * Sends a request; resolve/reject run synchronously when the reply is read, before the
   * next message (a promise would run its handlers after every message of the same read).
   */
  _requestCb(op, fields, resolve, reject, beforeAuth = false) {
    const ws = this._ws;
    if (!ws || (!this._authed && !beforeAuth)) {
      reject(new ChorusError('closed', `not connected (${this._state})`));
      return;
    }
    const ref = ++this._ref;
    const msg = { ...fields, op, ref };
    const timer = setTimeout(() => {
      if (this._pending.delete(ref)) {
        reject(new ChorusError('timeout', `no reply to "${op}" within ${this._requestTimeout} ms`));
      }
    }, this._requestTimeout);
    this._pending.set(ref, { resolve, reject, timer, op });
    try {
      ws.send(JSON.stringify(msg));
    } catch (e) {
      this._pending.delete(ref);
      clearTimeout(timer);
      reject(new ChorusError('closed', `send failed: ${e?.message ?? e}`));
    }
  }

  _onMessage(raw) {
    let msg;
    try {
      msg = JSON.parse(typeof raw === 'string' ? raw : String(raw));
    } catch {
      this._emit('error', new ChorusError('bad_json', 'the server sent a message that is not JSON'));
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    switch (msg.op) {
      case 'reply': {
        const p = this._pending.get(msg.ref);
        if (!p) return; // late reply after a timeout
        this._pending.delete(msg.ref);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.data ?? null);
        else p.reject(errorFromReply(msg.error));
        return;
      }
      case 'error':
        this._emit('error', errorFromReply(msg.error));
        return;
      case 'token_expired':
        this._emit('token_expired', { graceMs: msg.graceMs });
        return;
      default:
        if ((ROOM_EVENTS.has(msg.op) || ENTITY_OPS.has(msg.op) || msg.op === 'doc_op') && typeof msg.room === 'string') {
          this._routeRoomEvent(msg);
          return;
        }
        this._emit(msg.op, msg); // anything else (future server events)
    }
  }

  _routeRoomEvent(msg) {
    const room = this._rooms.get(msg.room) ?? this._findRoomByCode(msg.room);
    if (room) {
      room._handle(msg);
    } else if (this._joinsInFlight > 0) {
      // The event may belong to a room whose join reply is on its way.
      this._orphans.push(msg);
    }
  }

  _findRoomByCode(code) {
    for (const r of this._rooms.values()) if (r.code && r.code.toUpperCase() === code.toUpperCase()) return r;
    return undefined;
  }

  async _joinRequest(codeOrId, displayName, since) {
    const fields = { room: codeOrId };
    if (displayName !== undefined) fields.displayName = displayName;
    if (typeof since === 'number') fields.since = since;
    this._joinsInFlight++;
    try {
      return await this._request('join', fields);
    } finally {
      this._joinsInFlight--;
    }
  }

  /** Routes the buffered events of rooms joined meanwhile; drops the rest when no join is in flight. */
  _flushOrphans() {
    const keep = [];
    for (const m of this._orphans) {
      const room = this._rooms.get(m.room) ?? this._findRoomByCode(m.room);
      if (room) room._handle(m);
      else if (this._joinsInFlight > 0) keep.push(m);
    }
    this._orphans = keep;
  }

  /** Joins a room by code or id over the WebSocket. Joining a joined room returns the same Room. */
  async join(codeOrId, opts = {}) {
    let data;
    try {
      data = await this._joinRequest(codeOrId, opts.displayName);
    } catch (e) {
      this._flushOrphans();
      throw e;
    }
    const id = data.room.id;
    let room = this._rooms.get(id);
    if (room) {
      if (opts.displayName !== undefined) room._displayName = opts.displayName;
      room._applyJoin(data, false);
    } else {
      room = new Room(this, data, opts.displayName);
      this._rooms.set(id, room);
    }
    this._flushOrphans();
    // Every entity, when the join reply held only the first page of them.
    if (room._paging) await room._paging;
    return room;
  }

  _forget(room) {
    if (this._rooms.get(room.id) === room) this._rooms.delete(room.id);
    room._detach();
  }
}

export class Room extends Emitter {
  constructor(client, data, displayName) {
    super();
    this._client = client;
    this._displayName = displayName;
    this._participants = new Map();
    this._messages = [];
    this._lastSeq = 0; // highest seq delivered (everything up to it is in order)
    this._serverLastSeq = 0; // lastSeq of the last join reply
    this._pendingMsgs = new Map(); // seq -> message held back until the gap is filled
    this._resyncing = false;
    this._catching = null;
    this._active = true;
    this._docs = new Map(); // doc id -> Doc
    this._docOpening = new Map(); // doc id -> Promise<Doc>
    this._docEarly = new Map(); // doc id -> events received while opening
    this._stateVersion = 0; // the highest stateVersion seen (state and entity changes)
    this._stateAt = 0; // the stateVersion `state` is at
    this._entities = new Entities(this);
    this._applyJoin(data, true);
  }

  get id() {
    return this._info.id;
  }

  get code() {
    return this._info.roomCode;
  }

  get info() {
    return this._info;
  }

  get role() {
    return this._role;
  }

  get participants() {
    return this._participants;
  }

  get state() {
    return this._state;
  }

  /** The highest room stateVersion seen (join, sync, acks, entity and state events). */
  get stateVersion() {
    return this._stateVersion;
  }

  /** The room's entities: a live Map-like view with create/update/delete/lock/unlock. */
  get entities() {
    return this._entities;
  }

  get messages() {
    return this._messages;
  }

  /** Highest message seq delivered in order (extension). */
  get lastSeq() {
    return this._lastSeq;
  }

  /** False once left, deleted, kicked or dropped by close() (extension). */
  get active() {
    return this._active;
  }

  _handlerError(e, event) {
    this._client._handlerError(e, event);
  }

  _applyJoin(data, initial) {
    this._info = data.room;
    this._role = data.role ?? this._role;
    this._participants.clear();
    for (const p of data.participants ?? []) this._participants.set(p.userId, { ...p });
    if (data.participant && !this._participants.has(data.participant.userId)) {
      this._participants.set(data.participant.userId, { ...data.participant });
    }
    this._state = data.state ?? data.room.state ?? {};
    const sv = data.stateVersion ?? data.room.stateVersion ?? 0;
    this._stateAt = sv;
    const next = this._entities._onJoin(data, sv, initial);
    // The rest of the entities, page by page (join() and the rejoin wait for it).
    this._paging = next ? this._followSync(next, initial) : null;
    const msgs = [...(data.messages ?? [])].sort((a, b) => a.seq - b.seq);
    const last = typeof data.lastSeq === 'number' ? data.lastSeq : (msgs.at(-1)?.seq ?? 0);
    this._serverLastSeq = Math.max(last, msgs.at(-1)?.seq ?? 0);
    if (initial) {
      // The join history is the starting point: kept in `messages`, not emitted.
      this._messages = msgs.slice(-this._client._maxMessages);
      this._lastSeq = this._serverLastSeq;
      this._resyncing = false;
      return;
    }
    // A rejoin (after a reconnect, or join() again): everything after what we delivered is
    // new; what the join reply does not cover comes from history pages.
    this._resyncing = false;
    for (const m of msgs) this._ingest(m, false);
    this._catchUp();
  }

  /** Takes a message from anywhere (event, send reply, join reply, history). */
  _ingest(m, triggerCatchUp = true) {
    if (!m || typeof m.seq !== 'number') return;
    if (m.seq <= this._lastSeq || this._pendingMsgs.has(m.seq)) return; // seen
    if (m.seq === this._lastSeq + 1) {
      this._deliver(m);
      let next;
      while ((next = this._pendingMsgs.get(this._lastSeq + 1))) {
        this._pendingMsgs.delete(next.seq);
        this._deliver(next);
      }
    } else {
      this._pendingMsgs.set(m.seq, m);
      if (triggerCatchUp && !this._resyncing) this._catchUp();
    }
  }

  _deliver(m) {
    this._lastSeq = m.seq;
    this._messages.push(m);
    // A long-lived room must not grow without bound: the oldest go (room.history() has them).
    const over = this._messages.length - this._client._maxMessages;
    if (over > 0) this._messages.splice(0, over);
    this._emit('message', m);
  }

  _hasGap() {
    return this._pendingMsgs.size > 0 || this._lastSeq < this._serverLastSeq;
  }

  /** Fetches `history {after: lastSeq}` pages until there is no gap. */
  _catchUp() {
    if (this._catching) return this._catching;
    this._catching = (async () => {
      try {
        while (this._active && this._hasGap()) {
          const before = this._lastSeq;
          const data = await this._client._request('history', { room: this.id, after: before, limit: this._client._historyPage });
          for (const m of (data?.messages ?? []).sort((a, b) => a.seq - b.seq)) this._ingest(m, false);
          if (this._lastSeq === before) {
            // The server has nothing to fill the gap with: deliver what we hold, in order.
            const held = [...this._pendingMsgs.values()].sort((a, b) => a.seq - b.seq);
            this._pendingMsgs.clear();
            for (const m of held) this._deliver(m);
            this._serverLastSeq = Math.min(this._serverLastSeq, this._lastSeq);
            break;
          }
        }
      } catch (e) {
        // 'closed': the reconnect rejoins and catches up again. Anything else is reported.
        if (e.code !== 'closed') this._emit('error', e);
      } finally {
        this._catching = null;
      }
    })();
    return this._catching;
  }

  _detach() {
    this._active = false;
    this._entities._detach();
    this._pendingMsgs.clear();
    for (const d of this._docs.values()) d._detach();
    this._docs.clear();
  }

  /** After a rejoin: every open document reopens and catches up. */
  _reopenDocs() {
    for (const d of this._docs.values()) {
      d._seedCursors();
      d._resync();
    }
  }

  /** Opens (and subscribes to) a document of this room; the same Doc while it is open. */
  doc(id) {
    const open = this._docs.get(id);
    if (open) return Promise.resolve(open);
    let p = this._docOpening.get(id);
    if (!p) {
      const early = []; // events read right behind the reply, before the Doc exists
      p = (async () => {
        try {
          const data = await this._req('doc_open', { doc: id });
          if (!this._active) throw new ChorusError('forbidden', 'not in this room');
          const d = new Doc(this, id, data);
          this._docs.set(id, d);
          for (const m of early) d._onEvent(m);
          return d;
        } finally {
          this._docOpening.delete(id);
          this._docEarly.delete(id);
        }
      })();
      this._docOpening.set(id, p);
      this._docEarly.set(id, early);
    }
    return p;
  }

  _handle(msg) {
    if (!this._active) return;
    switch (msg.op) {
      case 'message':
        this._ingest(msg.message);
        return;
      case 'participant_joined': {
        const p = msg.participant;
        if (p?.userId) {
          const old = this._participants.get(p.userId);
          this._participants.set(p.userId, { ...old, ...p, online: p.online ?? true });
          this._emit('participant_joined', this._participants.get(p.userId));
        }
        return;
      }
      case 'participant_left': {
        const p = this._participants.get(msg.userId);
        if (msg.reason === 'disconnected') {
          // The seat is kept for the grace period: the participant is offline.
          if (p) p.online = false;
        } else {
          // left / kicked / banned: the seat is gone.
          this._participants.delete(msg.userId);
        }
        for (const d of this._docs.values()) d._onGone(msg.userId);
        this._emit('participant_left', { userId: msg.userId, reason: msg.reason });
        return;
      }
      case 'participant_removed':
        this._participants.delete(msg.userId);
        for (const d of this._docs.values()) d._onGone(msg.userId);
        this._emit('participant_removed', { userId: msg.userId, reason: msg.reason });
        return;
      case 'presence': {
        const p = this._participants.get(msg.userId);
        let presence = mergePatch({}, msg.state ?? {});
        if (p) {
          p.presence = mergePatch(p.presence ?? {}, msg.state ?? {});
          presence = p.presence;
        }
        for (const d of this._docs.values()) d._onPresence(msg.userId, msg.state, presence);
        this._emit('presence', { userId: msg.userId, state: msg.state, presence });
        return;
      }
      case 'doc_op': {
        const d = this._docs.get(msg.doc);
        if (d) d._onEvent(msg);
        else this._docEarly.get(msg.doc)?.push(msg);
        return;
      }
      case 'state':
        // At or below the last join/sync reply's stateVersion: already in it.
        if (typeof msg.version === 'number' && msg.version <= this._entities._floor) return;
        this._applyState(msg.state, msg.version, msg.currentMode);
        this._emit('state', { state: msg.state, version: msg.version, currentMode: msg.currentMode });
        return;
      case 'entity':
      case 'entity_lock':
      case 'entity_unlock':
        this._entities._onEvent(msg);
        return;
      case 'broadcast':
        // By its event name, unless that name is one of the room's own events (a
        // broadcast 'message' must not look like a stored message); always as 'broadcast'.
        if (!RESERVED_ROOM_EVENTS.has(msg.event)) this._emit(msg.event, { from: msg.from, data: msg.data });
        this._emit('broadcast', { event: msg.event, from: msg.from, data: msg.data });
        return;
      case 'room_deleted':
        this._client._forget(this);
        this._emit('room_deleted', { reason: msg.reason });
        return;
      case 'kicked':
        this._client._forget(this);
        this._emit('kicked', { ban: !!msg.ban });
        return;
      case 'room_code':
        // The host gave the room a new code: the old one names no room any more.
        this._info = { ...this._info, roomCode: msg.roomCode, joinLink: msg.joinLink };
        this._emit('room_code', { roomCode: msg.roomCode, joinLink: msg.joinLink });
        return;
      case 'room_updated': {
        const settings = { name: msg.name, maxParticipants: msg.maxParticipants, isPublic: msg.isPublic };
        this._info = { ...this._info, ...settings };
        this._emit('room_updated', { ...settings, by: msg.by });
        return;
      }
      default:
    }
  }

  /** Takes the room state at `version`; false when it is not newer than what we have. */
  _applyState(state, version, currentMode) {
    if (typeof version === 'number') {
      if (version <= this._stateAt) return false; // stale (or our own change, applied)
      this._stateAt = version;
      this._seenVersion(version);
    }
    this._state = state ?? {};
    const info = { ...this._info, state: this._state, stateVersion: this._stateVersion };
    if (currentMode !== undefined) info.currentMode = currentMode;
    this._info = info;
    return true;
  }

  _seenVersion(v) {
    if (typeof v === 'number' && v > this._stateVersion) this._stateVersion = v;
  }

  /**
   * Asks for what changed in the shared state since `stateVersion` (`sync`) and applies
   * it: entity events with source 'sync', then 'synced' {type, stateVersion}.
   */
  async sync() {
    return this._syncFrom(this._stateVersion);
  }

  async _syncFrom(version) {
    const data = await this._req('sync', { version });
    const more = data?.more === true;
    if (this._active) this._entities._applySync(data, { emitSynced: !more });
    if (more) await this._followSync({ version: data.stateVersion, cursor: data.cursor }, false);
    return { type: data?.type, stateVersion: this._stateVersion };
  }

  /**
   * Follows the pages of a `sync` answer (or of a join's entities) that the server's reply
   * budget cut short: `sync` with the page's stateVersion and cursor until `more` is gone.
   * 'synced' is emitted after the last page (not for the initial join).
   */
  async _followSync(next, initial) {
    let page = next;
    while (page && this._active) {
      const data = await this._req('sync', { version: page.version, cursor: page.cursor });
      if (!this._active) return;
      const more = data?.more === true;
      this._entities._applySync(data, { emitSynced: !more && !initial });
      page = more ? { version: data.stateVersion, cursor: data.cursor } : null;
    }
  }

  _req(op, fields) {
    if (!this._active) return Promise.reject(new ChorusError('forbidden', 'not in this room'));
    return this._client._request(op, { room: this.id, ...fields });
  }

  /** Resolves with the stored message (also delivered as a 'message' event, in seq order). */
  async send(type, content, metadata) {
    const fields = { type, content };
    if (metadata !== undefined) fields.metadata = metadata;
    const data = await this._req('message', fields);
    this._ingest(data.message);
    return data.message;
  }

  async broadcast(event, data) {
    const fields = { event };
    if (data !== undefined) fields.data = data;
    await this._req('broadcast', fields);
  }

  async setPresence(patch) {
    await this._req('presence', { state: patch });
    const me = this._participants.get(this._client.user?.id);
    if (me) me.presence = mergePatch(me.presence ?? {}, patch);
  }

  /** One page of history; messages newer than lastSeq are also delivered as 'message' events. */
  async history(opts = {}) {
    const fields = {};
    for (const k of ['before', 'after', 'limit']) if (opts[k] !== undefined) fields[k] = opts[k];
    const data = await this._req('history', fields);
    const msgs = data?.messages ?? [];
    for (const m of msgs) if (m.seq > this._lastSeq) this._ingest(m);
    return msgs;
  }

  async updateState(patch) {
    const data = await this._req('state', { patch });
    this._applyState(data.state, data.stateVersion, data.currentMode); // false when an event was first
    return { state: data.state, stateVersion: data.stateVersion, currentMode: data.currentMode };
  }

  /** The room_update op (host): {name?, maxParticipants?, isPublic?} -> the room (also in `info`). */
  async updateSettings(patch) {
    const data = await this._req('room_update', { ...patch });
    const { name, maxParticipants, isPublic } = data.room;
    this._info = { ...this._info, name, maxParticipants, isPublic };
    return data.room;
  }

  async leave() {
    await this._req('leave', {});
    this._client._forget(this);
  }
}

// ---- Entities (shared scene state, docs/protocol.md "Entities") ----

/** Composes two RFC 7396 merge patches: applying the result = applying a, then b. */
function composePatch(a, b) {
  const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObj(a) || !isObj(b)) return b;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObj(v) && isObj(out[k]) ? composePatch(out[k], v) : v;
  return out;
}

const sameJson = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** The lock of a `locks` list entry ({id, userId, displayName, expiresAt}) as an entity's `lock`. */
const lockOf = (l) => ({ userId: l.userId, displayName: l.displayName, expiresAt: l.expiresAt });

/**
 * The entities of a room: a live, read-only Map-like view (id -> entity object as the
 * server has it, plus this client's transient changes not yet settled) and the operations
 * on it. Changes are emitted on the room: entity_created / entity_updated / entity_deleted /
 * entity_locked / entity_unlocked (with `source`: 'local' for this client's own acknowledged
 * or transient changes, 'remote' for events, 'sync' for join and sync replies) and 'synced'.
 *
 * Entity objects are replaced, never mutated, on every change: keep a reference to compare.
 */
export class Entities {
  constructor(room) {
    this._room = room;
    this._map = new Map(); // id -> entity as shown (server entity + our transient overlay)
    this._base = new Map(); // id -> server entity, for ids with an overlay
    this._overlay = new Map(); // id -> {patch, gen, from}: our transient patches not settled yet
    this._floor = 0; // stateVersion of the last join/sync reply: events at or below are in it
    this._transientInflight = 0;
    this._settleTimer = null;
    this._settling = null;
  }

  // ---- the Map-like view ----

  get size() {
    return this._map.size;
  }

  get(id) {
    return this._map.get(id);
  }

  has(id) {
    return this._map.has(id);
  }

  keys() {
    return this._map.keys();
  }

  values() {
    return this._map.values();
  }

  entries() {
    return this._map.entries();
  }

  forEach(fn, thisArg) {
    for (const [id, e] of this._map) fn.call(thisArg, e, id, this);
  }

  [Symbol.iterator]() {
    return this._map.entries();
  }

  // ---- operations ----

  /**
   * entity_create; resolves with the stored entity (version 1). `exists` carries `.entity`.
   * ownerOnly: only its owner (this user) and the host may change it.
   */
  async create({ id, kind, data, ownerOnly } = {}) {
    const fields = { kind };
    if (id !== undefined) fields.id = id;
    if (data !== undefined) fields.data = data;
    if (ownerOnly !== undefined) fields.ownerOnly = !!ownerOnly;
    const res = await this._request('entity_create', fields);
    const e = res?.entity;
    if (e) this._applyServer(e, { source: 'local', by: this._me() });
    return this._map.get(e?.id) ?? e;
  }

  /**
   * entity_update with a merge patch on `data`. Durable (default): resolves with the stored
   * entity; with `baseVersion` it applies only at that version (`conflict` with `.entity`).
   * Transient: applied here at once (optimistic) and resolved when the server took it.
   */
  async update(id, patch, { baseVersion, transient = false, ownerOnly } = {}) {
    if (transient && baseVersion !== undefined) {
      throw new ChorusError('validation_error', 'baseVersion cannot be combined with transient', { field: 'baseVersion' });
    }
    const fields = { id };
    if (patch !== undefined && patch !== null) fields.patch = patch;
    if (baseVersion !== undefined) fields.baseVersion = baseVersion;
    // The owner or the host sets or clears the flag (with or without a patch).
    if (ownerOnly !== undefined) fields.ownerOnly = !!ownerOnly;
    if (!transient) {
      const res = await this._request('entity_update', fields);
      const e = res?.entity;
      if (e) this._applyServer(e, { source: 'local', by: this._me() });
      return this._map.get(id) ?? e;
    }
    fields.transient = true;
    const gen = this._addOverlay(id, patch);
    this._transientInflight++;
    try {
      await this._request('entity_update', fields);
    } catch (e) {
      if (this._overlay.get(id)?.gen === gen) this._dropOverlay(id, 'local');
      throw e;
    } finally {
      this._transientInflight--;
      this._scheduleSettle();
    }
    return this._map.get(id);
  }

  /** entity_delete; resolves with the room stateVersion of the deletion. */
  async delete(id) {
    const res = await this._request('entity_delete', { id });
    const sv = res?.stateVersion;
    this._room._seenVersion(sv);
    this._remove(id, { source: 'local', by: this._me(), stateVersion: sv });
    return sv;
  }

  /** entity_lock (ttl in ms; the server's default when omitted); resolves with the lock. */
  async lock(id, ttl) {
    const fields = { id };
    if (ttl !== undefined) fields.ttl = ttl;
    const res = await this._request('entity_lock', fields);
    if (res?.lock) this._setLock(id, res.lock, { source: 'local' });
    return res?.lock;
  }

  /**
   * entity_unlock (the holder only; `forbidden` from anyone else). With `force` the host
   * breaks anyone's lock (reason 'broken').
   */
  async unlock(id, { force = false } = {}) {
    await this._request('entity_unlock', force ? { id, force: true } : { id });
    this._setLock(id, null, { source: 'local', reason: force ? 'broken' : 'unlocked' });
  }

  // ---- internals ----

  _me() {
    return this._room._client.user?.id;
  }

  async _request(op, fields) {
    try {
      return await this._room._req(op, fields);
    } catch (e) {
      // exists / conflict / locked carry the current entity: take it, it is the server's.
      if (e?.entity && typeof e.entity === 'object' && typeof e.entity.id === 'string') {
        this._applyServer(e.entity, { source: 'remote' });
        if (e.entity.lock !== undefined) this._setLock(e.entity.id, e.entity.lock ?? null, { source: 'remote', reason: 'sync' });
      }
      throw e;
    }
  }

  _emit(event, payload) {
    this._room._emit(event, payload);
  }

  /** The entity as shown: the server's, with our unsettled transient patch on top. */
  _view(e) {
    const o = this._overlay.get(e.id);
    return o ? { ...e, data: mergePatch(e.data ?? {}, o.patch) } : e;
  }

  _serverEntity(id) {
    return this._base.get(id) ?? this._map.get(id);
  }

  /** Stores id's shown entity and emits created/updated (nothing when it did not change). */
  _show(id, next, meta) {
    const prev = this._map.get(id);
    if (prev && prev !== next && sameJson(prev, next)) {
      this._map.set(id, next);
      return;
    }
    if (prev === next) return;
    this._map.set(id, next);
    const payload = { entity: next, by: meta.by, stateVersion: meta.stateVersion ?? next.stateVersion, source: meta.source };
    if (prev) this._emit('entity_updated', { ...payload, previous: prev, transient: !!meta.transient });
    else this._emit('entity_created', payload);
  }

  /** Takes an entity from the server unless what we have is as new (same stateVersion or later). */
  _applyServer(e, meta, { force = false } = {}) {
    if (!e || typeof e.id !== 'string') return;
    const cur = this._serverEntity(e.id);
    if (!force && cur && typeof cur.stateVersion === 'number' && typeof e.stateVersion === 'number'
        && e.stateVersion <= cur.stateVersion) return;
    this._room._seenVersion(e.stateVersion);
    if (this._overlay.has(e.id)) this._base.set(e.id, e);
    this._show(e.id, this._view(e), meta);
  }

  _remove(id, meta) {
    const prev = this._map.get(id);
    this._map.delete(id);
    this._base.delete(id);
    this._overlay.delete(id);
    if (prev) this._emit('entity_deleted', { id, entity: prev, by: meta.by, stateVersion: meta.stateVersion, source: meta.source });
  }

  /** Sets (lock object) or clears (null) id's lock; emits entity_locked / entity_unlocked. */
  _setLock(id, lock, { source, reason, emit = true }) {
    const upd = (e) => {
      if (!e) return e;
      const out = { ...e };
      if (lock) out.lock = lock;
      else delete out.lock;
      return out;
    };
    const cur = this._map.get(id);
    const changed = !sameJson(cur?.lock ?? null, lock ?? null);
    if (cur && changed) {
      if (this._base.has(id)) this._base.set(id, upd(this._base.get(id)));
      this._map.set(id, upd(cur));
    }
    if (!emit || (cur && !changed)) return;
    if (lock) this._emit('entity_locked', { id, lock, entity: this._map.get(id), source });
    else this._emit('entity_unlocked', { id, reason, entity: this._map.get(id), source });
  }

  _onEvent(msg) {
    if (msg.op === 'entity_lock') {
      if (msg.lock) this._setLock(msg.id, msg.lock, { source: 'remote' });
      return;
    }
    if (msg.op === 'entity_unlock') {
      this._setLock(msg.id, null, { source: 'remote', reason: msg.reason });
      return;
    }
    const sv = msg.stateVersion;
    if (typeof sv === 'number' && sv <= this._floor) return; // already in the last join/sync reply
    const meta = { source: 'remote', by: msg.by, stateVersion: sv, transient: !!msg.transient };
    if (msg.action === 'delete') {
      const cur = this._serverEntity(msg.id);
      if (cur && typeof sv === 'number' && typeof cur.stateVersion === 'number' && cur.stateVersion > sv) return;
      this._room._seenVersion(sv);
      this._remove(msg.id, meta);
      return;
    }
    if (msg.entity) {
      this._room._seenVersion(sv);
      this._applyServer(msg.entity, meta);
    }
  }

  /**
   * A join reply: `sync` (a rejoin with `since`), else `entities` (the first page of every
   * entity). Returns {version, cursor} when more pages follow (Room._followSync), else null.
   */
  _onJoin(data, sv, initial) {
    const source = 'sync';
    if (!initial) this._clearOverlays(); // the reply is the server's view; our held transients are in it or lost
    if (data.sync && typeof data.sync === 'object') {
      const more = data.sync.more === true;
      this._applySync(data.sync, { emitSynced: !more });
      return more ? { version: data.sync.stateVersion, cursor: data.sync.cursor } : null;
    }
    // A page of entities is complete up to its version only: the counter says that one.
    const next = data.entitiesNext && typeof data.entitiesNext === 'object' ? data.entitiesNext : null;
    const upto = next ? next.version : sv;
    if (Array.isArray(data.entities)) {
      this._replaceAll(data.entities, null, upto, { source, emit: !initial });
    }
    // A server without entities: nothing to do but keep the counter.
    if (initial || !Array.isArray(data.entities)) this._room._seenVersion(upto);
    if (!initial && !next) this._emit('synced', { type: 'full', stateVersion: this._room._stateVersion });
    return next;
  }

  /** Replaces every entity (a full sync or a join reply). locks: the list, or null to take entity.lock. */
  _replaceAll(entities, locks, sv, { source, emit = true }) {
    const ids = new Set(entities.map((e) => e.id));
    for (const id of [...this._map.keys()]) {
      if (!ids.has(id)) this._remove(id, { source, stateVersion: sv });
    }
    for (const e of entities) {
      const lockFromList = locks ? locks.find((l) => l.id === e.id) : undefined;
      let ent = e;
      if (locks) {
        ent = { ...e };
        if (lockFromList) ent.lock = lockOf(lockFromList);
        else delete ent.lock;
      }
      if (emit) {
        this._applyServer(ent, { source }, { force: true });
      } else {
        this._map.set(ent.id, this._view(ent));
      }
    }
    this._floor = sv;
    this._room._stateVersion = sv; // replace everything: also a server that went back
  }

  /** Applies a `sync` reply (or a join reply's `sync`). */
  _applySync(sync, { emitSynced = true } = {}) {
    if (!sync || typeof sync !== 'object') return;
    const sv = sync.stateVersion;
    const source = 'sync';
    const room = this._room;
    if (sync.type === 'full') {
      this._replaceAll(Array.isArray(sync.entities) ? sync.entities : [], Array.isArray(sync.locks) ? sync.locks : null, sv, { source });
      if (sync.state !== undefined) {
        room._stateAt = 0;
        room._applyState(sync.state, sv);
      }
    } else if (sync.type === 'delta') {
      for (const c of Array.isArray(sync.changes) ? sync.changes : []) {
        if (!c || typeof c.id !== 'string') continue;
        if (c.deleted) {
          const cur = this._serverEntity(c.id);
          if (cur && typeof cur.stateVersion === 'number' && cur.stateVersion > sv) continue; // newer event
          this._remove(c.id, { source, stateVersion: sv });
        } else {
          this._applyServer(c, { source });
        }
      }
      if (sync.state !== undefined) room._applyState(sync.state, sv);
      if (Array.isArray(sync.locks)) this._syncLocks(sync.locks);
      if (typeof sv === 'number' && sv > this._floor) this._floor = sv;
      room._seenVersion(sv);
    } else {
      // up_to_date: nothing changed, but locks (not state changes) may have ended meanwhile
      if (Array.isArray(sync.locks)) this._syncLocks(sync.locks);
      if (typeof sv === 'number' && sv > this._floor) this._floor = sv;
      room._seenVersion(sv);
    }
    if (emitSynced) this._emit('synced', { type: sync.type, stateVersion: room._stateVersion });
  }

  /** The sync's `locks` list is every current lock: set those, clear the others. */
  _syncLocks(locks) {
    const byId = new Map(locks.filter((l) => l && typeof l.id === 'string').map((l) => [l.id, lockOf(l)]));
    for (const [id, e] of [...this._map]) {
      const want = byId.get(id) ?? null;
      if (!sameJson(e.lock ?? null, want)) this._setLock(id, want, { source: 'sync', reason: 'sync' });
    }
  }

  // ---- transient overlay ----

  _addOverlay(id, patch) {
    const cur = this._overlay.get(id);
    const gen = (cur?.gen ?? 0) + 1;
    const server = this._serverEntity(id);
    // from: the stateVersion before the first patch; the server applies ours after it.
    const from = cur?.from ?? this._room._stateVersion;
    this._overlay.set(id, { patch: composePatch(cur?.patch ?? {}, patch), gen, from });
    if (server) {
      this._base.set(id, server);
      this._show(id, this._view(server), { source: 'local', by: this._me(), transient: true });
    }
    return gen;
  }

  _dropOverlay(id, source) {
    if (!this._overlay.delete(id)) return;
    const server = this._base.get(id);
    this._base.delete(id);
    if (server) this._show(id, server, { source, transient: true });
  }

  _clearOverlays() {
    clearTimeout(this._settleTimer);
    this._settleTimer = null;
    for (const id of [...this._overlay.keys()]) this._dropOverlay(id, 'sync');
  }

  /** Once our transient updates have been quiet for a while, sync to take what the server settled on. */
  _scheduleSettle() {
    if (!this._overlay.size || !this._room._active) return;
    clearTimeout(this._settleTimer);
    this._settleTimer = setTimeout(() => {
      this._settleTimer = null;
      if (this._transientInflight > 0) {
        this._scheduleSettle();
        return;
      }
      // From before our first patch: the delta then holds each of these entities as it is
      // now (our batches took stateVersions we never saw); newer events already won.
      const gens = new Map([...this._overlay].map(([id, o]) => [id, o.gen]));
      const from = Math.min(...[...this._overlay.values()].map((o) => o.from));
      this._room._syncFrom(from).then(() => {
        for (const [id, gen] of gens) if (this._overlay.get(id)?.gen === gen) this._dropOverlay(id, 'sync');
      }, () => { /* closed: the rejoin syncs and clears the overlays */ });
    }, TRANSIENT_SETTLE_MS);
  }

  _detach() {
    clearTimeout(this._settleTimer);
    this._settleTimer = null;
  }
}

// ---- Collaborative documents ----

const CURSOR_LOG = 500; // recent server ops kept to bring late cursor reports up to date
const CATCHUP_RETRIES = 40; // doc_ops polls while the server's store catches up (25 ms apart)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function randomId() {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID().replace(/-/g, '').slice(0, 12);
  return Math.random().toString(36).slice(2, 14).padEnd(12, '0');
}

/** A minimal op turning a into b (common prefix and suffix, in code points). */
function diffOp(a, b) {
  const ca = Array.from(a);
  const cb = Array.from(b);
  let p = 0;
  while (p < ca.length && p < cb.length && ca[p] === cb[p]) p++;
  let s = 0;
  while (s < ca.length - p && s < cb.length - p && ca[ca.length - 1 - s] === cb[cb.length - 1 - s]) s++;
  const op = [];
  if (p) op.push(p);
  if (cb.length - p - s) op.push(cb.slice(p, cb.length - s).join(''));
  if (ca.length - p - s) op.push({ d: ca.length - p - s });
  return normalize(op);
}

const isPos = (v) => Number.isInteger(v) && v >= 0;

/**
 * A shared text document: the client side of OT (see chorus.d.ts). The local text is the
 * server's text at `version` with the in-flight op and then the buffer applied to it.
 */
export class Doc extends Emitter {
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

  get id() {
    return this._id;
  }

  get text() {
    return this._text;
  }

  get version() {
    return this._version;
  }

  get state() {
    if (!this._inflight) return this._buffer ? 'awaiting_with_buffer' : 'synchronized';
    return this._buffer ? 'awaiting_with_buffer' : 'awaiting_confirm';
  }

  /** False after close(), or once the room is left (SDK extension). */
  get active() {
    return this._open;
  }

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

  _handlerError(e, event) {
    this._client._handlerError(e, event);
  }

  _me() {
    return this._client.user?.id;
  }

  // ---- local edits ----

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

  insert(pos, text) {
    if (!isPos(pos)) throw new ChorusError('invalid_op', 'insert: pos must be an integer >= 0');
    if (typeof text !== 'string') throw new ChorusError('invalid_op', 'insert: text must be a string');
    if (!text) return;
    this.submit(pos ? [pos, text] : [text]);
  }

  delete(pos, count) {
    if (!isPos(pos) || !isPos(count)) throw new ChorusError('invalid_op', 'delete: pos and count must be integers >= 0');
    if (!count) return;
    this.submit(pos ? [pos, { d: count }] : [{ d: count }]);
  }

  whenSynced() {
    if (!this._inflight && !this._buffer) return Promise.resolve();
    if (!this._open) return Promise.reject(new ChorusError('closed', `document ${this._id} is closed`));
    return new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
  }

  async setPresence(p) {
    let presence = null;
    if (p) {
      presence = { version: this._version };
      if (p.cursor !== undefined) presence.cursor = p.cursor;
      if (p.selection !== undefined) presence.selection = p.selection;
    }
    await this._room._req('doc_presence', { doc: this._id, presence });
  }

  /** Waits (up to requestTimeout) for pending edits while connected, then doc_close. */
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

  _flush() {
    if (!this._open || !this._ready || this._inflight || !this._buffer) return;
    const op = this._buffer;
    this._buffer = null;
    const opId = `${this._client._clientId}-${++this._client._opSeq}`;
    this._inflight = { op, orig: op, base: this._version, opId };
    this._send(this._inflight, this._version, op);
  }

  _send(inf, version, delta) {
    const gen = this._gen;
    const fields = { room: this._room.id, doc: this._id, version, delta, opId: inf.opId };
    // The ack is handled as soon as it is read: a remote op right behind it must see it.
    this._client._requestCb('doc_op', fields, (data) => this._onAck(inf, data, gen), (e) => {
      // Asynchronously, as a promise rejection would be (the send may fail synchronously).
      queueMicrotask(() => this._onSendError(inf, e, gen));
    });
  }

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

  _acked(version) {
    const inf = this._inflight;
    this._inflight = null;
    this._version = version;
    this._serverOp(version, inf.op, this._me());
    this._flush();
    this._maybeSynced();
  }

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

  _maybeSynced() {
    if (this._inflight || this._buffer || !this._ready) return;
    for (const w of this._waiters.splice(0)) w.resolve();
    this._emit('synced', { version: this._version });
  }

  // ---- remote ops ----

  _onEvent(msg) {
    if (!this._open) return;
    if (!this._ready) {
      this._queue.push(msg);
      return;
    }
    this._ingest(msg);
  }

  /** Takes one server op (event or catch-up) in version order; false on a gap. */
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

  /** Drops pending edits and takes the snapshot (emitted as a remote change), then reports err. */
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

  /** Records a server op (version, delta as the server has it) and moves cursors through it. */
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

  _moveCursor(r, op) {
    if (isPos(r.cursor)) r.cursor = transformPosition(r.cursor, op);
    if (Array.isArray(r.selection)) r.selection = r.selection.map((x) => transformPosition(x, op));
  }

  /** A position in the server text at `version` -> the local text (pending ops on top). */
  _toLocal(pos, version) {
    if (version !== this._version) return pos; // reported ahead of us: as is
    if (this._inflight) pos = transformPosition(pos, this._inflight.op);
    if (this._buffer) pos = transformPosition(pos, this._buffer);
    return pos;
  }

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

  _seedCursors() {
    this._rc.clear();
    const me = this._me();
    for (const [userId, p] of this._room._participants) {
      if (userId === me || p.online === false) continue;
      const d = p.presence?.docs?.[this._id];
      if (d) this._setCursor(userId, d);
    }
  }

  _onPresence(userId, patch, presence) {
    if (!this._open || userId === this._me()) return;
    if (!patch || typeof patch !== 'object' || !('docs' in patch)) return;
    const docs = patch.docs;
    if (docs !== null && (typeof docs !== 'object' || !(this._id in docs))) return;
    this._setCursor(userId, presence?.docs?.[this._id]);
    this._emit('cursors', this.cursors);
  }

  _onGone(userId) {
    if (this._rc.delete(userId)) this._emit('cursors', this.cursors);
  }
}

export default Chorus;
