/** The page's origin in a browser (the default server URL), else undefined. */
export declare function defaultUrl(): string | undefined;
/**
 * Node without a global WebSocket (Node < 22): the `ws` package's constructor, when it can
 * be imported; undefined elsewhere (a browser never reaches the import).
 * @returns {Promise<any>}
 */
export declare function nodeWebSocket(): Promise<any>;
/**
 * The WebSocket URL of a server's base URL: http(s) -> ws(s), path + "/ws".
 * @param {string} base
 * @returns {string}
 */
export declare function toWsUrl(base: string): string;
