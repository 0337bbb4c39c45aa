// chorus.js: the JavaScript client SDK of Chorus (one ES module, no dependencies).
// Public API: chorus.d.ts. Wire protocol: docs/protocol.md. REST: docs/api.md.
//
// Works in browsers and in Node >= 20 (pass the `ws` package as options.WebSocket when
// globalThis.WebSocket is missing). REST goes through globalThis.fetch.

const DEFAULT_TIMEOUT = 10000;
const DEFAULT_BASE = 250;
const DEFAULT_MAX = 10000;
const HISTORY_PAGE = 200; // the server's maximum `limit`
const ROOM_EVENTS = new Set([
  'message', 'participant_joined', 'participant_left', 'participant_removed', 'presence',
  'state', 'broadcast', 'room_deleted', 'kicked',
]);
const RESERVED_ROOM_EVENTS = new Set([...ROOM_EVENTS, 'error']);
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
    typeof e.message === 'string' ? e.message : 'request failed', { field: e.field, ...extra });
}

export class Chorus extends Emitter {
  constructor(options = {}) {
    super();
    this._url = (options.url ?? defaultUrl())?.replace(/\/+$/, '');
    this._token = options.token;
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this._fetch = options.fetch ?? globalThis.fetch?.bind(globalThis);
    this._requestTimeout = options.requestTimeout ?? DEFAULT_TIMEOUT;
    this._historyPage = Math.max(1, Math.min(HISTORY_PAGE, options.historyPage ?? HISTORY_PAGE));
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

  async publicRooms() {
    return (await this._rest('GET', '/api/rooms/public')).rooms;
  }

  async deleteRoom(id) {
    await this._rest('DELETE', `/api/rooms/${encodeURIComponent(id)}`);
  }

  async kick(roomId, userId, ban = false) {
    await this._rest('POST', `/api/rooms/${encodeURIComponent(roomId)}/kick`, { userId, ban: !!ban });
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
    return new Promise((resolve, reject) => {
      const WS = this._WebSocket;
      if (typeof WS !== 'function') {
        reject(new ChorusError('network', 'no WebSocket implementation: pass options.WebSocket'));
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
        data = await this._joinRequest(room.id, room._displayName);
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
    const ws = this._ws;
    if (!ws || (!this._authed && !beforeAuth)) {
      return Promise.reject(new ChorusError('closed', `not connected (${this._state})`));
    }
    const ref = ++this._ref;
    const msg = { ...fields, op, ref };
    return new Promise((resolve, reject) => {
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
    });
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
        if (ROOM_EVENTS.has(msg.op) && typeof msg.room === 'string') {
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

  async _joinRequest(codeOrId, displayName) {
    const fields = { room: codeOrId };
    if (displayName !== undefined) fields.displayName = displayName;
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

  get stateVersion() {
    return this._stateVersion;
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
    this._stateVersion = data.stateVersion ?? data.room.stateVersion ?? 0;
    const msgs = [...(data.messages ?? [])].sort((a, b) => a.seq - b.seq);
    const last = typeof data.lastSeq === 'number' ? data.lastSeq : (msgs.at(-1)?.seq ?? 0);
    this._serverLastSeq = Math.max(last, msgs.at(-1)?.seq ?? 0);
    if (initial) {
      // The join history is the starting point: kept in `messages`, not emitted.
      this._messages = msgs;
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
    this._pendingMsgs.clear();
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
        this._emit('participant_left', { userId: msg.userId, reason: msg.reason });
        return;
      }
      case 'participant_removed':
        this._participants.delete(msg.userId);
        this._emit('participant_removed', { userId: msg.userId, reason: msg.reason });
        return;
      case 'presence': {
        const p = this._participants.get(msg.userId);
        let presence = mergePatch({}, msg.state ?? {});
        if (p) {
          p.presence = mergePatch(p.presence ?? {}, msg.state ?? {});
          presence = p.presence;
        }
        this._emit('presence', { userId: msg.userId, state: msg.state, presence });
        return;
      }
      case 'state':
        this._applyState(msg.state, msg.version, msg.currentMode);
        this._emit('state', { state: msg.state, version: msg.version, currentMode: msg.currentMode });
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
      default:
    }
  }

  _applyState(state, version, currentMode) {
    if (typeof version === 'number' && version < this._stateVersion) return; // stale
    this._state = state ?? {};
    if (typeof version === 'number') this._stateVersion = version;
    this._info = { ...this._info, state: this._state, stateVersion: this._stateVersion, currentMode };
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
    this._applyState(data.state, data.stateVersion, data.currentMode);
    return { state: data.state, stateVersion: data.stateVersion, currentMode: data.currentMode };
  }

  async leave() {
    await this._req('leave', {});
    this._client._forget(this);
  }
}

export default Chorus;
