/* http_redirect.h: the https:// URL the --tls-redirect listener sends a plain request to
 * (pure: the Host header checked, the request target kept). */
#ifndef CHORUS_HTTP_REDIRECT_H
#define CHORUS_HTTP_REDIRECT_H

#include <stddef.h>

/* Longest Location value written (a longer target is refused). */
#define HTTP_REDIRECT_MAX 4096

/* Writes "https://HOST[:port]TARGET" into out (cap bytes, NUL-terminated): HOST is the
 * Host header's name without its port (host[0..hlen): letters, digits, '-' and '.', at most
 * 253 bytes, or an IPv6 literal in brackets), port is the TLS listener's (left out when 443),
 * TARGET the request target as received (target[0..tlen): origin-form, "/" then visible
 * ASCII only, so nothing can split the header). Borrows everything. Returns 0, or -1 when
 * the host or target is not acceptable or the URL does not fit. */
int http_redirect_location(const char *host, size_t hlen, const char *target, size_t tlen,
                           int port, char *out, size_t cap);

#endif
