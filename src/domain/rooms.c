/* rooms.c: the live room registry (see rooms.h): rooms by id and by code, their members'
 * records, access checks, storage quotas, the JSON views of rooms and members, publishing
 * to a room's bus, the 1 s tick (idle and typing, seat grace), the idle-room sweep, and the
 * registry's lifecycle (loading at start, timers, shutdown). Membership, state, messages
 * and presence are in rooms_members.c, rooms_state.c, rooms_messages.c and
 * rooms_presence.c; the store round trip in rooms_op.c. */
#include "domain/rooms_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/clock.h"
#include "util/jscan.h"
#include "util/mem.h"
#include "util/utf8.h"
#include "domain/docs.h"
#include "domain/room_code.h"
#include "domain/room_rules.h"
#include "domain/webhooks.h"

#define ROOMS_TICK_MS 1000
/* What the tick may do in one loop iteration: visiting a room or a member costs
 * ROOMS_TICK_VISIT, sending an event or releasing a seat ROOMS_TICK_ACT (a store op, an
 * event framed and queued to the room's connections: a few microseconds). 4096 visits
 * (~0.1 ms) or 64 releases (~0.3 ms): a tick over 10,000 seats whose grace ran out in the
 * same second takes 157 iterations instead of one of 30-50 ms (docs/benchmarks.md). */
#define ROOMS_TICK_BUDGET 4096
#define ROOMS_TICK_VISIT 1
#define ROOMS_TICK_ACT 64
/* Idle rooms deleted per loop iteration (a store op, events and the features' hooks each). */
#define ROOMS_SWEEP_BUDGET 32
/* Failed-lookup buckets: keys kept per map (rl_map.h evicts past it) and how often the
 * refilled ones are dropped. */
#define ROOMS_LOOKUP_KEYS 65536
#define ROOMS_LOOKUP_SWEEP_MS 60000

/* ---------- registry ---------- */

static uint64_t random_seed(void)
{
    uint64_t s;
    randombytes_buf(&s, sizeof(s));
    return s;
}

static const char *member_user_key(const void *item)
{
    return ((const room_member_t *)item)->user_id;
}

static const char *member_name_key(const void *item)
{
    return ((const room_member_t *)item)->display_name;
}

room_t *rooms_room_new(rooms_t *r)
{
    room_t *room = ch_calloc(1, sizeof(*room));
    bus_topic_named(&room->bus, r->bus, room->id, NULL);
    room->rooms = r;
    room->state = json_object();
    entset_init(&room->ents, random_seed(), 0);
    keyset_init(&room->by_user, member_user_key, 0, random_seed());
    keyset_init(&room->by_name, member_name_key, 1, random_seed());
    roster_init(&room->roster);
    return room;
}

/* 1 when m is in its room's name index: a participant (not banned) whose name is not the
 * guest name, which any number of members share and which never clashes. */
static int name_indexed(const room_member_t *m)
{
    return !m->banned && strcmp(m->display_name, ROOM_GUEST_NAME) != 0;
}

/* Where m's record keeps the display name it was added with, after its user id. */
static char *member_name_inline(room_member_t *m)
{
    return m->user_id + strlen(m->user_id) + 1;
}

static void member_free(room_member_t *m)
{
    presence_free(&m->presence);
    if (m->display_name != member_name_inline(m)) free(m->display_name);
    slab_free(m); /* from the registry's member_slab */
}

void rooms_member_rename(room_member_t *m, const char *name)
{
    size_t len = strnlen(name, STORE_NAME_LEN - 1);
    char *in = member_name_inline(m);
    if (name_indexed(m)) keyset_del(&m->room->by_name, m); /* its key changes */
    if (m->display_name == in && len <= strlen(in)) { /* fits where the first one was */
        memcpy(in, name, len);
        in[len] = 0;
    } else {
        if (m->display_name != in) free(m->display_name);
        m->display_name = ch_strndup(name, len);
    }
    if (name_indexed(m)) keyset_add(&m->room->by_name, m);
}

void rooms_member_banned(room_t *room, room_member_t *m)
{
    if (m->banned) return;
    if (name_indexed(m)) keyset_del(&room->by_name, m);
    roster_del(&room->roster, m->seat); /* online or not: a ban holds no seat */
    m->banned = 1;
    room->seats--;
}

void rooms_room_free(room_t *room)
{
    rooms_t *r = room->rooms;
    ROOMS_FEATURES_CALL(r, room_freed, r, room);
    /* The entity set is the room's versioned state log too (entset_log_state): rooms.c
     * makes it in rooms_room_new and frees it here, after the features freed what is in it. */
    entset_free(&room->ents);
    rooms_recent_drop(room);
    free(room->recent);
    CH_ASSERT(!room->recent_wait_head); /* the read they wait for holds the room */
    CH_ASSERT(!room->recent_due && !room->recent_answer); /* so does the due list */
    for (room_member_t *m = room->members, *next; m; m = next) {
        next = m->next;
        if (m->online) r->online--;
        member_free(m);
    }
    keyset_free(&room->by_user);
    keyset_free(&room->by_name);
    roster_free(&room->roster);
    if (room->watch) pwatch_free(room->watch);
    free(room->watch);
    json_decref(room->state);
    free(room);
}

void rooms_hold(room_t *room)
{
    room->refs++;
}

void rooms_release(room_t *room)
{
    CH_ASSERT(room->refs > 0);
    if (--room->refs == 0 && room->deleted) rooms_room_free(room);
}

void rooms_registry_add(rooms_t *r, room_t *room)
{
    strmap_put(&r->by_id, room->id, room);
    strmap_put(&r->by_code, room->code, room);
}

room_member_t *rooms_member_add(room_t *room, const char *user_id, const char *name,
                                const char *color, int role, int64_t joined_at, uint64_t now)
{
    size_t len = strnlen(user_id, STORE_SUB_LEN - 1);
    size_t nlen = strnlen(name, STORE_NAME_LEN - 1);
    room_member_t *m = slab_alloc(room->rooms->member_slab, sizeof(*m) + len + 1 + nlen + 1);
    m->room = room;
    memcpy(m->user_id, user_id, len);
    m->display_name = m->user_id + len + 1; /* in the record too: one block fewer a member */
    memcpy(m->display_name, name, nlen);
    snprintf(m->color, sizeof(m->color), "%s", color);
    m->role = (uint8_t)role;
    if (role == STORE_ROLE_HOST && strcmp(m->user_id, room->host_id) != 0) room->cohosts++;
    m->joined_at = joined_at;
    presence_init(&m->presence, now);
    /* The newest first, so the list stays in decreasing seat order (rooms_member_remove
     * finds a member's predecessor through the roster). */
    m->next = room->members;
    room->members = m;
    room->seats++;
    m->seat = roster_add(&room->roster, m);
    keyset_add(&room->by_user, m);
    if (name_indexed(m)) keyset_add(&room->by_name, m);
    return m;
}

void rooms_dirty_remove(rooms_t *r, room_member_t *m)
{
    if (!m->presence_dirty) return;
    for (room_member_t **pp = &r->dirty; *pp; pp = &(*pp)->dirty_next) {
        if (*pp == m) {
            *pp = m->dirty_next;
            break;
        }
    }
    m->presence_dirty = 0;
}

void rooms_member_remove(rooms_t *r, room_t *room, room_member_t *m)
{
    rooms_dirty_remove(r, m);
    /* Its predecessor in the list (decreasing seat order) is the participant with the next
     * seat, or one of the banned members between them (at most lim.max_bans): no walk
     * over the room. */
    room_member_t *after = roster_after(&room->roster, m->seat);
    room_member_t **pp = after ? &after->next : &room->members;
    while (*pp != m) {
        CH_ASSERT(*pp != NULL);
        pp = &(*pp)->next;
    }
    *pp = m->next;
    keyset_del(&room->by_user, m);
    if (name_indexed(m)) keyset_del(&room->by_name, m);
    if (!m->banned) roster_del(&room->roster, m->seat);
    if (!m->banned) room->seats--;
    if (m->role == STORE_ROLE_HOST && strcmp(m->user_id, room->host_id) != 0) room->cohosts--;
    if (r->tick_member == m) r->tick_member = m->next;
    if (m->online) r->online--;
    member_free(m);
}

room_member_t *room_member(room_t *room, const char *user_id)
{
    return keyset_get(&room->by_user, user_id);
}

void rooms_count(const rooms_t *r, uint64_t *nrooms, uint64_t *online)
{
    *nrooms = r->by_id.count;
    *online = r->online;
}

room_t *rooms_get(rooms_t *r, const char *id_or_code)
{
    room_t *room = strmap_get(&r->by_id, id_or_code);
    char code[ROOM_CODE_LEN + 1];
    if (!room && room_code_parse(id_or_code, strlen(id_or_code), code))
        room = strmap_get(&r->by_code, code);
    return room;
}

int rooms_access(rooms_t *r, const room_t *room, const char *user_id, const char *ip,
                 rooms_seek_t seek, uint64_t *retry_after_ms)
{
    if (room) {
        room_member_t *m = room_member((room_t *)room, user_id);
        if (m && !m->banned) return 0;
    }
    uint64_t now = uv_now(r->loop);
    if (!room_lookup_allowed(r->lookup, user_id, ip, now, retry_after_ms))
        return ROOMS_E_RATE_LIMITED;
    if (room && seek == ROOMS_SEEK_ANY) return 0;
    room_lookup_failed(r->lookup, user_id, ip, now);
    return ROOMS_E_NOT_FOUND;
}

/* ---------- the cluster's other nodes (bus_announce) ---------- */

void rooms_announce(rooms_t *r, const room_t *room, int gone)
{
    if (!r->bus->vt->announce) return; /* one node: nobody to tell */
    const room_member_t *h = gone ? NULL : room_member((room_t *)room, room->host_id);
    json_t *j =
        gone ? json_pack("{s:s, s:b}", "id", room->id, "gone", 1)
             : json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:I}", "id", room->id,
                         "code", room->code, "name", room->name, "hostId", room->host_id,
                         "hostName", h ? h->display_name : "host", "hostColor",
                         h ? h->color : "#64748b", "capacity", (json_int_t)room->capacity,
                         "public", room->is_public, "createdAt", (json_int_t)room->created_at);
    char *text = json_dumps(j, JSON_COMPACT);
    bus_announce(r->bus, room->id, text, strlen(text));
    free(text);
    json_decref(j);
}

/* Copies the string member key of j into out (n bytes); 0, or -1 when absent or too long. */
static int copy_str(const json_t *j, const char *key, char *out, size_t n)
{
    const char *v = json_string_value(json_object_get(j, key));
    if (!v || strlen(v) >= n) return -1;
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* Drops the copy of a room here from the registry: its subscribers here (the home's
 * unsubscribe event dropped them already, unless it was not heard), then the room; its
 * lease too (the room was deleted) when lease. */
static void copy_drop(rooms_t *r, room_t *room, int lease)
{
    bus_local_deliver(r->bus, &room->bus, &(bus_event_t){.room = room->id, .unsubscribe = 1});
    for (room_member_t *m = room->members; m; m = m->next)
        rooms_dirty_remove(r, m);
    rooms_tick_forget(r, room);
    strmap_del(&r->by_id, room->id);
    strmap_del(&r->by_code, room->code);
    if (lease) bus_home_drop(r->bus, room->id);
    room->deleted = 1;
    rooms_hold(room);
    rooms_release(room); /* freed now, unless store work holds it */
}

/* A new room of the registry's kind with what the store keeps of its identity and
 * settings (sr borrowed, copied): id, code, name, host, capacity, visibility. */
static room_t *room_from_store(rooms_t *r, const store_room_t *sr)
{
    room_t *room = rooms_room_new(r);
    memcpy(room->id, sr->id, sizeof(room->id));
    memcpy(room->code, sr->code, sizeof(room->code));
    memcpy(room->name, sr->name, sizeof(room->name));
    memcpy(room->host_id, sr->host_id, sizeof(room->host_id));
    room->capacity = sr->capacity;
    room->is_public = sr->is_public;
    return room;
}

/* A new stand-in of another node's room (its home decides everything else): its id,
 * code, name, settings and host (all borrowed, copied), in the registry. */
static void standin_new(rooms_t *r, const store_room_t *sr, const char *host_name,
                        const char *host_color)
{
    room_t *room = room_from_store(r, sr);
    room->created_at = room->last_activity = sr->created_at;
    rooms_member_add(room, room->host_id, host_name, host_color, STORE_ROLE_HOST,
                     room->created_at, uv_now(r->loop));
    rooms_registry_add(r, room);
}

void rooms_adopt(void *ud, const char *text, size_t len)
{
    rooms_t *r = ud;
    json_t *j = json_loadb(text, len, 0, NULL);
    char id[STORE_ID_LEN], code[STORE_CODE_LEN];
    room_t *room = NULL;
    if (!json_is_object(j) || copy_str(j, "id", id, sizeof(id)) != 0) goto out;
    room = strmap_get(&r->by_id, id);
    if (json_is_true(json_object_get(j, "gone"))) {
        rooms_gone(r, id);
        if (room) copy_drop(r, room, 1);
        goto out;
    }
    if (copy_str(j, "code", code, sizeof(code)) != 0) goto out;
    if (room) { /* a new code */
        strmap_del(&r->by_code, room->code);
        memcpy(room->code, code, sizeof(code));
        strmap_put(&r->by_code, room->code, room);
        goto out;
    }
    store_room_t sr;
    memset(&sr, 0, sizeof(sr));
    memcpy(sr.id, id, sizeof(id));
    memcpy(sr.code, code, sizeof(code));
    char name[STORE_NAME_LEN], color[STORE_COLOR_LEN];
    if (copy_str(j, "name", sr.name, sizeof(sr.name)) != 0 ||
        copy_str(j, "hostId", sr.host_id, sizeof(sr.host_id)) != 0 ||
        copy_str(j, "hostName", name, sizeof(name)) != 0 ||
        copy_str(j, "hostColor", color, sizeof(color)) != 0)
        goto out;
    sr.capacity = (uint32_t)json_integer_value(json_object_get(j, "capacity"));
    sr.is_public = json_is_true(json_object_get(j, "public"));
    sr.created_at = json_integer_value(json_object_get(j, "createdAt"));
    standin_new(r, &sr, name, color);
out:
    json_decref(j);
}

void rooms_gone(rooms_t *r, const char *id)
{
    snprintf(r->gone[r->gone_n++ % ROOMS_GONE_RING], STORE_ID_LEN, "%s", id);
}

/* 1 when the room of id was deleted since the gone_n of at, 2 when the ring no longer
 * tells (more deletions since), else 0. */
static int gone_since(const rooms_t *r, uint64_t at, const char *id)
{
    if (r->gone_n - at > ROOMS_GONE_RING) return 2;
    for (uint64_t i = at; i < r->gone_n; i++)
        if (strcmp(r->gone[i % ROOMS_GONE_RING], id) == 0) return 1;
    return 0;
}

/* A rooms_seek under way: its store read, and whom to tell. */
typedef struct {
    store_req_t req;
    store_rooms_t pl;
    uint64_t gone_at; /* rooms_t.gone_n when it started */
    rooms_t *r;
    rooms_seek_fn fn;
    void *ud;
    char ip[STORE_IP_LEN];
    char user[]; /* the user charged */
} seek_t;

static void on_sought(store_req_t *req)
{
    seek_t *s = req->data;
    rooms_t *r = s->r;
    int rc = req->err == STORE_OK          ? 0
             : req->err == STORE_ENOTFOUND ? ROOMS_E_NOT_FOUND
                                           : ROOMS_E_UNAVAILABLE;
    /* A room deleted while it was read: gone (a stand-in of it would outlive it). */
    int gone = rc == 0 ? gone_since(r, s->gone_at, s->pl.rooms[0].id) : 0;
    if (gone) rc = gone == 1 ? ROOMS_E_NOT_FOUND : ROOMS_E_UNAVAILABLE;
    if (rc == 0 && !strmap_get(&r->by_id, s->pl.rooms[0].id)) {
        const store_room_t *sr = &s->pl.rooms[0];
        const store_participant_t *h = NULL;
        for (size_t i = 0; i < s->pl.nparts && !h; i++)
            if (strcmp(s->pl.parts[i].user_id, sr->host_id) == 0) h = &s->pl.parts[i];
        standin_new(r, sr, h ? h->display_name : "host", h ? h->color : "#64748b");
        bus_standin(r->bus, sr->id);
    }
    /* Found, or not the caller's doing: not a failed lookup. */
    if (rc != ROOMS_E_NOT_FOUND) room_lookup_refund(r->lookup, s->user, s->ip, uv_now(r->loop));
    s->fn(s->ud, rc);
    store_rooms_free(&s->pl);
    free(s);
}

int rooms_seek(rooms_t *r, const char *key, const char *user_id, const char *ip,
               uint64_t *retry_after_ms, rooms_seek_fn fn, void *ud)
{
    char code[ROOM_CODE_LEN + 1];
    size_t klen = strlen(key);
    int is_code = room_code_parse(key, klen, code);
    if (!r->bus->vt->announce || (!is_code && (klen == 0 || klen >= STORE_ID_LEN))) return 0;
    uint64_t now = uv_now(r->loop);
    if (!room_lookup_allowed(r->lookup, user_id, ip, now, retry_after_ms))
        return ROOMS_E_RATE_LIMITED;
    room_lookup_failed(r->lookup, user_id, ip, now); /* given back when found */
    size_t ulen = strlen(user_id) + 1;
    seek_t *s = ch_calloc(1, sizeof(*s) + ulen);
    s->r = r;
    s->gone_at = r->gone_n;
    s->fn = fn;
    s->ud = ud;
    memcpy(s->user, user_id, ulen);
    snprintf(s->ip, sizeof(s->ip), "%s", ip ? ip : "");
    if (is_code)
        snprintf(s->pl.room.code, sizeof(s->pl.room.code), "%s", code);
    else
        memcpy(s->pl.room.id, key, klen + 1);
    s->pl.fence = bus_is_cluster(r->bus) ? STORE_FENCE_KEEP : STORE_FENCE_NONE;
    s->req.type = STORE_ROOM_LOAD;
    s->req.rooms = &s->pl;
    s->req.cb = on_sought;
    s->req.data = s;
    store_submit(r->store, &s->req);
    return 1;
}

/* ---------- takeover: a room whose home died ---------- */

/* Ends every subscription here to room (only connection to's, unless BUS_MEMBER_NONE)
 * with one room_reset event of reason (static: "home_lost", the home that held their
 * membership died; "resync", events of the room may have been missed here): the
 * connections join again. With detach, the home is told each connection left (it is
 * alive and has them attached). */
static void reset_to(rooms_t *r, room_t *room, const char *reason, int detach, bus_member_t to)
{
    char text[32];
    snprintf(text, sizeof(text), "\"%s\"", reason);
    for (bus_sub_t *s = detach ? room->bus.head : NULL; s; s = s->next)
        if (to == BUS_MEMBER_NONE || s->rcv->id == to)
            rooms_send_detach(r, room->id, s->rcv->id, bus_rcv_user(r->bus, s->rcv), 0);
    jpart_t part = {.key = "reason", .text = text};
    bus_local_deliver(r->bus, &room->bus,
                      &(bus_event_t){.room = room->id,
                                     .name = "room_reset",
                                     .parts = &part,
                                     .nparts = 1,
                                     .to = to,
                                     .unsubscribe = 1});
}

static void reset_local(rooms_t *r, room_t *room, const char *reason, int detach)
{
    reset_to(r, room, reason, detach, BUS_MEMBER_NONE);
}

void rooms_reset_here(rooms_t *r, room_t *room, const char *reason)
{
    reset_local(r, room, reason, 0);
}

void rooms_reset(void *ud, const char *id, const char *reason)
{
    rooms_t *r = ud;
    room_t *room = strmap_get(&r->by_id, id);
    /* After a takeover too the home has them attached: the new home restored them from
     * the last home's record (rooms_restore). */
    if (room && !bus_home_here(r->bus, room->id)) reset_local(r, room, reason, 1);
}

/* 1 when connection c has a document of room open here. */
static int has_doc_open(const bus_rcv_t *c, const room_t *room)
{
    for (const bus_sub_t *d = c->doc_subs; d; d = d->client_next)
        if (((const doc_t *)d->room)->room == room) return 1;
    return 0;
}

/* Resets the connections of room here with a document of it open: that document's events
 * may have been missed, and the new home knows nothing of its subscribers here. */
static void reset_doc_holders(rooms_t *r, room_t *room, const char *reason, int detach)
{
    for (bus_sub_t *s = room->bus.head, *next; s; s = next) {
        next = s->next;
        if (has_doc_open(s->rcv, room)) reset_to(r, room, reason, detach, s->rcv->id);
    }
}

void rooms_keep(void *ud, const char *id)
{
    rooms_t *r = ud;
    room_t *room = strmap_get(&r->by_id, id);
    if (room && !bus_home_here(r->bus, room->id)) reset_doc_holders(r, room, "resync", 1);
}

void rooms_lost(void *ud, const char *id)
{
    rooms_t *r = ud;
    room_t *room = strmap_get(&r->by_id, id);
    if (!room) return;
    /* Its connections' membership was in this copy: nothing to detach. */
    reset_local(r, room, "resync", 0);
    store_room_t sr;
    memset(&sr, 0, sizeof(sr));
    memcpy(sr.id, room->id, sizeof(sr.id));
    memcpy(sr.code, room->code, sizeof(sr.code));
    memcpy(sr.name, room->name, sizeof(sr.name));
    memcpy(sr.host_id, room->host_id, sizeof(sr.host_id));
    sr.capacity = room->capacity;
    sr.is_public = room->is_public;
    sr.created_at = room->created_at;
    const room_member_t *h = room_member(room, room->host_id);
    char name[STORE_NAME_LEN], color[STORE_COLOR_LEN];
    snprintf(name, sizeof(name), "%s", h && h->display_name ? h->display_name : "host");
    snprintf(color, sizeof(color), "%s", h ? h->color : "#64748b");
    copy_drop(r, room, 0);
    standin_new(r, &sr, name, color);
    /* The home's copy had its users' bytes counted here: a reload must not count them again. */
    room_t *standin = strmap_get(&r->by_id, id);
    if (standin) standin->usage_counted = 1;
    log_info(r->log, "rooms: room %s is another node's now (or nobody's): kept as a stand-in",
             id);
}

static void rooms_fill(rooms_t *r, const store_rooms_t *pl, uint64_t now);

/* A rooms_reload under way: its store read. */
typedef struct {
    store_req_t req;
    store_rooms_t pl;
    uint64_t gone_at; /* rooms_t.gone_n when it started */
    rooms_t *r;
    char id[STORE_ID_LEN];
} reload_t;

static void on_reloaded(store_req_t *req)
{
    reload_t *l = req->data;
    rooms_t *r = l->r;
    int rc = req->err == STORE_OK ? 0 : req->err == STORE_ENOTFOUND ? ROOMS_E_NOT_FOUND : -1;
    if (rc == 0 && gone_since(r, l->gone_at, l->id)) rc = ROOMS_E_NOT_FOUND;
    room_t *old = strmap_get(&r->by_id, l->id);
    int counted = old && old->usage_counted;
    bus_sub_t *moved = NULL;
    pwatch_t *watch = NULL;
    if (old && rc == 0) {
        /* The connections here stay, moved to the room read (rooms_restore decides whether
         * they missed anything), but those with a document of it open. */
        reset_doc_holders(r, old, "home_lost", 0);
        while (old->bus.head) {
            bus_sub_t *s = old->bus.head;
            bus_unsubscribe(&old->bus, s);
            s->client_next = moved;
            moved = s;
        }
        watch = old->watch;
        old->watch = NULL;
    }
    if (old && rc != -1) {
        /* The copy here goes (its connections told), and the room read replaces it; its
         * lease, won before the read, stays. */
        reset_local(r, old, "home_lost", 0);
        copy_drop(r, old, rc != 0);
    }
    if (rc == 0) {
        rooms_fill(r, &l->pl, uv_now(r->loop));
        room_t *room = strmap_get(&r->by_id, l->id);
        CH_ASSERT(room != NULL); /* the read's one room, just filled in */
        while (moved) {
            bus_sub_t *s = moved;
            moved = s->client_next;
            s->room = room;
            bus_subscribe(&room->bus, s, &s->rcv->subs);
        }
        room->watch = watch;
        /* This process counted the room's users' bytes before (its start, or a copy it
         * held): they stay counted once (the room's own count is the read's). */
        for (size_t i = 0; counted && i < l->pl.nusage; i++)
            quota_user_add(&r->users, l->pl.usage[i].user_id, -l->pl.usage[i].bytes);
        bus_standin(r->bus, l->id); /* a stand-in if its lease was lost meanwhile */
        log_info(r->log, "rooms: room %s read again (%zu participants, %zu entities)", l->id,
                 l->pl.nparts, l->pl.nents);
    }
    bus_reloaded(r->bus, l->id, rc);
    store_rooms_free(&l->pl);
    free(l);
}

void rooms_reload(void *ud, const char *id)
{
    rooms_t *r = ud;
    reload_t *l = ch_calloc(1, sizeof(*l));
    l->r = r;
    l->gone_at = r->gone_n;
    snprintf(l->id, sizeof(l->id), "%s", id);
    memcpy(l->pl.room.id, l->id, sizeof(l->id));
    /* The room's epoch raised before it is read: the lost home's writes that commit later
     * are refused, those it made before are read (store.h, "Fencing"). */
    l->pl.fence = STORE_FENCE_CLAIM;
    l->req.type = STORE_ROOM_LOAD;
    l->req.rooms = &l->pl;
    l->req.cb = on_reloaded;
    l->req.data = l;
    store_submit(r->store, &l->req);
}

/* ---------- storage quotas ---------- */

int rooms_quota_check(const rooms_t *r, const room_t *room, const char *user, int64_t add)
{
    quota_limits_t lim = r->lim.quota;
    if (!user[0]) lim.user_max = 0; /* the server's own writes count for the room only */
    if (r->quota_holder && user[0]) {
        /* A cluster: the user's bytes are the store's; this node holds an allowance. */
        lim.user_max = 0;
        int rc = quota_check(&lim, room->stored_bytes, 0, add);
        if (rc == QUOTA_OK && !rooms_quota_user_fits((rooms_t *)r, user, add)) rc = QUOTA_EUSER;
        return rc;
    }
    return quota_check(&lim, room->stored_bytes, quota_user_used(&r->users, user), add);
}

/* Counts what the store holds (a read), charging no allowance. */
static void quota_count_read(rooms_t *r, room_t *room, const char *user, int64_t bytes)
{
    room->stored_bytes = quota_add(room->stored_bytes, bytes);
    quota_user_add(&r->users, user, bytes);
}

void rooms_quota_count(rooms_t *r, room_t *room, const char *user, int64_t delta)
{
    quota_count_read(r, room, user, delta);
    /* What is deleted goes back to the cluster's figure with its rows (store.h). */
    if (delta > 0) rooms_quota_charge(r, user, delta);
}

const char *rooms_quota_message(int rc)
{
    return rc == QUOTA_EUSER ? "your storage quota is full; delete something first"
                             : "the room's storage quota is full; delete something first";
}

/* Answers quota_exceeded for a rooms_quota_check result. */
void rooms_over_quota(rooms_done_fn done, void *ud, int rc)
{
    rooms_err_t e = {ROOMS_E_QUOTA, "quota_exceeded", rooms_quota_message(rc), NULL};
    if (done) done(ud, &e, NULL);
}

/* ---------- JSON ---------- */

json_t *rooms_mode_of(const room_t *room)
{
    json_t *mode = json_object_get(room->state, "mode");
    return mode ? json_incref(mode) : json_null();
}

/* The room's joinLink into link (512 bytes). */
static void room_link(const rooms_t *r, const room_t *room, char *link)
{
    snprintf(link, 512, "%s/?room=%s", r->lim.public_url, room->code);
}

json_t *room_json(rooms_t *r, const room_t *room)
{
    uint32_t online = room->roster.online;
    char link[512];
    room_link(r, room, link);
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:b, s:b, s:O, s:o, s:I, s:I, s:I, s:I, s:I,"
                     " s:s}",
                     "id", room->id, "roomCode", room->code, "name", room->name,
                     "maxParticipants", (json_int_t)room->capacity, "hostUserId",
                     room->host_id, "isPublic", room->is_public, "isActive", 1, "state",
                     room->state, "currentMode", rooms_mode_of(room), "stateVersion",
                     (json_int_t)room->state_version, "participantCount",
                     (json_int_t)room->seats, "onlineCount", (json_int_t)online, "createdAt",
                     (json_int_t)room->created_at, "lastActivity",
                     (json_int_t)room->last_activity, "joinLink", link);
}

json_t *room_member_json(const room_member_t *m)
{
    json_t *presence = presence_state_json(&m->presence);
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:I}", "userId", m->user_id, "displayName",
                     m->display_name, "color", m->color, "role",
                     m->role == STORE_ROLE_HOST ? "host" : "member", "online", m->online > 0,
                     "presence", presence, "joinedAt", (json_int_t)m->joined_at);
}

/* roster_match_fn of a search: the member's display name contains the query (ud). */
static int member_matches(const void *item, void *ud)
{
    return room_name_matches(((const room_member_t *)item)->display_name, ud);
}

size_t room_members_page(room_t *room, roster_pos_t *pos, int online_only, const char *query,
                         room_member_t **out, size_t limit)
{
    return roster_page(&room->roster, pos, online_only, query && *query ? member_matches : NULL,
                       (void *)query, (void **)out, limit);
}

json_t *room_members_page_json(room_t *room, roster_pos_t *pos, int online_only,
                               const char *query, size_t limit, char *next)
{
    room_member_t **list = ch_malloc(limit * sizeof(*list));
    size_t n = room_members_page(room, pos, online_only, query, list, limit);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, room_member_json(list[i]));
    free(list);
    roster_cursor_format(pos, next);
    return arr;
}

json_t *room_members_json(const room_t *room)
{
    json_t *a = json_array();
    for (const room_member_t *m = room->members; m; m = m->next)
        if (!m->banned) json_array_append_new(a, room_member_json(m));
    return a;
}

/* A text being written (room_member_text): p[0..len), cap allocated. */
typedef struct {
    char *p;
    size_t len, cap;
} mtext_t;

static void mt_put(mtext_t *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = ch_realloc(t->p, t->cap);
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

#define MT_LIT(t, s) mt_put((t), (s), sizeof(s) - 1)

/* Appends s (valid UTF-8, borrowed) as Jansson writes a string (jscan_quote). */
static void mt_quote(mtext_t *t, const char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
        i++;
    if (i == n) { /* nothing to escape: the usual case */
        MT_LIT(t, "\"");
        mt_put(t, s, n);
        MT_LIT(t, "\"");
        return;
    }
    /* Quoted in place: room for the escapes, then jscan_quote writes at the end. */
    size_t cap = utf8_json_len(s, n) + 3;
    if (t->len + cap > t->cap) {
        t->cap = (t->len + cap) * 2;
        t->p = ch_realloc(t->p, t->cap);
    }
    int k = jscan_quote(t->p + t->len, cap, s, n);
    CH_ASSERT(k > 0);
    t->len += (size_t)k;
}

/* Appends v in decimal, as Jansson writes an integer. */
static void mt_int(mtext_t *t, int64_t v)
{
    char b[JSCAN_INT_MAX];
    mt_put(t, b, jscan_write_int(b, v));
}

/* Appends room_member_json(m) as Jansson encodes it (compact, the members in json_pack's
 * order); the presence as the text it is kept as, which is Jansson's. */
static void member_write(mtext_t *t, const room_member_t *m)
{
    MT_LIT(t, "{\"userId\":");
    mt_quote(t, m->user_id);
    MT_LIT(t, ",\"displayName\":");
    mt_quote(t, m->display_name);
    MT_LIT(t, ",\"color\":");
    mt_quote(t, m->color);
    if (m->role == STORE_ROLE_HOST)
        MT_LIT(t, ",\"role\":\"host\"");
    else
        MT_LIT(t, ",\"role\":\"member\"");
    if (m->online > 0)
        MT_LIT(t, ",\"online\":true,\"presence\":");
    else
        MT_LIT(t, ",\"online\":false,\"presence\":");
    size_t plen;
    const char *ptext = presence_state_text(&m->presence, &plen);
    mt_put(t, ptext, plen);
    MT_LIT(t, ",\"joinedAt\":");
    mt_int(t, m->joined_at);
    MT_LIT(t, "}");
}

char *room_member_text(const room_member_t *m, size_t *len)
{
    mtext_t t = {NULL, 0, 0};
    member_write(&t, m);
    t.p[t.len] = '\0';
    if (len) *len = t.len;
    return t.p;
}

char *room_members_text(room_member_t *const *list, size_t n, size_t *len)
{
    /* ~150 bytes a member with a short id and name and no presence: one allocation. */
    mtext_t t = {NULL, 0, 0};
    t.cap = 2 + n * 160;
    t.p = ch_malloc(t.cap);
    MT_LIT(&t, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) MT_LIT(&t, ",");
        member_write(&t, list[i]);
    }
    MT_LIT(&t, "]");
    t.p[t.len] = '\0';
    *len = t.len;
    return t.p;
}

char *room_presence_text(room_member_t *const *list, size_t n, int as_list, size_t *len)
{
    /* ~60 bytes a member with a short id and name and no presence: one allocation. */
    mtext_t t = {NULL, 0, 0};
    t.cap = 3 + n * 64;
    t.p = ch_malloc(t.cap);
    if (as_list) MT_LIT(&t, "[");
    else MT_LIT(&t, "{");
    for (size_t i = 0; i < n; i++) {
        const room_member_t *m = list[i];
        size_t plen;
        const char *ptext;
        if (i) MT_LIT(&t, ",");
        if (as_list) {
            MT_LIT(&t, "{\"userId\":");
            mt_quote(&t, m->user_id);
            MT_LIT(&t, ",\"displayName\":");
            mt_quote(&t, m->display_name);
            MT_LIT(&t, ",\"state\":");
            ptext = presence_state_text(&m->presence, &plen);
        } else {
            mt_quote(&t, m->user_id);
            MT_LIT(&t, ":");
            ptext = presence_sent_text(&m->presence, &plen);
        }
        mt_put(&t, ptext, plen);
        if (as_list) MT_LIT(&t, "}");
    }
    if (as_list) MT_LIT(&t, "]");
    else MT_LIT(&t, "}");
    t.p[t.len] = '\0';
    *len = t.len;
    return t.p;
}

/* Appends v (borrowed, any JSON value) as Jansson encodes it compact. */
static void mt_json(mtext_t *t, const json_t *v)
{
    char *enc = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    CH_ASSERT(enc != NULL); /* a value we hold: encoding it cannot fail */
    mt_put(t, enc, strlen(enc));
    free(enc);
}

char *room_text(rooms_t *r, const room_t *room, const char *state, size_t slen, size_t *len)
{
    mtext_t t = {NULL, 0, 0};
    t.cap = 512 + slen;
    t.p = ch_malloc(t.cap);
    MT_LIT(&t, "{\"id\":");
    mt_quote(&t, room->id);
    MT_LIT(&t, ",\"roomCode\":");
    mt_quote(&t, room->code);
    MT_LIT(&t, ",\"name\":");
    mt_quote(&t, room->name);
    MT_LIT(&t, ",\"maxParticipants\":");
    mt_int(&t, room->capacity);
    MT_LIT(&t, ",\"hostUserId\":");
    mt_quote(&t, room->host_id);
    if (room->is_public)
        MT_LIT(&t, ",\"isPublic\":true,\"isActive\":true,\"state\":");
    else
        MT_LIT(&t, ",\"isPublic\":false,\"isActive\":true,\"state\":");
    mt_put(&t, state, slen);
    MT_LIT(&t, ",\"currentMode\":");
    const json_t *mode = json_object_get(room->state, "mode");
    if (!mode)
        MT_LIT(&t, "null");
    else if (json_is_string(mode) && strlen(json_string_value(mode)) == json_string_length(mode))
        mt_quote(&t, json_string_value(mode));
    else
        mt_json(&t, mode); /* another kind, or a string holding a NUL */
    MT_LIT(&t, ",\"stateVersion\":");
    mt_int(&t, room->state_version);
    MT_LIT(&t, ",\"participantCount\":");
    mt_int(&t, room->seats);
    MT_LIT(&t, ",\"onlineCount\":");
    mt_int(&t, room->roster.online);
    MT_LIT(&t, ",\"createdAt\":");
    mt_int(&t, room->created_at);
    MT_LIT(&t, ",\"lastActivity\":");
    mt_int(&t, room->last_activity);
    MT_LIT(&t, ",\"joinLink\":");
    char link[512];
    room_link(r, room, link);
    mt_quote(&t, link);
    MT_LIT(&t, "}");
    t.p[t.len] = '\0';
    *len = t.len;
    return t.p;
}

json_t *room_message_json(const store_message_t *m)
{
    json_t *meta = NULL;
    if (m->metadata) meta = json_loads(m->metadata, JSON_ALLOW_NUL, NULL);
    json_t *j = json_pack("{s:s, s:s, s:I, s:o, s:s, s:s, s:s, s:o, s:I}", "id", m->id,
                          "roomId", m->room_id, "seq", (json_int_t)m->seq, "userId",
                          m->user_id[0] ? json_string(m->user_id) : json_null(), "displayName",
                          m->display_name, "type", m->type, "content",
                          m->content ? m->content : "", "metadata", meta ? meta : json_object(),
                          "createdAt", (json_int_t)m->created_at);
    /* An app backend's message (server API): its author label is displayName. */
    if (m->app) json_object_set_new(j, "app", json_true());
    /* The sender's own id of it (a user's message only). */
    if (m->client_id[0]) json_object_set_new(j, "clientId", json_string(m->client_id));
    return j;
}

char *room_message_text(const store_message_t *m, size_t *len)
{
    mtext_t t = {NULL, 0, 0};
    t.cap = room_message_encoded_len(m) + 1; /* an upper bound for the usual message */
    t.p = ch_malloc(t.cap);
    MT_LIT(&t, "{\"id\":");
    mt_quote(&t, m->id);
    MT_LIT(&t, ",\"roomId\":");
    mt_quote(&t, m->room_id);
    MT_LIT(&t, ",\"seq\":");
    mt_int(&t, m->seq);
    MT_LIT(&t, ",\"userId\":");
    if (m->user_id[0])
        mt_quote(&t, m->user_id);
    else
        MT_LIT(&t, "null");
    MT_LIT(&t, ",\"displayName\":");
    mt_quote(&t, m->display_name);
    MT_LIT(&t, ",\"type\":");
    mt_quote(&t, m->type);
    MT_LIT(&t, ",\"content\":");
    mt_quote(&t, m->content ? m->content : "");
    MT_LIT(&t, ",\"metadata\":");
    /* Kept as Jansson wrote it when it was checked (rooms_post_in_t.metadata, json_dumps
     * of the server's own), so it goes in as it is. */
    if (m->metadata)
        mt_put(&t, m->metadata, strlen(m->metadata));
    else
        MT_LIT(&t, "{}");
    MT_LIT(&t, ",\"createdAt\":");
    mt_int(&t, m->created_at);
    if (m->app) MT_LIT(&t, ",\"app\":true");
    if (m->client_id[0]) {
        MT_LIT(&t, ",\"clientId\":");
        mt_quote(&t, m->client_id);
    }
    MT_LIT(&t, "}");
    t.p[t.len] = '\0';
    if (len) *len = t.len;
    return t.p;
}

/* Sends {"op": event, "room": id, ...fields} (fields stolen) to the room's members
 * except the connection except (BUS_MEMBER_NONE: none); seq is the room's seq or state
 * version the event carries (0: none). */
void rooms_publish_seq(room_t *room, bus_member_t except, const char *event, json_t *fields,
                       int64_t seq)
{
    jpart_t part = {.obj = fields};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id, .name = event, .parts = &part,
                                           .nparts = 1, .seq = seq, .except = except});
    json_decref(fields);
}

void rooms_publish(room_t *room, bus_member_t except, const char *event, json_t *fields)
{
    rooms_publish_seq(room, except, event, fields, 0);
}

/* Sends {"op": event, "room": id, "participant": m} to the room's members except the
 * connection except, with the member's kept encoding. */
void rooms_publish_member(room_t *room, bus_member_t except, const char *event,
                          room_member_t *m)
{
    size_t len;
    char *text = room_member_text(m, &len);
    jpart_t part = {.key = "participant", .text = text, .len = len};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id, .name = event, .parts = &part,
                                           .nparts = 1, .except = except});
    free(text);
}

/* ---------- room codes ---------- */

void rooms_rng(void *ud, unsigned char *buf, size_t n)
{
    (void)ud;
    randombytes_buf(buf, n);
}

int rooms_code_taken(void *ud, const char *code)
{
    return strmap_get(&((rooms_t *)ud)->by_code, code) != NULL;
}

/* ---------- timers ---------- */

/* Returns what visiting m on the tick at now cost (ROOMS_TICK_VISIT, or ROOMS_TICK_ACT when
 * it sent an event or released the seat): idle and typing changes of an online member, the
 * seat of a dropped member whose grace ran out. */
static unsigned tick_member(rooms_t *r, room_t *room, room_member_t *m, uint64_t now)
{
    if (m->online && !m->presence_dirty) {
        unsigned cost = ROOMS_TICK_VISIT;
        presence_rules_t rules = rooms_presence_rules(r, room);
        uint64_t due = presence_next_due(&m->presence, &rules);
        if (due && due <= now) {
            json_t *change = presence_tick(&m->presence, now, &rules);
            if (change) {
                rooms_presence_emit(room, m, change);
                cost = ROOMS_TICK_ACT;
            }
        }
        if (rooms_presence_watched(m)) rooms_schedule_presence(r, m);
        return cost;
    }
    if (m->online || m->banned || !m->release_at || now < m->release_at)
        return ROOMS_TICK_VISIT;
    rooms_op_t *op = rooms_op_new(r, room, STORE_PARTICIPANT_DELETE, NULL, NULL);
    rooms_fill_part(&op->pl.part, m);
    rooms_op_submit(op);
    if (rooms_coalescing(r, room))
        rooms_coalesce_left(r, room, m, "timeout", 1);
    else
        rooms_publish(room, BUS_MEMBER_NONE, "participant_removed",
                      json_pack("{s:s, s:s}", "userId", m->user_id, "reason", "timeout"));
    rooms_member_remove(r, room, m);
    return ROOMS_TICK_ACT;
}

/* room.vacated: nobody came back online within the seat grace after the last member went
 * offline. Not a stored change: a write of its own, which nothing waits for. */
static void tick_vacated(rooms_t *r, room_t *room, uint64_t now)
{
    if (!room->hook_empty_at || now - room->hook_empty_at < r->lim.seat_grace_ms) return;
    room->hook_occupied = 0;
    room->hook_empty_at = 0;
    webhooks_put_t *p = webhooks_put_new(r->hooks);
    if (webhooks_wants(r->hooks, WEBHOOK_ROOM_VACATED))
        rooms_hook(r, room, &p->req, WEBHOOK_ROOM_VACATED, json_object());
    webhooks_put_submit(p, r->store, NULL, NULL);
}

int rooms_tick_step(rooms_t *r, uint64_t now, unsigned budget)
{
    if (!r->tick_busy) {
        r->tick_busy = 1;
        r->tick_pos = 0;
        r->tick_room = NULL;
        r->tick_member = NULL;
        if (now - r->lookup_swept_ms >= ROOMS_LOOKUP_SWEEP_MS) {
            room_lookup_sweep(r->lookup, now);
            r->lookup_swept_ms = now;
        }
    }
    uint64_t left = budget;
    while (left > 0) {
        room_t *room = r->tick_room;
        if (!room) {
            const char *k;
            void *v;
            if (!strmap_next(&r->by_id, &r->tick_pos, &k, &v)) {
                r->tick_busy = 0;
                return 0;
            }
            room = v;
            /* A room whose home is another node is that node's to tick (bus.h). */
            if (!bus_home_here(r->bus, room->id)) {
                left = left > ROOMS_TICK_VISIT ? left - ROOMS_TICK_VISIT : 0;
                continue;
            }
            ROOMS_FEATURES_CALL(r, tick, r, room, now);
            tick_vacated(r, room, now);
            /* Recent messages are kept for rooms people are in (and were a moment ago)
             * and joined lately. */
            if (room->recent_ok &&
                (!room->bus.count || now - room->recent_used >= ROOMS_RECENT_IDLE_MS))
                rooms_recent_drop(room);
            left = left > ROOMS_TICK_VISIT ? left - ROOMS_TICK_VISIT : 0;
            r->tick_room = room;
            r->tick_member = room->members;
        }
        /* tick_member is the next member to visit: rooms_member_remove moves it on when
         * it removes that member, whatever removes it (this walk or anything else). */
        while (r->tick_member && left > 0) {
            room_member_t *m = r->tick_member;
            r->tick_member = m->next;
            unsigned cost = tick_member(r, room, m, now);
            left = left > cost ? left - cost : 0;
        }
        if (!r->tick_member) r->tick_room = NULL;
    }
    return 1;
}

/* Continues the tick's pass (and the sweep's deletions) one slice per loop iteration. */
static void on_tick_more(uv_idle_t *h)
{
    rooms_t *r = h->data;
    int more = r->tick_busy && rooms_tick_step(r, uv_now(r->loop), ROOMS_TICK_BUDGET);
    more |= rooms_sweep_step(r, ROOMS_SWEEP_BUDGET);
    if (!more) uv_idle_stop(h);
}

/* Every second: a new pass of the tick (unless the last one is still going), its first
 * slice now and the rest from the idle phase of the next iterations. */
static void on_tick(uv_timer_t *t)
{
    rooms_t *r = t->data;
    rooms_quota_sweep(r, uv_now(r->loop));
    if (rooms_tick_step(r, uv_now(r->loop), ROOMS_TICK_BUDGET))
        uv_idle_start(&r->tick_more, on_tick_more);
}

void rooms_tick_forget(rooms_t *r, room_t *room)
{
    if (r->tick_room != room) return;
    r->tick_room = NULL;
    r->tick_member = NULL;
}

/* 1 when room has nobody in it: no connection here and, in a cluster, no member attached
 * at this home from another node (their connections are not in room->bus; their
 * attach made them online). */
static int sweep_unoccupied(const room_t *room)
{
    if (room->bus.count) return 0;
    for (const room_member_t *m = room->members; m; m = m->next)
        if (m->online) return 0;
    return 1;
}

void rooms_sweep_start(rooms_t *r, int64_t cutoff)
{
    if (r->sweep_n > r->sweep_i) return; /* the last sweep's deletions are still going */
    r->sweep_n = r->sweep_i = 0;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&r->by_id, &i, &k, &v);) {
        room_t *room = v;
        if (room->last_activity < cutoff && sweep_unoccupied(room) &&
            bus_home_here(r->bus, room->id)) {
            if (r->sweep_n == r->sweep_cap) {
                r->sweep_cap = r->sweep_cap ? 2 * r->sweep_cap : 16;
                r->sweep_doomed = ch_realloc(r->sweep_doomed, r->sweep_cap * sizeof(room_t *));
            }
            rooms_hold(room); /* its pointer stays good until its turn */
            r->sweep_doomed[r->sweep_n++] = room;
        }
    }
    r->sweep_cutoff = cutoff;
}

int rooms_sweep_step(rooms_t *r, unsigned budget)
{
    while (budget > 0 && r->sweep_i < r->sweep_n) {
        room_t *room = r->sweep_doomed[r->sweep_i++];
        /* Still idle and still there: a join or a delete may have come in meanwhile. */
        if (!room->deleted && room->last_activity < r->sweep_cutoff && sweep_unoccupied(room)) {
            log_info(r->log, "deleting room %s (%s): idle", room->code, room->id);
            rooms_delete(r, room, NULL, NULL, NULL);
            budget--;
        }
        rooms_release(room);
    }
    if (r->sweep_i < r->sweep_n) return 1;
    r->sweep_n = r->sweep_i = 0;
    return 0;
}

/* Idle rooms go, ROOMS_SWEEP_BUDGET a loop iteration. */
static void on_sweep(uv_timer_t *t)
{
    rooms_t *r = t->data;
    rooms_sweep_start(r, clock_unix_ms() - (int64_t)r->lim.idle_room_ms);
    if (rooms_sweep_step(r, ROOMS_SWEEP_BUDGET)) uv_idle_start(&r->tick_more, on_tick_more);
}

/* ---------- lifecycle ---------- */

typedef struct {
    rooms_t *r;
    int done;
    int err;
} load_t;

/* Orders stored participants by when they joined (then by user id: a stable order). */
static int part_cmp(const void *a, const void *b)
{
    const store_participant_t *x = *(store_participant_t *const *)a;
    const store_participant_t *y = *(store_participant_t *const *)b;
    if (x->joined_at != y->joined_at) return x->joined_at < y->joined_at ? -1 : 1;
    return strcmp(x->user_id, y->user_id);
}

/* Makes the rooms of pl (borrowed) live here, as read from the store: every seat offline,
 * as after a restart. */
static void rooms_fill(rooms_t *r, const store_rooms_t *pl, uint64_t now)
{
    for (size_t i = 0; i < pl->nrooms; i++) {
        store_room_t *sr = &pl->rooms[i];
        room_t *room = room_from_store(r, sr);
        json_t *st = sr->state ? json_loads(sr->state, JSON_ALLOW_NUL, NULL) : NULL;
        if (json_is_object(st)) {
            json_decref(room->state);
            room->state = st;
        } else {
            json_decref(st);
        }
        room->state_bytes = sr->state ? (int64_t)strlen(sr->state) : 0;
        room->state_version = room->ents.base = sr->state_version;
        room_version_init(&room->versions, sr->state_version);
        room->last_seq = room->committed_seq = sr->last_seq;
        room->changes = sr->changes;
        room->created_at = sr->created_at;
        room->last_activity = sr->last_activity;
        rooms_registry_add(r, room);
    }
    /* Seats in the order they were taken (the roster's order: docs/protocol.md). */
    store_participant_t **parts = ch_malloc((pl->nparts + 1) * sizeof(*parts));
    for (size_t i = 0; i < pl->nparts; i++)
        parts[i] = &pl->parts[i];
    qsort(parts, pl->nparts, sizeof(*parts), part_cmp);
    for (size_t i = 0; i < pl->nparts; i++) {
        store_participant_t *p = parts[i];
        room_t *room = strmap_get(&r->by_id, p->room_id);
        if (!room) continue;
        room_member_t *m = rooms_member_add(room, p->user_id, p->display_name, p->color,
                                            p->role, p->joined_at, now);
        if (p->banned) rooms_member_banned(room, m);
        rooms_seat_unconnected(r, m); /* nobody is connected after a restart */
    }
    free(parts);
    ROOMS_FEATURES_CALL(r, load, r, pl);
    for (size_t i = 0; i < pl->nusage; i++) {
        store_usage_t *u = &pl->usage[i];
        room_t *room = strmap_get(&r->by_id, u->room_id);
        if (room) quota_count_read(r, room, u->user_id, u->bytes);
    }
    for (size_t i = 0; i < pl->nrooms; i++) {
        room_t *room = strmap_get(&r->by_id, pl->rooms[i].id);
        if (room) room->usage_counted = 1;
    }
}

static void on_loaded(store_req_t *req)
{
    load_t *l = req->data;
    rooms_t *r = l->r;
    l->done = 1;
    l->err = req->err;
    if (req->err != STORE_OK) return;
    store_rooms_t *pl = req->rooms;
    rooms_fill(r, pl, uv_now(r->loop));
    log_info(r->log, "rooms: %zu loaded, %zu participants, %zu entities", pl->nrooms,
             pl->nparts, pl->nents);
}

int rooms_init(rooms_t *r, uv_loop_t *loop, const chorus_config_t *cfg, log_t *log,
               store_t *store, bus_t *bus, const rooms_feature_use_t *features,
               size_t nfeatures)
{
    memset(r, 0, sizeof(*r));
    r->loop = loop;
    r->log = log;
    r->store = store;
    r->bus = bus;
    r->member_slab = slab_new(sizeof(room_member_t) + 2,
                              sizeof(room_member_t) + STORE_SUB_LEN + STORE_NAME_LEN);
    r->sub_slab = slab_new(sizeof(bus_sub_t), sizeof(bus_sub_t));
    bus_on_drop(bus, rooms_unsubscribe, r); /* the home's unsubscribe events, applied here */
    bus_on_watchers(bus, rooms_watchers, r); /* a large room's presence, to its watchers */
    bus_on_room(bus, rooms_adopt, r); /* rooms made elsewhere in a cluster, known here too */
    bus_on_takeover(bus, &(bus_takeover_t){rooms_reload, rooms_reset, rooms_lost, r,
                                           rooms_restore, rooms_keep});
    CH_ASSERT(nfeatures <= ROOMS_FEATURES_MAX);
    for (size_t i = 0; i < nfeatures; i++)
        r->features[i] = features[i];
    r->nfeatures = nfeatures;
    r->lim = (rooms_limits_t){
        .max_capacity = (uint32_t)cfg->room_max_capacity,
        .default_capacity =
            10 <= cfg->room_max_capacity ? 10 : (uint32_t)cfg->room_max_capacity,
        .max_hosted = (uint32_t)cfg->room_max_hosted,
        .max_bans = (uint32_t)cfg->room_max_bans,
        .join_history = (uint32_t)cfg->room_join_history,
        .large = (uint32_t)cfg->room_large,
        .join_participants = (uint32_t)cfg->room_join_participants,
        .large_tick_ms = cfg->room_large_tick,
        .changed_max = (uint32_t)cfg->room_changed_max,
        .large_rate = cfg->room_large_rate,
        .watch_max = (uint32_t)cfg->room_presence_subscribe_max,
        .max_message = (size_t)cfg->room_max_message,
        .max_metadata = (size_t)cfg->room_max_metadata,
        .max_reply = (size_t)config_reply_budget(cfg),
        .max_broadcast = (size_t)cfg->room_max_broadcast,
        .max_state = (size_t)cfg->room_max_state,
        .seat_grace_ms = cfg->room_seat_grace,
        .idle_room_ms = cfg->room_idle,
        .sweep_ms = cfg->room_sweep,
        .max_joined = (uint32_t)cfg->ws_max_rooms,
        .held_max = ROOMS_HELD_MAX,
        .quota = {.room_max = cfg->room_quota, .user_max = cfg->user_quota},
        .msg_retention_ms = cfg->message_retention,
        .msg_keep = cfg->message_retention_count,
        .doc_keep = cfg->doc_log_retention,
        .log_retention_ms = cfg->history_retention,
        .log_keep = cfg->history_retention_count,
        .retention_ms = cfg->retention_sweep,
        .act_retention_ms = cfg->activity_retention,
        .act_keep = cfg->activity_max_rows,
        .presence = {.max_rate = (uint32_t)cfg->presence_rate,
                     .idle_ms = cfg->presence_idle,
                     .typing_ms = cfg->presence_typing,
                     .max_bytes = (size_t)cfg->presence_max},
        .public_url = cfg->public_url,
    };
    r->lookup = room_lookup_new(
        &(rl_rule_t){(uint32_t)cfg->rate_room_miss_user.limit,
                     cfg->rate_room_miss_user.window_ms},
        &(rl_rule_t){(uint32_t)cfg->rate_room_miss_ip.limit, cfg->rate_room_miss_ip.window_ms},
        ROOMS_LOOKUP_KEYS);
    strmap_init(&r->by_id, random_seed());
    strmap_init(&r->by_code, random_seed());
    quota_users_init(&r->users, random_seed());
    quota_leases_init(&r->leases, random_seed());
    if (bus_is_cluster(bus)) rooms_quota_cluster(r, random_seed()); /* its allowances */

    store_rooms_t pl;
    memset(&pl, 0, sizeof(pl));
    load_t l = {r, 0, 0};
    store_req_t req;
    memset(&req, 0, sizeof(req));
    pl.fence = bus_is_cluster(bus) ? STORE_FENCE_KEEP : STORE_FENCE_NONE;
    req.type = STORE_ROOMS_LOAD;
    req.rooms = &pl;
    req.cb = on_loaded;
    req.data = &l;
    store_submit(store, &req);
    while (!l.done) uv_run(loop, UV_RUN_ONCE);
    store_rooms_free(&pl);
    if (l.err != STORE_OK) {
        log_error(log, "cannot load the rooms from the database");
        rooms_free(r);
        return -1;
    }
    uv_timer_init(loop, &r->presence_timer);
    uv_timer_init(loop, &r->tick_timer);
    uv_timer_init(loop, &r->sweep_timer);
    uv_timer_init(loop, &r->retention_timer);
    r->presence_timer.data = r->tick_timer.data = r->sweep_timer.data = r;
    r->retention_timer.data = r;
    uv_idle_init(loop, &r->tick_more);
    r->tick_more.data = r;
    rooms_coalesce_init(r);
    uv_unref((uv_handle_t *)&r->tick_more);
    rooms_recent_init(r);
    ROOMS_FEATURES_CALL(r, start, r, cfg);
    if (r->lim.msg_retention_ms || r->lim.msg_keep || r->lim.doc_keep ||
        r->lim.act_retention_ms || r->lim.act_keep || r->lim.log_retention_ms ||
        r->lim.log_keep) {
        uv_timer_start(&r->retention_timer, rooms_on_retention_timer, r->lim.retention_ms,
                       r->lim.retention_ms);
        uv_unref((uv_handle_t *)&r->retention_timer);
    }
    uv_timer_start(&r->tick_timer, on_tick, ROOMS_TICK_MS, ROOMS_TICK_MS);
    uv_timer_start(&r->sweep_timer, on_sweep, r->lim.sweep_ms, r->lim.sweep_ms);
    uv_unref((uv_handle_t *)&r->tick_timer);
    uv_unref((uv_handle_t *)&r->sweep_timer);
    return 0;
}

void rooms_close(rooms_t *r)
{
    rooms_recent_close(r); /* the joins waiting for a read answered while all is open */
    rooms_quota_close(r);  /* the allowances given back while the store is open */
    ROOMS_FEATURES_CALL(r, close, r);
    uv_close((uv_handle_t *)&r->presence_timer, NULL);
    uv_close((uv_handle_t *)&r->tick_timer, NULL);
    uv_close((uv_handle_t *)&r->sweep_timer, NULL);
    uv_close((uv_handle_t *)&r->retention_timer, NULL);
    uv_close((uv_handle_t *)&r->tick_more, NULL);
    rooms_coalesce_close(r);
    /* Rooms the sweep did not reach are kept (the next start sweeps again). */
    for (size_t i = r->sweep_i; i < r->sweep_n; i++)
        rooms_release(r->sweep_doomed[i]);
    r->sweep_n = r->sweep_i = 0;
}

void rooms_free(rooms_t *r)
{
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&r->by_id, &i, &k, &v);) {
        room_t *room = v;
        CH_ASSERT(room->bus.count == 0 && room->refs == 0);
        rooms_room_free(room);
    }
    strmap_free(&r->by_id);
    strmap_free(&r->by_code);
    free(r->sweep_doomed);
    r->sweep_doomed = NULL;
    room_lookup_free(r->lookup);
    r->lookup = NULL;
    quota_users_free(&r->users);
    quota_leases_free(&r->leases);
    /* A room still held (a reply on its way) or a subscription still out keeps its slab
     * until it is freed. */
    slab_drop(r->member_slab);
    slab_drop(r->sub_slab);
    r->member_slab = r->sub_slab = NULL;
}
