/* bench_proto.c: Chorus JSON as is, or wrapped in Socket.IO packets (see bench_proto.h). */
#include "bench_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

int bproto_target(const char *name)
{
    if (strcmp(name, "chorus") == 0)
        return BPROTO_CHORUS;
    if (strcmp(name, "ws") == 0)
        return BPROTO_WS;
    if (strcmp(name, "socketio") == 0)
        return BPROTO_SOCKETIO;
    if (strcmp(name, "chorus-sio") == 0)
        return BPROTO_CHORUS_SIO;
    return -1;
}

const char *bproto_name(int target)
{
    switch (target) {
    case BPROTO_WS:
        return "ws";
    case BPROTO_SOCKETIO:
        return "socketio";
    case BPROTO_CHORUS_SIO:
        return "chorus-sio";
    default:
        return "chorus";
    }
}

int bproto_is_chorus(int target)
{
    return target == BPROTO_CHORUS || target == BPROTO_CHORUS_SIO;
}

int bproto_path(int target, const char *token, char *out, size_t cap)
{
    int n;
    if (target == BPROTO_CHORUS_SIO)
        n = snprintf(out, cap, "/socket.io/?EIO=4&transport=websocket");
    else if (target == BPROTO_SOCKETIO)
        n = snprintf(out, cap, "/socket.io/?EIO=4&transport=websocket&token=%s", token);
    else
        n = snprintf(out, cap, "/ws?token=%s", token);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int bproto_upgraded(int target, bws_t *ws, const char *token)
{
    if (target == BPROTO_CHORUS_SIO) {
        /* CONNECT to "/" with the token as auth; tokens are base64url and dots: no escape */
        char pkt[2048];
        int n = snprintf(pkt, sizeof(pkt), "40{\"token\":\"%s\"}", token ? token : "");
        if (n < 0 || (size_t)n >= sizeof(pkt))
            return 0; /* never happens with the generator's tokens; setup times out */
        bws_send_text(ws, pkt, (size_t)n);
        return 0;
    }
    if (target != BPROTO_SOCKETIO)
        return 1;
    /* Engine.IO sends its open packet "0{...}" first; "40" asks for the default namespace
     * at once (the server answers "40{"sid":...}" after its open packet). */
    bws_send_text(ws, "40", 2);
    return 0;
}

int bproto_recv(int target, bws_t *ws, char *s, size_t len, char **obj, size_t *obj_len)
{
    if (target == BPROTO_CHORUS_SIO && len >= 3 && s[0] == '4' && s[1] == '3') {
        /* 43N[{reply}]: the ack's one argument is the reply a /ws client gets (ref = N) */
        size_t i = 2;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == 2 || i + 2 >= len || s[i] != '[' || s[i + 1] != '{' || s[len - 1] != ']')
            return BPROTO_ERROR;
        *obj = s + i + 1;
        *obj_len = len - i - 2;
        return BPROTO_MSG;
    }
    if (target != BPROTO_SOCKETIO && target != BPROTO_CHORUS_SIO) {
        *obj = s;
        *obj_len = len;
        return BPROTO_MSG;
    }
    if (len >= 3 && s[0] == '4' && s[1] == '2') {
        /* 42["op",{...}]: the object starts after the first comma (event names hold none) */
        char *comma = memchr(s, ',', len);
        if (!comma || s[len - 1] != ']')
            return BPROTO_ERROR;
        *obj = comma + 1;
        *obj_len = (size_t)(s + len - 1 - *obj);
        return BPROTO_MSG;
    }
    if (len == 1 && s[0] == '2') { /* Engine.IO ping: answer pong or the server drops us */
        bws_send_text(ws, "3", 1);
        return BPROTO_NONE;
    }
    if (len >= 2 && s[0] == '4' && s[1] == '0')
        return BPROTO_OPEN;
    if (s[0] == '0' || s[0] == '3' || s[0] == '6')
        return BPROTO_NONE; /* open, pong, noop */
    return BPROTO_ERROR;      /* 1 (close), 44 (connect error), anything else */
}

/* chorus-sio: json is {"op":"<op>","ref":N,<rest>}; *id, *id_len get N's digits and
 * *rest the bytes from <rest> on. Returns 0, or -1 when json is not of that form. */
static int split_ref(const char *op, const char *json, size_t n, const char **id,
                     size_t *id_len, const char **rest)
{
    size_t ol = strlen(op), i = 7 + ol + 8;
    if (n <= i || memcmp(json, "{\"op\":\"", 7) != 0 || memcmp(json + 7, op, ol) != 0 ||
        memcmp(json + 7 + ol, "\",\"ref\":", 8) != 0)
        return -1;
    *id = json + i;
    while (i < n && json[i] >= '0' && json[i] <= '9')
        i++;
    *id_len = (size_t)(json + i - *id);
    if (*id_len == 0 || *id_len > 20 || i >= n || json[i] != ',')
        return -1;
    *rest = json + i + 1;
    return 0;
}

int bproto_send(int target, bws_t *ws, const char *op, const char *json, size_t n)
{
    if (target != BPROTO_SOCKETIO && target != BPROTO_CHORUS_SIO)
        return bws_send_text(ws, json, n);
    const char *id = "", *rest = NULL;
    size_t id_len = 0;
    if (target == BPROTO_CHORUS_SIO) {
        if (split_ref(op, json, n, &id, &id_len, &rest) < 0)
            return -1;
        n = (size_t)(json + n - rest) + 1; /* '{' + rest */
    }
    char stackbuf[8192];
    size_t ol = strlen(op);
    size_t total = n + ol + id_len + 8;
    char *p = total <= sizeof(stackbuf) ? stackbuf : ch_malloc(total);
    size_t k = 0;
    memcpy(p + k, "42", 2);
    k += 2;
    memcpy(p + k, id, id_len);
    k += id_len;
    memcpy(p + k, "[\"", 2);
    k += 2;
    memcpy(p + k, op, ol);
    k += ol;
    memcpy(p + k, "\",", 2);
    k += 2;
    if (rest) {
        p[k++] = '{';
        memcpy(p + k, rest, n - 1);
    } else {
        memcpy(p + k, json, n);
    }
    k += rest ? n - 1 : n;
    p[k++] = ']';
    int r = bws_send_text(ws, p, k);
    if (p != stackbuf)
        free(p);
    return r;
}
