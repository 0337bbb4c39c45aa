// errors.js: ChorusError, the one error type of the SDK, and its mapping from a server
// error object (a WebSocket reply's or a REST answer's `error`).

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
export class ChorusError extends Error {
  /**
   * @param {string} code
   * @param {string} [message]
   * @param {ChorusErrorExtra} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message || code);
    this.name = 'ChorusError';
    /** The stable error code: the server's (docs/protocol.md) or the SDK's own. */
    this.code = code;
    // Only the fields that are known become properties.
    if (extra.status !== undefined) {
      /** HTTP status for REST errors. @type {number | undefined} */
      this.status = extra.status;
    }
    if (extra.field !== undefined) {
      /** validation_error: the field at fault. @type {string | undefined} */
      this.field = extra.field;
    }
    if (extra.retryAfter !== undefined) {
      /** REST 429: the Retry-After header in seconds (SDK extension). @type {number | undefined} */
      this.retryAfter = extra.retryAfter;
    }
    if (extra.room !== undefined) {
      /** The room id, for an error about one room (e.g. a failed rejoin) (SDK extension). @type {string | undefined} */
      this.room = extra.room;
    }
    if (extra.closeCode !== undefined) {
      /** The WebSocket close code, for errors caused by a close (e.g. 1008) (SDK extension). @type {number | undefined} */
      this.closeCode = extra.closeCode;
    }
    if (extra.entity !== undefined) {
      /** exists / conflict / locked: the entity as the server has it now. @type {import('./types.js').Entity | undefined} */
      this.entity = extra.entity;
    }
    if (extra.oldest !== undefined) {
      /** history_unavailable: the oldest moment still available. @type {{ stateVersion: number; time: number } | undefined} */
      this.oldest = extra.oldest;
    }
    if (extra.clientId !== undefined) {
      /** A refused room.send(): the message's clientId, to send it again safely (SDK extension). @type {string | undefined} */
      this.clientId = extra.clientId;
    }
  }
}

/**
 * A ChorusError from a server error object ({code, message, field?, entity?}).
 * @param {unknown} err
 * @param {ChorusErrorExtra} [extra]
 * @returns {ChorusError}
 */
export function errorFromReply(err, extra = {}) {
  const e = err && typeof err === 'object' ? /** @type {Record<string, any>} */ (err) : {};
  return new ChorusError(typeof e.code === 'string' ? e.code : 'unknown_error',
    typeof e.message === 'string' ? e.message : 'request failed', { field: e.field, entity: e.entity, oldest: e.oldest, ...extra });
}
