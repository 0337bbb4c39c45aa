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
    return -1;
}

const char *bproto_name(int target)
{
    switch (target) {
    case BPROTO_WS:
        return "ws";
    case BPROTO_SOCKETIO:
        return "socketio";
    default:
        return "chorus";
    }
}

int bproto_path(int target, const char *token, char *out, size_t cap)
{
    int n;
    if (target == BPROTO_SOCKETIO)
        n = snprintf(out, cap, "/socket.io/?EIO=4&transport=websocket&token=%s", token);
    else
        n = snprintf(out, cap, "/ws?token=%s", token);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int bproto_upgraded(int target, bws_t *ws)
{
    if (target != BPROTO_SOCKETIO)
        return 1;
    /* Engine.IO sends its open packet "0{...}" first; "40" asks for the default namespace
     * at once (the server answers "40{"sid":...}" after its open packet). */
    bws_send_text(ws, "40", 2);
    return 0;
}

int bproto_recv(int target, bws_t *ws, char *s, size_t len, char **obj, size_t *obj_len)
{
    if (target != BPROTO_SOCKETIO) {
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

int bproto_send(int target, bws_t *ws, const char *op, const char *json, size_t n)
{
    if (target != BPROTO_SOCKETIO)
        return bws_send_text(ws, json, n);
    char stackbuf[8192];
    size_t ol = strlen(op);
    size_t total = n + ol + 8;
    char *p = total <= sizeof(stackbuf) ? stackbuf : ch_malloc(total);
    size_t k = 0;
    memcpy(p + k, "42[\"", 4);
    k += 4;
    memcpy(p + k, op, ol);
    k += ol;
    memcpy(p + k, "\",", 2);
    k += 2;
    memcpy(p + k, json, n);
    k += n;
    p[k++] = ']';
    int r = bws_send_text(ws, p, k);
    if (p != stackbuf)
        free(p);
    return r;
}
