/* janus_msg.c: Janus API requests built and replies read (janus_msg.h). */
#include "util/janus_msg.h"

#include <errno.h>
#include <string.h>

#include "util/mem.h"

static char *dump(json_t *o, size_t *len)
{
    char *s = json_dumps(o, JSON_COMPACT);
    CH_ASSERT(s);
    json_decref(o);
    *len = strlen(s);
    return s;
}

static json_t *base(const char *janus, const char *tx, const char *token)
{
    json_t *o = json_pack("{s:s, s:s}", "janus", janus, "transaction", tx);
    CH_ASSERT(o);
    if (token) json_object_set_new(o, "token", json_string(token));
    return o;
}

char *janus_msg_request(janus_req_t kind, const char *tx, const char *token, size_t *len)
{
    static const char *const names[] = {
        [JANUS_REQ_CREATE] = "create",
        [JANUS_REQ_DESTROY] = "destroy",
        [JANUS_REQ_KEEPALIVE] = "keepalive",
        [JANUS_REQ_DETACH] = "detach",
    };
    return dump(base(names[kind], tx, token), len);
}

char *janus_msg_attach(const char *plugin, const char *tx, const char *token, size_t *len)
{
    json_t *o = base("attach", tx, token);
    json_object_set_new(o, "plugin", json_string(plugin));
    return dump(o, len);
}

char *janus_msg_message(const json_t *body, const char *jsep_type, const char *jsep_sdp,
                        const char *tx, const char *token, size_t *len)
{
    json_t *o = base("message", tx, token);
    json_object_set_new(o, "body", json_deep_copy(body));
    if (jsep_type && jsep_sdp)
        json_object_set_new(o, "jsep",
                            json_pack("{s:s, s:s}", "type", jsep_type, "sdp", jsep_sdp));
    return dump(o, len);
}

char *janus_msg_trickle(const json_t *candidate, const char *tx, const char *token, size_t *len)
{
    json_t *o = base("trickle", tx, token);
    json_object_set_new(o, "candidate",
                        candidate ? json_deep_copy(candidate)
                                  : json_pack("{s:b}", "completed", 1));
    return dump(o, len);
}

char *janus_msg_admin_token(int add, const char *token, const char *plugin,
                            const char *admin_secret, const char *tx, size_t *len)
{
    json_t *o = base(add ? "add_token" : "remove_token", tx, NULL);
    json_object_set_new(o, "token", json_string(token));
    json_object_set_new(o, "admin_secret", json_string(admin_secret));
    if (add && plugin) json_object_set_new(o, "plugins", json_pack("[s]", plugin));
    return dump(o, len);
}

json_t *janus_vr_create(const janus_vr_room_t *r)
{
    json_t *o =
        json_pack("{s:s, s:I, s:b, s:i}", "request", "create", "room", (json_int_t)r->room,
                  "permanent", 0, "publishers", (int)r->publishers);
    CH_ASSERT(o);
    if (r->bitrate) json_object_set_new(o, "bitrate", json_integer(r->bitrate));
    if (r->description) json_object_set_new(o, "description", json_string(r->description));
    return o;
}

json_t *janus_vr_destroy(uint64_t room)
{
    return json_pack("{s:s, s:I}", "request", "destroy", "room", (json_int_t)room);
}

json_t *janus_vr_list(void)
{
    return json_pack("{s:s}", "request", "list");
}

json_t *janus_vr_publish(uint64_t room, uint64_t id, const char *display)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:s}", "request", "join", "ptype", "publisher",
                     "room", (json_int_t)room, "id", (json_int_t)id, "display", display);
}

json_t *janus_vr_configure(void)
{
    return json_pack("{s:s}", "request", "configure");
}

json_t *janus_vr_subscribe(uint64_t room, uint64_t feed)
{
    return json_pack("{s:s, s:s, s:I, s:[{s:I}]}", "request", "join", "ptype", "subscriber",
                     "room", (json_int_t)room, "streams", "feed", (json_int_t)feed);
}

json_t *janus_vr_start(void)
{
    return json_pack("{s:s}", "request", "start");
}

/* An id: a positive JSON integer (Janus's ids are at most 2^53). */
static uint64_t id_of(const json_t *v)
{
    if (!json_is_integer(v)) return 0;
    json_int_t i = json_integer_value(v);
    return i > 0 ? (uint64_t)i : 0;
}

static const char *str_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void copy_cut(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static janus_kind_t kind_of(const char *s)
{
    static const struct {
        const char *name;
        janus_kind_t kind;
    } kinds[] = {
        {"success", JANUS_MSG_SUCCESS},     {"ack", JANUS_MSG_ACK},
        {"error", JANUS_MSG_ERROR},         {"event", JANUS_MSG_EVENT},
        {"webrtcup", JANUS_MSG_WEBRTCUP},   {"hangup", JANUS_MSG_HANGUP},
        {"media", JANUS_MSG_MEDIA},         {"detached", JANUS_MSG_DETACHED},
        {"timeout", JANUS_MSG_TIMEOUT},     {"trickle", JANUS_MSG_TRICKLE},
        {"keepalive", JANUS_MSG_KEEPALIVE},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(s, kinds[i].name) == 0) return kinds[i].kind;
    return JANUS_MSG_OTHER;
}

static janus_vr_kind_t vr_of(const char *s)
{
    static const struct {
        const char *name;
        janus_vr_kind_t kind;
    } kinds[] = {
        {"created", JANUS_VR_CREATED}, {"destroyed", JANUS_VR_DESTROYED},
        {"joined", JANUS_VR_JOINED},   {"attached", JANUS_VR_ATTACHED},
        {"event", JANUS_VR_EVENT},     {"success", JANUS_VR_SUCCESS},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(s, kinds[i].name) == 0) return kinds[i].kind;
    return JANUS_VR_OTHER;
}

static void read_plugindata(const json_t *pd, janus_msg_t *m)
{
    const json_t *d = json_object_get(pd, "data");
    if (!json_is_object(d)) return;
    const char *vr = str_of(d, "videoroom");
    if (!vr) return;
    m->vr = vr_of(vr);
    m->room = id_of(json_object_get(d, "room"));
    if (m->vr == JANUS_VR_JOINED) m->pub_id = id_of(json_object_get(d, "id"));
    m->leaving = id_of(json_object_get(d, "leaving"));
    m->unpublished = id_of(json_object_get(d, "unpublished"));
    const json_t *ec = json_object_get(d, "error_code");
    if (json_is_integer(ec)) {
        json_int_t c = json_integer_value(ec);
        m->error = c > 0 && c < 1000000 ? (int)c : -1;
        const char *why = str_of(d, "error");
        if (why) copy_cut(m->reason, sizeof(m->reason), why);
    }
    const json_t *pubs = json_object_get(d, "publishers");
    if (json_is_array(pubs)) {
        size_t i;
        const json_t *p;
        json_array_foreach(pubs, i, p)
        {
            if (m->npubs == JANUS_PUB_MAX) break;
            uint64_t id = id_of(json_object_get(p, "id"));
            if (!id) continue;
            m->pubs[m->npubs].id = id;
            m->pubs[m->npubs].display = str_of(p, "display");
            m->npubs++;
        }
    }
    const json_t *list = json_object_get(d, "list");
    if (json_is_array(list)) m->list = list;
}

int janus_msg_read(json_t *v, janus_msg_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *janus = json_is_object(v) ? str_of(v, "janus") : NULL;
    if (!janus) return -EINVAL;
    out->root = json_incref(v);
    out->kind = kind_of(janus);
    const char *tx = str_of(v, "transaction");
    if (tx && strlen(tx) <= JANUS_TX_MAX) strcpy(out->tx, tx);
    out->session = id_of(json_object_get(v, "session_id"));
    out->sender = id_of(json_object_get(v, "sender"));
    const json_t *data = json_object_get(v, "data");
    if (out->kind == JANUS_MSG_SUCCESS && json_is_object(data))
        out->id = id_of(json_object_get(data, "id"));
    const json_t *err = json_object_get(v, "error");
    if (out->kind == JANUS_MSG_ERROR) {
        json_int_t c = json_integer_value(json_object_get(err, "code"));
        out->error = c > 0 && c < 1000000 ? (int)c : -1;
        const char *why = str_of(err, "reason");
        copy_cut(out->reason, sizeof(out->reason), why ? why : "");
    }
    const json_t *pd = json_object_get(v, "plugindata");
    if (json_is_object(pd)) read_plugindata(pd, out);
    const json_t *jsep = json_object_get(v, "jsep");
    if (json_is_object(jsep)) {
        const char *type = str_of(jsep, "type"), *sdp = str_of(jsep, "sdp");
        if (type && sdp && (strcmp(type, "offer") == 0 || strcmp(type, "answer") == 0)) {
            out->jsep_type = type;
            out->jsep_sdp = sdp;
        }
    }
    return 0;
}

int janus_msg_parse(const char *text, size_t len, janus_msg_t *out)
{
    memset(out, 0, sizeof(*out));
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!v) return -EINVAL;
    int rc = janus_msg_read(v, out);
    json_decref(v);
    return rc;
}

int janus_msg_parse_events(const char *text, size_t len,
                           void (*fn)(void *ud, const janus_msg_t *m), void *ud)
{
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!v) return -EINVAL;
    int n = 0;
    janus_msg_t m;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (janus_msg_read(e, &m) != 0) continue;
            fn(ud, &m);
            janus_msg_free(&m);
            n++;
        }
    } else if (janus_msg_read(v, &m) == 0) {
        fn(ud, &m);
        janus_msg_free(&m);
        n = 1;
    } else {
        n = -EINVAL;
    }
    json_decref(v);
    return n;
}

void janus_msg_free(janus_msg_t *m)
{
    json_decref(m->root);
    m->root = NULL;
}

int janus_msg_answers(const janus_msg_t *m, const char *tx)
{
    if (!tx || !tx[0] || strcmp(m->tx, tx) != 0) return 0;
    return m->kind == JANUS_MSG_SUCCESS || m->kind == JANUS_MSG_ACK ||
           m->kind == JANUS_MSG_ERROR;
}
