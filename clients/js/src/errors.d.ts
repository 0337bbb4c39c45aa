export type ChorusErrorExtra = {
    /**
     * HTTP status for REST errors.
     */
    status?: number;
    /**
     * validation_error: the field at fault.
     */
    field?: string;
    /**
     * REST 429: the Retry-After header in seconds (SDK extension).
     */
    retryAfter?: number;
    /**
     * The room id, for an error about one room (e.g. a failed rejoin) (SDK extension).
     */
    room?: string;
    /**
     * The WebSocket close code, for errors caused by a close (e.g. 1008) (SDK extension).
     */
    closeCode?: number;
    /**
     * exists / conflict / locked: the entity as the server has it now.
     */
    entity?: import('./types.js').Entity;
    /**
     * history_unavailable: the oldest moment still available.
     */
    oldest?: {
        stateVersion: number;
        time: number;
    };
    /**
     * A refused room.send(): the message's clientId, to send it again safely (SDK extension).
     */
    clientId?: string;
};
/**
 * What a ChorusError carries besides its code and message (each only when known).
 * @typedef {object} ChorusErrorExtra
 * @property {number} [status] HTTP status for REST errors.
 * @property {string} [field] validation_error: the field at fault.
 * @property {number} [retryAfter] REST 429: the Retry-After header in seconds (SDK extension).
 * @property {string} [room] The room id, for an error about one room (e.g. a failed rejoin) (SDK extension).
 * @property {number} [closeCode] The WebSocket close code, for errors caused by a close (e.g. 1008) (SDK extension).
 * @property {import('./types.js').Entity} [entity] exists / conflict / locked: the entity as the server has it now.
 * @property {{ stateVersion: number; time: number }} [oldest] history_unavailable: the oldest moment still available.
 * @property {string} [clientId] A refused room.send(): the message's clientId, to send it again safely (SDK extension).
 */
/** An error from the server (its stable `code`) or from the SDK (`timeout`, `closed`, `network`). */
export declare class ChorusError extends Error {
    /** The stable error code: the server's (docs/protocol.md) or the SDK's own. */
    code: string;
    /** HTTP status for REST errors. @type {number | undefined} */
    status: number | undefined;
    /** validation_error: the field at fault. @type {string | undefined} */
    field: string | undefined;
    /** REST 429: the Retry-After header in seconds (SDK extension). @type {number | undefined} */
    retryAfter: number | undefined;
    /** The room id, for an error about one room (e.g. a failed rejoin) (SDK extension). @type {string | undefined} */
    room: string | undefined;
    /** The WebSocket close code, for errors caused by a close (e.g. 1008) (SDK extension). @type {number | undefined} */
    closeCode: number | undefined;
    /** exists / conflict / locked: the entity as the server has it now. @type {import('./types.js').Entity | undefined} */
    entity: import('./types.js').Entity | undefined;
    /** history_unavailable: the oldest moment still available. @type {{ stateVersion: number; time: number } | undefined} */
    oldest: {
        stateVersion: number;
        time: number;
    } | undefined;
    /** A refused room.send(): the message's clientId, to send it again safely (SDK extension). @type {string | undefined} */
    clientId: string | undefined;
    /**
     * @param {string} code
     * @param {string} [message]
     * @param {ChorusErrorExtra} [extra]
     */
    constructor(code: string, message?: string, extra?: ChorusErrorExtra);
}
/**
 * A ChorusError from a server error object ({code, message, field?, entity?}).
 * @param {unknown} err
 * @param {ChorusErrorExtra} [extra]
 * @returns {ChorusError}
 */
export declare function errorFromReply(err: unknown, extra?: ChorusErrorExtra): ChorusError;
