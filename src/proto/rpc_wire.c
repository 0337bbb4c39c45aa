/* rpc_wire.c: the rpc op's and the join hook's messages to and from an app's backend
 * (rpc_wire.h), pure. */
#include "proto/rpc_wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "auth/user_valid.h"
#include "store/store.h"
#include "util/mem.h"

int rpc_method_valid(const char *m, size_t len)
{
    if (len == 0 || len > RPC_METHOD_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = m[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' || ch == '-'))
            return 0;
    }
    return 1;
}

int rpc_message_type_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 32 || t[0] < 'a' || t[0] > 'z') return 0;
    for (size_t i = 1; i < n; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '_' ||
              t[i] == '-'))
            return 0;
    return 1;
}

/* 1 when s (len bytes) is an error code a backend may pass on: 1 to RPC_CODE_MAX of
 * [a-z0-9_]. */
static int code_valid(const char *s, size_t len)
{
    if (len == 0 || len > RPC_CODE_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

char *rpc_request_body(const rpc_request_t *in, size_t *len)
{
    json_t *user = json_pack("{s:s, s:s}", "id", in->user_id, "name", in->user_name);
    if (in->role) json_object_set_new(user, "role", json_string(in->role));
    json_t *o = json_pack("{s:s}", "type", in->type);
    if (in->method) json_object_set_new(o, "method", json_string(in->method));
    json_object_set_new(o, "room",
                        in->room_id ? json_pack("{s:s, s:s}", "id", in->room_id, "code",
                                                in->room_code ? in->room_code : "")
                                    : json_null());
    json_object_set_new(o, "user", user);
    if (in->method)
        json_object_set_new(o, "data", in->data ? json_deep_copy(in->data) : json_null());
    if (in->display_name) json_object_set_new(o, "displayName", json_string(in->display_name));
    json_object_set_new(o, "time", json_integer(in->time_ms));
    char *text = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
    CH_ASSERT(text != NULL);
    json_decref(o);
    *len = strlen(text);
    return text;
}

/* Copies at most cap - 1 bytes of the UTF-8 text s (len bytes) into out, cut before a
 * character that would not fit whole. */
static void copy_cut(char *out, size_t cap, const char *s, size_t len)
{
    if (len >= cap) {
        len = cap - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(out, s, len);
    out[len] = '\0';
}

static int fail(rpc_reply_t *out, const char *code, const char *message)
{
    out->code = code;
    snprintf(out->message, sizeof(out->message), "%s", message);
    return -1;
}

int rpc_reply_read(const http_call_res_t *res, rpc_reply_t *out)
{
    memset(out, 0, sizeof(*out));
    switch (res->err) {
    case 0:
        break;
    case -ETIMEDOUT:
        return fail(out, RPC_TIMEOUT, "the backend did not answer in time");
    case -ECONNREFUSED:
    case -EHOSTUNREACH:
    case -EIO:
        return fail(out, RPC_UNAVAILABLE, "the backend is unreachable");
    case -E2BIG:
        return fail(out, RPC_BAD_REPLY, "the backend's answer is too large");
    case -ECANCELED:
        return fail(out, "service_unavailable", "the server is shutting down");
    default:
        return fail(out, RPC_UNAVAILABLE, "the backend is unreachable");
    }
    json_t *o = res->body_len ? json_loadb(res->body, res->body_len, 0, NULL) : NULL;
    json_t *err = json_object_get(o, "error");
    if (json_is_object(err)) {
        json_t *code = json_object_get(err, "code"), *msg = json_object_get(err, "message");
        if (json_is_string(code) &&
            code_valid(json_string_value(code), json_string_length(code))) {
            snprintf(out->code_buf, sizeof(out->code_buf), "%s", json_string_value(code));
            out->code = out->code_buf;
        } else {
            out->code = RPC_BAD_REPLY;
        }
        if (json_is_string(msg))
            copy_cut(out->message, sizeof(out->message), json_string_value(msg),
                     json_string_length(msg));
        else
            snprintf(out->message, sizeof(out->message), "the backend refused the call");
        json_decref(o);
        return -1;
    }
    if (res->status < 200 || res->status > 299 || !json_is_object(o)) {
        json_decref(o);
        out->code = RPC_BAD_REPLY;
        if (res->status < 200 || res->status > 299)
            snprintf(out->message, sizeof(out->message), "the backend answered HTTP %d",
                     res->status);
        else
            snprintf(out->message, sizeof(out->message),
                     "the backend's answer is not a JSON object");
        return -1;
    }
    json_t *effects = json_object_get(o, "effects");
    if (effects && !json_is_null(effects)) {
        const char *why;
        if (rpc_effects_check(effects, out->field, sizeof(out->field), &why) != 0) {
            json_decref(o);
            return fail(out, RPC_EFFECTS_REFUSED, why);
        }
        out->effects = json_incref(effects);
    }
    json_t *data = json_object_get(o, "data");
    out->data = data ? json_incref(data) : json_null();
    out->answer = o;
    return 0;
}

void rpc_reply_free(rpc_reply_t *r)
{
    json_decref(r->data);
    json_decref(r->effects);
    json_decref(r->answer);
    r->data = r->effects = r->answer = NULL;
}

static int bad(char *field, size_t cap, const char **message, const char *what, size_t i,
               const char *key, const char *why)
{
    if (key)
        snprintf(field, cap, "effects.%s[%zu].%s", what, i, key);
    else if (i != (size_t)-1)
        snprintf(field, cap, "effects.%s[%zu]", what, i);
    else
        snprintf(field, cap, "effects%s%s", what[0] ? "." : "", what);
    *message = why;
    return -1;
}

static int check_message(const json_t *m, size_t i, char *field, size_t cap, const char **msg)
{
    if (!json_is_object(m))
        return bad(field, cap, msg, "messages", i, NULL, "a message is an object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)m, key, v)
    {
        if (strcmp(key, "type") == 0) {
            if (!json_is_string(v) || !rpc_message_type_valid(json_string_value(v)))
                return bad(field, cap, msg, "messages", i, key,
                           "type must be a lowercase name of up to 32 of a-z 0-9 _ -");
        } else if (strcmp(key, "content") == 0) {
            if (!json_is_string(v))
                return bad(field, cap, msg, "messages", i, key, "content must be a string");
        } else if (strcmp(key, "metadata") == 0) {
            if (!json_is_object(v))
                return bad(field, cap, msg, "messages", i, key, "metadata must be an object");
        } else if (strcmp(key, "author") == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0 ||
                json_string_length(v) > RPC_AUTHOR_MAX)
                return bad(field, cap, msg, "messages", i, key,
                           "author must be a string of 1 to 64 bytes");
        } else {
            return bad(field, cap, msg, "messages", i, key, "unknown member of a message");
        }
    }
    if (!json_object_get(m, "type"))
        return bad(field, cap, msg, "messages", i, "type", "a message needs a type");
    if (!json_object_get(m, "content"))
        return bad(field, cap, msg, "messages", i, "content", "a message needs content");
    return 0;
}

static int check_broadcast(const json_t *b, size_t i, char *field, size_t cap, const char **msg)
{
    if (!json_is_object(b))
        return bad(field, cap, msg, "broadcasts", i, NULL, "a broadcast is an object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)b, key, v)
    {
        if (strcmp(key, "event") == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 64)
                return bad(field, cap, msg, "broadcasts", i, key,
                           "event must be a string of 1 to 64 bytes");
        } else if (strcmp(key, "data") != 0) {
            return bad(field, cap, msg, "broadcasts", i, key, "unknown member of a broadcast");
        }
    }
    if (!json_object_get(b, "event"))
        return bad(field, cap, msg, "broadcasts", i, "event", "a broadcast needs an event");
    return 0;
}

int rpc_effects_check(const json_t *effects, char *field, size_t cap, const char **message)
{
    if (!json_is_object(effects))
        return bad(field, cap, message, "", (size_t)-1, NULL, "effects must be an object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)effects, key, v)
    {
        if (strcmp(key, "messages") == 0 || strcmp(key, "broadcasts") == 0) {
            int is_msg = key[0] == 'm';
            if (!json_is_array(v) || json_array_size(v) > RPC_EFFECTS_MAX)
                return bad(field, cap, message, key, (size_t)-1, NULL,
                           is_msg ? "messages must be an array of up to 16 messages"
                                  : "broadcasts must be an array of up to 16 broadcasts");
            for (size_t i = 0; i < json_array_size(v); i++) {
                json_t *e = json_array_get(v, i);
                int rc = is_msg ? check_message(e, i, field, cap, message)
                                : check_broadcast(e, i, field, cap, message);
                if (rc) return rc;
            }
        } else if (strcmp(key, "state") == 0) {
            if (!json_is_object(v))
                return bad(field, cap, message, "state", (size_t)-1, NULL,
                           "state must be an object (a merge patch)");
        } else {
            return bad(field, cap, message, key, (size_t)-1, NULL,
                       "effects has messages, state and broadcasts only");
        }
    }
    return 0;
}

int rpc_join_verdict(const json_t *answer, const char **name, const char **role,
                     const char **code, char *msg, size_t cap)
{
    *name = NULL;
    *role = NULL;
    *code = NULL;
    msg[0] = '\0';
    json_t *allow = json_object_get(answer, "allow");
    if (!json_is_boolean(allow)) {
        snprintf(msg, cap, "the join hook's answer has no allow: true or false");
        return -1;
    }
    if (json_is_true(allow)) {
        json_t *dn = json_object_get(answer, "displayName");
        if (dn && !json_is_null(dn)) {
            if (!json_is_string(dn) || json_string_length(dn) >= STORE_NAME_LEN ||
                strlen(json_string_value(dn)) != json_string_length(dn) ||
                !user_name_valid(json_string_value(dn), json_string_length(dn))) {
                snprintf(msg, cap,
                         "the join hook's displayName must be 1 to 32 characters, without "
                         "control or bidirectional formatting characters");
                return -1;
            }
            *name = json_string_value(dn);
        }
        json_t *jr = json_object_get(answer, "role");
        if (jr && !json_is_null(jr)) {
            const char *r = json_is_string(jr) ? json_string_value(jr) : "";
            if (strcmp(r, "host") != 0 && strcmp(r, "member") != 0) {
                snprintf(msg, cap, "the join hook's role must be \"host\" or \"member\"");
                return -1;
            }
            *role = r;
        }
        return 1;
    }
    json_t *c = json_object_get(answer, "code"), *m = json_object_get(answer, "message");
    *code = json_is_string(c) && code_valid(json_string_value(c), json_string_length(c))
                ? json_string_value(c)
                : "forbidden";
    if (json_is_string(m))
        copy_cut(msg, cap, json_string_value(m), json_string_length(m));
    else
        snprintf(msg, cap, "the app refused this join");
    return 0;
}
