/* ws_handshake.c: validation of the RFC 6455 opening handshake and the accept value. */
#include "io/ws_handshake.h"

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "util/mem.h"

/* RFC 6455 section 1.3: the fixed GUID appended to the client's key. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void ws_accept_key(const char *key, size_t len, char out[WS_ACCEPT_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* These fail only when out of memory, which aborts everywhere else too. */
    CH_ASSERT(ctx != NULL);
    int ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) && EVP_DigestUpdate(ctx, key, len) &&
             EVP_DigestUpdate(ctx, ws_guid, sizeof(ws_guid) - 1) &&
             EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    CH_ASSERT(ok && md_len == 20);
    /* 20 bytes encode to exactly 28 characters; EVP_EncodeBlock adds the NUL. */
    int n = EVP_EncodeBlock((unsigned char *)out, md, (int)md_len);
    CH_ASSERT(n == WS_ACCEPT_LEN);
}

static int is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

int ws_key_valid(const char *key, size_t len)
{
    /* 16 bytes are 5 full groups of 3 plus one byte: 22 characters and "==". The two bits
     * left over in the last character are not checked; decoders ignore them. */
    if (len != 24 || key[22] != '=' || key[23] != '=') return 0;
    for (size_t i = 0; i < 22; i++)
        if (!is_b64(key[i])) return 0;
    return 1;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* http_token_list_has with a choice of case rule: subprotocol names are case-sensitive
 * (RFC 6455 4.1: the server must echo one of the client's values exactly). */
static int list_has(const char *value, size_t len, const char *token, int icase)
{
    size_t tlen = strlen(token), i = 0;
    while (i <= len) {
        size_t start = i;
        while (i < len && value[i] != ',')
            i++;
        size_t end = i;
        while (start < end && is_ows(value[start]))
            start++;
        while (end > start && is_ows(value[end - 1]))
            end--;
        if (end - start == tlen && tlen > 0 &&
            (icase ? strncasecmp(value + start, token, tlen)
                   : memcmp(value + start, token, tlen)) == 0)
            return 1;
        i++; /* past the comma (or the end) */
    }
    return 0;
}

int http_token_list_has(const char *value, size_t len, const char *token)
{
    return list_has(value, len, token, 1);
}

/* 1 when any header named name lists token: a list may be split over repeated headers
 * (RFC 9110 5.3), e.g. "Connection: keep-alive" then "Connection: Upgrade". */
static int headers_have(const http_request_t *req, const char *name, const char *token,
                        int icase)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        const http_header_t *h = &req->headers[i];
        if (h->name_len == nlen && strncasecmp(h->name, name, nlen) == 0 &&
            list_has(h->value, h->value_len, token, icase))
            return 1;
    }
    return 0;
}

/* Returns the only header named name; NULL when there is none or more than one, since two
 * keys, versions or origins leave no right answer. *count gets how many there were. */
static const http_header_t *single_header(const http_request_t *req, const char *name,
                                          int *count)
{
    const http_header_t *found = NULL;
    size_t nlen = strlen(name);
    *count = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const http_header_t *h = &req->headers[i];
        if (h->name_len == nlen && strncasecmp(h->name, name, nlen) == 0) {
            found = h;
            (*count)++;
        }
    }
    return *count == 1 ? found : NULL;
}

/* Splits an http(s) URL or origin of len bytes into its scheme (1 for https) and its
 * host[:port], less a port that is the scheme's default; the authority ends at '/', '?',
 * '#' or the end. Returns 0, or -1 when it is not http(s) or has no host. */
static int split_origin(const char *s, size_t len, int *https, const char **auth, size_t *alen,
                        size_t *rest)
{
    size_t skip;
    if (len >= 7 && strncasecmp(s, "http://", 7) == 0) {
        *https = 0;
        skip = 7;
    } else if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
        *https = 1;
        skip = 8;
    } else {
        return -1;
    }
    size_t n = 0;
    while (skip + n < len && !strchr("/?#", s[skip + n]))
        n++;
    *auth = s + skip;
    *rest = len - skip - n;
    const char *def = *https ? ":443" : ":80";
    size_t dlen = strlen(def);
    if (n > dlen && memcmp(*auth + n - dlen, def, dlen) == 0) n -= dlen;
    *alen = n;
    return n > 0 ? 0 : -1;
}

/* 1 when the Origin (value, len) is the server's own: its authority equals the request's
 * Host, or it equals public_url's scheme and authority. Host names compare without case. */
static int is_same_origin(const char *value, size_t len, const http_request_t *req,
                          const char *public_url)
{
    int https, count = 0;
    const char *auth;
    size_t alen, rest;
    if (split_origin(value, len, &https, &auth, &alen, &rest) != 0 || rest != 0) return 0;
    const http_header_t *host = single_header(req, "Host", &count);
    if (host) {
        const char *def = https ? ":443" : ":80";
        size_t hlen = host->value_len, dlen = strlen(def);
        if (hlen > dlen && memcmp(host->value + hlen - dlen, def, dlen) == 0) hlen -= dlen;
        if (hlen == alen && strncasecmp(host->value, auth, alen) == 0) return 1;
    }
    int pub_https;
    const char *pub;
    size_t plen, prest;
    if (public_url &&
        split_origin(public_url, strlen(public_url), &pub_https, &pub, &plen, &prest) == 0 &&
        pub_https == https && plen == alen && strncasecmp(pub, auth, alen) == 0)
        return 1;
    return 0;
}

static int reject(const char **msg, int status, const char *why)
{
    if (msg) *msg = why;
    return status;
}

int ws_origin_check(const http_request_t *req, const ws_handshake_opts_t *opts,
                    const http_header_t **out, const char **msg)
{
    /* Browsers always send Origin; a request without one is a non-browser client, which
     * could forge any Origin anyway, so the check only stops cross-site pages: a page
     * elsewhere opening a socket to this server with its visitor's network position. */
    int count = 0;
    const http_header_t *origin = single_header(req, "Origin", &count);
    if (out) *out = NULL;
    if (count > 1) return reject(msg, 403, "more than one Origin");
    if (origin) {
        size_t n = opts && opts->origins ? opts->norigins : 0, i = 0;
        while (i < n && strcmp(opts->origins[i], "*") != 0 &&
               !(strlen(opts->origins[i]) == origin->value_len &&
                 memcmp(opts->origins[i], origin->value, origin->value_len) == 0))
            i++;
        if (i == n && !is_same_origin(origin->value, origin->value_len, req,
                                      opts ? opts->public_url : NULL))
            return reject(msg, 403, "Origin not allowed (not this server's, not in --origins)");
    }
    if (out) *out = origin;
    return 0;
}

int ws_handshake_check(const http_request_t *req, const ws_handshake_opts_t *opts,
                       ws_handshake_t *out, const char **msg)
{
    int count = 0;
    if (req->method != HTTP_GET) return reject(msg, 400, "WebSocket handshake must be GET");
    if (req->http_major < 1 || (req->http_major == 1 && req->http_minor < 1))
        return reject(msg, 400, "WebSocket handshake needs HTTP/1.1");
    if (!headers_have(req, "Upgrade", "websocket", 1))
        return reject(msg, 400, "missing Upgrade: websocket");
    if (!headers_have(req, "Connection", "upgrade", 1))
        return reject(msg, 400, "missing Connection: Upgrade");
    const http_header_t *key = single_header(req, "Sec-WebSocket-Key", &count);
    if (!key || !ws_key_valid(key->value, key->value_len))
        return reject(msg, 400, "missing or invalid Sec-WebSocket-Key");
    const http_header_t *version = single_header(req, "Sec-WebSocket-Version", &count);
    if (!version || version->value_len != 2 || memcmp(version->value, "13", 2) != 0)
        return reject(msg, 426, "unsupported Sec-WebSocket-Version (need 13)");

    int rc = ws_origin_check(req, opts, NULL, msg);
    if (rc != 0) return rc;

    ws_accept_key(key->value, key->value_len, out->accept);
    out->subprotocol = opts && opts->subprotocol && opts->subprotocol[0] &&
                       headers_have(req, "Sec-WebSocket-Protocol", opts->subprotocol, 0);
    if (msg) *msg = "ok";
    return 0;
}
