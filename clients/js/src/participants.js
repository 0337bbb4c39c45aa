// participants.js: a room's participants as the server hands them out (docs/protocol.md
// "Large rooms"): the live map, the counts, the cursor of the next page, `participants`
// pages and searches, and the coalesced `participants_changed` event of a large room
// turned into the events of a small one, so an app sees the same events in both.

import { diffPatch, mergePatch, sameJson } from './patch.js';

/** @typedef {import('./types.js').Participant} Participant */
/** @typedef {import('./types.js').ParticipantPage} ParticipantPage */
/** @typedef {import('./types.js').ParticipantQuery} ParticipantQuery */

// The reasons a seat is given up that a small room reports as participant_left (the
// others, such as timeout, as participant_removed).
const LEFT_REASONS = new Set(['left', 'kicked', 'banned']);

const onlineIn = (map) => {
  let n = 0;
  for (const p of map.values()) if (p.online) n++;
  return n;
};

/**
 * The participants of one Room (room.participants is its map). Internal: the Room's
 * getters and loadParticipants() are the API.
 * @internal
 */
export class Participants {
  /** @internal */ _room;
  /** @internal */ _map;
  /** @internal */ _count;
  /** @internal */ _online;
  /** @internal */ _next;
  /** @internal */ _reloading;
  /** @internal */ _mayReload;

  /**
   * @param {any} room the Room (borrowed: it owns this)
   * @param {Map<string, Participant>} map the Room's live map (borrowed; kept, only cleared)
   */
  constructor(room, map) {
    this._room = room;
    this._map = map;
    this._count = 0;
    this._online = 0;
    this._next = null; // cursor of the room list's next page; null: the map holds everyone
    this._reloading = null;
    this._mayReload = false; // a large room's partial map: a small room's event reloads it, once
  }

  /**
   * @internal A join or rejoin reply: the map restarts from its first page. A rejoin (after
   * a reconnect or a room_reset) then emits what changed meanwhile as the live events would
   * have (_emitChanges).
   */
  _onJoin(data, initial) {
    const map = this._map;
    const before = initial ? null : new Map(map);
    const wasComplete = this._next === null;
    map.clear();
    for (const p of data.participants ?? []) map.set(p.userId, { ...p });
    if (data.participant && !map.has(data.participant.userId)) map.set(data.participant.userId, { ...data.participant });
    this._next = typeof data.participantsNext === 'string' ? data.participantsNext : null;
    this._mayReload = this._next !== null;
    const count = data.participantCount ?? data.room?.participantCount;
    const online = data.onlineCount ?? data.room?.onlineCount;
    if (before) this._emitChanges(before, wasComplete && this._next === null);
    if (this._next === null) this._setCounts(map.size, onlineIn(map), !initial);
    else this._setCounts(count ?? map.size, online ?? onlineIn(map), !initial);
  }

  /**
   * @internal After a rejoin: the differences between the map before it (before, the old
   * entries) and the join reply's, as the events a live room sends, in _onChanged's order:
   * a seat gone (participant_left 'disconnected' first when it was online, then
   * participant_removed 'reset'), an online participant now offline (participant_left
   * 'disconnected'), then a new seat or one back online (participant_joined), then
   * presence that differs (presence, its state the merge patch from the old to the new).
   * complete: both maps held everyone; otherwise (a large room's pages) only the
   * participants in both are compared.
   */
  _emitChanges(before, complete) {
    const room = this._room;
    const map = this._map;
    const gone = (userId) => {
      for (const d of room._docs.values()) d._onGone(userId);
    };
    for (const [id, old] of before) {
      const now = map.get(id);
      if (!now) {
        if (!complete) continue;
        if (old.online) room._emit('participant_left', { userId: id, reason: 'disconnected' });
        gone(id);
        room._emit('participant_removed', { userId: id, reason: 'reset' });
      } else if (old.online && !now.online) {
        gone(id);
        room._emit('participant_left', { userId: id, reason: 'disconnected' });
      }
    }
    for (const [id, now] of map) {
      const old = before.get(id);
      if (old ? !old.online && now.online : complete) room._emit('participant_joined', now);
    }
    for (const [id, now] of map) {
      const old = before.get(id);
      // (Going offline sends no presence event live: its presence is not compared.)
      if (!old || !now.online || sameJson(old.presence ?? {}, now.presence ?? {})) continue;
      const state = diffPatch(old.presence ?? {}, now.presence ?? {});
      const presence = now.presence ?? {};
      for (const d of room._docs.values()) d._onPresence(id, state, presence);
      room._emit('presence', { userId: id, state, presence });
    }
  }

  /** @internal */
  _setCounts(count, online, emit = true) {
    if (typeof count !== 'number' || typeof online !== 'number') return;
    if (count === this._count && online === this._online) return;
    this._count = count;
    this._online = online;
    if (emit) this._room._emit('participants_count', { participantCount: count, onlineCount: online });
  }

  /**
   * @internal One participant event of the room: participant_joined, participant_left,
   * participant_removed, presence or participants_changed.
   */
  _onEvent(msg) {
    if (msg.op === 'participants_changed') {
      this._onChanged(msg);
      return;
    }
    switch (msg.op) {
      case 'participant_joined':
        this._joined(msg.participant);
        break;
      case 'participant_left':
        if (msg.reason === 'disconnected') this._offline(msg.userId, msg.reason);
        else this._gone(msg.userId, msg.reason, 'participant_left');
        break;
      case 'participant_removed':
        this._gone(msg.userId, msg.reason, 'participant_removed');
        break;
      case 'presence':
        this._presence(msg.userId, msg.state);
        break;
      default:
        return;
    }
    // A small room's events carry no counts: the map holds everyone, so it has them. A
    // room that was large (a partial map) and is small again reloads its first page.
    if (this._next === null) {
      if (msg.op !== 'presence') this._setCounts(this._map.size, onlineIn(this._map));
    } else if (this._mayReload) {
      this._mayReload = false;
      this._reload();
    }
  }

  /**
   * @internal A large room's tick: who lost their seat or went offline, then who came
   * online, then the presence changes, each as the event a small room sends, and the
   * counts last.
   */
  _onChanged(msg) {
    this._mayReload = this._next !== null;
    for (const l of msg.left ?? []) {
      if (!l?.userId) continue;
      if (!l.removed) {
        this._offline(l.userId, l.reason ?? 'disconnected');
      } else if (LEFT_REASONS.has(l.reason)) {
        this._gone(l.userId, l.reason, 'participant_left');
      } else {
        // A seat released after the grace: a small room said 'disconnected' first.
        if (this._map.get(l.userId)?.online) this._offline(l.userId, 'disconnected');
        this._gone(l.userId, l.reason ?? 'timeout', 'participant_removed');
      }
    }
    for (const p of msg.joined ?? []) this._joined(p);
    // Joins past the server's --room-changed-max are only counted: the map is partial
    // from here ('' pages from the first page again).
    if (msg.joinedMore > 0 && this._next === null) this._next = '';
    for (const c of msg.presence ?? []) if (c?.userId) this._presence(c.userId, c.state);
    this._setCounts(msg.participantCount, msg.onlineCount);
  }

  /** @internal */
  _joined(p) {
    if (!p?.userId) return;
    const old = this._map.get(p.userId);
    this._map.set(p.userId, { ...old, ...p, online: p.online ?? true });
    this._room._emit('participant_joined', this._map.get(p.userId));
  }

  /** @internal The participant went offline; the seat is kept for the seat grace. */
  _offline(userId, reason) {
    const p = this._map.get(userId);
    if (p) p.online = false;
    for (const d of this._room._docs.values()) d._onGone(userId);
    this._room._emit('participant_left', { userId, reason });
  }

  /** @internal The seat is gone (event: participant_left or participant_removed). */
  _gone(userId, reason, event) {
    this._map.delete(userId);
    for (const d of this._room._docs.values()) d._onGone(userId);
    this._room._emit(event, { userId, reason });
  }

  /**
   * @internal A presence_subscribe answer: the watched participants' presence as it is now
   * (whole states, not patches).
   * @param {Record<string, Record<string, unknown>>} states
   */
  _watched(states) {
    for (const [userId, state] of Object.entries(states)) {
      const p = this._map.get(userId);
      const presence = { ...(state ?? {}) };
      if (p) p.presence = presence;
      this._room._emit('presence', { userId, state: presence, presence });
    }
  }

  /** @internal */
  _presence(userId, state) {
    const p = this._map.get(userId);
    let presence = mergePatch({}, state ?? {});
    if (p) {
      p.presence = mergePatch(p.presence ?? {}, state ?? {});
      presence = p.presence;
    }
    for (const d of this._room._docs.values()) d._onPresence(userId, state, presence);
    this._room._emit('presence', { userId, state, presence });
  }

  /**
   * @internal Fetches the first page again (one at a time) after a small room's event
   * reached a partial map: a page that ends the list makes the map exact again. 500: the
   * largest page, more than a small room holds unless --room-large is above it.
   */
  _reload() {
    if (this._reloading) return;
    this._reloading = this._fetch({ limit: 500 }, null)
      .then((data) => {
        if (data.next !== null) return;
        const keep = new Set(data.participants.map((p) => p.userId));
        const me = this._room._client.user?.id;
        for (const id of [...this._map.keys()]) if (!keep.has(id) && id !== me) this._map.delete(id);
        this._next = null;
        this._setCounts(this._map.size, onlineIn(this._map));
      })
      .catch((e) => {
        if (e?.code !== 'closed' && e?.code !== 'forbidden') this._room._emit('error', e);
      })
      .finally(() => {
        this._reloading = null;
      });
  }

  /** @internal One `participants` request; its participants go into the map. */
  async _fetch(opts, cursor) {
    const fields = {};
    if (cursor) fields.cursor = cursor;
    if (opts.limit !== undefined) fields.limit = opts.limit;
    if (opts.query !== undefined && opts.query !== null && opts.query !== '') fields.query = opts.query;
    if (opts.online === true) fields.online = true;
    const data = await this._room._req('participants', fields);
    const list = data?.participants ?? [];
    if (this._room._active) {
      for (const p of list) if (p?.userId) this._map.set(p.userId, { ...p });
      this._setCounts(data?.participantCount, data?.onlineCount);
    }
    return {
      participants: list,
      next: typeof data?.next === 'string' ? data.next : null,
      participantCount: data?.participantCount ?? this._count,
      onlineCount: data?.onlineCount ?? this._online,
    };
  }

  /**
   * @internal room.loadParticipants(): the room list's next page (from participantsNext,
   * advancing it), or the first page of a search (query, online).
   * @param {ParticipantQuery} opts
   * @param {string | null} [cursor] the page to load (more()); undefined: the first one
   * @returns {Promise<ParticipantPage>}
   */
  async _load(opts, cursor) {
    const search = (opts.query !== undefined && opts.query !== null && opts.query !== '') || opts.online === true;
    const from = cursor !== undefined ? cursor : search ? null : this._next;
    const page = await this._fetch(opts, from);
    // Only the page that follows what the map holds advances the room list's cursor (not
    // a search's, nor one from before a rejoin restarted the list).
    if (!search && from !== null && from === this._next) this._next = page.next;
    /** @type {ParticipantPage} */
    const out = {
      ...page,
      more: () => (page.next === null
        ? Promise.resolve({ participants: [], next: null, participantCount: this._count, onlineCount: this._online, more: out.more })
        : this._load(opts, page.next)),
    };
    return out;
  }
}
