/* webhook_rules.h: what a webhook delivers and when it is tried again, pure (time and
 * randomness passed in): the event types and an endpoint's choice of them, the signature
 * of a delivery, and the outcome of an attempt (delivered, retried after an exponential
 * backoff with jitter, or dead-lettered after the limit). docs/api.md, "Backends". */
#ifndef CHORUS_WEBHOOK_RULES_H
#define CHORUS_WEBHOOK_RULES_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    WEBHOOK_ROOM_CREATED,
    WEBHOOK_ROOM_DELETED,
    WEBHOOK_ROOM_OCCUPIED,
    WEBHOOK_ROOM_VACATED,
    WEBHOOK_PARTICIPANT_JOINED,
    WEBHOOK_PARTICIPANT_LEFT,
    WEBHOOK_MESSAGE_CREATED,
    WEBHOOK_STATE_CHANGED,
    WEBHOOK_ENTITY_CHANGED,
    WEBHOOK_DOCUMENT_SAVED,
    WEBHOOK_CLIENT_EVENT,
    WEBHOOK_EVENT_MAX
} webhook_event_t;

/* The event's name as deliveries carry it ("message.created"); static. */
const char *webhook_event_name(webhook_event_t ev);

/* The next item of a comma-separated list (spaces around items ignored; empty items
 * skipped): sets *item and *len and moves *s past it, returning 1; returns 0 at the end.
 * Borrows the list; *item points into it. */
int webhook_list_next(const char **s, const char **item, size_t *len);

/* Parses a comma-separated list of event names ("*": all of them; spaces around names
 * are ignored) into a bit mask (1u << webhook_event_t). Returns 0, or -1 for an empty
 * list or an unknown name (*mask untouched). Borrows s. */
int webhook_events_parse(const char *s, uint32_t *mask);

/* The longest endpoint URL, bytes. */
#define WEBHOOK_URL_MAX 2047

/* Checks an endpoint URL: http:// or https://, a host, at most WEBHOOK_URL_MAX bytes, no
 * space, control or non-ASCII byte (percent-encode them). Returns NULL when it is fine,
 * else what is wrong (a static sentence). Any host is allowed, loopback included (an
 * app's backend often runs beside Chorus): see docs/api.md on who may register one. */
const char *webhook_url_check(const char *url);

/* Whether name (len bytes) matches one pattern of list, a comma-separated list of globs
 * ("agent_*,x-*,ping": '*' stands for any run of bytes, every other byte for itself;
 * spaces around a pattern are ignored). An empty list matches nothing. Borrows both. */
int webhook_glob_list_match(const char *list, const char *name, size_t len);

/* A document's document.saved deliveries, at most one per interval (time passed in, any
 * monotonic clock in ms). Zeroed: nothing sent yet. */
typedef struct {
    uint64_t sent_at; /* when the last one was queued */
    uint8_t sent;     /* one was */
    uint8_t held;     /* a save came within the interval: one is owed at its end */
} webhook_debounce_t;

/* A save at now: returns 1 when its delivery goes now (d records it), 0 when it is held
 * (the one owed at the interval's end, webhook_debounce_due, covers it). */
int webhook_debounce_save(webhook_debounce_t *d, uint64_t now, uint64_t interval);

/* Returns 1 when a held save is due at now (d records it as sent), else 0. */
int webhook_debounce_due(webhook_debounce_t *d, uint64_t now, uint64_t interval);

/* Lowercase hex of HMAC-SHA-256(secret, "<ts>.<body>") into hex (65 bytes with the NUL):
 * what the X-Chorus-Signature header carries as "v1=<hex>". Borrows everything. */
#define WEBHOOK_SIG_HEX 64
void webhook_sign(const char *secret, int64_t ts, const char *body, size_t len, char *hex);

typedef struct {
    uint32_t max_attempts; /* attempts before a delivery is dead-lettered (>= 1) */
    uint64_t base_ms;      /* the delay after the first failed attempt (>= 1) */
    uint64_t max_ms;       /* the longest delay (>= base_ms) */
} webhook_retry_t;

typedef enum {
    WEBHOOK_DELIVERED = 0, /* a 2xx answer: done */
    WEBHOOK_RETRY = 1,     /* try again at *next_at */
    WEBHOOK_DEAD = 2,      /* the last attempt failed: dead-lettered */
    WEBHOOK_REQUEUE = 3,   /* not attempted (the client was closing or full): again at
                            * *next_at, without counting an attempt */
} webhook_outcome_t;

/* The delay before attempt number attempts + 1, after attempts (>= 1) failed ones:
 * base_ms * 2^(attempts - 1) capped at max_ms, of which the upper half is jitter: the
 * result is in [d/2, d], placed by rnd (any 32-bit value). */
uint64_t webhook_retry_delay(const webhook_retry_t *p, uint32_t attempts, uint32_t rnd);

/* The outcome of attempt number attempts (>= 1, this one included) that ended at now with
 * err (http_call_res_t.err: 0 or a negative errno) and status (when err is 0): a 2xx is
 * delivered; -ECANCELED or -ENOBUFS (never sent) is requeued at now + base_ms; any other
 * failure is retried at now + webhook_retry_delay, or dead when attempts reached
 * max_attempts. *next_at is set for RETRY and REQUEUE. */
webhook_outcome_t webhook_outcome(const webhook_retry_t *p, int err, int status,
                                  uint32_t attempts, uint64_t now, uint32_t rnd,
                                  uint64_t *next_at);

#endif
