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
  constructor(code: string, message: string, extra?: { status?: number; field?: string });
}

export interface ChorusOptions {
  /** Base URL of the server, e.g. "http://127.0.0.1:8080" (ws(s) URL derived from it). Default: the page's origin in a browser. */
  url?: string;
  token?: string;
  /** A WebSocket constructor (e.g. `ws` in Node < 22); default: globalThis.WebSocket. */
  WebSocket?: unknown;
  /** Milliseconds before a request without a reply fails with ChorusError('timeout'). Default 10000. */
  requestTimeout?: number;
  /** Reconnection backoff: delay = min(max, base * 2^attempt) * (0.5 + random/2). Defaults 250 / 10000. */
  reconnect?: { base?: number; max?: number; enabled?: boolean };
}

type Handler<T> = (payload: T) => void;

export class Chorus {
  constructor(options?: ChorusOptions);
  readonly state: ConnectionState;
  token: string | undefined;
  /** REST helpers (JSON in and out; they throw ChorusError with the server's code). */
  register(email: string, password: string, username: string): Promise<Session>; // also sets this.token
  login(email: string, password: string): Promise<Session>;                      // also sets this.token
  me(): Promise<User>;
  updateMe(patch: { username?: string; color?: string }): Promise<User>;        // takes the fresh token
  createRoom(opts: { name: string; maxParticipants?: number; isPublic?: boolean; state?: object }): Promise<RoomInfo>;
  getRoom(idOrCode: string): Promise<RoomInfo>;   // a 6-char code uses GET /api/rooms/code/:code
  myRooms(): Promise<RoomInfo[]>;
  publicRooms(): Promise<RoomInfo[]>;
  deleteRoom(id: string): Promise<void>;
  kick(roomId: string, userId: string, ban?: boolean): Promise<void>;
  /** Opens the WebSocket and authenticates (first-message `auth`). Resolves when open. */
  connect(): Promise<void>;
  /** Closes for good (no reconnection). */
  close(): void;
  /** Joins a room by code or id over the WebSocket. */
  join(codeOrId: string, opts?: { displayName?: string }): Promise<Room>;
  /** Sends any op and resolves with the reply's data (rejects with ChorusError). */
  request(op: string, fields?: object): Promise<any>;
  on(event: 'connection', h: Handler<ConnectionState>): () => void;
  on(event: 'error', h: Handler<ChorusError>): () => void;
  on(event: 'token_expired', h: Handler<{ graceMs: number }>): () => void;
}

export class Room {
  readonly id: string;
  readonly code: string;
  readonly info: RoomInfo;
  readonly role: 'host' | 'member';
  /** Live map userId -> participant, updated by events. */
  readonly participants: Map<string, Participant>;
  readonly state: Record<string, unknown>;
  readonly stateVersion: number;
  /** Messages seen so far (join history + live), ascending by seq, without duplicates. */
  readonly messages: Message[];
  /** Resolves with the stored message. */
  send(type: string, content: string, metadata?: object): Promise<Message>;
  broadcast(event: string, data?: unknown): Promise<void>;
  setPresence(patch: object): Promise<void>;
  history(opts?: { before?: number; after?: number; limit?: number }): Promise<Message[]>;
  updateState(patch: object): Promise<{ state: object; stateVersion: number }>;
  leave(): Promise<void>;
  on(event: 'message', h: Handler<Message>): () => void;
  on(event: 'participant_joined', h: Handler<Participant>): () => void;
  on(event: 'participant_left', h: Handler<{ userId: string; reason: string }>): () => void;
  on(event: 'participant_removed', h: Handler<{ userId: string; reason: string }>): () => void;
  on(event: 'presence', h: Handler<{ userId: string; state: object; presence: object }>): () => void;
  on(event: 'state', h: Handler<{ state: object; version: number; currentMode: unknown }>): () => void;
  on(event: 'room_deleted' | 'kicked', h: Handler<object>): () => void;
  /** Custom broadcast events: room.on('entry_created', ({from, data}) => …). */
  on(event: string, h: Handler<{ from: string; data: unknown }>): () => void;
}
