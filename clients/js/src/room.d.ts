import { Assets } from './assets.js';
import { Call } from './call.js';
import { Doc } from './doc.js';
import { Emitter } from './emitter.js';
import { Entities } from './entities.js';
import { ChorusError } from './errors.js';
export type Asset = import('./types.js').Asset;
export type UploadOptions = import('./upload.js').UploadOptions;
export type Entity = import('./types.js').Entity;
export type EntityEvent = import('./types.js').EntityEvent;
export type EntityLock = import('./types.js').EntityLock;
export type EntitySource = import('./types.js').EntitySource;
export type HistoryPage = import('./types.js').HistoryPage;
export type ActivityRow = import('./types.js').ActivityRow;
export type ActivityPage = import('./types.js').ActivityPage;
export type Message = import('./types.js').Message;
export type Participant = import('./types.js').Participant;
export type ParticipantPage = import('./types.js').ParticipantPage;
export type ParticipantQuery = import('./types.js').ParticipantQuery;
export type RoomInfo = import('./types.js').RoomInfo;
export type RoomSettings = import('./types.js').RoomSettings;
export type SyncResult = import('./types.js').SyncResult;
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
export declare const ROOM_EVENTS: Set<string>;
/** Entity ops the server sends to a room (docs/protocol.md "Entities"). */
export declare const ENTITY_OPS: Set<string>;
export type RoomEvents = {
    message: Message;
    participant_joined: Participant;
    participant_left: {
        userId: string;
        reason: string;
    };
    participant_removed: {
        userId: string;
        reason: string;
    };
    presence: {
        userId: string;
        state: object;
        presence: object;
    };
    participants_count: {
        participantCount: number;
        onlineCount: number;
    };
    state: {
        state: object;
        version: number;
        currentMode: unknown;
    };
    room_deleted: {
        reason: string;
    };
    kicked: {
        ban: boolean;
    };
    room_code: {
        roomCode: string;
        joinLink: string;
    };
    room_updated: {
        name: string;
        maxParticipants: number;
        isPublic: boolean;
        by: string;
    };
    activity: ActivityRow;
    asset_added: {
        asset: Asset;
    };
    asset_removed: {
        asset: Asset;
    };
    asset_updated: {
        asset: Asset;
    };
    error: ChorusError;
    entity_created: EntityEvent;
    entity_updated: EntityEvent & {
        previous: Entity;
        transient: boolean;
    };
    entity_deleted: {
        id: string;
        entity: Entity;
        by?: string;
        stateVersion?: number;
        source: EntitySource;
    };
    entity_locked: {
        id: string;
        lock: EntityLock;
        entity?: Entity;
        source: EntitySource;
    };
    entity_unlocked: {
        id: string;
        reason: string;
        entity?: Entity;
        source: EntitySource;
    };
    synced: SyncResult;
    broadcast: {
        event: string;
        from: string;
        data: unknown;
    };
};
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
export declare class Room extends Emitter<RoomEvents, {
    from: string;
    data: unknown;
}> {
    _watching: string[] | null;
    /** @returns {string} */
    get id(): string;
    /** @returns {string} */
    get code(): string;
    /** @returns {RoomInfo} */
    get info(): RoomInfo;
    /** @returns {'host' | 'member'} */
    get role(): 'host' | 'member';
    /**
     * Live map userId -> participant, updated by events. In a large room it holds the pages
     * loaded so far (participantsComplete, loadParticipants()) and whoever came online since.
     * @returns {Map<string, Participant>}
     */
    get participants(): Map<string, Participant>;
    /**
     * Seats taken in the room (all of them, loaded or not); 'participants_count' on a change.
     * @returns {number}
     */
    get participantCount(): number;
    /** @returns {number} participants online (all of them, loaded or not) */
    get onlineCount(): number;
    /**
     * The cursor of the next page of the room's participants (null: `participants` holds
     * everyone; always null in a small room).
     * @returns {string | null}
     */
    get participantsNext(): string | null;
    /** @returns {boolean} whether `participants` holds everyone (participantsNext is null) */
    get participantsComplete(): boolean;
    /**
     * Loads participants into `participants` (the `participants` op): without query or
     * online, the next page of the room's list (from participantsNext, which it advances;
     * the first page again once complete); with them, the first page of that search.
     * page.more() loads the page after it.
     * @param {ParticipantQuery} [opts]
     * @returns {Promise<ParticipantPage>}
     */
    loadParticipants(opts?: ParticipantQuery): Promise<ParticipantPage>;
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
    watchPresence(userIds: string[]): Promise<{
        users: number;
        presence: Record<string, Record<string, unknown>>;
    }>;
    /** @returns {Record<string, unknown>} */
    get state(): Record<string, unknown>;
    /**
     * The highest room stateVersion seen (join, sync, acks, entity and state events).
     * @returns {number}
     */
    get stateVersion(): number;
    /**
     * The room's entities (shared scene state): a live Map-like view with
     * create/update/delete/lock/unlock, kept in sync.
     * @returns {Entities}
     */
    get entities(): Entities;
    /**
     * The room's call: voice, video and screen sharing (join, leave, setMuted,
     * shareScreen; events member-joined/left/updated, track-added/removed).
     * @returns {Call}
     */
    get call(): Call;
    /**
     * The room's assets (uploaded files): a live Map-like view, filled by load() and kept
     * current by the asset events; upload(), delete(), url().
     * @returns {Assets}
     */
    get assets(): Assets;
    /**
     * Uploads a file into the room (tus 1.0, resuming after a dropped connection) and
     * resolves with its asset (room.assets.upload()).
     * @param {Blob | Uint8Array | ArrayBuffer} data a File, Blob, Buffer, Uint8Array or ArrayBuffer; borrowed
     * @param {UploadOptions} [opts]
     * @returns {Promise<Asset>}
     */
    upload(data: Blob | Uint8Array | ArrayBuffer, opts?: UploadOptions): Promise<Asset>;
    /**
     * A signed URL of an asset's content for <img>, <video> and loaders (room.assets.url()).
     * @param {Asset | string} asset the asset or its id
     * @returns {Promise<string>}
     */
    assetUrl(asset: Asset | string): Promise<string>;
    /**
     * The newest messages seen (join history + live, at most `maxMessages`), ascending by
     * seq, without duplicates.
     * @returns {Message[]}
     */
    get messages(): Message[];
    /**
     * The highest seq delivered in order (everything up to it is in `messages`) (SDK extension).
     * @returns {number}
     */
    get lastSeq(): number;
    /**
     * False once left, deleted, kicked, forgotten after a failed rejoin, or after close()
     * (SDK extension).
     * @returns {boolean}
     */
    get active(): boolean;
    /**
     * Opens (and subscribes to) a document of this room; the same Doc while it is open.
     * @param {string} id
     * @returns {Promise<Doc>}
     */
    doc(id: string): Promise<Doc>;
    /**
     * Asks for what changed in the shared state since `stateVersion` (`sync`) and applies
     * it: entity events with source 'sync', then 'synced' {type, stateVersion}, following
     * every page of the answer (`more`/`cursor`) before it resolves. The SDK does this itself
     * after a reconnect (join with `since`).
     * @returns {Promise<SyncResult>}
     */
    sync(): Promise<SyncResult>;
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
    send(type: string, content: string, metadata?: object, opts?: {
        clientId?: string;
    }): Promise<Message>;
    /**
     * Sends a custom event to the room's other connections (not stored).
     * @param {string} event
     * @param {unknown} [data]
     * @returns {Promise<void>}
     */
    broadcast(event: string, data?: unknown): Promise<void>;
    /**
     * Merges patch into this user's presence (an RFC 7396 merge patch).
     * @param {object} patch
     * @returns {Promise<void>}
     */
    setPresence(patch: object): Promise<void>;
    /**
     * One page of history, ascending by seq (historyPage() also says whether the page was
     * cut short); messages newer than lastSeq are also delivered as 'message' events.
     * @param {{ before?: number; after?: number; limit?: number }} [opts]
     * @returns {Promise<Message[]>}
     */
    history(opts?: {
        before?: number;
        after?: number;
        limit?: number;
    }): Promise<Message[]>;
    /**
     * The same page with the server's `more` flag: true when the reply budget cut the page
     * short (continue with `before` = the first seq, or `after` = the last).
     * @param {{ before?: number; after?: number; limit?: number }} [opts]
     * @returns {Promise<HistoryPage>}
     */
    historyPage(opts?: {
        before?: number;
        after?: number;
        limit?: number;
    }): Promise<HistoryPage>;
    /**
     * One page of the room's activity stream, newest first (docs/protocol.md "Activity"):
     * `limit` rows (default 50, at most 200) older than the cursor `before` (a page's
     * `nextCursor`; absent: from the newest). `nextCursor` is null on the oldest page. New
     * rows also arrive as 'activity' events.
     * @param {{ before?: string | null; limit?: number }} [opts]
     * @returns {Promise<ActivityPage>}
     */
    activity(opts?: {
        before?: string | null;
        limit?: number;
    }): Promise<ActivityPage>;
    /**
     * The room as it was at an earlier moment (time travel, docs/protocol.md "snapshot_at"):
     * a state version (number), a time (Date, or a string Date.parse reads), or
     * {stateVersion} / {time}. Rejects with history_unavailable (error.oldest: the oldest
     * moment kept) for an older one.
     * @param {number | Date | string | { stateVersion: number } | { time: number }} at
     * @returns {Promise<import('./snapshot.js').Snapshot>}
     */
    snapshotAt(at: number | Date | string | {
        stateVersion: number;
    } | {
        time: number;
    }): Promise<import('./snapshot.js').Snapshot>;
    /**
     * Calls the app's backend about this room (the `rpc` op, docs/protocol.md): resolves
     * with the backend's data once its side effects (state, messages, broadcasts) were
     * applied and delivered as events; rejects with a ChorusError whose code is the
     * backend's own, or backend_timeout, backend_unavailable, not_configured, ...
     * @param {string} method
     * @param {unknown} [data]
     * @returns {Promise<unknown>}
     */
    rpc(method: string, data?: unknown): Promise<unknown>;
    /**
     * Changes the room state (host only): an RFC 7396 merge patch.
     * @param {object} patch
     * @returns {Promise<{ state: Record<string, unknown>; stateVersion: number; currentMode: unknown }>}
     */
    updateState(patch: object): Promise<{
        state: Record<string, unknown>;
        stateVersion: number;
        currentMode: unknown;
    }>;
    /**
     * Changes the room's settings over the socket (host; the `room_update` op); updates `info`.
     * @param {RoomSettings} patch
     * @returns {Promise<RoomInfo>}
     */
    updateSettings(patch: RoomSettings): Promise<RoomInfo>;
    /** @returns {Promise<void>} */
    leave(): Promise<void>;
}
