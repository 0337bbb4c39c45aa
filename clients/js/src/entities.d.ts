export type Entity = import('./types.js').Entity;
export type EntityLock = import('./types.js').EntityLock;
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
export declare class Entities implements Iterable<[string, Entity]> {
    /** @returns {number} */
    get size(): number;
    /**
     * @param {string} id
     * @returns {Entity | undefined}
     */
    get(id: string): Entity | undefined;
    /**
     * @param {string} id
     * @returns {boolean}
     */
    has(id: string): boolean;
    /** @returns {IterableIterator<string>} */
    keys(): IterableIterator<string>;
    /** @returns {IterableIterator<Entity>} */
    values(): IterableIterator<Entity>;
    /** @returns {IterableIterator<[string, Entity]>} */
    entries(): IterableIterator<[string, Entity]>;
    /**
     * @param {(entity: Entity, id: string, entities: Entities) => void} fn
     * @param {unknown} [thisArg]
     * @returns {void}
     */
    forEach(fn: (entity: Entity, id: string, entities: Entities) => void, thisArg?: unknown): void;
    /** @returns {IterableIterator<[string, Entity]>} */
    [Symbol.iterator](): IterableIterator<[string, Entity]>;
    /**
     * entity_create; resolves with the stored entity (version 1). `exists` carries `.entity`.
     * The id is optional: the server makes a UUID. ownerOnly: only its owner (this user) and
     * the host may change it.
     * @param {{ id?: string; kind: string; data?: Record<string, unknown>; ownerOnly?: boolean }} e
     * @returns {Promise<Entity>}
     */
    create({ id, kind, data, ownerOnly }?: {
        id?: string;
        kind: string;
        data?: Record<string, unknown>;
        ownerOnly?: boolean;
    }): Promise<Entity>;
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
    update(id: string, patch: Record<string, unknown> | null, { baseVersion, transient, ownerOnly }?: {
        baseVersion?: number;
        transient?: boolean;
        ownerOnly?: boolean;
    }): Promise<Entity>;
    /**
     * entity_delete; resolves with the room stateVersion of the deletion.
     * @param {string} id
     * @returns {Promise<number>}
     */
    delete(id: string): Promise<number>;
    /**
     * entity_lock for ttl ms (server default 30 s, at most 5 min); resolves with the lock.
     * Locking again renews, up to --entity-lock-max-hold from when it was taken (then
     * `lock_limit` for a while).
     * @param {string} id
     * @param {number} [ttl]
     * @returns {Promise<EntityLock>}
     */
    lock(id: string, ttl?: number): Promise<EntityLock>;
    /**
     * entity_unlock (the holder only; `forbidden` from anyone else). With `force` the host
     * breaks anyone's lock (reason 'broken').
     * @param {string} id
     * @param {{ force?: boolean }} [opts]
     * @returns {Promise<void>}
     */
    unlock(id: string, { force }?: {
        force?: boolean;
    }): Promise<void>;
}
