/* rooms_restore.c: a takeover's second half at the new home (see rooms.h): the last home's
 * record (bus_rec_t) puts its connections and locks back, and those of dead nodes are
 * released with the events one server sends when connections drop. */
#include "domain/rooms_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/mem.h"
#include "domain/entities.h"

void rooms_record_pub(room_t *room, const char *field, int64_t value)
{
    if (!bus_is_cluster(room->bus.bus)) return; /* one process records nothing */
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)value);
    bus_record(room->bus.bus, room->id, field, text);
}

void rooms_changes_seen(room_t *room, int err, int64_t changes)
{
    if (err == STORE_EIO || err == STORE_ECLOSED) return; /* nothing committed */
    if (changes > room->changes) room->changes = changes;
    rooms_changes_flush(room);
}

void rooms_changes_flush(room_t *room)
{
    /* An event still in the outbox would go out after the record says it did. */
    if (room->changes == room->changes_rec || room->out_head || room->deleted) return;
    room->changes_rec = room->changes;
    rooms_record_pub(room, "n", room->changes);
}

static int cmp_member(const void *a, const void *b)
{
    bus_member_t x = *(const bus_member_t *)a, y = *(const bus_member_t *)b;
    return x < y ? -1 : x > y;
}

/* The connections subscribed to room here, sorted (owned; *n of them). */
static bus_member_t *local_members(const room_t *room, size_t *n)
{
    bus_member_t *out = ch_malloc((room->bus.count + 1) * sizeof(*out));
    *n = 0;
    for (const bus_sub_t *s = room->bus.head; s; s = s->next)
        out[(*n)++] = s->rcv->id;
    qsort(out, *n, sizeof(*out), cmp_member);
    return out;
}

static int has_member(const bus_member_t *set, size_t n, bus_member_t m)
{
    return bsearch(&m, set, n, sizeof(*set), cmp_member) != NULL;
}

int rooms_restore(void *ud, const char *id, const bus_rec_t *rec)
{
    rooms_t *r = ud;
    room_t *room = strmap_get(&r->by_id, id);
    if (!room || room->deleted) return 0;
    /* Every change the store holds was published (the record is written after the
     * events, on the same connection): the other nodes' connections missed nothing. The
     * change counter covers the stored changes that move neither seq nor version (joins,
     * kicks, roles, settings), made by a home cut off from Redis that died so. */
    int keep = rec->seq == room->last_seq && rec->version == room->state_version &&
               rec->changes == room->changes;
    uint32_t self = r->bus->node;
    rooms_hold(room);
    if (!keep) rooms_reset_here(r, room, "home_lost");
    /* Connections that stay: on a live node, and subscribed here when on this one. */
    size_t nlocal;
    bus_member_t *local = local_members(room, &nlocal);
    bus_member_t *stay = ch_malloc((rec->nconns + 1) * sizeof(*stay));
    size_t nstay = 0;
    char *attached = ch_calloc(rec->nconns + 1, 1);
    for (size_t i = 0; i < rec->nconns; i++) {
        const bus_rec_conn_t *c = &rec->conns[i];
        if (rooms_attach_quiet(r, room, c->user) != 0) {
            rooms_record_conn(room, c->member, NULL);
            rooms_record_gone(room, c->member, NULL);
            continue;
        }
        attached[i] = 1;
        if (c->live && (bus_member_node(c->member) != self || has_member(local, nlocal, c->member)))
            stay[nstay++] = c->member;
    }
    qsort(stay, nstay, sizeof(*stay), cmp_member);
    for (size_t i = 0; i < rec->nlocks; i++) {
        const bus_rec_lock_t *l = &rec->locks[i];
        if (entities_lock_restore(r, room, l->entity, l->holder, l->user, l->expires_at) != 0)
            entities_lock_record(room, l->entity, NULL);
    }
    /* The others went with their node: as on one server when a connection drops (its
     * locks released, its user offline at their last one, the seat's grace started). */
    size_t left = 0;
    for (size_t i = 0; i < rec->nconns; i++) {
        const bus_rec_conn_t *c = &rec->conns[i];
        if (!attached[i] || has_member(stay, nstay, c->member)) continue;
        rooms_detach(r, room, c->member, c->user, 0);
        left++;
    }
    for (size_t i = 0; i < rec->nlocks; i++)
        if (!has_member(stay, nstay, rec->locks[i].holder))
            entities_member_gone(r, room, rec->locks[i].holder, "disconnected");
    rooms_record_pub(room, "s", room->last_seq);
    rooms_record_pub(room, "v", room->state_version);
    rooms_record_pub(room, "n", room->changes);
    room->changes_rec = room->changes;
    log_info(r->log,
             "rooms: room %s restored: %zu connections kept, %zu released, %zu locks; the "
             "other nodes' connections %s",
             id, nstay, left, rec->nlocks, keep ? "kept" : "reset");
    free(attached);
    free(stay);
    free(local);
    rooms_release(room);
    return keep;
}
