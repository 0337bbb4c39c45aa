/* http_csp.c: Content-Security-Policy for HTML pages, inline scripts pinned by hash. */
#include "io/http_csp.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#define CSP_MAX_SCRIPTS 16

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Returns the first position >= from where lowercase word (ASCII) starts, ignoring case,
 * or len. */
static size_t find_ci(const char *s, size_t len, size_t from, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = from; i + n <= len; i++) {
        size_t k = 0;
        while (k < n && lower(s[i + k]) == word[k])
            k++;
        if (k == n) return i;
    }
    return len;
}

/* Scans the attributes of a start tag from s[i] to its '>' (quoted values may hold '>').
 * Sets *has_src when an attribute is named src. Returns the position after '>', or len. */
static size_t scan_tag(const char *s, size_t len, size_t i, int *has_src)
{
    *has_src = 0;
    while (i < len) {
        while (i < len && (is_space(s[i]) || s[i] == '/'))
            i++;
        if (i >= len) return len;
        if (s[i] == '>') return i + 1;
        size_t name = i;
        while (i < len && !is_space(s[i]) && s[i] != '=' && s[i] != '>' && s[i] != '/')
            i++;
        if (i - name == 3 && lower(s[name]) == 's' && lower(s[name + 1]) == 'r' &&
            lower(s[name + 2]) == 'c')
            *has_src = 1;
        while (i < len && is_space(s[i]))
            i++;
        if (i < len && s[i] == '=') {
            i++;
            while (i < len && is_space(s[i]))
                i++;
            if (i < len && (s[i] == '"' || s[i] == '\'')) {
                char q = s[i++];
                while (i < len && s[i] != q)
                    i++;
                if (i < len) i++;
            } else {
                while (i < len && !is_space(s[i]) && s[i] != '>')
                    i++;
            }
        }
    }
    return len;
}

int http_csp_policy(const char *html, size_t len, char *out, size_t cap)
{
    static const char head[] = "default-src 'self'; script-src 'self'";
    static const char tail[] =
        "; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'"
        "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    if (cap < sizeof(head) + sizeof(tail) - 1) return -1;
    size_t room = cap - (sizeof(tail) - 1); /* what head and the hashes may use, NUL included */
    size_t o = (size_t)snprintf(out, room, "%s", head);
    int hashed = 0;
    size_t i = 0;
    while (hashed < CSP_MAX_SCRIPTS) {
        i = find_ci(html, len, i, "<script");
        if (i >= len) break;
        i += 7;
        if (i < len && !is_space(html[i]) && html[i] != '>' && html[i] != '/') continue;
        int has_src;
        size_t body = scan_tag(html, len, i, &has_src);
        size_t end = find_ci(html, len, body, "</script");
        if (end >= len) break; /* unterminated: the browser will not run it either */
        i = end + 8;
        if (has_src) continue;
        unsigned char digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(digest, (const unsigned char *)html + body, end - body);
        char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
                                           sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof(b64), digest, sizeof(digest),
                          sodium_base64_VARIANT_ORIGINAL);
        int n = snprintf(out + o, room - o, " 'sha256-%s'", b64);
        if (n < 0 || (size_t)n >= room - o) {
            out[o] = '\0'; /* does not fit: left out */
            break;
        }
        o += (size_t)n;
        hashed++;
    }
    memcpy(out + o, tail, sizeof(tail)); /* room - o >= 1 so tail and NUL fit in cap */
    return hashed;
}
