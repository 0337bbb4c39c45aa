/* rooms_effects.c: an app backend's side effects applied to a room as one step
 * (rooms_apply_effects, rooms.h): all checked, then the state patch and the messages in
 * the room's order, then the broadcasts once those are stored. */
#include "domain/rooms_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_patch.h"
#include "util/mem.h"
#include "util/utf8.h"

#define APP_AUTHOR "app"

typedef struct effects_s effects_t;

/* One stored part (the state patch: index -1; message i: index i) answering into e. */
typedef struct {
    effects_t *e;
    int index;
} effects_part_t;

struct effects_s {
    rooms_t *r;
    room_t *room;          /* held until done */
    json_t *broadcasts;    /* sent once everything is stored (owned; NULL: none) */
    json_t *seqs;          /* the messages' seqs, by index (owned) */
    int64_t state_version; /* 0: no state patch */
    rooms_err_t err;       /* the first failure (static texts) */
    size_t pending;        /* parts in flight, plus one while submitting */
    rooms_done_fn done;
    void *ud;
    effects_part_t parts[]; /* [0] the state, [1 + i] message i */
};

static void effects_finish(effects_t *e)
{
    if (!e->err.kind && !e->room->deleted) {
        size_t i;
        json_t *b;
        json_array_foreach(e->broadcasts, i, b)
        {
            const char *event = json_string_value(json_object_get(b, "event"));
            rooms_broadcast(e->r, e->room, BUS_MEMBER_NONE, "", event,
                            json_object_get(b, "data"));
        }
    }
    if (e->err.kind) {
        rooms_fail(e->done, e->ud, e->err.kind, e->err.code, e->err.message);
        json_decref(e->seqs);
    } else {
        json_t *res = json_pack("{s:b, s:o}", "success", 1, "messages", e->seqs);
        if (e->state_version)
            json_object_set_new(res, "stateVersion", json_integer(e->state_version));
        if (e->done)
            e->done(e->ud, NULL, res);
        else
            json_decref(res);
    }
    json_decref(e->broadcasts);
    rooms_release(e->room);
    free(e);
}

static void part_done(void *ud, const rooms_err_t *err, json_t *result)
{
    effects_part_t *p = ud;
    effects_t *e = p->e;
    if (err && err->kind) {
        /* the first failure answers, with its own kind and code (they are static texts) */
        if (!e->err.kind)
            e->err = (rooms_err_t){
                .kind = err->kind,
                .code = err->code ? err->code : "internal_error",
                .message = err->message ? err->message : "the effects could not all be stored"};
    } else if (p->index < 0) {
        e->state_version = json_integer_value(json_object_get(result, "stateVersion"));
    } else {
        json_t *m = json_object_get(result, "message");
        json_array_set_new(e->seqs, (size_t)p->index,
                           json_integer(json_integer_value(json_object_get(m, "seq"))));
    }
    json_decref(result);
    if (--e->pending == 0) effects_finish(e);
}

/* Refuses with kind, code and message naming the field "effects.<what>[i].<key>". */
static void refuse(rooms_done_fn done, void *ud, rooms_errno_t kind, const char *code,
                   const char *what, size_t i, const char *key, const char *message)
{
    char field[64];
    if (key)
        snprintf(field, sizeof(field), "effects.%s[%zu].%s", what, i, key);
    else
        snprintf(field, sizeof(field), "effects.%s", what);
    if (done)
        done(ud, &(rooms_err_t){.kind = kind, .code = code, .message = message, .field = field},
             NULL);
}

void rooms_apply_effects(rooms_t *r, room_t *room, const json_t *effects, rooms_done_fn done,
                         void *ud)
{
    json_t *msgs = json_object_get(effects, "messages");
    json_t *patch = json_object_get(effects, "state");
    json_t *bcs = json_object_get(effects, "broadcasts");
    size_t nmsgs = json_array_size(msgs);
    /* ---- every check first: one failure refuses them all ---- */
    int64_t msg_bytes = 0;
    for (size_t i = 0; i < nmsgs; i++) {
        json_t *m = json_array_get(msgs, i);
        json_t *type = json_object_get(m, "type"), *content = json_object_get(m, "content");
        json_t *meta = json_object_get(m, "metadata"), *author = json_object_get(m, "author");
        if (!json_is_string(type) || json_string_length(type) == 0 ||
            json_string_length(type) >= STORE_MSG_TYPE_LEN) {
            refuse(done, ud, ROOMS_E_INVALID, "validation_error", "messages", i, "type",
                   "type must be a string of 1 to 32 bytes");
            return;
        }
        if (!json_is_string(content) ||
            memchr(json_string_value(content), 0, json_string_length(content))) {
            refuse(done, ud, ROOMS_E_INVALID, "validation_error", "messages", i, "content",
                   "content must be a string without U+0000");
            return;
        }
        size_t clen = json_string_length(content);
        if (utf8_json_len(json_string_value(content), clen) > r->lim.max_message) {
            refuse(done, ud, ROOMS_E_TOO_LARGE, "payload_too_large", "messages", i, "content",
                   "content is too long");
            return;
        }
        if (author && (!json_is_string(author) || json_string_length(author) == 0 ||
                       json_string_length(author) >= STORE_NAME_LEN)) {
            refuse(done, ud, ROOMS_E_INVALID, "validation_error", "messages", i, "author",
                   "author must be a non-empty string");
            return;
        }
        size_t mlen = 0;
        if (meta) {
            char *text = json_is_object(meta) ? json_dumps(meta, JSON_COMPACT) : NULL;
            mlen = text ? strlen(text) : 0;
            free(text);
            if (!json_is_object(meta)) {
                refuse(done, ud, ROOMS_E_INVALID, "validation_error", "messages", i, "metadata",
                       "metadata must be a JSON object");
                return;
            }
            if (mlen > r->lim.max_metadata) {
                refuse(done, ud, ROOMS_E_TOO_LARGE, "payload_too_large", "messages", i,
                       "metadata", "metadata is too large");
                return;
            }
        }
        msg_bytes += STORE_ROW_BYTES + (int64_t)clen + (int64_t)mlen;
    }
    for (size_t i = 0; i < json_array_size(bcs); i++) {
        json_t *b = json_array_get(bcs, i), *ev = json_object_get(b, "event");
        if (!json_is_string(ev) || json_string_length(ev) == 0 || json_string_length(ev) > 64) {
            refuse(done, ud, ROOMS_E_INVALID, "validation_error", "broadcasts", i, "event",
                   "event must be a string of 1 to 64 bytes");
            return;
        }
        json_t *data = json_object_get(b, "data");
        char *text = json_dumps(data ? data : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
        size_t len = strlen(text);
        free(text);
        if (len > r->lim.max_broadcast) {
            refuse(done, ud, ROOMS_E_TOO_LARGE, "payload_too_large", "broadcasts", i, "data",
                   "broadcast data is too large");
            return;
        }
    }
    int64_t grow = 0; /* the state's growth, counted with the messages' bytes below */
    if (patch) {
        if (!json_is_object(patch)) {
            refuse(done, ud, ROOMS_E_INVALID, "validation_error", "state", 0, NULL,
                   "the patch must be a JSON object");
            return;
        }
        json_t *next = json_merge_patch(room->state, patch);
        char *text = next ? json_dumps(next, JSON_COMPACT) : NULL;
        size_t len = text ? strlen(text) : 0;
        int fits = next && json_is_object(next) && text && len <= r->lim.max_state;
        json_decref(next);
        free(text);
        if (!fits) {
            refuse(done, ud, ROOMS_E_TOO_LARGE, "payload_too_large", "state", 0, NULL,
                   "the room state would be too large");
            return;
        }
        grow = (int64_t)len - room->state_bytes;
        int qrc = rooms_quota_check(r, room, room->host_id, grow);
        if (qrc != QUOTA_OK) {
            rooms_over_quota(done, ud, qrc);
            return;
        }
    }
    /* the patch and the messages both count against the room: checked together, so that
     * nothing is applied when only part of it would fit */
    int qrc = rooms_quota_check(r, room, "", grow + msg_bytes);
    if (qrc != QUOTA_OK) {
        rooms_over_quota(done, ud, qrc);
        return;
    }
    if (nmsgs && room->seq_lost && room->msg_writes) {
        rooms_fail(done, ud, ROOMS_E_UNAVAILABLE, "service_unavailable",
                   "the database is unavailable; try again");
        return;
    }
    /* ---- then all of it, with nothing of the room between ---- */
    effects_t *e = ch_calloc(1, sizeof(*e) + (1 + nmsgs) * sizeof(e->parts[0]));
    e->r = r;
    e->room = room;
    rooms_hold(room);
    e->done = done;
    e->ud = ud;
    e->broadcasts = json_incref(bcs);
    e->seqs = json_array();
    e->pending = 1;
    if (patch) {
        e->pending++;
        e->parts[0] = (effects_part_t){.e = e, .index = -1};
        rooms_patch_state_app(r, room, patch, part_done, &e->parts[0]);
    }
    for (size_t i = 0; i < nmsgs; i++) {
        json_t *m = json_array_get(msgs, i);
        json_t *author = json_object_get(m, "author"), *meta = json_object_get(m, "metadata");
        json_array_append_new(e->seqs, json_null());
        e->pending++;
        e->parts[1 + i] = (effects_part_t){.e = e, .index = (int)i};
        rooms_post_effect(r, room, author ? json_string_value(author) : APP_AUTHOR,
                       json_string_value(json_object_get(m, "type")),
                       json_string_value(json_object_get(m, "content")),
                       meta ? json_dumps(meta, JSON_COMPACT) : NULL, part_done,
                       &e->parts[1 + i]);
    }
    if (--e->pending == 0) effects_finish(e);
}
