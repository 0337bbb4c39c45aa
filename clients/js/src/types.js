// types.js: the shapes of the data the SDK hands out (users, rooms, participants, messages,
// entities, document ops), as JSDoc types for the generated chorus.d.ts. No code.

/** @typedef {'connecting' | 'open' | 'reconnecting' | 'closed'} ConnectionState */

/** @typedef {{ id: string; email?: string | null; username?: string | null; color?: string | null; createdAt?: number }} User */

/** @typedef {{ token: string; user_id: string; user: User }} Session */

/**
 * A room as a participant sees it (REST and the join reply).
 * @typedef {{
 *   id: string; roomCode: string; name: string; maxParticipants: number; hostUserId: string;
 *   isPublic: boolean; isActive: boolean; state: Record<string, unknown>; currentMode: unknown;
 *   stateVersion: number; participantCount: number; onlineCount: number; createdAt: number;
 *   lastActivity: number; joinLink: string; participants?: Participant[];
 * }} RoomInfo
 */

/**
 * A room in a list, or as a non-participant sees it: without `state` and `currentMode`.
 * @typedef {Omit<RoomInfo, 'state' | 'currentMode' | 'participants'>} RoomSummary
 */

/**
 * The settings the host changes after creation (PATCH /api/rooms/:roomId, `room_update`).
 * @typedef {{ name?: string; maxParticipants?: number; isPublic?: boolean }} RoomSettings
 */

/**
 * A banned user (GET /api/rooms/:roomId/bans); bannedAt is unix ms.
 * @typedef {{ userId: string; displayName: string; color: string; bannedAt: number }} Ban
 */

/**
 * @typedef {{
 *   userId: string; displayName: string; color: string; role: 'host' | 'member';
 *   online: boolean; presence: Record<string, unknown>; joinedAt: number;
 * }} Participant
 */

/**
 * What room.loadParticipants() asks for (docs/protocol.md "participants"): `query`, a
 * case-insensitive substring of displayName (at most 64 characters); `online: true`, online
 * participants only; `limit`, the page size (default 100, 1..500).
 * @typedef {{ query?: string; online?: boolean; limit?: number }} ParticipantQuery
 */

/**
 * One page of a room's participants (room.loadParticipants()): online ones first, then
 * offline ones, each group oldest seat first; `next` is null on the last page; more()
 * loads the next one (an empty page after the last). The counts are the room's.
 * @typedef {{
 *   participants: Participant[]; next: string | null; participantCount: number;
 *   onlineCount: number; more: () => Promise<ParticipantPage>;
 * }} ParticipantPage
 */

/**
 * @typedef {{
 *   id: string; roomId: string; seq: number; userId: string | null; displayName: string;
 *   type: string; content: string; metadata: Record<string, unknown>; createdAt: number;
 *   clientId?: string; app?: boolean;
 * }} Message
 */

/**
 * One page of history (`history` over WebSocket, GET /api/rooms/:roomId/messages):
 * messages ascending by seq; `more` is true when the server's reply budget (1 MiB,
 * --ws-max-reply) cut the page short: continue with `before` = the first seq (or `after`
 * = the last).
 * @typedef {{ messages: Message[]; more: boolean }} HistoryPage
 */

/**
 * One row of a room's activity stream (docs/protocol.md "Activity"): who (`userId`, "" for
 * the server or an app; `displayName` as it was) did what (`kind`: joined, left, kicked,
 * banned, room_updated, state_changed, entity_created, entity_deleted, entity_locked,
 * entity_moved, doc_opened, doc_edited, messages, asset_added, asset_removed, ...; `data`
 * says more, e.g. doc_edited's {doc, ops, inserted, deleted, ms}) and when (`at`, unix ms).
 * `seq` numbers the room's rows; `id` is the same as a string.
 * @typedef {{
 *   id: string; seq: number; at: number; userId: string; displayName: string;
 *   kind: string; data: Record<string, unknown>;
 * }} ActivityRow
 */

/**
 * One page of a room's activity stream, newest first; `nextCursor` is the `before` of the
 * next, older page, or null when this one reached the oldest row.
 * @typedef {{ activity: ActivityRow[]; nextCursor: string | null }} ActivityPage
 */

/**
 * A file uploaded into a room (docs/assets.md "Assets in rooms"): `url` is the
 * token-only download path (`/api/blobs/<sha256>`); room.assetUrl() gives a signed one.
 * createdAt is unix ms. `owner` uploaded its first version (it, and whoever manages the
 * room, may delete it or add a version); `uploadedBy` the current one.
 * @typedef {{
 *   id: string; roomId: string | null; owner: string; uploadedBy: string; sha256: string;
 *   size: number; name: string; type: string; createdAt: number; url: string;
 * }} Asset
 */

/**
 * The options of a Chorus client.
 * @typedef {object} ChorusOptions
 * @property {string} [url] Base URL of the server, e.g. "http://127.0.0.1:8080" (ws(s) URL
 *   derived from it). Default: the page's origin in a browser.
 * @property {string} [token]
 * @property {unknown} [WebSocket] A WebSocket constructor. Default: globalThis.WebSocket
 *   (browsers, Node >= 22), else in Node the `ws` package when installed.
 * @property {number} [requestTimeout] Milliseconds before a request without a reply fails
 *   with ChorusError('timeout'). Default 10000.
 * @property {{ base?: number; max?: number; enabled?: boolean }} [reconnect] Reconnection
 *   backoff: delay = min(max, base * 2^attempt) * (0.5 + random/2). Defaults 250 / 10000.
 * @property {number} [historyPage] Page size of the history requests that catch up after a
 *   reconnect (1..200, default 200) (SDK extension).
 * @property {number} [maxMessages] How many messages `room.messages` keeps, the newest
 *   (default 1000) (SDK extension).
 * @property {unknown} [fetch] A fetch implementation; default: globalThis.fetch (SDK extension).
 */

/**
 * An ot-text-unicode operation: numbers skip, strings insert, {d: n} deletes (code points).
 * @typedef {Array<number | string | { d: number | string }>} TextOp
 */

/**
 * A remote user's cursor and selection, in code points of the current local text.
 * @typedef {{ userId: string; name: string; color: string; cursor?: number; selection?: [number, number] }} RemoteCursor
 */

/** @typedef {{ userId: string; displayName: string; expiresAt: number }} EntityLock */

/**
 * An entity as the server has it (plus, for this client's own transient updates not yet
 * settled, those patches on `data`). Objects are replaced on each change, never mutated.
 * `version`: durable changes (1 after create; transient updates do not count).
 * `stateVersion`: the room stateVersion of its last change. `lock`: present only while
 * locked. `ownerOnly`: present (true) only when only the owner and the room's host may
 * change it.
 * @typedef {{
 *   id: string; kind: string; data: Record<string, any>; owner: string;
 *   version: number; stateVersion: number; createdAt: number; updatedAt: number;
 *   lock?: EntityLock; ownerOnly?: true;
 * }} Entity
 */

/**
 * Where an entity change comes from: this client ('local'), events ('remote') or a
 * join/sync reply ('sync').
 * @typedef {'local' | 'remote' | 'sync'} EntitySource
 */

/** @typedef {{ entity: Entity; by?: string; stateVersion?: number; source: EntitySource }} EntityEvent */

/** @typedef {{ type: 'up_to_date' | 'delta' | 'full'; stateVersion: number }} SyncResult */

export {};
