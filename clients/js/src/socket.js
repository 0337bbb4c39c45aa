// socket.js: the WebSocket side of the connection, pure where it can be: which
// constructor, which URL, what a close code means, and the reconnection backoff.

/** The page's origin in a browser (the default server URL), else undefined. */
export function defaultUrl() {
  const loc = globalThis.location;
  return loc && loc.origin && loc.origin !== 'null' ? loc.origin : undefined;
}

/**
 * Node without a global WebSocket (Node < 22): the `ws` package's constructor, when it can
 * be imported; undefined elsewhere (a browser never reaches the import).
 * @returns {Promise<any>}
 */
export async function nodeWebSocket() {
  if (typeof process === 'undefined' || !process.versions?.node) return undefined;
  try {
    const mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'ws');
    return mod.WebSocket ?? mod.default;
  } catch {
    return undefined;
  }
}

/**
 * The WebSocket URL of a server's base URL: http(s) -> ws(s), path + "/ws".
 * @param {string} base
 * @returns {string}
 */
export function toWsUrl(base) {
  const u = new URL(base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : u.protocol === 'http:' ? 'ws:' : u.protocol;
  u.pathname = u.pathname.replace(/\/+$/, '') + '/ws';
  u.search = '';
  u.hash = '';
  return u.toString();
}
