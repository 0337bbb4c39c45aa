/* ws_handshake.h: validation of the RFC 6455 opening handshake and the accept value. */
#ifndef CHORUS_WS_HANDSHAKE_H
#define CHORUS_WS_HANDSHAKE_H

#include <stddef.h>

#include "io/http_parse.h"

#define WS_ACCEPT_LEN 28

typedef struct {
    const char *const *origins; /* Origin values allowed besides same-origin; "*" = any */
    size_t norigins;
    const char *subprotocol;    /* selected when the client offers it, e.g. "chorus.v1" */
    const char *public_url;     /* NULL or the server's public base URL: its origin is
                                   same-origin too (behind a proxy that rewrites Host) */
} ws_handshake_opts_t;

typedef struct {
    char accept[WS_ACCEPT_LEN + 1]; /* Sec-WebSocket-Accept value, NUL-terminated */
    int subprotocol;                /* 1 when opts->subprotocol was offered and selected */
} ws_handshake_t;

/* Writes the Sec-WebSocket-Accept value for key (base64 SHA-1 of key + RFC GUID) into out
 * as 28 characters plus NUL. Borrows key. */
void ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_LEN + 1]);

/* Returns 1 when key is the base64 encoding of exactly 16 bytes. */
int ws_key_valid(const char *key, size_t len);

/* Returns 1 when the comma-separated header value contains token (case-insensitive,
 * whitespace around elements ignored). */
int http_token_list_has(const char *value, size_t len, const char *token);

/* Checks req's Origin against opts as the upgrade does (below): returns 0 when there is
 * none or it is allowed (*out, when out is not NULL, gets the header or NULL), or 403
 * with *msg a static reason. Also serves Socket.IO's polling CORS. Borrows everything. */
int ws_origin_check(const http_request_t *req, const ws_handshake_opts_t *opts,
                    const http_header_t **out, const char **msg);

/* Checks a GET request for a WebSocket upgrade. Returns 0 and fills *out when it is
 * acceptable, or the HTTP status to answer with: 400 (missing/wrong Upgrade, Connection,
 * or Sec-WebSocket-Key; method not GET; HTTP older than 1.1), 426 (Sec-WebSocket-Version
 * missing or not 13; the reply must carry "Sec-WebSocket-Version: 13"), 403 (an Origin
 * that is neither same-origin nor in opts->origins). Same-origin: the Origin is http(s)
 * and its host[:port] equals the request's Host, or it is opts->public_url's origin (a
 * default port, 80 or 443, counts as absent). A request without Origin (not a browser) is
 * allowed. *msg gets a static human-readable reason. Borrows everything. */
int ws_handshake_check(const http_request_t *req, const ws_handshake_opts_t *opts,
                       ws_handshake_t *out, const char **msg);

#endif
