// client.js: the Chorus client: the REST routes (docs/api.md), the WebSocket connection
// and its reconnect state machine (closed -> connecting -> open -> reconnecting -> open,
// rejoining every room with `since` after a drop), requests over it, and the routing of
// server events to rooms (docs/protocol.md).
//
// Works in browsers and in Node >= 20: the WebSocket is options.WebSocket, else
// globalThis.WebSocket (browsers, Node >= 22), else in Node the `ws` package when it is
// installed. REST goes through globalThis.fetch.

import { Emitter } from './emitter.js';
import { ChorusError, errorFromReply } from './errors.js';
import { Requests } from './requests.js';
import { restRequest } from './rest.js';
import { CALL_EVENTS } from './call.js';
import { ENTITY_OPS, ROOM_EVENTS, Room } from './room.js';
import { defaultUrl, nodeWebSocket, toWsUrl } from './socket.js';

/** @typedef {import('./types.js').Ban} Ban */
/** @typedef {import('./types.js').ChorusOptions} ChorusOptions */
/** @typedef {import('./types.js').ConnectionState} ConnectionState */
/** @typedef {import('./types.js').HistoryPage} HistoryPage */
/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').RoomInfo} RoomInfo */
/** @typedef {import('./types.js').RoomSettings} RoomSettings */
/** @typedef {import('./types.js').RoomSummary} RoomSummary */
/** @typedef {import('./types.js').Session} Session */
/** @typedef {import('./types.js').User} User */

const DEFAULT_TIMEOUT = 10000;
const DEFAULT_BASE = 250;
const DEFAULT_MAX = 10000;
const HISTORY_PAGE = 200; // the server's maximum `limit`
const MAX_MESSAGES = 1000; // room.messages keeps the newest this many
const CODE_RE = /^[A-Za-z0-9]{6}$/;

function randomId() {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID().replace(/-/g, '').slice(0, 12);
  return Math.random().toString(36).slice(2, 14).padEnd(12, '0');
}

/**
 * The events of a Chorus client. 'reconnect': a reconnection attempt was scheduled in
 * `delay` ms (attempt counts from 1 per outage) (SDK extension). 'reconnect_attempt': a
 * reconnection attempt starts now (SDK extension). Any other name: a server event the SDK
 * does not know (a future op), with the raw message (SDK extension).
 * @typedef {{
 *   connection: ConnectionState;
 *   error: ChorusError;
 *   token_expired: { graceMs: number };
 *   reconnect: { attempt: number; delay: number };
 *   reconnect_attempt: { attempt: number };
 * }} ChorusEvents
 */

/**
 * A client of one Chorus server: REST helpers (JSON in and out; they throw ChorusError
 * with the server's code) and one WebSocket, reconnected after a drop (the rooms are
 * joined again and their messages caught up, never lost or repeated).
 * @extends {Emitter<ChorusEvents, any>}
 */
export class Chorus extends Emitter {
  /** @internal */ _url;
  /** @internal */ _token;
  /** @internal */ _WebSocket;
  /** @internal */ _fetch;
  /** @internal */ _requestTimeout;
  /** @internal */ _historyPage;
  /** @internal */ _maxMessages;
  /** @internal */ _reconnect;
  /** @internal */ _state;
  /** @internal */ _ws;
  /** @internal */ _authed;
  /** @internal */ _authToken;
  /** @internal */ _requests;
  /** @internal */ _rooms;
  /** @internal */ _joinsInFlight;
  /** @internal */ _orphans;
  /** @internal */ _closedByUser;
  /** @internal */ _attempt;
  /** @internal */ _reconnectTimer;
  /** @internal */ _rejoinTimers;
  /** @internal */ _connecting;
  /** @internal */ _abortOpen;
  /** @internal */ _waiters;
  /** @internal */ _clientId;
  /** @internal */ _opSeq;
  /**
   * The user of the authenticated socket (`auth` reply), null before (SDK extension).
   * @readonly
   * @type {{ id: string; name: string | null; color: string | null } | null}
   */
  user;

  /** @param {ChorusOptions} [options] */
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
    this._requests = new Requests(); // the requests waiting for their reply
    this._rooms = new Map(); // room id -> Room
    this._joinsInFlight = 0;
    this._orphans = []; // room events that arrived before their join reply
    this._closedByUser = true;
    this._attempt = 0;
    this._reconnectTimer = null;
    /** @internal Rooms' rejoins waiting to be tried again (_retryRejoin). */
    this._rejoinTimers = new Set();
    this._connecting = null; // the promise of connect() in progress
    this._abortOpen = null; // rejects the socket opening in progress
    this._waiters = []; // connect() calls while reconnecting: {resolve, reject}
    this.user = null; // {id, name, color} from the auth reply
    this._clientId = randomId(); // opIds of document ops: `${clientId}-${n}`
    this._opSeq = 0;
  }

  // ---- properties ----

  /** @returns {ConnectionState} */
  get state() {
    return this._state;
  }

  /**
   * Setting a different token while connected re-authenticates the socket (`auth` renewal).
   * @returns {string | undefined}
   */
  get token() {
    return this._token;
  }

  /** @param {string | undefined} t */
  set token(t) {
    this._token = t;
    if (this._authed && t && t !== this._authToken) {
      this._renew(t).catch((e) => this._emit('error', e));
    }
  }

  /**
   * The underlying WebSocket object, null when not connected; for diagnostics and tests
   * (SDK extension).
   * @returns {any}
   */
  get socket() {
    return this._ws;
  }

  /**
   * The rooms joined on this client, id -> Room (a copy) (SDK extension).
   * @returns {Map<string, Room>}
   */
  get rooms() {
    return new Map(this._rooms);
  }

  /** @internal */
  _handlerError(e, event) {
    if (event !== 'error' && this._listenerCount('error') > 0) {
      this._emit('error', e instanceof ChorusError ? e : new ChorusError('handler_error', String(e?.stack ?? e)));
    } else {
      console.error('chorus: an event handler threw:', e);
    }
  }

  /** @internal */
  _setState(s) {
    if (this._state === s) return;
    this._state = s;
    this._emit('connection', s);
  }

  // ---- REST ----

  /** @internal */
  _rest(method, path, body, opts) {
    const cfg = { url: this._url, fetch: this._fetch, token: this._token, timeout: this._requestTimeout };
    return restRequest(cfg, method, path, body, opts);
  }

  /**
   * POST /api/auth/register; also sets this.token.
   * @param {string} email
   * @param {string} password
   * @param {string} username
   * @returns {Promise<Session>}
   */
  async register(email, password, username) {
    const j = await this._rest('POST', '/api/auth/register', { email, password, username }, { auth: false });
    this.token = j.token;
    return { token: j.token, user_id: j.user_id, user: j.user };
  }

  /**
   * POST /api/auth/login; also sets this.token.
   * @param {string} email
   * @param {string} password
   * @returns {Promise<Session>}
   */
  async login(email, password) {
    const j = await this._rest('POST', '/api/auth/login', { email, password }, { auth: false });
    this.token = j.token;
    return { token: j.token, user_id: j.user_id, user: j.user };
  }

  /**
   * GET /api/auth/me.
   * @returns {Promise<User>}
   */
  async me() {
    return (await this._rest('GET', '/api/auth/me')).user;
  }

  /**
   * PATCH /api/users/me; takes the fresh token.
   * @param {{ username?: string; color?: string }} patch
   * @returns {Promise<User>}
   */
  async updateMe(patch) {
    const j = await this._rest('PATCH', '/api/users/me', patch);
    if (j.token) this.token = j.token;
    return j.user;
  }

  /**
   * Signs out: closes the client (no reconnection with a token about to be refused),
   * revokes the token on the server (POST /api/auth/logout) and forgets it. The token is
   * forgotten even when the request fails (the error is then thrown).
   * @returns {Promise<void>}
   */
  async logout() {
    await this._signOut('/api/auth/logout');
  }

  /**
   * Signs out every session of the account (POST /api/auth/logout-all), this one too.
   * @returns {Promise<void>}
   */
  async logoutAll() {
    await this._signOut('/api/auth/logout-all');
  }

  /** @internal */
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
   * @param {string} currentPassword
   * @param {string} newPassword
   * @returns {Promise<Session>}
   */
  async changePassword(currentPassword, newPassword) {
    const j = await this._rest('POST', '/api/auth/password', { currentPassword, newPassword });
    this.token = j.token;
    return { token: j.token, user_id: j.user_id, user: j.user };
  }

  /**
   * DELETE /api/users/me: deletes the account (the password confirms it), then closes the
   * client and forgets the token. A refusal (wrong password) changes nothing.
   * @param {string} password
   * @returns {Promise<void>}
   */
  async deleteAccount(password) {
    await this._rest('DELETE', '/api/users/me', { password });
    this.close();
    this._token = undefined;
  }

  /**
   * POST /api/rooms/create.
   * @param {{ name: string; maxParticipants?: number; isPublic?: boolean; state?: object }} opts
   * @returns {Promise<RoomInfo>}
   */
  async createRoom(opts) {
    return (await this._rest('POST', '/api/rooms/create', opts)).room;
  }

  /**
   * A room by id, or by its 6-character code (GET /api/rooms/code/:code); a
   * non-participant gets a RoomSummary.
   * @param {string} idOrCode
   * @returns {Promise<RoomInfo>}
   */
  async getRoom(idOrCode) {
    const p = CODE_RE.test(idOrCode)
      ? `/api/rooms/code/${encodeURIComponent(idOrCode)}`
      : `/api/rooms/${encodeURIComponent(idOrCode)}`;
    return (await this._rest('GET', p)).room;
  }

  /**
   * GET /api/rooms: the rooms of this user.
   * @returns {Promise<RoomInfo[]>}
   */
  async myRooms() {
    return (await this._rest('GET', '/api/rooms')).rooms;
  }

  /**
   * The first page of public rooms; summaries: no `state` or `currentMode` (see publicRoomsPage).
   * @param {{ limit?: number; cursor?: string }} [opts]
   * @returns {Promise<RoomSummary[]>}
   */
  async publicRooms(opts = {}) {
    return (await this.publicRoomsPage(opts)).rooms;
  }

  /**
   * GET /api/rooms/public, one page: pass `nextCursor` back as `cursor` (null: the last page).
   * @param {{ limit?: number; cursor?: string | null }} [opts]
   * @returns {Promise<{ rooms: RoomSummary[]; nextCursor: string | null }>}
   */
  async publicRoomsPage(opts = {}) {
    const q = new URLSearchParams();
    for (const k of ['limit', 'cursor']) if (opts[k] !== undefined && opts[k] !== null) q.set(k, String(opts[k]));
    const qs = q.toString();
    const j = await this._rest('GET', `/api/rooms/public${qs ? `?${qs}` : ''}`);
    return { rooms: j.rooms, nextCursor: j.nextCursor ?? null };
  }

  /**
   * DELETE /api/rooms/:roomId (host).
   * @param {string} id
   * @returns {Promise<void>}
   */
  async deleteRoom(id) {
    await this._rest('DELETE', `/api/rooms/${encodeURIComponent(id)}`);
  }

  /**
   * POST /api/rooms/:roomId/code (host only): a new code and joinLink; the old code stops working.
   * @param {string} roomId
   * @returns {Promise<RoomInfo>}
   */
  async rotateRoomCode(roomId) {
    return (await this._rest('POST', `/api/rooms/${encodeURIComponent(roomId)}/code`)).room;
  }

  /**
   * POST /api/rooms/:roomId/kick (host); with ban the user may not join again.
   * @param {string} roomId
   * @param {string} userId
   * @param {boolean} [ban]
   * @returns {Promise<void>}
   */
  async kick(roomId, userId, ban = false) {
    await this._rest('POST', `/api/rooms/${encodeURIComponent(roomId)}/kick`, { userId, ban: !!ban });
  }

  /**
   * PATCH /api/rooms/:roomId (host): at least one setting; 409 capacity_below_participants.
   * @param {string} roomId
   * @param {RoomSettings} patch
   * @returns {Promise<RoomInfo>}
   */
  async updateRoom(roomId, patch) {
    return (await this._rest('PATCH', `/api/rooms/${encodeURIComponent(roomId)}`, patch)).room;
  }

  /**
   * GET /api/rooms/:roomId/bans (host), oldest ban first.
   * @param {string} roomId
   * @returns {Promise<Ban[]>}
   */
  async bans(roomId) {
    return (await this._rest('GET', `/api/rooms/${encodeURIComponent(roomId)}/bans`)).bans;
  }

  /**
   * DELETE /api/rooms/:roomId/bans/:userId (host): the user may join again; 404 not_found
   * when the user is not banned.
   * @param {string} roomId
   * @param {string} userId
   * @returns {Promise<void>}
   */
  async unban(roomId, userId) {
    await this._rest('DELETE', `/api/rooms/${encodeURIComponent(roomId)}/bans/${encodeURIComponent(userId)}`);
  }

  /**
   * GET /api/rooms/:roomId/messages, ascending by seq (SDK extension).
   * @param {string} roomId
   * @param {{ before?: number; after?: number; limit?: number }} [opts]
   * @returns {Promise<Message[]>}
   */
  async roomMessages(roomId, opts = {}) {
    return (await this.roomMessagesPage(roomId, opts)).messages;
  }

  /**
   * The same page with the server's `more` flag: true when the reply budget cut the page
   * short (continue with `before` = the first seq, or `after` = the last) (SDK extension).
   * @param {string} roomId
   * @param {{ before?: number; after?: number; limit?: number }} [opts]
   * @returns {Promise<HistoryPage>}
   */
  async roomMessagesPage(roomId, opts = {}) {
    const q = new URLSearchParams();
    for (const k of ['before', 'after', 'limit']) if (opts[k] !== undefined) q.set(k, String(opts[k]));
    const qs = q.toString();
    const j = await this._rest('GET', `/api/rooms/${encodeURIComponent(roomId)}/messages${qs ? `?${qs}` : ''}`);
    return { messages: j.messages, more: j.more === true };
  }

  // ---- WebSocket ----

  /**
   * Opens the WebSocket and authenticates (first-message `auth`). Resolves when open.
   * @returns {Promise<void>}
   */
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

  /**
   * Closes for good (no reconnection); pending requests reject with 'closed'.
   * @returns {void}
   */
  close() {
    this._closedByUser = true;
    if (this._reconnectTimer) clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    for (const t of this._rejoinTimers) clearTimeout(t);
    this._rejoinTimers.clear();
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

  /** @internal */
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
   * @internal
   */
  _openSocket() {
    if (typeof this._WebSocket === 'function') return this._openWith(this._WebSocket);
    return nodeWebSocket().then((WS) => {
      if (this._closedByUser) throw new ChorusError('closed', 'the client was closed');
      if (WS) this._WebSocket = WS;
      return this._openWith(WS);
    });
  }

  /** @internal */
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

  /** @internal */
  _policyError(code, reason) {
    if (code !== 1008 && code !== 1009 && code !== 1002 && code !== 1003 && code !== 1007) return null;
    const r = reason.toLowerCase();
    const c = r.includes('token expired') ? 'token_expired'
      : r.includes('authentication timeout') ? 'auth_timeout'
        : 'connection_closed';
    return new ChorusError(c, `the server closed the connection: ${code} ${reason}`.trim(), { closeCode: code });
  }

  /** @internal The authenticated socket closed without close(): reconnect (unless disabled). */
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

  /** @internal Backoff: delay = min(max, base * 2^attempt) * (0.5 + random/2). */
  _backoff(attempt) {
    const { base, max } = this._reconnect;
    return Math.min(max, base * 2 ** attempt) * (0.5 + Math.random() / 2);
  }

  /** @internal */
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

  /** @internal */
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

  /** @internal */
  async _rejoinAll() {
    const rooms = [...this._rooms.values()];
    await Promise.all(rooms.map((room) => this._rejoinRoom(room, 0)));
    this._flushOrphans();
  }

  /**
   * @internal A rejoin answered `unavailable` (in a cluster, a room whose home was lost and
   * not taken over yet): the room is kept and its rejoin tried again on this connection
   * with the reconnect backoff (a reconnect meanwhile rejoins it anyway).
   */
  _retryRejoin(room, attempt) {
    const sock = this._ws;
    const timer = setTimeout(() => {
      this._rejoinTimers.delete(timer);
      if (this._closedByUser || sock !== this._ws || this._rooms.get(room.id) !== room) return;
      this._rejoinRoom(room, attempt + 1).then(() => this._flushOrphans());
    }, this._backoff(attempt));
    timer.unref?.(); // Node: a room waiting for its home keeps no process alive
    this._rejoinTimers.add(timer);
  }

  /** @internal Rejoins one room after a reconnect (attempt: its rejoins answered unavailable). */
  async _rejoinRoom(room, attempt) {
    {
      room._resyncing = true;
      let data;
      try {
        // `since`: the server answers with the changes of the shared state (`sync`).
        data = await this._joinRequest(room.id, room._displayName, room._stateVersion);
      } catch (e) {
        room._resyncing = false;
        room._held.length = 0; // of no subscription of this connection's
        if (e.code === 'closed') return; // the next reconnect retries
        if (e.code === 'timeout') {
          // No answer on a live socket: start over with a fresh connection.
          if (this._ws && !this._closedByUser) this._ws.close(4000, 'rejoin timeout');
          return;
        }
        if (e.code === 'unavailable' || e.code === 'service_unavailable') {
          this._retryRejoin(room, attempt);
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
      room._call._onRejoin(); // a new connection: a new call member, new peer connections
      try {
        if (room._paging) await room._paging;
      } catch (e) {
        if (e.code !== 'closed') room._emit('error', e); // 'closed': the next reconnect resyncs
      }
    }
  }

  /** @internal */
  async _renew(token) {
    const data = await this._request('auth', { token });
    if (this._token === token) this._authToken = token;
    this.user = data?.user ?? this.user;
    return data;
  }

  /** @internal */
  _rejectPending(err) {
    this._requests.rejectAll(err);
  }

  /**
   * Sends any op and resolves with the reply's data (rejects with ChorusError).
   * @param {string} op
   * @param {object} [fields]
   * @returns {Promise<any>}
   */
  request(op, fields = {}) {
    return this._request(op, fields);
  }

  /** @internal */
  _request(op, fields = {}, { beforeAuth = false } = {}) {
    return new Promise((resolve, reject) => this._requestCb(op, fields, resolve, reject, beforeAuth));
  }

  /**
   * Sends a request; resolve/reject run synchronously when the reply is read, before the
   * next message (a promise would run its handlers after every message of the same read).
   * @internal
   */
  _requestCb(op, fields, resolve, reject, beforeAuth = false) {
    const ws = this._ws;
    if (!ws || (!this._authed && !beforeAuth)) {
      reject(new ChorusError('closed', `not connected (${this._state})`));
      return;
    }
    const ref = this._requests.add(op, resolve, reject, this._requestTimeout,
      () => new ChorusError('timeout', `no reply to "${op}" within ${this._requestTimeout} ms`));
    const msg = { ...fields, op, ref };
    try {
      ws.send(JSON.stringify(msg));
    } catch (e) {
      this._requests.cancel(ref);
      reject(new ChorusError('closed', `send failed: ${e?.message ?? e}`));
    }
  }

  /** @internal */
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
        // A late reply (after a timeout) settles nothing.
        this._requests.settle(msg.ref, !!msg.ok, msg.data ?? null, () => errorFromReply(msg.error));
        return;
      }
      case 'error':
        this._emit('error', errorFromReply(msg.error));
        return;
      case 'token_expired':
        this._emit('token_expired', { graceMs: msg.graceMs });
        return;
      default:
        if ((ROOM_EVENTS.has(msg.op) || ENTITY_OPS.has(msg.op) || CALL_EVENTS.has(msg.op) || msg.op === 'doc_op') &&
          typeof msg.room === 'string') {
          this._routeRoomEvent(msg);
          return;
        }
        this._emit(msg.op, msg); // anything else (future server events)
    }
  }

  /** @internal */
  _routeRoomEvent(msg) {
    const room = this._rooms.get(msg.room) ?? this._findRoomByCode(msg.room);
    if (room) {
      room._handle(msg);
    } else if (this._joinsInFlight > 0) {
      // The event may belong to a room whose join reply is on its way.
      this._orphans.push(msg);
    }
  }

  /** @internal */
  _findRoomByCode(code) {
    for (const r of this._rooms.values()) if (r.code && r.code.toUpperCase() === code.toUpperCase()) return r;
    return undefined;
  }

  /** @internal */
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

  /**
   * @internal Routes the buffered events of rooms joined meanwhile; drops the rest when no join is in flight.
   */
  _flushOrphans() {
    const keep = [];
    for (const m of this._orphans) {
      const room = this._rooms.get(m.room) ?? this._findRoomByCode(m.room);
      if (room) room._handle(m);
      else if (this._joinsInFlight > 0) keep.push(m);
    }
    this._orphans = keep;
  }

  /**
   * Joins a room by code or id over the WebSocket; joining a joined room returns the same
   * Room. Resolves once every page of the room's entities arrived (a large room's join
   * reply holds the first page; the SDK follows the rest with `sync`).
   * @param {string} codeOrId
   * @param {{ displayName?: string }} [opts]
   * @returns {Promise<Room>}
   */
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

  /** @internal */
  _forget(room) {
    if (this._rooms.get(room.id) === room) this._rooms.delete(room.id);
    room._detach();
  }
}
