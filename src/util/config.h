/* config.h: server settings from defaults, a JSON file, the environment and flags. */
#ifndef CHORUS_CONFIG_H
#define CHORUS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "util/log.h"

/* A rate limit: at most limit requests per window, refilled evenly. */
typedef struct {
    uint64_t limit;
    uint64_t window_ms;
} config_rate_t;

typedef struct {
    char *listen_host;            /* owned */
    int listen_port;              /* 0 = any free port */
    uint64_t reuse_port;          /* 1: SO_REUSEPORT on the listeners (N processes, one port) */
    char *data_dir;               /* owned */
    char *store;                  /* owned; "" = SQLite in data_dir, else a PostgreSQL URL */
    char *web_dir;                /* owned */
    char *config_file;            /* owned; NULL when none */
    log_level_t log_level;
    log_format_t log_format;
    uint64_t io_uring;            /* 1: batch sends through io_uring when available */
    uint64_t max_connections;
    uint64_t max_connections_per_ip; /* 0 = no limit */
    uint64_t max_connections_ipv6_prefix; /* bits of an IPv6 address that count as one IP */
    uint64_t http_max_header;     /* bytes */
    uint64_t http_max_body;       /* bytes */
    uint64_t http_header_timeout; /* ms */
    uint64_t http_idle_timeout;   /* ms */
    uint64_t http_request_timeout; /* ms from a request's first byte to its last */
    uint64_t http_body_min_rate;  /* bytes per second a body must average; 0 = off */
    uint64_t http_max_queue;      /* bytes of responses queued before reading stops */
    uint64_t ws_max_message;      /* bytes */
    uint64_t ws_max_queue;        /* bytes */
    uint64_t ws_max_reply;        /* bytes of stored data in one reply (config_reply_budget) */
    uint64_t ws_ping_interval;    /* ms */
    uint64_t ws_pong_timeout;     /* ms */
    uint64_t ws_stall_timeout;    /* ms a paused client's output may stay over the mark */
    uint64_t ws_rate;             /* messages per second */
    uint64_t ws_burst;            /* messages */
    uint64_t ws_flood_close;      /* consecutive rate-limited messages before 1008 */
    uint64_t ws_max_rooms;        /* rooms one connection may join */
    uint64_t ws_max_docs;         /* documents one connection may have open */
    char **origins;               /* owned; Origins allowed besides same-origin ("*": any) */
    size_t norigins;
    uint64_t shutdown_timeout;    /* ms */
    /* TLS on the listener (io/tls.c): both files or neither */
    char *tls_cert;          /* owned; PEM certificate chain, "" = plain HTTP */
    char *tls_key;           /* owned; PEM private key, "" = plain HTTP */
    char *tls_ciphers;       /* owned; TLS 1.2 cipher list, "" = the built-in default */
    char *tls_redirect_host; /* owned; plain listener answering 308, NULL = none */
    int tls_redirect_port;
    /* accounts and tokens */
    char *jwt_secret;             /* owned; "" = generated and kept in the data dir */
    char *jwt_alg;                /* owned; "HS256", "RS256" or "ES256" */
    char *jwt_public_key;         /* owned; PEM file for RS256/ES256, "" = none */
    char *jwt_private_key;        /* owned; PEM file to mint RS256/ES256 tokens, "" = none */
    uint64_t jwt_ttl;             /* ms */
    uint64_t jwt_leeway;          /* ms of clock skew allowed on exp/nbf */
    uint64_t revocations_max;     /* revoked tokens / user epochs held in memory */
    uint64_t auth_timeout;        /* ms for a WebSocket to authenticate */
    uint64_t token_grace;         /* ms after token_expired before close 1008 */
    uint64_t password_ops;        /* argon2id passes */
    uint64_t password_memory;     /* argon2id memory, bytes */
    config_rate_t rate_auth;      /* /api/auth/ per client IP */
    config_rate_t rate_api_ip;    /* other /api/ routes per client IP */
    config_rate_t rate_api_user;  /* other /api/ routes per user */
    config_rate_t rate_room_miss_user; /* failed room lookups per user */
    config_rate_t rate_room_miss_ip;   /* failed room lookups per client IP */
    config_rate_t rate_login_account; /* failed logins per account (email) */
    config_rate_t rate_ws_auth;   /* failed WebSocket token checks per client IP */
    config_rate_t rate_server_key; /* /api/server/ requests per API key */
    uint64_t audit_window;        /* ms: repeated failures of a source fold into one row */
    uint64_t audit_max_sources;   /* failure sources counted per window */
    uint64_t audit_retention;     /* ms: older audit rows are deleted */
    struct net_cidr_s *trusted_proxies; /* owned; peers whose forwarding headers count */
    size_t ntrusted_proxies;
    struct net_cidr_s *metrics_allow; /* owned; client addresses that may read /metrics */
    size_t nmetrics_allow;
    char *metrics_listen_host; /* owned; a separate listener for /metrics, NULL = none */
    int metrics_listen_port;
    char *metrics_token; /* owned; Bearer token /metrics needs, "" = none */
    /* the admin view (issue 24) */
    char *admins;            /* owned; comma-separated user ids that are admins, "" = none */
    uint64_t admin_errors;   /* recent warnings/errors kept for GET /api/admin/errors */
    uint64_t admin_list_max; /* rows of one admin list (connections, rooms) */
    /* rooms */
    char *public_url;             /* owned; base of joinLink */
    uint64_t room_max_capacity;   /* upper bound of maxParticipants */
    uint64_t room_max_hosted;     /* live rooms per host */
    uint64_t room_max_bans;       /* banned users per room */
    uint64_t room_join_history;   /* messages in the join reply */
    uint64_t room_large;          /* a room with more seats is large (issue 26) */
    uint64_t room_large_tick;     /* ms: a large room's membership changes, coalesced */
    uint64_t room_join_participants; /* participants in a large room's join reply */
    uint64_t room_changed_max;    /* joined participants named per participants_changed */
    uint64_t room_large_rate;     /* deliveries/s a large room's participants_changed costs */
    uint64_t room_presence_subscribe_max; /* users one presence_subscribe watches */
    uint64_t room_max_message;    /* bytes of message content, JSON-encoded */
    uint64_t room_max_metadata;   /* bytes of message metadata, JSON-encoded */
    uint64_t room_max_broadcast;  /* bytes of broadcast data */
    uint64_t room_max_state;      /* bytes of room state */
    uint64_t room_seat_grace;     /* ms a dropped member keeps the seat */
    uint64_t room_idle;           /* ms of inactivity before a room is deleted */
    uint64_t room_sweep;          /* ms between idle-room sweeps */
    uint64_t room_quota;          /* bytes stored per room, 0 = unlimited */
    uint64_t user_quota;          /* bytes stored per user, 0 = unlimited */
    uint64_t message_retention;   /* ms a message is kept, 0 = forever */
    uint64_t message_retention_count; /* messages kept per room, 0 = all */
    uint64_t doc_log_retention;   /* op log rows kept before a snapshot, 0 = all */
    uint64_t history_retention;   /* ms a change stays whole in the change log, 0 = forever */
    uint64_t history_retention_count; /* changes kept whole per room, 0 = all */
    uint64_t retention_sweep;     /* ms between retention sweeps */
    uint64_t activity_edit_idle;  /* ms: a burst of edits, moves, messages ends (issue 25) */
    uint64_t activity_retention;  /* ms an activity row is kept, 0 = forever */
    uint64_t activity_max_rows;   /* activity rows kept per room, 0 = all */
    uint64_t presence_rate;       /* presence changes per user per second */
    uint64_t presence_idle;       /* ms of silence before a user shows idle */
    uint64_t presence_typing;     /* ms before typing expires */
    uint64_t presence_max;        /* bytes of one user's presence state */
    /* documents */
    uint64_t doc_max_size;        /* bytes of a document's text */
    uint64_t doc_max_op;          /* bytes of one op's JSON */
    uint64_t doc_max_components;  /* components of one op */
    uint64_t doc_log_window;      /* recent ops kept to transform late ops */
    uint64_t doc_log_max_bytes;   /* bytes those ops may hold per open document */
    uint64_t doc_snapshot_every;  /* ops between stored snapshots */
    /* entities */
    uint64_t entity_max_count;    /* entities per room */
    uint64_t entity_max_bytes;    /* bytes of one entity's data */
    uint64_t entity_max_patch;    /* bytes of one patch */
    uint64_t entity_log_window;   /* changes per room remembered for sync */
    uint64_t entity_lock_max_ttl; /* ms */
    uint64_t entity_lock_max_hold; /* ms a lock lasts at most from when it was taken */
    uint64_t entity_transient_rate; /* transient batches per entity per second */
    /* the app's backend: rpc op and join hook (proto_rpc.c) */
    char *rpc_url;          /* owned; "" = no rpc (not_configured) */
    char *join_hook_url;    /* owned; "" = joins ask nobody */
    char *rpc_secret;       /* owned; HMAC-SHA-256 key of X-Chorus-Signature; "" = unsigned */
    uint64_t rpc_timeout;   /* ms for one call to the backend (backend_timeout) */
    uint64_t rpc_max_data;  /* bytes of an rpc's data, JSON-encoded */
    uint64_t rpc_max_reply; /* bytes of the backend's answer */
    uint64_t rpc_max_calls; /* calls to the backend in flight at once */
    uint64_t rpc_max_calls_conn;  /* rpc and join hook calls in flight per connection */
    uint64_t join_hook_fail_open; /* 1: a join is allowed when the join hook fails */
    /* outgoing HTTP (webhooks, RPC to the app's backend) */
    uint64_t http_client_max_active;      /* transfers at once */
    uint64_t http_client_max_queue;       /* requests waiting behind them */
    uint64_t http_client_timeout;         /* ms for a whole request that names none */
    uint64_t http_client_connect_timeout; /* ms to connect, TLS included */
    /* webhooks (one endpoint from the configuration) */
    char *webhook_url;              /* owned; "" = none */
    char *webhook_secret;           /* owned */
    char *webhook_events;           /* owned; comma-separated event names, "*" = all */
    uint64_t webhook_max_attempts;  /* attempts before a delivery is dead-lettered */
    uint64_t webhook_retry_base;    /* ms after the first failed attempt */
    uint64_t webhook_retry_max;     /* ms between attempts at most */
    uint64_t webhook_max_inflight;  /* deliveries being sent at once */
    uint64_t webhook_max_queue;     /* deliveries pending at most (beyond: dropped) */
    uint64_t webhook_timeout;       /* ms for one attempt */
    uint64_t webhook_poll;          /* ms between looks for due deliveries when idle */
    uint64_t webhook_log_retention; /* ms finished deliveries stay in the log */
    uint64_t webhook_doc_debounce;  /* ms: document.saved at most once per document */
    uint64_t webhook_max_endpoints; /* endpoints at most (configuration and API) */
    char *webhook_client_events;    /* owned; broadcast event globs sent as client.event */
    /* uploads */
    uint64_t upload_max_size;       /* bytes of one upload */
    uint64_t upload_expiry;         /* ms an unfinished upload is kept untouched */
    uint64_t upload_max_concurrent; /* uploads in flight per user */
    char *upload_types;             /* owned; allowed content types, "" = any */
    uint64_t asset_url_ttl;         /* ms a signed asset URL works */
    uint64_t upload_quota_user;     /* bytes of assets + unfinished uploads per user */
    uint64_t upload_max_incomplete; /* unfinished uploads per user, 0 = no limit */
    uint64_t upload_quota_room;     /* bytes of assets + unfinished uploads per room */
    uint64_t blob_gc_grace;         /* ms an unreferenced blob is kept after its last touch */
    char *cluster;                  /* owned; the cluster bus's redis:// URL, "" = one node */
    uint64_t cluster_node_ttl;      /* ms a node's heartbeat key lives unrenewed */
    uint64_t cluster_lease;         /* ms a room's home lease lives unrenewed */
    uint64_t cluster_op_timeout;    /* ms a forwarded op waits for its answer */
    uint64_t cluster_max_inflight;  /* forwarded ops in flight per node */
    uint64_t cluster_max_bus_message; /* bytes of one bus message at most */
    /* calls (WebRTC signaling) */
    uint64_t rtc_max_members; /* connections in one call */
    uint64_t rtc_mesh_max;    /* the largest mesh call when an SFU is configured */
    uint64_t rtc_max_signal;  /* bytes of one signal's data */
    uint64_t rtc_signal_rate; /* signals per call member per second */
    char *stun_urls;          /* owned; comma-separated STUN URLs, "" = none */
    char *turn_urls;          /* owned; comma-separated TURN URLs, "" = none */
    char *turn_secret;        /* owned; coturn's static-auth-secret, "" = none */
    char *turn_secret_file;   /* owned; where turn_secret was read from, "" = none */
    uint64_t turn_ttl;        /* ms a TURN credential works */
    /* the Janus SFU (calls past the mesh size) */
    char *janus_url;                /* owned; "" = no SFU */
    char *janus_admin_url;          /* owned */
    char *janus_admin_secret;       /* owned; never logged */
    char *janus_admin_secret_file;  /* owned; NULL or "" = none */
    uint64_t janus_room_bitrate;    /* bits/s per publisher, 0 = Janus's default */
    uint64_t janus_timeout;         /* ms Janus has to answer a request */
    uint64_t janus_max_inflight;    /* requests to Janus at once */
} chorus_config_t;

/* The shortest HS256 --jwt-secret config_load accepts, in bytes. */
#define CONFIG_SECRET_MIN 32

/* config_load's answer to -h/--help. */
#define CONFIG_EHELP (-2)

/* Fills cfg with the defaults. Free with config_free. */
void config_defaults(chorus_config_t *cfg);

/* Frees what cfg owns. */
void config_free(chorus_config_t *cfg);

/* Applies, in rising precedence, the JSON config file (--config FILE, else CHORUS_CONFIG),
 * the environment (envp: NULL-terminated "NAME=value" strings, borrowed) and the flags in
 * argv[0..argc) (the arguments after "serve"). Returns 0; CONFIG_EHELP when -h or --help
 * is among the flags (nothing applied: print the usage); or -1 with a one-line message
 * naming the offending option, and the form its value takes, in err. */
int config_load(chorus_config_t *cfg, int argc, char **argv, char **envp, char *err,
                size_t errlen);

/* SIGHUP's reload: moves into live (the configuration in use) the values of fresh (the
 * same sources read again by config_load) that may change while serving: HTTP limits and
 * timeouts, the WebSocket queue and keepalive, connection limits, the shutdown timeout,
 * origins, trusted proxies, the /metrics allow list and token, the log level, token
 * lifetimes, JWT secret and key options, TLS certificate, key and ciphers (the server and
 * app re-read what depends on them). Their names go into applied, comma-separated (the
 * names that fit in acap; "" when none). Every other option that differs keeps its running
 * value and is named in restart the same way. Borrows applied and restart (either may be
 * NULL with a cap of 0); takes from fresh what it moves, giving it live's old value, so
 * fresh stays valid for config_free, and a second call with the same two configurations
 * puts every moved value back (a reload refused after the move undoes it so). Returns how
 * many options changed that apply now. */
int config_reload(chorus_config_t *live, chorus_config_t *fresh, char *applied, size_t acap,
                  char *restart, size_t cap);

/* The bytes of stored data one reply may carry (a join, a history or REST page, a sync
 * page, a document snapshot, a doc_ops page): ws_max_reply, and at most a quarter of
 * ws_max_queue so that a reply always fits in a client's queue with room to spare. */
uint64_t config_reply_budget(const chorus_config_t *cfg);

/* Parses "123", "16KiB", "1MiB", "2GiB" (also KB/MB/GB and k/m/g, all binary) into bytes.
 * Returns 0 or -1. */
int config_parse_size(const char *s, uint64_t *out);

/* Parses "250ms", "10s", "5m", "1h" or a plain number of seconds into milliseconds.
 * Returns 0 or -1. */
int config_parse_duration(const char *s, uint64_t *out);

/* Parses "100/15m" (a count, a slash, a duration as above) into r. Returns 0 or -1. */
int config_parse_rate(const char *s, config_rate_t *r);

/* Prints the option reference used by --help: how flags, environment variables and config
 * keys are named, then every option by group with its value form, meaning and default,
 * in lines of at most 99 columns. */
void config_print_usage(FILE *out);

#endif
