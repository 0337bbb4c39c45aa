/* sio_packet.c: Socket.IO 5 packet decoding. */
#include "proto/sio_packet.h"

#include <string.h>

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Skips JSON whitespace from i; returns the first other index. */
static size_t skip_ws(const char *buf, size_t len, size_t i)
{
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
        i++;
    return i;
}

int sio_decode(const char *buf, size_t len, sio_packet_t *out)
{
    memset(out, 0, sizeof(*out));
    out->nsp = "/";
    out->nsp_len = 1;
    if (len == 0 || buf[0] < '0' || buf[0] > '6') return SIO_EBAD;
    out->type = (sio_type_t)(buf[0] - '0');
    size_t i = 1;
    int binary = out->type == SIO_BINARY_EVENT || out->type == SIO_BINARY_ACK;
    if (binary) {
        uint32_t n = 0;
        size_t start = i;
        while (i < len && is_digit(buf[i])) {
            n = n * 10 + (uint32_t)(buf[i] - '0');
            if (n > SIO_MAX_ATTACHMENTS) return SIO_EBAD;
            i++;
        }
        if (i == start || i >= len || buf[i] != '-') return SIO_EBAD;
        i++;
        out->attachments = n;
    }
    if (i < len && buf[i] == '/') {
        const char *comma = memchr(buf + i, ',', len - i);
        size_t end = comma ? (size_t)(comma - buf) : len;
        out->nsp = buf + i;
        out->nsp_len = end - i;
        i = comma ? end + 1 : len;
    }
    size_t start = i;
    int64_t id = 0;
    while (i < len && is_digit(buf[i])) {
        if (i - start == SIO_ID_MAX_DIGITS) return SIO_EBAD;
        id = id * 10 + (buf[i] - '0');
        i++;
    }
    if (i > start) {
        out->has_id = 1;
        out->id = id;
    }
    out->data = buf + i;
    out->len = len - i;
    size_t j = skip_ws(buf, len, i);
    char first = j < len ? buf[j] : 0;
    switch (out->type) {
    case SIO_CONNECT:
        return (first == 0 || first == '{') && !out->has_id ? 0 : SIO_EBAD;
    case SIO_DISCONNECT:
        return first == 0 && !out->has_id ? 0 : SIO_EBAD;
    case SIO_EVENT:
    case SIO_BINARY_EVENT:
        return first == '[' ? 0 : SIO_EBAD;
    case SIO_ACK:
    case SIO_BINARY_ACK:
        return first == '[' && out->has_id ? 0 : SIO_EBAD;
    case SIO_CONNECT_ERROR:
        return first == '{' && !out->has_id ? 0 : SIO_EBAD;
    }
    return SIO_EBAD;
}

int sio_event_args(const sio_packet_t *p, json_t **args, const char **name)
{
    *args = NULL;
    *name = NULL;
    json_error_t jerr;
    json_t *a = json_loadb(p->data, p->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!a) return SIO_EBAD;
    json_t *n = json_array_get(a, 0);
    /* A name with an embedded NUL would compare equal to its prefix. */
    if (!json_is_array(a) || !json_is_string(n) ||
        strlen(json_string_value(n)) != json_string_length(n)) {
        json_decref(a);
        return SIO_EBAD;
    }
    *args = a;
    *name = json_string_value(n);
    return 0;
}

int sio_nsp_is(const sio_packet_t *p, const char *nsp)
{
    size_t n = strlen(nsp);
    return p->nsp_len == n && memcmp(p->nsp, nsp, n) == 0;
}
