// room.js: a joined room: participants, presence, state, messages in seq order (with the
// catch-up of gaps after a reconnect), room events, and the way to its documents and
// entities. The client (client.js) routes the room's events here.

import { ASSET_OPS, Assets } from './assets.js';
import { Call, CALL_EVENTS } from './call.js';
import { Doc } from './doc.js';
import { Emitter } from './emitter.js';
import { Entities } from './entities.js';
import { ChorusError } from './errors.js';
import { newClientId, Outbox } from './outbox.js';
import { mergePatch } from './patch.js';
import { Participants } from './participants.js';
import { snapshotAt } from './snapshot.js';

/** @typedef {import('./types.js').Asset} Asset */
/** @typedef {import('./upload.js').UploadOptions} UploadOptions */
/** @typedef {import('./types.js').Entity} Entity */
/** @typedef {import('./types.js').EntityEvent} EntityEvent */
/** @typedef {import('./types.js').EntityLock} EntityLock */
/** @typedef {import('./types.js').EntitySource} EntitySource */
/** @typedef {import('./types.js').HistoryPage} HistoryPage */
/** @typedef {import('./types.js').ActivityRow} ActivityRow */
/** @typedef {import('./types.js').ActivityPage} ActivityPage */
/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').Participant} Participant */
/** @typedef {import('./types.js').ParticipantPage} ParticipantPage */
/** @typedef {import('./types.js').ParticipantQuery} ParticipantQuery */
/** @typedef {import('./types.js').RoomInfo} RoomInfo */
/** @typedef {import('./types.js').RoomSettings} RoomSettings */
/** @typedef {import('./types.js').SyncResult} SyncResult */

/** The server ops that are events of a room (docs/protocol.md). */
export const ROOM_EVENTS = new Set([
  'message', 'participant_joined', 'participant_left', 'participant_removed', 'presence', 'participants_changed',
  'state', 'broadcast', 'room_deleted', 'kicked', 'room_code', 'room_updated', 'activity',
  'room_reset', ...ASSET_OPS,
]);
/** Entity ops the server sends to a room (docs/protocol.md "Entities"). */
export const ENTITY_OPS = new Set(['entity', 'entity_lock', 'entity_unlock']);
// What a Room emits for its shared scene state (a broadcast by one of these names only
// arrives as 'broadcast', like the other room events).
const ENTITY_EVENTS = ['entity_created', 'entity_updated', 'entity_deleted', 'entity_locked', 'entity_unlocked', 'synced'];
const RESERVED_ROOM_EVENTS = new Set([...ROOM_EVENTS, ...ENTITY_OPS, ...ENTITY_EVENTS, ...CALL_EVENTS, 'error', 'participants_count']);

/**
 * The events of a Room and their payloads. Entity changes come from this client
 * ('local'), events ('remote') or a join/sync reply ('sync'). entity_unlocked's reason:
 * unlocked | expired | disconnected | left | deleted | broken, or 'sync' (a sync reply
 * showed it gone; 'disconnected' when its holder is offline by then). After a room_reset
 * (or a reconnect) the rejoin's differences arrive as the live events: participant_left,
 * participant_removed (reason 'reset'), participant_joined, presence, entity_locked and
 * entity_unlocked (clients/js/README.md). 'synced': a sync was applied (after a reconnect, room.sync(), or the
 * settling of transient updates). 'room_code': the host rotated the code (`code` and `info`
 * show the new one already). 'room_updated': the host changed the settings (any
 * connection's change, this one's too; `info` has them already). 'error': a failed rejoin
 * after a reconnect, or a failed catch-up (SDK extension). 'broadcast': every broadcast,
 * whatever its name (SDK extension; names that clash with the other events only come this
 * way). 'activity': a row of the room's activity stream was written (docs/protocol.md
 * "Activity"). 'asset_added', 'asset_removed', 'asset_updated': the room's assets changed
 * (room.assets, docs/assets.md). 'participants_count': participantCount or onlineCount
 * changed. A large room's coalesced `participants_changed` arrives as participant_left /
 * participant_removed, participant_joined and presence events, in that order (SDK
 * extension). Any other name is a custom broadcast: room.on('entry_created', ({from, data}) => …).
 * @typedef {{
 *   message: Message;
 *   participant_joined: Participant;
 *   participant_left: { userId: string; reason: string };
 *   participant_removed: { userId: string; reason: string };
 *   presence: { userId: string; state: object; presence: object };
 *   participants_count: { participantCount: number; onlineCount: number };
 *   state: { state: object; version: number; currentMode: unknown };
 *   room_deleted: { reason: string };
 *   kicked: { ban: boolean };
 *   room_code: { roomCode: string; joinLink: string };
 *   room_updated: { name: string; maxParticipants: number; isPublic: boolean; by: string };
 *   activity: ActivityRow;
 *   asset_added: { asset: Asset };
 *   asset_removed: { asset: Asset };
 *   asset_updated: { asset: Asset };
 *   error: ChorusError;
 *   entity_created: EntityEvent;
 *   entity_updated: EntityEvent & { previous: Entity; transient: boolean };
 *   entity_deleted: { id: string; entity: Entity; by?: string; stateVersion?: number; source: EntitySource };
 *   entity_locked: { id: string; lock: EntityLock; entity?: Entity; source: EntitySource };
 *   entity_unlocked: { id: string; reason: string; entity?: Entity; source: EntitySource };
 *   synced: SyncResult;
 *   broadcast: { event: string; from: string; data: unknown };
 * }} RoomEvents
 */

/**
 * A room joined over the WebSocket (chorus.join()). Its events: RoomEvents.
 * @extends {Emitter<RoomEvents, { from: string; data: unknown }>}
 */
export class Room extends Emitter {
  /** @internal */ _client;
  /** @internal */ _displayName;
  /** @internal */ _participants;
  /** @internal */ _people;
  /** @internal */ _messages;
  /** @internal */ _lastSeq;
  /** @internal */ _serverLastSeq;
  /** @internal */ _pendingMsgs;
  /** @internal */ _resyncing;
  /** @internal */ _held;
  /** @internal */ _catching;
  /** @internal */ _active;
  /** @internal */ _docs;
  /** @internal */ _docOpening;
  /** @internal */ _docEarly;
  /** @internal */ _stateVersion;
  /** @internal */ _stateAt;
  /** @internal */ _entities;
  /** @internal */ _info;
  /** @internal */ _role;
  /** @internal */ _state;
  /** @internal */ _paging;
  /** @internal */ _call;
  /** @internal */ _assets;
  /** @internal */ _outbox;
  /** @internal */ _resets;
  /** @internal */ _resetting;
  /** @internal */ _resetDone;

  /** @internal */
  constructor(client, data, displayName) {
    super();
    this._client = client;
    this._displayName = displayName;
    this._participants = new Map();
    this._people = new Participants(this, this._participants);
    // the users watchPresence() watches (sent again after a rejoin); null: none
    this._watching = null;
    this._messages = [];
    this._lastSeq = 0; // highest seq delivered (everything up to it is in order)
    this._serverLastSeq = 0; // lastSeq of the last join reply
    this._pendingMsgs = new Map(); // seq -> message held back until the gap is filled
    this._resyncing = false;
    // A rejoin's in flight (_resyncing): the room's events that came behind its reply,
    // applied after it (_applyJoin), not to what the rejoin replaces.
    this._held = [];
    this._catching = null;
    this._active = true;
    this._resets = 0; // room_reset events received
    this._resetting = null; // a room_reset's rejoin: resolves once answered
    this._resetDone = null;
    this._docs = new Map(); // doc id -> Doc
    this._docOpening = new Map(); // doc id -> Promise<Doc>
    this._docEarly = new Map(); // doc id -> events received while opening
    this._stateVersion = 0; // the highest stateVersion seen (state and entity changes)
    this._stateAt = 0; // the stateVersion `state` is at
    this._entities = new Entities(this);
    this._call = new Call(this);
    this._assets = new Assets(this);
    this._outbox = new Outbox(this, client._ws);
    this._applyJoin(data, true);
  }

  /** @returns {string} */
  get id() {
    return this._info.id;
  }

  /** @returns {string} */
  get code() {
    return this._info.roomCode;
  }

  /** @returns {RoomInfo} */
  get info() {
    return this._info;
  }

  /** @returns {'host' | 'member'} */
  get role() {
    return this._role;
  }

  /**
   * Live map userId -> participant, updated by events. In a large room it holds the pages
   * loaded so far (participantsComplete, loadParticipants()) and whoever came online since.
   * @returns {Map<string, Participant>}
   */
  get participants() {
    return this._participants;
  }

  /**
   * Seats taken in the room (all of them, loaded or not); 'participants_count' on a change.
   * @returns {number}
   */
  get participantCount() {
    return this._people._count;
  }

  /** @returns {number} participants online (all of them, loaded or not) */
  get onlineCount() {
    return this._people._online;
  }

  /**
   * The cursor of the next page of the room's participants (null: `participants` holds
   * everyone; always null in a small room).
   * @returns {string | null}
   */
  get participantsNext() {
    return this._people._next;
  }

  /** @returns {boolean} whether `participants` holds everyone (participantsNext is null) */
  get participantsComplete() {
    return this._people._next === null;
  }

  /**
   * Loads participants into `participants` (the `participants` op): without query or
   * online, the next page of the room's list (from participantsNext, which it advances;
   * the first page again once complete); with them, the first page of that search.
   * page.more() loads the page after it.
   * @param {ParticipantQuery} [opts]
   * @returns {Promise<ParticipantPage>}
   */
  loadParticipants(opts = {}) {
    return this._people._load(opts);
  }

  /**
   * Watches the presence of these participants (the `presence_subscribe` op). In a large
   * room the server sends a participant's presence changes (cursors, typing, ...) only to
   * the connections that watch them, so watch whoever this client shows: the people near
   * it, those in the open document. Replaces the set watched before; `[]` stops watching.
   * At most the server's `--room-presence-subscribe-max` users (256; more: a
   * `too_many_users` error, the old set kept). The current presence of those online is
   * put into `participants` and emitted as 'presence' events. The set is sent again after
   * every rejoin (a reconnect, a room_reset). A small room sends everyone's presence
   * anyway.
   * @param {string[]} userIds
   * @returns {Promise<{users: number, presence: Record<string, Record<string, unknown>>}>}
   */
  async watchPresence(userIds) {
    const users = [...new Set(userIds ?? [])];
    const data = await this._req('presence_subscribe', { users });
    this._watching = users;
    const presence = data?.presence ?? {};
    this._people._watched(presence);
    return { users: data?.users ?? users.length, presence };
  }

  /** @internal After a rejoin: the watched set again (the new subscription has none). */
  _rewatch() {
    if (!this._watching?.length) return;
    this._req('presence_subscribe', { users: this._watching })
      .then((data) => this._people._watched(data?.presence ?? {}))
      .catch((e) => {
        if (e?.code !== 'closed') this._emit('error', e);
      });
  }

  /** @returns {Record<string, unknown>} */
  get state() {
    return this._state;
  }

  /**
   * The highest room stateVersion seen (join, sync, acks, entity and state events).
   * @returns {number}
   */
  get stateVersion() {
    return this._stateVersion;
  }

  /**
   * The room's entities (shared scene state): a live Map-like view with
   * create/update/delete/lock/unlock, kept in sync.
   * @returns {Entities}
   */
  get entities() {
    return this._entities;
  }

  /**
   * The room's call: voice, video and screen sharing (join, leave, setMuted,
   * shareScreen; events member-joined/left/updated, track-added/removed).
   * @returns {Call}
   */
  get call() {
    return this._call;
  }

  /**
   * The room's assets (uploaded files): a live Map-like view, filled by load() and kept
   * current by the asset events; upload(), delete(), url().
   * @returns {Assets}
   */
  get assets() {
    return this._assets;
  }

  /**
   * Uploads a file into the room (tus 1.0, resuming after a dropped connection) and
   * resolves with its asset (room.assets.upload()).
   * @param {Blob | Uint8Array | ArrayBuffer} data a File, Blob, Buffer, Uint8Array or ArrayBuffer; borrowed
   * @param {UploadOptions} [opts]
   * @returns {Promise<Asset>}
   */
  upload(data, opts) {
    return this._assets.upload(data, opts);
  }

  /**
   * A signed URL of an asset's content for <img>, <video> and loaders (room.assets.url()).
   * @param {Asset | string} asset the asset or its id
   * @returns {Promise<string>}
   */
  assetUrl(asset) {
    return this._assets.url(asset);
  }

  /**
   * The newest messages seen (join history + live, at most `maxMessages`), ascending by
   * seq, without duplicates.
   * @returns {Message[]}
   */
  get messages() {
    return this._messages;
  }

  /**
   * The highest seq delivered in order (everything up to it is in `messages`) (SDK extension).
   * @returns {number}
   */
  get lastSeq() {
    return this._lastSeq;
  }

  /**
   * False once left, deleted, kicked, forgotten after a failed rejoin, or after close()
   * (SDK extension).
   * @returns {boolean}
   */
  get active() {
    return this._active;
  }

  /** @internal */
  _handlerError(e, event) {
    this._client._handlerError(e, event);
  }

  /**
   * @internal The room's server was lost and another took it over (room_reset, or a request
   * the new one refused with "join the room first"): this connection is no longer in it.
   * Rejoined and caught up as after a reconnect (documents reopened); the room's requests
   * wait for the rejoin's answer (_applyJoin).
   */
  _reset() {
    this._resets++;
    // Its documents miss the room's events until reopened (whenSynced waits for that).
    for (const d of this._docs.values()) d._ready = false;
    if (this._resetting) return;
    this._resetting = new Promise((r) => { this._resetDone = r; });
    // Until the join is answered (_applyJoin; a retry or a reconnect may do it), or the
    // room is given up.
    this._client._rejoinRoom(this, 0).then(() => this._client._flushOrphans())
      .finally(() => { if (!this._active) this._endReset(); });
  }

  /** @internal The room_reset's rejoin answered (or gave up): its waiting requests go on. */
  _endReset() {
    const done = this._resetDone;
    this._resetting = null;
    this._resetDone = null;
    done?.();
  }

  /** @internal */
  _applyJoin(data, initial) {
    if (this._resetting) this._endReset();
    this._info = data.room;
    this._role = data.role ?? this._role;
    this._people._onJoin(data, initial);
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
    this._rewatch();
    for (const m of msgs) this._ingest(m, false);
    this._catchUp();
    this._assets._onRejoin();
    this._outbox.joined(this._client._ws); // messages without a reply go again
    // Events sent after the reply (the server subscribes before it answers) that reached
    // _handle before this ran (one socket read, dispatched at once): newer than it.
    for (const m of this._held.splice(0)) this._handle(m);
  }

  /** @internal Takes a message from anywhere (event, send reply, join reply, history). */
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

  /** @internal */
  _deliver(m) {
    this._lastSeq = m.seq;
    this._messages.push(m);
    // A long-lived room must not grow without bound: the oldest go (room.history() has them).
    const over = this._messages.length - this._client._maxMessages;
    if (over > 0) this._messages.splice(0, over);
    this._emit('message', m);
  }

  /** @internal */
  _hasGap() {
    return this._pendingMsgs.size > 0 || this._lastSeq < this._serverLastSeq;
  }

  /** @internal Fetches `history {after: lastSeq}` pages until there is no gap. */
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

  /** @internal */
  _detach() {
    this._active = false;
    this._entities._detach();
    this._call._detach();
    this._pendingMsgs.clear();
    this._outbox.fail(this._client._closedByUser ? new ChorusError('closed', 'the client was closed')
      : new ChorusError('forbidden', 'not in this room'));
    for (const d of this._docs.values()) d._detach();
    this._docs.clear();
  }

  /** @internal After a rejoin: every open document reopens and catches up. */
  _reopenDocs() {
    for (const d of this._docs.values()) {
      d._seedCursors();
      d._resync();
    }
  }

  /**
   * Opens (and subscribes to) a document of this room; the same Doc while it is open.
   * @param {string} id
   * @returns {Promise<Doc>}
   */
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

  /** @internal */
  _handle(msg) {
    if (!this._active) return;
    if (this._resyncing) {
      // A rejoin is in flight: this connection is subscribed only once the server answers
      // it, so this came after the answer, and is applied after it (_applyJoin).
      this._held.push(msg);
      return;
    }
    switch (msg.op) {
      case 'message':
        this._ingest(msg.message);
        return;
      case 'participant_joined':
      case 'participant_left':
      case 'participant_removed':
      case 'presence':
      case 'participants_changed':
        this._people._onEvent(msg);
        return;
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
      case 'rtc_member_joined':
      case 'rtc_member_left':
      case 'rtc_member_updated':
      case 'rtc_signal':
      case 'rtc_mode':
      case 'rtc_sfu_error':
        this._call._onEvent(msg);
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
      case 'room_reset':
        this._reset();
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
      case 'activity':
        if (msg.activity) this._emit('activity', msg.activity);
        return;
      case 'asset_added':
      case 'asset_removed':
      case 'asset_updated':
        this._assets._onEvent(msg);
        return;
      default:
    }
  }

  /** @internal Takes the room state at `version`; false when it is not newer than what we have. */
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

  /** @internal */
  _seenVersion(v) {
    if (typeof v === 'number' && v > this._stateVersion) this._stateVersion = v;
  }

  /**
   * Asks for what changed in the shared state since `stateVersion` (`sync`) and applies
   * it: entity events with source 'sync', then 'synced' {type, stateVersion}, following
   * every page of the answer (`more`/`cursor`) before it resolves. The SDK does this itself
   * after a reconnect (join with `since`).
   * @returns {Promise<SyncResult>}
   */
  async sync() {
    return this._syncFrom(this._stateVersion);
  }

  /** @internal */
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
   * @internal
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

  /** @internal */
  async _req(op, fields) {
    if (this._resetting) await this._resetting;
    if (!this._active) throw new ChorusError('forbidden', 'not in this room');
    const resets = this._resets;
    try {
      return await this._client._request(op, { room: this.id, ...fields });
    } catch (e) {
      // Refused because the room was reset meanwhile (room_reset, maybe still on its way):
      // sent again once rejoined.
      if (e.code !== 'forbidden' || !this._active) throw e;
      if (this._resets === resets) {
        if (e.message !== 'join the room first') throw e;
        this._reset();
      }
      if (this._resetting) await this._resetting;
      if (!this._active) throw e;
      return this._client._request(op, { room: this.id, ...fields });
    }
  }

  /**
   * Resolves with the stored message (also delivered as a 'message' event, in seq order).
   * The message carries a clientId (a new random one, or opts.clientId: 1 to 64 of
   * A-Z a-z 0-9 _ -); when the connection drops before its reply, it is sent again with
   * it once the room is rejoined, and the server answers with the message stored the
   * first time: stored once, and this resolves with it (docs/protocol.md "message"). A
   * refusal rejects with the clientId on the error (e.clientId), to send it again safely.
   * @param {string} type
   * @param {string} content
   * @param {object} [metadata]
   * @param {{ clientId?: string }} [opts]
   * @returns {Promise<Message>}
   */
  async send(type, content, metadata, opts = {}) {
    if (!this._active) throw new ChorusError('forbidden', 'not in this room');
    const fields = { type, content, clientId: opts.clientId ?? newClientId() };
    if (metadata !== undefined) fields.metadata = metadata;
    const data = await this._outbox.send(fields);
    this._ingest(data.message);
    return data.message;
  }

  /**
   * Sends a custom event to the room's other connections (not stored).
   * @param {string} event
   * @param {unknown} [data]
   * @returns {Promise<void>}
   */
  async broadcast(event, data) {
    const fields = { event };
    if (data !== undefined) fields.data = data;
    await this._req('broadcast', fields);
  }

  /**
   * Merges patch into this user's presence (an RFC 7396 merge patch).
   * @param {object} patch
   * @returns {Promise<void>}
   */
  async setPresence(patch) {
    await this._req('presence', { state: patch });
    const me = this._participants.get(this._client.user?.id);
    if (me) me.presence = mergePatch(me.presence ?? {}, patch);
  }

  /**
   * One page of history, ascending by seq (historyPage() also says whether the page was
   * cut short); messages newer than lastSeq are also delivered as 'message' events.
   * @param {{ before?: number; after?: number; limit?: number }} [opts]
   * @returns {Promise<Message[]>}
   */
  async history(opts = {}) {
    return (await this.historyPage(opts)).messages;
  }

  /**
   * The same page with the server's `more` flag: true when the reply budget cut the page
   * short (continue with `before` = the first seq, or `after` = the last).
   * @param {{ before?: number; after?: number; limit?: number }} [opts]
   * @returns {Promise<HistoryPage>}
   */
  async historyPage(opts = {}) {
    const fields = {};
    for (const k of ['before', 'after', 'limit']) if (opts[k] !== undefined) fields[k] = opts[k];
    const data = await this._req('history', fields);
    const msgs = data?.messages ?? [];
    for (const m of msgs) if (m.seq > this._lastSeq) this._ingest(m);
    return { messages: msgs, more: data?.more === true };
  }

  /**
   * One page of the room's activity stream, newest first (docs/protocol.md "Activity"):
   * `limit` rows (default 50, at most 200) older than the cursor `before` (a page's
   * `nextCursor`; absent: from the newest). `nextCursor` is null on the oldest page. New
   * rows also arrive as 'activity' events.
   * @param {{ before?: string | null; limit?: number }} [opts]
   * @returns {Promise<ActivityPage>}
   */
  async activity(opts = {}) {
    const fields = {};
    if (opts.before != null) fields.before = opts.before;
    if (opts.limit !== undefined) fields.limit = opts.limit;
    const data = await this._req('activity', fields);
    return { activity: data?.activity ?? [], nextCursor: data?.nextCursor ?? null };
  }

  /**
   * The room as it was at an earlier moment (time travel, docs/protocol.md "snapshot_at"):
   * a state version (number), a time (Date, or a string Date.parse reads), or
   * {stateVersion} / {time}. Rejects with history_unavailable (error.oldest: the oldest
   * moment kept) for an older one.
   * @param {number | Date | string | { stateVersion: number } | { time: number }} at
   * @returns {Promise<import('./snapshot.js').Snapshot>}
   */
  snapshotAt(at) {
    return snapshotAt((op, fields) => this._req(op, fields), at);
  }

  /**
   * Calls the app's backend about this room (the `rpc` op, docs/protocol.md): resolves
   * with the backend's data once its side effects (state, messages, broadcasts) were
   * applied and delivered as events; rejects with a ChorusError whose code is the
   * backend's own, or backend_timeout, backend_unavailable, not_configured, ...
   * @param {string} method
   * @param {unknown} [data]
   * @returns {Promise<unknown>}
   */
  async rpc(method, data) {
    const fields = { method };
    if (data !== undefined) fields.data = data;
    return (await this._req('rpc', fields)) ?? null;
  }

  /**
   * Changes the room state (host only): an RFC 7396 merge patch.
   * @param {object} patch
   * @returns {Promise<{ state: Record<string, unknown>; stateVersion: number; currentMode: unknown }>}
   */
  async updateState(patch) {
    const data = await this._req('state', { patch });
    this._applyState(data.state, data.stateVersion, data.currentMode); // false when an event was first
    return { state: data.state, stateVersion: data.stateVersion, currentMode: data.currentMode };
  }

  /**
   * Changes the room's settings over the socket (host; the `room_update` op); updates `info`.
   * @param {RoomSettings} patch
   * @returns {Promise<RoomInfo>}
   */
  async updateSettings(patch) {
    const data = await this._req('room_update', { ...patch });
    const { name, maxParticipants, isPublic } = data.room;
    this._info = { ...this._info, name, maxParticipants, isPublic };
    return data.room;
  }

  /** @returns {Promise<void>} */
  async leave() {
    await this._req('leave', {});
    this._client._forget(this);
  }
}
