export type ChorusError = import('./errors.js').ChorusError;
/** @typedef {import('./errors.js').ChorusError} ChorusError */
/** The table of requests waiting for their reply, by ref. */
export declare class Requests {
    /**
     * Registers a request and returns its ref. After ms without a reply, onTimeout() builds
     * the error it is rejected with. Takes resolve and reject (called at most once, by
     * settle(), cancel(), rejectAll() or the timeout).
     * @param {string} op
     * @param {(data: any) => void} resolve
     * @param {(e: ChorusError) => void} reject
     * @param {number} ms
     * @param {() => ChorusError} onTimeout
     * @returns {number}
     */
    add(op: string, resolve: (data: any) => void, reject: (e: ChorusError) => void, ms: number, onTimeout: () => ChorusError): number;
    /**
     * Forgets ref without settling it (its message could not be sent); false if unknown.
     * @param {number} ref
     * @returns {boolean}
     */
    cancel(ref: number): boolean;
    /**
     * Settles ref's request with a reply: resolve(data) when ok, else reject(error()). A
     * reply to nothing (late, after a timeout) is ignored: returns false.
     * @param {unknown} ref
     * @param {boolean} ok
     * @param {any} data
     * @param {() => ChorusError} error
     * @returns {boolean}
     */
    settle(ref: unknown, ok: boolean, data: any, error: () => ChorusError): boolean;
    /**
     * Rejects every request in flight with err (the connection ended).
     * @param {ChorusError} err
     * @returns {void}
     */
    rejectAll(err: ChorusError): void;
}
