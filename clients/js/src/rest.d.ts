export type RestConfig = {
    url: string | undefined;
    fetch: any;
    token: string | undefined;
    timeout: number;
};
/**
 * What a REST call needs from the client: the server's base URL, a fetch, the token (or
 * undefined) and the timeout in ms.
 * @typedef {{ url: string | undefined; fetch: any; token: string | undefined; timeout: number }} RestConfig
 */
/**
 * One REST call: method + path (with its query) on cfg.url, body as JSON when given, the
 * bearer token when auth and there is one. Resolves with the answer's JSON; rejects with
 * ChorusError: the server's code (with `status`, and `retryAfter` from a Retry-After
 * header), `http_error` for an answer without one, `timeout`, or `network`.
 * Borrows cfg; body is encoded, not kept.
 * @param {RestConfig} cfg
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {{ auth?: boolean }} [opts]
 * @returns {Promise<any>}
 */
export declare function restRequest(cfg: RestConfig, method: string, path: string, body?: unknown, { auth }?: {
    auth?: boolean;
}): Promise<any>;
