import { Emitter } from './emitter.js';
import { ChorusError } from './errors.js';
import { Room } from './room.js';
export type Ban = import('./types.js').Ban;
export type ChorusOptions = import('./types.js').ChorusOptions;
export type ConnectionState = import('./types.js').ConnectionState;
export type HistoryPage = import('./types.js').HistoryPage;
export type Message = import('./types.js').Message;
export type RoomInfo = import('./types.js').RoomInfo;
export type RoomSettings = import('./types.js').RoomSettings;
export type RoomSummary = import('./types.js').RoomSummary;
export type Session = import('./types.js').Session;
export type User = import('./types.js').User;
export type ChorusEvents = {
    connection: ConnectionState;
    error: ChorusError;
    token_expired: {
        graceMs: number;
    };
    reconnect: {
        attempt: number;
        delay: number;
    };
    reconnect_attempt: {
        attempt: number;
    };
};
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
export declare class Chorus extends Emitter<ChorusEvents, any> {
    /**
     * The user of the authenticated socket (`auth` reply), null before (SDK extension).
     * @readonly
     * @type {{ id: string; name: string | null; color: string | null } | null}
     */
    readonly user: {
        id: string;
        name: string | null;
        color: string | null;
    } | null;
    /** @param {ChorusOptions} [options] */
    constructor(options?: ChorusOptions);
    /** @returns {ConnectionState} */
    get state(): ConnectionState;
    /**
     * Setting a different token while connected re-authenticates the socket (`auth` renewal).
     * @returns {string | undefined}
     */
    get token(): string | undefined;
    /** @param {string | undefined} t */
    set token(t: string | undefined);
    /**
     * The underlying WebSocket object, null when not connected; for diagnostics and tests
     * (SDK extension).
     * @returns {any}
     */
    get socket(): any;
    /**
     * The rooms joined on this client, id -> Room (a copy) (SDK extension).
     * @returns {Map<string, Room>}
     */
    get rooms(): Map<string, Room>;
    /**
     * POST /api/auth/register; also sets this.token.
     * @param {string} email
     * @param {string} password
     * @param {string} username
     * @returns {Promise<Session>}
     */
    register(email: string, password: string, username: string): Promise<Session>;
    /**
     * POST /api/auth/login; also sets this.token.
     * @param {string} email
     * @param {string} password
     * @returns {Promise<Session>}
     */
    login(email: string, password: string): Promise<Session>;
    /**
     * GET /api/auth/me.
     * @returns {Promise<User>}
     */
    me(): Promise<User>;
    /**
     * PATCH /api/users/me; takes the fresh token.
     * @param {{ username?: string; color?: string }} patch
     * @returns {Promise<User>}
     */
    updateMe(patch: {
        username?: string;
        color?: string;
    }): Promise<User>;
    /**
     * Signs out: closes the client (no reconnection with a token about to be refused),
     * revokes the token on the server (POST /api/auth/logout) and forgets it. The token is
     * forgotten even when the request fails (the error is then thrown).
     * @returns {Promise<void>}
     */
    logout(): Promise<void>;
    /**
     * Signs out every session of the account (POST /api/auth/logout-all), this one too.
     * @returns {Promise<void>}
     */
    logoutAll(): Promise<void>;
    /**
     * POST /api/auth/password: every other session of the account ends; this client takes
     * the fresh token (a connected socket re-authenticates or reconnects with it).
     * @param {string} currentPassword
     * @param {string} newPassword
     * @returns {Promise<Session>}
     */
    changePassword(currentPassword: string, newPassword: string): Promise<Session>;
    /**
     * DELETE /api/users/me: deletes the account (the password confirms it), then closes the
     * client and forgets the token. A refusal (wrong password) changes nothing.
     * @param {string} password
     * @returns {Promise<void>}
     */
    deleteAccount(password: string): Promise<void>;
    /**
     * POST /api/rooms/create.
     * @param {{ name: string; maxParticipants?: number; isPublic?: boolean; state?: object }} opts
     * @returns {Promise<RoomInfo>}
     */
    createRoom(opts: {
        name: string;
        maxParticipants?: number;
        isPublic?: boolean;
        state?: object;
    }): Promise<RoomInfo>;
    /**
     * A room by id, or by its 6-character code (GET /api/rooms/code/:code); a
     * non-participant gets a RoomSummary.
     * @param {string} idOrCode
     * @returns {Promise<RoomInfo>}
     */
    getRoom(idOrCode: string): Promise<RoomInfo>;
    /**
     * GET /api/rooms: the rooms of this user.
     * @returns {Promise<RoomInfo[]>}
     */
    myRooms(): Promise<RoomInfo[]>;
    /**
     * The first page of public rooms; summaries: no `state` or `currentMode` (see publicRoomsPage).
     * @param {{ limit?: number; cursor?: string }} [opts]
     * @returns {Promise<RoomSummary[]>}
     */
    publicRooms(opts?: {
        limit?: number;
        cursor?: string;
    }): Promise<RoomSummary[]>;
    /**
     * GET /api/rooms/public, one page: pass `nextCursor` back as `cursor` (null: the last page).
     * @param {{ limit?: number; cursor?: string | null }} [opts]
     * @returns {Promise<{ rooms: RoomSummary[]; nextCursor: string | null }>}
     */
    publicRoomsPage(opts?: {
        limit?: number;
        cursor?: string | null;
    }): Promise<{
        rooms: RoomSummary[];
        nextCursor: string | null;
    }>;
    /**
     * DELETE /api/rooms/:roomId (host).
     * @param {string} id
     * @returns {Promise<void>}
     */
    deleteRoom(id: string): Promise<void>;
    /**
     * POST /api/rooms/:roomId/code (host only): a new code and joinLink; the old code stops working.
     * @param {string} roomId
     * @returns {Promise<RoomInfo>}
     */
    rotateRoomCode(roomId: string): Promise<RoomInfo>;
    /**
     * POST /api/rooms/:roomId/kick (host); with ban the user may not join again.
     * @param {string} roomId
     * @param {string} userId
     * @param {boolean} [ban]
     * @returns {Promise<void>}
     */
    kick(roomId: string, userId: string, ban?: boolean): Promise<void>;
    /**
     * PATCH /api/rooms/:roomId (host): at least one setting; 409 capacity_below_participants.
     * @param {string} roomId
     * @param {RoomSettings} patch
     * @returns {Promise<RoomInfo>}
     */
    updateRoom(roomId: string, patch: RoomSettings): Promise<RoomInfo>;
    /**
     * GET /api/rooms/:roomId/bans (host), oldest ban first.
     * @param {string} roomId
     * @returns {Promise<Ban[]>}
     */
    bans(roomId: string): Promise<Ban[]>;
    /**
     * DELETE /api/rooms/:roomId/bans/:userId (host): the user may join again; 404 not_found
     * when the user is not banned.
     * @param {string} roomId
     * @param {string} userId
     * @returns {Promise<void>}
     */
    unban(roomId: string, userId: string): Promise<void>;
    /**
     * GET /api/rooms/:roomId/messages, ascending by seq (SDK extension).
     * @param {string} roomId
     * @param {{ before?: number; after?: number; limit?: number }} [opts]
     * @returns {Promise<Message[]>}
     */
    roomMessages(roomId: string, opts?: {
        before?: number;
        after?: number;
        limit?: number;
    }): Promise<Message[]>;
    /**
     * The same page with the server's `more` flag: true when the reply budget cut the page
     * short (continue with `before` = the first seq, or `after` = the last) (SDK extension).
     * @param {string} roomId
     * @param {{ before?: number; after?: number; limit?: number }} [opts]
     * @returns {Promise<HistoryPage>}
     */
    roomMessagesPage(roomId: string, opts?: {
        before?: number;
        after?: number;
        limit?: number;
    }): Promise<HistoryPage>;
    /**
     * Opens the WebSocket and authenticates (first-message `auth`). Resolves when open.
     * @returns {Promise<void>}
     */
    connect(): Promise<void>;
    /**
     * Closes for good (no reconnection); pending requests reject with 'closed'.
     * @returns {void}
     */
    close(): void;
    /**
     * Sends any op and resolves with the reply's data (rejects with ChorusError).
     * @param {string} op
     * @param {object} [fields]
     * @returns {Promise<any>}
     */
    request(op: string, fields?: object): Promise<any>;
    /**
     * Joins a room by code or id over the WebSocket; joining a joined room returns the same
     * Room. Resolves once every page of the room's entities arrived (a large room's join
     * reply holds the first page; the SDK follows the rest with `sync`).
     * @param {string} codeOrId
     * @param {{ displayName?: string }} [opts]
     * @returns {Promise<Room>}
     */
    join(codeOrId: string, opts?: {
        displayName?: string;
    }): Promise<Room>;
}
