/* http_csp.h: the web app's Content-Security-Policy, with the hashes of the inline scripts
 * of the page it protects (the import map in web/index.html), so no inline script but
 * those can run. Pure. */
#ifndef CHORUS_HTTP_CSP_H
#define CHORUS_HTTP_CSP_H

#include <stddef.h>

/* Room for a policy with up to 16 inline scripts. */
#define HTTP_CSP_MAX 1536

/* Security headers sent with every static file (CRLF-terminated lines). */
#define HTTP_CSP_STATIC_HEADERS                                                                \
    "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"                             \
    "Referrer-Policy: no-referrer\r\n"

/* Writes into out (cap bytes, NUL-terminated) the Content-Security-Policy value for an
 * HTML page html[0..len): same-origin scripts plus a 'sha256-...' source for each inline
 * <script> element of the page (one without a src attribute), same-origin connections
 * (the WebSocket included), styles from the page and inline (CodeMirror injects <style>),
 * images also from data: and blob:, no plugins, no <base>, forms to the same origin, and
 * no framing by any site (frame-ancestors 'none'). Inline scripts past the 16th, or that
 * do not fit in cap, are left out (they will not run). Returns the number of inline
 * scripts hashed, or -1 when cap cannot even hold the policy without hashes. Borrows
 * html. */
int http_csp_policy(const char *html, size_t len, char *out, size_t cap);

#endif
