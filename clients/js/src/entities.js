// entities.js: room.entities, a room's shared scene state (docs/protocol.md "Entities"): a
// live read-only Map-like view kept in sync by events, join and sync replies, the entity
// operations, and the overlay of this client's transient updates until the server settles.

import { ChorusError } from './errors.js';
import { composePatch, mergePatch, sameJson } from './patch.js';

/** @typedef {import('./types.js').Entity} Entity */
/** @typedef {import('./types.js').EntityLock} EntityLock */

// A burst of transient updates is followed, once quiet for this long, by a sync: the
// server never echoes our own transient batches, so the sync brings their stateVersion
// and the value the server settled on. 250: several coalescing intervals (50 ms).
const TRANSIENT_SETTLE_MS = 250;

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
 * Failing operations reject with ChorusError: `exists`, `conflict` and `locked` carry
 * `.entity` (which the view takes too), `not_found`, `forbidden` (ownerOnly, a lock of
 * someone else), `lock_limit`, `too_many_entities`, `payload_too_large`, `validation_error`.
 * @implements {Iterable<[string, Entity]>}
 */
export class Entities {
  /** @internal */ _room;
  /** @internal */ _map;
  /** @internal */ _base;
  /** @internal */ _overlay;
  /** @internal */ _floor;
  /** @internal */ _transientInflight;
  /** @internal */ _settleTimer;
  /** @internal */ _settling;

  /** @internal */
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

  /** @returns {number} */
  get size() {
    return this._map.size;
  }

  /**
   * @param {string} id
   * @returns {Entity | undefined}
   */
  get(id) {
    return this._map.get(id);
  }

  /**
   * @param {string} id
   * @returns {boolean}
   */
  has(id) {
    return this._map.has(id);
  }

  /** @returns {IterableIterator<string>} */
  keys() {
    return this._map.keys();
  }

  /** @returns {IterableIterator<Entity>} */
  values() {
    return this._map.values();
  }

  /** @returns {IterableIterator<[string, Entity]>} */
  entries() {
    return this._map.entries();
  }

  /**
   * @param {(entity: Entity, id: string, entities: Entities) => void} fn
   * @param {unknown} [thisArg]
   * @returns {void}
   */
  forEach(fn, thisArg) {
    for (const [id, e] of this._map) fn.call(thisArg, e, id, this);
  }

  /** @returns {IterableIterator<[string, Entity]>} */
  [Symbol.iterator]() {
    return this._map.entries();
  }

  // ---- operations ----

  /**
   * entity_create; resolves with the stored entity (version 1). `exists` carries `.entity`.
   * The id is optional: the server makes a UUID. ownerOnly: only its owner (this user) and
   * the host may change it.
   * @param {{ id?: string; kind: string; data?: Record<string, unknown>; ownerOnly?: boolean }} e
   * @returns {Promise<Entity>}
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
   * Transient: applied here at once (optimistic), coalesced by the server (20/s), resolved
   * when the server took it; once quiet the SDK syncs to take what the server settled on.
   * @param {string} id
   * @param {Record<string, unknown> | null} patch
   * @param {{ baseVersion?: number; transient?: boolean; ownerOnly?: boolean }} [opts]
   * @returns {Promise<Entity>}
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

  /**
   * entity_delete; resolves with the room stateVersion of the deletion.
   * @param {string} id
   * @returns {Promise<number>}
   */
  async delete(id) {
    const res = await this._request('entity_delete', { id });
    const sv = res?.stateVersion;
    this._room._seenVersion(sv);
    this._remove(id, { source: 'local', by: this._me(), stateVersion: sv });
    return sv;
  }

  /**
   * entity_lock for ttl ms (server default 30 s, at most 5 min); resolves with the lock.
   * Locking again renews, up to --entity-lock-max-hold from when it was taken (then
   * `lock_limit` for a while).
   * @param {string} id
   * @param {number} [ttl]
   * @returns {Promise<EntityLock>}
   */
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
   * @param {string} id
   * @param {{ force?: boolean }} [opts]
   * @returns {Promise<void>}
   */
  async unlock(id, { force = false } = {}) {
    await this._request('entity_unlock', force ? { id, force: true } : { id });
    this._setLock(id, null, { source: 'local', reason: force ? 'broken' : 'unlocked' });
  }

  // ---- internals ----

  /** @internal */
  _me() {
    return this._room._client.user?.id;
  }

  /** @internal */
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

  /** @internal */
  _emit(event, payload) {
    this._room._emit(event, payload);
  }

  /** @internal The entity as shown: the server's, with our unsettled transient patch on top. */
  _view(e) {
    const o = this._overlay.get(e.id);
    return o ? { ...e, data: mergePatch(e.data ?? {}, o.patch) } : e;
  }

  /** @internal */
  _serverEntity(id) {
    return this._base.get(id) ?? this._map.get(id);
  }

  /**
   * @internal Stores id's shown entity and emits created/updated (nothing when it did not change).
   */
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

  /**
   * @internal Takes an entity from the server unless what we have is as new (same stateVersion or later).
   */
  _applyServer(e, meta, { force = false } = {}) {
    if (!e || typeof e.id !== 'string') return;
    const cur = this._serverEntity(e.id);
    if (!force && cur && typeof cur.stateVersion === 'number' && typeof e.stateVersion === 'number'
        && e.stateVersion <= cur.stateVersion) return;
    this._room._seenVersion(e.stateVersion);
    if (this._overlay.has(e.id)) this._base.set(e.id, e);
    this._show(e.id, this._view(e), meta);
  }

  /** @internal */
  _remove(id, meta) {
    const prev = this._map.get(id);
    this._map.delete(id);
    this._base.delete(id);
    this._overlay.delete(id);
    if (prev) this._emit('entity_deleted', { id, entity: prev, by: meta.by, stateVersion: meta.stateVersion, source: meta.source });
  }

  /**
   * @internal Sets (lock object) or clears (null) id's lock; emits entity_locked / entity_unlocked.
   */
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

  /** @internal */
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
   * @internal
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

  /**
   * @internal Replaces every entity (a full sync or a join reply). locks: the list, or null to take entity.lock.
   */
  _replaceAll(entities, locks, sv, { source, emit = true }) {
    const ids = new Set(entities.map((e) => e.id));
    for (const id of [...this._map.keys()]) {
      if (!ids.has(id)) this._remove(id, { source, stateVersion: sv });
    }
    const lockById = locks ? new Map(locks.filter((l) => l && typeof l.id === 'string').map((l) => [l.id, lockOf(l)])) : null;
    for (const e of entities) {
      let ent = e;
      if (lockById) {
        ent = { ...e };
        const l = lockById.get(e.id);
        if (l) ent.lock = l;
        else delete ent.lock;
      }
      if (emit) {
        // A lock that changed is its own event (entity_locked / entity_unlocked, as live),
        // not an entity_updated: the entity is taken with the lock it had, then the lock.
        const had = this._map.get(ent.id);
        const lock = ent.lock ?? null;
        const asWas = { ...ent };
        if (had?.lock) asWas.lock = had.lock;
        else delete asWas.lock;
        this._applyServer(had ? asWas : ent, { source }, { force: true });
        if (had) this._setLock(ent.id, lock, { source, reason: this._goneReason(had.lock) });
      } else {
        this._map.set(ent.id, this._view(ent));
      }
    }
    this._floor = sv;
    this._room._stateVersion = sv; // replace everything: also a server that went back
  }

  /** @internal Applies a `sync` reply (or a join reply's `sync`). */
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

  /** @internal The sync's `locks` list is every current lock: set those, clear the others. */
  _syncLocks(locks) {
    const byId = new Map(locks.filter((l) => l && typeof l.id === 'string').map((l) => [l.id, lockOf(l)]));
    for (const [id, e] of [...this._map]) {
      const want = byId.get(id) ?? null;
      if (!sameJson(e.lock ?? null, want)) this._setLock(id, want, { source: 'sync', reason: this._goneReason(e.lock) });
    }
  }

  /**
   * @internal The reason of an entity_unlocked for lock (the one held before a sync or a
   * rejoin showed it gone): 'disconnected' when its holder is offline or gone now (the
   * participants are updated first: a node lost with its users), else 'sync'.
   */
  _goneReason(lock) {
    const uid = lock?.userId;
    if (!uid) return 'sync';
    const room = this._room;
    const p = room._participants.get(uid);
    return (p ? !p.online : room.participantsComplete) ? 'disconnected' : 'sync';
  }

  // ---- transient overlay ----

  /** @internal */
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

  /** @internal */
  _dropOverlay(id, source) {
    if (!this._overlay.delete(id)) return;
    const server = this._base.get(id);
    this._base.delete(id);
    if (server) this._show(id, server, { source, transient: true });
  }

  /** @internal */
  _clearOverlays() {
    clearTimeout(this._settleTimer);
    this._settleTimer = null;
    for (const id of [...this._overlay.keys()]) this._dropOverlay(id, 'sync');
  }

  /**
   * @internal Once our transient updates have been quiet for a while, sync to take what the server settled on.
   */
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

  /** @internal */
  _detach() {
    clearTimeout(this._settleTimer);
    this._settleTimer = null;
  }
}
