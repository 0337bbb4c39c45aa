// chorus.d.ts: the public API of the Chorus JavaScript SDK (clients/js/chorus.js).
// The wire protocol behind it is docs/protocol.md; REST is docs/api.md.

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface User { id: string; email?: string | null; username?: string | null; color?: string | null; createdAt?: number; }
export interface Session { token: string; user_id: string; user: User; }

export interface RoomInfo {
  id: string; roomCode: string; name: string; maxParticipants: number; hostUserId: string;
  isPublic: boolean; isActive: boolean; state: Record<string, unknown>; currentMode: unknown;
  stateVersion: number; participantCount: number; onlineCount: number; createdAt: number;
  lastActivity: number; joinLink: string; participants?: Participant[];
}
/** A room in a list, or as a non-participant sees it: without `state` and `currentMode`. */
export type RoomSummary = Omit<RoomInfo, 'state' | 'currentMode' | 'participants'>;
/** The settings the host changes after creation (PATCH /api/rooms/:roomId, `room_update`). */
export interface RoomSettings { name?: string; maxParticipants?: number; isPublic?: boolean; }
/** A banned user (GET /api/rooms/:roomId/bans); bannedAt is unix ms. */
export interface Ban { userId: string; displayName: string; color: string; bannedAt: number; }

export interface Participant {
  userId: string; displayName: string; color: string; role: 'host' | 'member';
  online: boolean; presence: Record<string, unknown>; joinedAt: number;
}
export interface Message {
  id: string; roomId: string; seq: number; userId: string | null; displayName: string;
  type: string; content: string; metadata: Record<string, unknown>; createdAt: number;
}

/** An error from the server (its stable `code`) or from the SDK (`timeout`, `closed`, `network`). */
export class ChorusError extends Error {
  code: string;
  status?: number;   // HTTP status for REST errors
  field?: string;    // validation_error: the field at fault
  /** REST 429: the Retry-After header in seconds (SDK extension). */
  retryAfter?: number;
  /** The room id, for an error about one room (e.g. a failed rejoin) (SDK extension). */
  room?: string;
  /** The WebSocket close code, for errors caused by a close (e.g. 1008) (SDK extension). */
  closeCode?: number;
  /** exists / conflict / locked: the entity as the server has it now. */
  entity?: Entity;
  constructor(code: string, message: string,
    extra?: { status?: number; field?: string; retryAfter?: number; room?: string; closeCode?: number; entity?: Entity });
}

export interface ChorusOptions {
  /** Base URL of the server, e.g. "http://127.0.0.1:8080" (ws(s) URL derived from it). Default: the page's origin in a browser. */
  url?: string;
  token?: string;
  /** A WebSocket constructor. Default: globalThis.WebSocket (browsers, Node >= 22), else in Node the `ws` package when installed. */
  WebSocket?: unknown;
  /** Milliseconds before a request without a reply fails with ChorusError('timeout'). Default 10000. */
  requestTimeout?: number;
  /** Reconnection backoff: delay = min(max, base * 2^attempt) * (0.5 + random/2). Defaults 250 / 10000. */
  reconnect?: { base?: number; max?: number; enabled?: boolean };
  /** Page size of the history requests that catch up after a reconnect (1..200, default 200) (SDK extension). */
  historyPage?: number;
  /** How many messages `room.messages` keeps, the newest (default 1000) (SDK extension). */
  maxMessages?: number;
  /** A fetch implementation; default: globalThis.fetch (SDK extension). */
  fetch?: unknown;
}

/** RFC 7396 JSON merge patch (null removes a field); returns a new value (SDK extension). */
export function mergePatch(target: unknown, patch: unknown): unknown;

type Handler<T> = (payload: T) => void;

export class Chorus {
  constructor(options?: ChorusOptions);
  readonly state: ConnectionState;
  /** Setting a different token while connected re-authenticates the socket (`auth` renewal). */
  token: string | undefined;
  /** The user of the authenticated socket (`auth` reply), null before (SDK extension). */
  readonly user: { id: string; name: string | null; color: string | null } | null;
  /** The underlying WebSocket object, null when not connected; for diagnostics and tests (SDK extension). */
  readonly socket: unknown;
  /** The rooms joined on this client, id -> Room (a copy) (SDK extension). */
  readonly rooms: Map<string, Room>;
  /** REST helpers (JSON in and out; they throw ChorusError with the server's code). */
  register(email: string, password: string, username: string): Promise<Session>; // also sets this.token
  login(email: string, password: string): Promise<Session>;                      // also sets this.token
  me(): Promise<User>;
  updateMe(patch: { username?: string; color?: string }): Promise<User>;        // takes the fresh token
  /** Closes the client, revokes its token (POST /api/auth/logout) and forgets it. */
  logout(): Promise<void>;
  /** The same, revoking every token of the account (POST /api/auth/logout-all). */
  logoutAll(): Promise<void>;
  /** POST /api/auth/password: other sessions end; this client takes the fresh token. */
  changePassword(currentPassword: string, newPassword: string): Promise<Session>;
  /** DELETE /api/users/me (the password confirms it), then closes the client and forgets the token. */
  deleteAccount(password: string): Promise<void>;
  createRoom(opts: { name: string; maxParticipants?: number; isPublic?: boolean; state?: object }): Promise<RoomInfo>;
  getRoom(idOrCode: string): Promise<RoomInfo>;   // a 6-char code uses GET /api/rooms/code/:code; non-participants get a RoomSummary
  myRooms(): Promise<RoomInfo[]>;
  /** The first page of public rooms; summaries: no `state` or `currentMode`. */
  publicRooms(opts?: { limit?: number; cursor?: string }): Promise<RoomSummary[]>;
  /** GET /api/rooms/public, one page: pass `nextCursor` back as `cursor` (null: the last page). */
  publicRoomsPage(opts?: { limit?: number; cursor?: string | null }): Promise<{ rooms: RoomSummary[]; nextCursor: string | null }>;
  deleteRoom(id: string): Promise<void>;
  kick(roomId: string, userId: string, ban?: boolean): Promise<void>;
  /** POST /api/rooms/:roomId/code (host only): a new code and joinLink; the old code stops working. */
  rotateRoomCode(roomId: string): Promise<RoomInfo>;
  /** PATCH /api/rooms/:roomId (host): at least one setting; 409 capacity_below_participants. */
  updateRoom(roomId: string, patch: RoomSettings): Promise<RoomInfo>;
  /** GET /api/rooms/:roomId/bans (host), oldest ban first. */
  bans(roomId: string): Promise<Ban[]>;
  /** DELETE /api/rooms/:roomId/bans/:userId (host); 404 not_found when the user is not banned. */
  unban(roomId: string, userId: string): Promise<void>;
  /** GET /api/rooms/:roomId/messages (SDK extension). */
  roomMessages(roomId: string, opts?: { before?: number; after?: number; limit?: number }): Promise<Message[]>;
  /** Opens the WebSocket and authenticates (first-message `auth`). Resolves when open. */
  connect(): Promise<void>;
  /** Closes for good (no reconnection). */
  close(): void;
  /** Joins a room by code or id over the WebSocket. Resolves once every page of the room's
   *  entities arrived (a large room's join reply holds the first page; the SDK follows the
   *  rest with `sync`). */
  join(codeOrId: string, opts?: { displayName?: string }): Promise<Room>;
  /** Sends any op and resolves with the reply's data (rejects with ChorusError). */
  request(op: string, fields?: object): Promise<any>;
  on(event: 'connection', h: Handler<ConnectionState>): () => void;
  on(event: 'error', h: Handler<ChorusError>): () => void;
  on(event: 'token_expired', h: Handler<{ graceMs: number }>): () => void;
  /** A reconnection attempt was scheduled in `delay` ms (attempt counts from 1 per outage) (SDK extension). */
  on(event: 'reconnect', h: Handler<{ attempt: number; delay: number }>): () => void;
  /** A reconnection attempt starts now (SDK extension). */
  on(event: 'reconnect_attempt', h: Handler<{ attempt: number }>): () => void;
  /** Any other server event (a future op), with the raw message (SDK extension). */
  on(event: string, h: Handler<any>): () => void;
}

export class Room {
  readonly id: string;
  readonly code: string;
  readonly info: RoomInfo;
  readonly role: 'host' | 'member';
  /** Live map userId -> participant, updated by events. */
  readonly participants: Map<string, Participant>;
  readonly state: Record<string, unknown>;
  /** The highest room stateVersion seen: join and sync replies, acks, entity and state events. */
  readonly stateVersion: number;
  /** The room's entities (shared scene state), kept in sync; see Entities. */
  readonly entities: Entities;
  /** The newest messages seen (join history + live, at most `maxMessages`), ascending by seq, without duplicates. */
  readonly messages: Message[];
  /** The highest seq delivered in order (everything up to it is in `messages`) (SDK extension). */
  readonly lastSeq: number;
  /** False once left, deleted, kicked, forgotten after a failed rejoin, or after close() (SDK extension). */
  readonly active: boolean;
  /** Resolves with the stored message. */
  send(type: string, content: string, metadata?: object): Promise<Message>;
  broadcast(event: string, data?: unknown): Promise<void>;
  setPresence(patch: object): Promise<void>;
  history(opts?: { before?: number; after?: number; limit?: number }): Promise<Message[]>;
  updateState(patch: object): Promise<{ state: object; stateVersion: number }>;
  /** `sync` from stateVersion: applies what changed (entity events with source 'sync', then
   *  'synced'), following every page of the answer (`more`/`cursor`) before it resolves.
   *  The SDK does this itself after a reconnect (join with `since`). */
  sync(): Promise<{ type: 'up_to_date' | 'delta' | 'full'; stateVersion: number }>;
  /** Changes the room's settings over the socket (host; the `room_update` op); updates `info`. */
  updateSettings(patch: RoomSettings): Promise<RoomInfo>;
  leave(): Promise<void>;
  on(event: 'message', h: Handler<Message>): () => void;
  on(event: 'participant_joined', h: Handler<Participant>): () => void;
  on(event: 'participant_left', h: Handler<{ userId: string; reason: string }>): () => void;
  on(event: 'participant_removed', h: Handler<{ userId: string; reason: string }>): () => void;
  on(event: 'presence', h: Handler<{ userId: string; state: object; presence: object }>): () => void;
  on(event: 'state', h: Handler<{ state: object; version: number; currentMode: unknown }>): () => void;
  on(event: 'room_deleted', h: Handler<{ reason: string }>): () => void;
  on(event: 'kicked', h: Handler<{ ban: boolean }>): () => void;
  /** The host rotated the room code (`code` and `info` already show the new one). */
  on(event: 'room_code', h: Handler<{ roomCode: string; joinLink: string }>): () => void;
  /** The host changed the settings (any connection's change, this one's too); `info` has them already. */
  on(event: 'room_updated', h: Handler<{ name: string; maxParticipants: number; isPublic: boolean; by: string }>): () => void;
  /** A failed rejoin after a reconnect, or a failed catch-up (SDK extension). */
  on(event: 'error', h: Handler<ChorusError>): () => void;
  /** Entity changes, from this client ('local'), events ('remote') or a join/sync reply ('sync'). */
  on(event: 'entity_created', h: Handler<EntityEvent>): () => void;
  on(event: 'entity_updated', h: Handler<EntityEvent & { previous: Entity; transient: boolean }>): () => void;
  on(event: 'entity_deleted', h: Handler<{ id: string; entity: Entity; by?: string; stateVersion?: number; source: EntitySource }>): () => void;
  on(event: 'entity_locked', h: Handler<{ id: string; lock: EntityLock; entity?: Entity; source: EntitySource }>): () => void;
  /** reason: unlocked | expired | disconnected | left | deleted, or 'sync' (a sync reply showed it gone). */
  on(event: 'entity_unlocked', h: Handler<{ id: string; reason: string; entity?: Entity; source: EntitySource }>): () => void;
  /** A sync was applied: after a reconnect (join since), room.sync(), or the settling of transient updates. */
  on(event: 'synced', h: Handler<{ type: 'up_to_date' | 'delta' | 'full'; stateVersion: number }>): () => void;
  /** Every broadcast, whatever its name (SDK extension; names that clash with the events above only come this way). */
  on(event: 'broadcast', h: Handler<{ event: string; from: string; data: unknown }>): () => void;
  /** Custom broadcast events: room.on('entry_created', ({from, data}) => …). */
  on(event: string, h: Handler<{ from: string; data: unknown }>): () => void;
}

export default Chorus;

// ---- Collaborative documents (docs/protocol.md "Documents") ----

/** An ot-text-unicode operation: numbers skip, strings insert, {d: n} deletes (code points). */
export type TextOp = Array<number | string | { d: number | string }>;

export interface RemoteCursor {
  userId: string; name: string; color: string;
  cursor?: number; selection?: [number, number];   // code points in the current local text
}

/** A shared text document with the client side of OT: synchronized / awaiting confirm /
 *  awaiting with buffer. Local edits apply at once; one op is in flight at a time (with an
 *  opId), later ones are composed into a buffer; remote ops transform what is pending and
 *  remote cursors. After a reconnect the document is reopened and pending ops are
 *  resubmitted with their opIds (the server acknowledges an op it already applied as a
 *  duplicate, never twice).
 *
 *  Reopening (after a reconnect, a `version_too_old` reply or a gap in the op stream): the
 *  ops since `version` are fetched with `doc_ops` and go through the state machine as
 *  remote ops; our own in-flight op found among them (same author and opId) counts as
 *  acknowledged; otherwise it is resubmitted with its opId at its original base version
 *  (and, if that base is older than the server's log window, as transformed at the current
 *  version). When the catch-up is impossible, or the server refuses an op (`invalid_op`,
 *  `document_too_large`, …), pending edits are dropped, the text becomes the server's
 *  snapshot (a 'change' with source 'remote' and a diff op) and 'error' is emitted. */
export class Doc {
  readonly id: string;
  readonly text: string;
  readonly version: number;                 // server version the local text is based on
  readonly state: 'synchronized' | 'awaiting_confirm' | 'awaiting_with_buffer';
  /** Remote users' cursors, in the current local text (a fresh Map each time). Reports
   *  are positions at the sender's `version` (plus its pending ops): they are moved through
   *  the later ops of other users and through this client's pending ops. */
  readonly cursors: Map<string, RemoteCursor>;
  /** False after close(), or once the room is left or the client closed (SDK extension). */
  readonly active: boolean;
  /** Applies op locally (throws ChorusError('invalid_op') if it does not fit) and sends it. */
  submit(op: TextOp): void;
  insert(pos: number, text: string): void;
  delete(pos: number, count: number): void;
  /** Shares this user's cursor/selection (code points in the local text); null hides it. */
  setPresence(p: { cursor?: number; selection?: [number, number] } | null): Promise<void>;
  /** Resolves when nothing is pending (every local op acknowledged); rejects with
   *  ChorusError('closed') if the document is closed first. */
  whenSynced(): Promise<void>;
  /** Waits (at most requestTimeout, while connected) for pending edits, then doc_close. */
  close(): Promise<void>;
  on(event: 'change', h: Handler<{ op: TextOp; source: 'local' | 'remote'; author?: string }>): () => void;
  on(event: 'cursors', h: Handler<Map<string, RemoteCursor>>): () => void;
  /** 'synced': {version} whenever nothing is pending any more. 'error': a ChorusError
   *  (the server refused an op, the catch-up failed: `version_too_old`, `diverged`, …). */
  on(event: 'synced' | 'error', h: Handler<unknown>): () => void;
}

/** Pure OT helpers (the same semantics as the ot-text-unicode npm package). */
export const textType: {
  /** Throws if op is not a normalized op that fits text (also a delete past the end,
   *  which the npm package lets through). */
  apply(text: string, op: TextOp): string;
  transform(op: TextOp, other: TextOp, side: 'left' | 'right'): TextOp;
  compose(a: TextOp, b: TextOp): TextOp;
  /** As the npm package: an insert exactly at pos leaves pos before it; with isOwn (the
   *  position's owner made op) pos moves after it. */
  transformPosition(pos: number, op: TextOp, isOwn?: boolean): number;
  normalize(op: TextOp): TextOp;
  /** Throws unless op is a valid normalized op (SDK extension). */
  checkOp(op: TextOp): void;
  /** Length of a string in code points (SDK extension). */
  length(text: string): number;
  /** 'text-unicode' (SDK extension). */
  readonly name: string;
  /** A new snapshot (SDK extension). */
  create(text?: string): string;
};

export interface Room {
  /** Opens (and subscribes to) a document of this room. */
  doc(id: string): Promise<Doc>;
}

// ---- Entities (docs/protocol.md "Entities (shared scene state)") ----

export interface EntityLock { userId: string; displayName: string; expiresAt: number; }

/** An entity as the server has it (plus, for this client's own transient updates not yet
 *  settled, those patches on `data`). Objects are replaced on each change, never mutated. */
export interface Entity {
  id: string; kind: string; data: Record<string, any>; owner: string;
  /** Durable changes (1 after create); transient updates do not count. */
  version: number;
  /** The room stateVersion of its last change. */
  stateVersion: number;
  createdAt: number; updatedAt: number;
  /** Present only while locked. */
  lock?: EntityLock;
  /** Present (true) only when only the owner and the room's host may change it. */
  ownerOnly?: true;
}

export type EntitySource = 'local' | 'remote' | 'sync';
export interface EntityEvent { entity: Entity; by?: string; stateVersion?: number; source: EntitySource; }

/** room.entities: a live read-only Map-like view (id -> Entity) and the entity operations.
 *  Events are emitted on the Room. Failing operations reject with ChorusError: `exists`,
 *  `conflict` and `locked` carry `.entity` (which the view takes too), `not_found`,
 *  `forbidden` (ownerOnly, a lock of someone else), `lock_limit`, `too_many_entities`,
 *  `payload_too_large`, `validation_error`. */
export class Entities implements Iterable<[string, Entity]> {
  readonly size: number;
  get(id: string): Entity | undefined;
  has(id: string): boolean;
  keys(): IterableIterator<string>;
  values(): IterableIterator<Entity>;
  entries(): IterableIterator<[string, Entity]>;
  forEach(fn: (entity: Entity, id: string, entities: Entities) => void, thisArg?: unknown): void;
  [Symbol.iterator](): IterableIterator<[string, Entity]>;
  /** entity_create (id optional: the server makes a UUID); resolves with the stored entity. */
  create(e: { id?: string; kind: string; data?: Record<string, unknown>; ownerOnly?: boolean }): Promise<Entity>;
  /** entity_update: an RFC 7396 merge patch on `data`. Durable: resolves with the stored
   *  entity; with baseVersion only at that version (else `conflict`). Transient: applied to
   *  this view at once, coalesced by the server (20/s), resolves when the server took it;
   *  once quiet the SDK syncs to take what the server settled on. */
  update(id: string, patch: Record<string, unknown> | null, opts?: { baseVersion?: number; transient?: boolean; ownerOnly?: boolean }): Promise<Entity>;
  /** entity_delete; resolves with the deletion's stateVersion. */
  delete(id: string): Promise<number>;
  /** entity_lock for ttl ms (server default 30 s, at most 5 min); locking again renews, up
   *  to --entity-lock-max-hold from when it was taken (then `lock_limit` for a while). */
  lock(id: string, ttl?: number): Promise<EntityLock>;
  /** The holder unlocks; with force the room's host breaks anyone's lock. */
  unlock(id: string, opts?: { force?: boolean }): Promise<void>;
}
