/* config.c: one option table drives flags (--ws-max-message), environment variables
 * (CHORUS_WS_MAX_MESSAGE) and JSON config keys (ws_max_message). */
#include "util/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "util/mem.h"
#include "util/net_addr.h"

typedef enum { OPT_LISTEN, OPT_PATH, OPT_STRING, OPT_ALG, OPT_LEVEL, OPT_FORMAT, OPT_COUNT,
               OPT_SIZE, OPT_DURATION, OPT_RATE, OPT_LIST, OPT_SWITCH, OPT_GROUP,
               OPT_CIDRS } opt_type_t;

typedef struct {
    const char *name; /* flag name without "--"; NULL for a GROUP header row */
    opt_type_t type;
    size_t offset;
    uint64_t min, max; /* for numbers, sizes and durations; OPT_CIDRS: min is the offset
                        * of the list's count (size_t) */
    const char *def;   /* default, as text for --help */
    const char *help;
} opt_t;

#define OFF(f) offsetof(chorus_config_t, f)
#define KiB 1024ULL
#define MiB (1024ULL * 1024)
#define GiB (1024ULL * 1024 * 1024)
#define HOUR_MS 3600000ULL
/* A header row: --help prints the rows after it, up to the next header, under title. */
#define GROUP(title) {NULL, OPT_GROUP, 0, 0, 0, NULL, title}

static const opt_t options[] = {
    GROUP("network"),
    {"listen", OPT_LISTEN, OFF(listen_host), OFF(listen_port), 0, "127.0.0.1:8080",
     "address to listen on (port 0: any)"},
    {"reuse-port", OPT_SWITCH, OFF(reuse_port), 0, 1, "off",
     "SO_REUSEPORT on the listeners: several processes share --listen's port"},
    GROUP("TLS (reloaded on SIGHUP but the redirect listener)"),
    {"tls-cert", OPT_STRING, OFF(tls_cert), 0, 0, "",
     "PEM certificate chain: serve HTTPS and wss:// (with --tls-key)"},
    {"tls-key", OPT_STRING, OFF(tls_key), 0, 0, "", "PEM private key of --tls-cert"},
    {"tls-ciphers", OPT_STRING, OFF(tls_ciphers), 0, 0, "",
     "OpenSSL cipher list for TLS 1.2 (empty: ECDHE with AES-GCM or ChaCha20-Poly1305)"},
    {"tls-redirect", OPT_LISTEN, OFF(tls_redirect_host), OFF(tls_redirect_port), 0, "",
     "also listen here for plain HTTP and answer 308 to the https:// URL (empty: no)"},
    GROUP("store and files"),
    {"data", OPT_PATH, OFF(data_dir), 0, 0, "./var", "data directory"},
    {"store", OPT_STRING, OFF(store), 0, 0, "",
     "database: a postgres:// or postgresql:// URL (PostgreSQL), or empty: SQLite at "
     "DATA/chorus.db"},
    {"web", OPT_PATH, OFF(web_dir), 0, 0, "./web", "static web app directory"},
    {"config", OPT_PATH, OFF(config_file), 0, 0, "", "JSON config file"},
    GROUP("logs"),
    {"log-level", OPT_LEVEL, OFF(log_level), 0, 0, "info", "debug, info, warn or error"},
    {"log-format", OPT_FORMAT, OFF(log_format), 0, 0, "text", "text or json"},
    GROUP("connections and their limits"),
    {"io-uring", OPT_SWITCH, OFF(io_uring), 0, 1, "on",
     "send each loop iteration's output with one io_uring submission (off: writev each)"},
    {"max-connections", OPT_COUNT, OFF(max_connections), 1, 10000000, "10000",
     "connections accepted at once"},
    {"max-connections-per-ip", OPT_COUNT, OFF(max_connections_per_ip), 0, 10000000, "100",
     "connections open at once from one address (429; 0: no limit)"},
    {"max-connections-ipv6-prefix", OPT_COUNT, OFF(max_connections_ipv6_prefix), 1, 128, "64",
     "IPv6 addresses sharing this many leading bits count as one address"},
    {"http-max-header", OPT_SIZE, OFF(http_max_header), 1 * KiB, 1 * MiB, "16KiB",
     "request line + headers (431 beyond)"},
    {"http-max-body", OPT_SIZE, OFF(http_max_body), 0, 1 * GiB, "1MiB",
     "request body (413 beyond)"},
    {"http-header-timeout", OPT_DURATION, OFF(http_header_timeout), 10, 24 * HOUR_MS, "10s",
     "time for a request's headers to arrive (408)"},
    {"http-idle-timeout", OPT_DURATION, OFF(http_idle_timeout), 10, 24 * HOUR_MS, "60s",
     "idle keep-alive connections close after"},
    {"http-request-timeout", OPT_DURATION, OFF(http_request_timeout), 10, 24 * HOUR_MS, "30s",
     "time for a whole request, headers and body, to arrive (408)"},
    {"http-body-min-rate", OPT_SIZE, OFF(http_body_min_rate), 0, 1 * GiB, "1KiB",
     "bytes per second a request body must average (408; 0: off)"},
    {"http-max-queue", OPT_SIZE, OFF(http_max_queue), 1 * KiB, 1 * GiB, "64KiB",
     "response bytes waiting for a client before its next request is read"},
    {"ws-max-message", OPT_SIZE, OFF(ws_max_message), 128, 1 * GiB, "1MiB",
     "WebSocket message size (1009 beyond)"},
    {"ws-max-queue", OPT_SIZE, OFF(ws_max_queue), 4 * KiB, 2 * GiB, "4MiB",
     "unsent bytes per client before it is closed (1008)"},
    {"ws-max-reply", OPT_SIZE, OFF(ws_max_reply), 1 * KiB, 1 * GiB, "1MiB",
     "stored data in one reply or REST page (join, history, sync, doc_open, doc_ops); "
     "at most a quarter of --ws-max-queue"},
    {"ws-ping-interval", OPT_DURATION, OFF(ws_ping_interval), 10, 24 * HOUR_MS, "30s",
     "silence before the server pings"},
    {"ws-pong-timeout", OPT_DURATION, OFF(ws_pong_timeout), 10, 24 * HOUR_MS, "10s",
     "wait for a pong before closing"},
    {"ws-stall-timeout", OPT_DURATION, OFF(ws_stall_timeout), 10, 24 * HOUR_MS, "30s",
     "a client's requests wait while over half --ws-max-queue waits for it; closed (1008) "
     "when it stays there this long"},
    {"ws-rate", OPT_COUNT, OFF(ws_rate), 1, 100000000, "1000",
     "inbound messages per second per connection"},
    {"ws-burst", OPT_COUNT, OFF(ws_burst), 1, 100000000, "2000",
     "inbound message burst per connection"},
    {"ws-flood-close", OPT_COUNT, OFF(ws_flood_close), 1, 100000000, "500",
     "rate-limited messages in a row before close 1008"},
    {"ws-max-rooms", OPT_COUNT, OFF(ws_max_rooms), 1, 1000000, "64",
     "rooms one connection may join (too_many_rooms)"},
    {"ws-max-docs", OPT_COUNT, OFF(ws_max_docs), 1, 1000000, "32",
     "documents one connection may have open (too_many_documents)"},
    {"origins", OPT_LIST, 0, 0, 0, "",
     "Origins allowed besides the server's own (comma-separated; * = any)"},
    {"shutdown-timeout", OPT_DURATION, OFF(shutdown_timeout), 0, HOUR_MS, "5s",
     "how long SIGTERM waits for clients to close"},
    GROUP("auth, passwords and rate limits"),
    {"jwt-secret", OPT_STRING, OFF(jwt_secret), 0, 0, "",
     "HS256 secret (empty: generated into DATA/jwt_secret)"},
    {"jwt-alg", OPT_ALG, OFF(jwt_alg), 0, 0, "HS256", "token algorithm: HS256, RS256 or ES256"},
    {"jwt-public-key", OPT_STRING, OFF(jwt_public_key), 0, 0, "",
     "PEM public key file (RS256/ES256)"},
    {"jwt-private-key", OPT_STRING, OFF(jwt_private_key), 0, 0, "",
     "PEM private key file to mint RS256/ES256 tokens"},
    {"jwt-ttl", OPT_DURATION, OFF(jwt_ttl), 1000, 365 * 24 * HOUR_MS, "24h",
     "lifetime of tokens Chorus mints"},
    {"jwt-leeway", OPT_DURATION, OFF(jwt_leeway), 0, HOUR_MS, "0s",
     "clock skew allowed when checking exp and nbf"},
    {"revocations-max", OPT_COUNT, OFF(revocations_max), 1, 100000000, "100000",
     "revoked tokens/users remembered at once (logout then answers 503 revocations_full)"},
    {"auth-timeout", OPT_DURATION, OFF(auth_timeout), 10, HOUR_MS, "10s",
     "time for a WebSocket to authenticate (1008)"},
    {"token-grace", OPT_DURATION, OFF(token_grace), 0, HOUR_MS, "30s",
     "time to re-authenticate after token_expired (1008)"},
    {"admins", OPT_STRING, OFF(admins), 0, 0, "",
     "comma-separated user ids (token subjects) that may use /api/admin/"},
    {"admin-errors", OPT_COUNT, OFF(admin_errors), 1, 100000, "100",
     "recent warnings and errors kept for the admin view"},
    {"admin-list-max", OPT_COUNT, OFF(admin_list_max), 1, 100000, "200",
     "rows of one admin list (connections, rooms)"},
    {"password-ops", OPT_COUNT, OFF(password_ops), 1, 100, "2", "argon2id passes"},
    {"password-memory", OPT_SIZE, OFF(password_memory), 8 * KiB, 4 * GiB, "64MiB",
     "argon2id memory per hash"},
    {"rate-auth", OPT_RATE, OFF(rate_auth), 1, 0, "100/15m",
     "/api/auth/ requests per client IP"},
    {"rate-ws-auth", OPT_RATE, OFF(rate_ws_auth), 1, 0, "30/1m",
     "failed WebSocket token checks per client IP (then refused unchecked)"},
    {"rate-api-ip", OPT_RATE, OFF(rate_api_ip), 1, 0, "6000/1m",
     "other /api/ requests per client IP"},
    {"rate-api-user", OPT_RATE, OFF(rate_api_user), 1, 0, "1200/1m",
     "other /api/ requests per user"},
    {"rate-server-key", OPT_RATE, OFF(rate_server_key), 1, 0, "6000/1m",
     "server API (/api/server/) requests per API key"},
    {"rate-room-miss-user", OPT_RATE, OFF(rate_room_miss_user), 1, 0, "20/1m",
     "failed room lookups (unknown, or not yours) per user (rate_limited)"},
    {"rate-room-miss-ip", OPT_RATE, OFF(rate_room_miss_ip), 1, 0, "100/1m",
     "failed room lookups (unknown, or not yours) per client IP (rate_limited)"},
    {"rate-login-account", OPT_RATE, OFF(rate_login_account), 1, 0, "10/10m",
     "failed logins per account (429 until the next one is allowed)"},
    {"trusted-proxies", OPT_CIDRS, OFF(trusted_proxies), OFF(ntrusted_proxies), 0, "",
     "comma-separated proxy addresses/CIDRs whose X-Forwarded-For/Forwarded is believed"},
    {"metrics-allow", OPT_CIDRS, OFF(metrics_allow), OFF(nmetrics_allow), 0, "127.0.0.0/8,::1",
     "client addresses/CIDRs that may read GET /metrics (others: 404)"},
    {"metrics-listen", OPT_LISTEN, OFF(metrics_listen_host), OFF(metrics_listen_port), 0, "",
     "serve /metrics (and /healthz) on this separate plain listener only (empty: on --listen)"},
    {"metrics-token", OPT_STRING, OFF(metrics_token), 0, 0, "",
     "GET /metrics needs Authorization: Bearer TOKEN (16 to 256 printable bytes; empty: none)"},
    {"audit-window", OPT_DURATION, OFF(audit_window), 100, 24 * HOUR_MS, "1m",
     "repeated failures of one source are written as one audit row per window"},
    {"audit-max-sources", OPT_COUNT, OFF(audit_max_sources), 1, 10000000, "10000",
     "failure sources counted per window (the rest share one row)"},
    {"audit-retention", OPT_DURATION, OFF(audit_retention), 1000, 100 * 365 * 24 * HOUR_MS,
     "2160h", "audit rows older than this are deleted"},
    GROUP("rooms and presence"),
    {"public-url", OPT_STRING, OFF(public_url), 0, 0, "http://127.0.0.1:8080",
     "base URL of joinLink"},
    {"room-max-capacity", OPT_COUNT, OFF(room_max_capacity), 1, 1000000, "50",
     "largest maxParticipants a room may have"},
    {"room-max-hosted", OPT_COUNT, OFF(room_max_hosted), 1, 1000000, "5",
     "live rooms one user may host (429 room_limit)"},
    {"room-max-bans", OPT_COUNT, OFF(room_max_bans), 1, 1000000, "1000",
     "banned users one room keeps (409 ban_limit)"},
    {"room-join-history", OPT_COUNT, OFF(room_join_history), 0, 1000, "50",
     "messages sent with a join reply"},
    {"room-large", OPT_COUNT, OFF(room_large), 0, 1000000, "100",
     "a room with more participants is large: paged list, coalesced events"},
    {"room-large-tick", OPT_DURATION, OFF(room_large_tick), 10, 10000, "100ms",
     "how often a large room sends its membership and presence changes"},
    {"room-join-participants", OPT_COUNT, OFF(room_join_participants), 1, 1000, "100",
     "participants in a large room's join reply (the first page)"},
    {"room-large-rate", OPT_COUNT, OFF(room_large_rate), 1, 100000000, "50000",
     "deliveries a second a large room's membership and presence events may cost"},
    {"room-changed-max", OPT_COUNT, OFF(room_changed_max), 0, 100000, "100",
     "participants named as joined in one participants_changed (the rest are counted)"},
    {"room-presence-subscribe-max", OPT_COUNT, OFF(room_presence_subscribe_max), 0, 10000,
     "256", "users one connection watches the presence of in a room (presence_subscribe)"},
    {"room-max-message", OPT_SIZE, OFF(room_max_message), 1, 16 * MiB, "16KiB",
     "message content size, JSON-encoded"},
    {"room-max-metadata", OPT_SIZE, OFF(room_max_metadata), 2, 16 * MiB, "4KiB",
     "message metadata size, JSON-encoded"},
    {"room-max-broadcast", OPT_SIZE, OFF(room_max_broadcast), 1, 16 * MiB, "64KiB",
     "broadcast data size"},
    {"room-max-state", OPT_SIZE, OFF(room_max_state), 2, 16 * MiB, "64KiB", "room state size"},
    {"room-seat-grace", OPT_DURATION, OFF(room_seat_grace), 0, 24 * HOUR_MS, "60s",
     "a member with no connection keeps the seat this long"},
    {"room-idle", OPT_DURATION, OFF(room_idle), 1000, 365 * 24 * HOUR_MS, "24h",
     "rooms idle this long are deleted"},
    {"room-sweep", OPT_DURATION, OFF(room_sweep), 100, 24 * HOUR_MS, "1h",
     "how often idle rooms are looked for"},
    {"room-quota", OPT_SIZE, OFF(room_quota), 0, 1024 * GiB, "128MiB",
     "bytes one room may store (507 quota_exceeded; 0: unlimited)"},
    {"user-quota", OPT_SIZE, OFF(user_quota), 0, 1024 * GiB, "512MiB",
     "bytes one user may store across rooms (507 quota_exceeded; 0: unlimited)"},
    {"message-retention", OPT_DURATION, OFF(message_retention), 0, 100 * 365 * 24 * HOUR_MS,
     "0", "messages older than this are deleted (0: kept)"},
    {"message-retention-count", OPT_COUNT, OFF(message_retention_count), 0, 1000000000, "0",
     "messages kept per room, the newest (0: all)"},
    {"doc-log-retention", OPT_COUNT, OFF(doc_log_retention), 0, 1000000000, "0",
     "op log rows kept before a document's snapshot (0: all)"},
    {"history-retention", OPT_DURATION, OFF(history_retention), 0, 100 * 365 * 24 * HOUR_MS,
     "0", "changes older than this leave the room's change log (time travel; 0: kept)"},
    {"history-retention-count", OPT_COUNT, OFF(history_retention_count), 0, 1000000000, "10000",
     "changes kept whole in each room's change log, the newest (0: all)"},
    {"retention-sweep", OPT_DURATION, OFF(retention_sweep), 100, 24 * HOUR_MS, "10m",
     "how often the retention rules are applied"},
    {"activity-edit-idle", OPT_DURATION, OFF(activity_edit_idle), 10, HOUR_MS, "60s",
     "edits, moves and messages of a user are one activity row until they stop this long"},
    {"activity-retention", OPT_DURATION, OFF(activity_retention), 0, 100 * 365 * 24 * HOUR_MS,
     "2160h", "activity rows older than this are deleted (0: kept)"},
    {"activity-max-rows", OPT_COUNT, OFF(activity_max_rows), 0, 1000000000, "10000",
     "activity rows kept per room, the newest (0: all)"},
    {"presence-rate", OPT_COUNT, OFF(presence_rate), 1, 1000, "20",
     "presence changes sent per user per second"},
    {"presence-idle", OPT_DURATION, OFF(presence_idle), 100, 24 * HOUR_MS, "60s",
     "silence before a user shows idle"},
    {"presence-typing", OPT_DURATION, OFF(presence_typing), 100, HOUR_MS, "5s",
     "typing expires after"},
    {"presence-max", OPT_SIZE, OFF(presence_max), 2, 1 * MiB, "2KiB",
     "one user's presence state size"},
    GROUP("documents"),
    {"doc-max-size", OPT_SIZE, OFF(doc_max_size), 1, 1 * GiB, "1MiB",
     "document text size, JSON-encoded (at most the reply budget)"},
    {"doc-max-op", OPT_SIZE, OFF(doc_max_op), 16, 64 * MiB, "256KiB", "one op's JSON size"},
    {"doc-max-components", OPT_COUNT, OFF(doc_max_components), 1, 10000000, "10000",
     "components of one op"},
    {"doc-log-window", OPT_COUNT, OFF(doc_log_window), 1, 10000000, "1000",
     "recent ops kept to transform late ops (older: version_too_old)"},
    {"doc-log-max-bytes", OPT_SIZE, OFF(doc_log_max_bytes), 1 * KiB, 1 * GiB, "1MiB",
     "memory of the recent ops one open document keeps (older: version_too_old)"},
    {"doc-snapshot-every", OPT_COUNT, OFF(doc_snapshot_every), 1, 10000000, "100",
     "ops between stored snapshots"},
    GROUP("entities"),
    {"entity-max-count", OPT_COUNT, OFF(entity_max_count), 1, 1000000, "1000",
     "entities per room (too_many_entities)"},
    {"entity-max-bytes", OPT_SIZE, OFF(entity_max_bytes), 2, 16 * MiB, "16KiB",
     "one entity's data size"},
    {"entity-max-patch", OPT_SIZE, OFF(entity_max_patch), 2, 16 * MiB, "8KiB",
     "one entity patch's size"},
    {"entity-log-window", OPT_COUNT, OFF(entity_log_window), 0, 10000000, "1000",
     "changes per room remembered for sync (older: full)"},
    {"entity-lock-max-ttl", OPT_DURATION, OFF(entity_lock_max_ttl), 1000, 24 * HOUR_MS, "5m",
     "longest entity lock"},
    {"entity-lock-max-hold", OPT_DURATION, OFF(entity_lock_max_hold), 1000, 7 * 24 * HOUR_MS,
     "10m", "longest an entity lock lasts from when it was taken, renewals included"},
    {"entity-transient-rate", OPT_COUNT, OFF(entity_transient_rate), 1, 1000, "20",
     "transient updates applied per entity per second"},
    GROUP("the app's backend: rpc and join hook"),
    {"rpc-url", OPT_STRING, OFF(rpc_url), 0, 0, "",
     "URL the rpc op is POSTed to (empty: rpc answers not_configured)"},
    {"join-hook-url", OPT_STRING, OFF(join_hook_url), 0, 0, "",
     "URL a join asks whether the user may join, and as whom (empty: none)"},
    {"rpc-secret", OPT_STRING, OFF(rpc_secret), 0, 0, "",
     "key of the HMAC-SHA-256 signature of rpc and join hook calls (empty: unsigned)"},
    {"rpc-timeout", OPT_DURATION, OFF(rpc_timeout), 10, 10 * 60000, "5s",
     "time the backend has to answer an rpc or join hook call (backend_timeout)"},
    {"rpc-max-data", OPT_SIZE, OFF(rpc_max_data), 4, 16 * MiB, "64KiB",
     "an rpc's data, JSON-encoded (payload_too_large)"},
    {"rpc-max-reply", OPT_SIZE, OFF(rpc_max_reply), 64, 64 * MiB, "256KiB",
     "the backend's answer to one call (backend_error beyond)"},
    {"rpc-max-calls", OPT_COUNT, OFF(rpc_max_calls), 1, 1000000, "1024",
     "rpc and join hook calls in flight at once (too_many_calls)"},
    {"rpc-max-calls-conn", OPT_COUNT, OFF(rpc_max_calls_conn), 1, 255, "8",
     "rpc and join hook calls in flight per connection (too_many_calls)"},
    {"join-hook-fail-open", OPT_SWITCH, OFF(join_hook_fail_open), 0, 1, "off",
     "when the join hook cannot be asked (down, timeout, bad answer): on: the join goes "
     "ahead, off: it is refused with backend_unavailable"},
    GROUP("outgoing HTTP (webhooks, backend calls)"),
    {"http-client-max-active", OPT_COUNT, OFF(http_client_max_active), 1, 10000, "64",
     "requests to backends in flight at once"},
    {"http-client-max-queue", OPT_COUNT, OFF(http_client_max_queue), 0, 1000000, "1024",
     "requests waiting behind them (beyond: refused at once)"},
    {"http-client-timeout", OPT_DURATION, OFF(http_client_timeout), 10, HOUR_MS, "10s",
     "time for a whole request to a backend when its caller names none"},
    {"http-client-connect-timeout", OPT_DURATION, OFF(http_client_connect_timeout), 10, HOUR_MS,
     "5s", "time to connect to a backend, TLS included"},
    GROUP("webhooks"),
    {"webhook-url", OPT_STRING, OFF(webhook_url), 0, 0, "",
     "endpoint the webhook deliveries are POSTed to (empty: no webhooks)"},
    {"webhook-secret", OPT_STRING, OFF(webhook_secret), 0, 0, "",
     "key of the deliveries' HMAC-SHA-256 signature (at least 16 bytes)"},
    {"webhook-events", OPT_STRING, OFF(webhook_events), 0, 0, "*",
     "comma-separated event types delivered (*: all)"},
    {"webhook-max-attempts", OPT_COUNT, OFF(webhook_max_attempts), 1, 1000, "10",
     "attempts before a delivery is dead-lettered"},
    {"webhook-retry-base", OPT_DURATION, OFF(webhook_retry_base), 10, HOUR_MS, "1s",
     "delay after a delivery's first failed attempt (doubling, with jitter)"},
    {"webhook-retry-max", OPT_DURATION, OFF(webhook_retry_max), 10, 24 * HOUR_MS, "1h",
     "longest delay between attempts"},
    {"webhook-max-inflight", OPT_COUNT, OFF(webhook_max_inflight), 1, 10000, "32",
     "deliveries being sent at once"},
    {"webhook-max-queue", OPT_COUNT, OFF(webhook_max_queue), 1, 100000000, "100000",
     "deliveries pending in the store at most (beyond: new ones are dropped and logged)"},
    {"webhook-timeout", OPT_DURATION, OFF(webhook_timeout), 10, HOUR_MS, "10s",
     "time for one attempt"},
    {"webhook-poll", OPT_DURATION, OFF(webhook_poll), 10, HOUR_MS, "1s",
     "between looks for due deliveries when nothing else wakes the sender"},
    {"webhook-log-retention", OPT_DURATION, OFF(webhook_log_retention), 1000,
     365 * 24 * HOUR_MS, "168h", "finished deliveries stay in the delivery log"},
    {"webhook-max-endpoints", OPT_COUNT, OFF(webhook_max_endpoints), 1, 1000, "16",
     "webhook endpoints at most, the configuration's and the server API's together"},
    {"webhook-doc-debounce", OPT_DURATION, OFF(webhook_doc_debounce), 10, HOUR_MS, "5s",
     "document.saved: at most one delivery per document in this interval"},
    {"webhook-client-events", OPT_STRING, OFF(webhook_client_events), 0, 0, "",
     "comma-separated broadcast event names ('agent_*' globs) sent to the backend as "
     "client.event (empty: none)"},
    GROUP("uploads (tus) and assets"),
    {"upload-max-size", OPT_SIZE, OFF(upload_max_size), 1, 1ULL << 50, "20GiB",
     "one upload's Upload-Length (413 upload_too_large)"},
    {"upload-expiry", OPT_DURATION, OFF(upload_expiry), 1000, 365 * 24 * HOUR_MS, "24h",
     "an unfinished upload untouched this long is removed (Upload-Expires)"},
    {"upload-max-concurrent", OPT_COUNT, OFF(upload_max_concurrent), 1, 100000, "4",
     "uploads one user may be sending at once (429 too_many_uploads)"},
    {"upload-types", OPT_STRING, OFF(upload_types), 0, 0, "",
     "comma-separated content types an upload may declare (filetype), 'image/*' style "
     "patterns; empty: any (415 type_not_allowed)"},
    {"upload-quota-user", OPT_SIZE, OFF(upload_quota_user), 0, 1ULL << 50, "1GiB",
     "bytes of assets one user may have stored, the new upload included; 0: no limit (413 "
     "quota_exceeded)"},
    {"asset-url-ttl", OPT_DURATION, OFF(asset_url_ttl), 1000, 7 * 24 * HOUR_MS, "1h",
     "how long a signed asset URL (GET /api/assets/:id/url) works"},
    {"upload-max-incomplete", OPT_COUNT, OFF(upload_max_incomplete), 0, 1000000, "10",
     "unfinished uploads one user may have (created, not finished nor deleted nor expired); "
     "0: no limit (429 too_many_incomplete)"},
    {"upload-quota-room", OPT_SIZE, OFF(upload_quota_room), 0, 1ULL << 50, "10GiB",
     "bytes of assets and unfinished uploads one room may hold, the new upload included; 0: "
     "no limit (413 room_quota_exceeded)"},
    {"blob-gc-grace", OPT_DURATION, OFF(blob_gc_grace), 1000, 365 * 24 * HOUR_MS, "24h",
     "a blob no asset names is removed once untouched this long (keep it at least "
     "--upload-expiry)"},
    GROUP("cluster (several nodes over Redis and PostgreSQL)"),
    {"cluster", OPT_STRING, OFF(cluster), 0, 0, "",
     "join the cluster whose bus is this Redis: redis://host:port[/db] (needs a PostgreSQL "
     "--store; empty: one node)"},
    {"cluster-node-ttl", OPT_DURATION, OFF(cluster_node_ttl), 300, 10 * 60000, "6s",
     "a node's heartbeat key expires this long after its last renewal (renewed every third "
     "of it); a node silent this long is gone"},
    {"cluster-lease", OPT_DURATION, OFF(cluster_lease), 300, 10 * 60000, "5s",
     "a room's home holds its lease this long after its last renewal (renewed every third "
     "of it); a home silent this long loses its rooms"},
    {"cluster-op-timeout", OPT_DURATION, OFF(cluster_op_timeout), 100, 10 * 60000, "5s",
     "an op sent to its room's home on another node and not answered within this is "
     "answered unavailable"},
    {"cluster-max-inflight", OPT_COUNT, OFF(cluster_max_inflight), 1, 10000000, "10000",
     "ops this node has on their way to other nodes at most (more: unavailable)"},
    {"cluster-max-bus-message", OPT_SIZE, OFF(cluster_max_bus_message), 4 * KiB, 16 * MiB,
     "16MiB", "one message between nodes at most (a larger event reaches no other node)"},
    GROUP("calls (WebRTC signaling; docs/webrtc.md)"),
    {"rtc-max-members", OPT_COUNT, OFF(rtc_max_members), 1, 100000, "50",
     "connections in one room's call (call_full)"},
    {"rtc-mesh-max", OPT_COUNT, OFF(rtc_mesh_max), 1, 100000, "6",
     "the largest call kept peer to peer when an SFU is configured (larger: the SFU)"},
    {"rtc-max-signal", OPT_SIZE, OFF(rtc_max_signal), 64, 1 * MiB, "16KiB",
     "one rtc_signal's data, JSON-encoded (payload_too_large)"},
    {"rtc-signal-rate", OPT_COUNT, OFF(rtc_signal_rate), 1, 100000, "50",
     "rtc_signal ops one call member may send per second, four seconds' worth at once "
     "(rate_limited)"},
    {"stun-urls", OPT_STRING, OFF(stun_urls), 0, 0, "",
     "comma-separated STUN URLs given to calls (stun:host:port; empty: none)"},
    {"turn-urls", OPT_STRING, OFF(turn_urls), 0, 0, "",
     "comma-separated TURN URLs given to calls with fresh credentials (turn:host:port, "
     "turns:...; needs a TURN secret; empty: none)"},
    {"turn-secret", OPT_STRING, OFF(turn_secret), 0, 0, "",
     "the TURN server's static-auth-secret (coturn use-auth-secret); never logged"},
    {"turn-secret-file", OPT_STRING, OFF(turn_secret_file), 0, 0, "",
     "a file holding --turn-secret (its first line), read at start instead"},
    {"turn-ttl", OPT_DURATION, OFF(turn_ttl), 60000, 30 * 24 * HOUR_MS, "24h",
     "how long a TURN credential works"},
    GROUP("calls past the mesh size: the Janus SFU"),
    {"janus-url", OPT_STRING, OFF(janus_url), 0, 0, "",
     "Janus API over HTTP, e.g. http://127.0.0.1:8088/janus (empty: no SFU, calls stay mesh)"},
    {"janus-admin-url", OPT_STRING, OFF(janus_admin_url), 0, 0, "",
     "Janus admin API, e.g. http://127.0.0.1:7088/admin (adds and removes the call tokens)"},
    {"janus-admin-secret", OPT_STRING, OFF(janus_admin_secret), 0, 0, "",
     "Janus's admin_secret (prefer --janus-admin-secret-file)"},
    {"janus-admin-secret-file", OPT_PATH, OFF(janus_admin_secret_file), 0, 0, "",
     "file holding Janus's admin_secret (read at start; overrides --janus-admin-secret)"},
    {"janus-room-bitrate", OPT_COUNT, OFF(janus_room_bitrate), 0, 100000000, "512000",
     "bits/s one publisher may send into a Janus room (0: Janus's default)"},
    {"janus-timeout", OPT_DURATION, OFF(janus_timeout), 10, HOUR_MS, "5s",
     "time Janus has to answer a request (sfu_unavailable beyond)"},
    {"janus-max-inflight", OPT_COUNT, OFF(janus_max_inflight), 1, 100000, "256",
     "requests to Janus in flight at once (sfu_unavailable beyond)"},
};

void config_defaults(chorus_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen_host = ch_strdup("127.0.0.1");
    cfg->listen_port = 8080;
    cfg->data_dir = ch_strdup("./var");
    cfg->store = ch_strdup("");
    cfg->web_dir = ch_strdup("./web");
    cfg->log_level = LOG_INFO;
    cfg->log_format = LOG_TEXT;
    cfg->io_uring = 1;
    cfg->max_connections = 10000;
    cfg->max_connections_per_ip = 100;
    cfg->max_connections_ipv6_prefix = 64;
    cfg->http_max_header = 16 * KiB;
    cfg->http_max_body = 1 * MiB;
    cfg->http_header_timeout = 10000;
    cfg->http_idle_timeout = 60000;
    cfg->http_request_timeout = 30000;
    cfg->http_body_min_rate = 1 * KiB;
    cfg->http_max_queue = 64 * KiB;
    cfg->ws_max_message = 1 * MiB;
    cfg->ws_max_queue = 4 * MiB;
    cfg->ws_max_reply = 1 * MiB;
    cfg->ws_ping_interval = 30000;
    cfg->ws_pong_timeout = 10000;
    cfg->ws_stall_timeout = 30000;
    cfg->ws_rate = 1000;
    cfg->ws_burst = 2000;
    cfg->ws_flood_close = 500;
    cfg->ws_max_rooms = 64;
    cfg->ws_max_docs = 32;
    cfg->shutdown_timeout = 5000;
    cfg->tls_cert = ch_strdup("");
    cfg->tls_key = ch_strdup("");
    cfg->tls_ciphers = ch_strdup("");
    cfg->jwt_secret = ch_strdup("");
    cfg->jwt_alg = ch_strdup("HS256");
    cfg->jwt_public_key = ch_strdup("");
    cfg->jwt_private_key = ch_strdup("");
    cfg->jwt_ttl = 24 * HOUR_MS;
    cfg->jwt_leeway = 0;
    cfg->revocations_max = 100000;
    cfg->auth_timeout = 10000;
    cfg->token_grace = 30000;
    cfg->password_ops = 2;
    cfg->password_memory = 64 * MiB;
    cfg->rate_auth = (config_rate_t){100, 15 * 60000};
    cfg->rate_api_ip = (config_rate_t){6000, 60000};
    cfg->rate_api_user = (config_rate_t){1200, 60000};
    cfg->rate_server_key = (config_rate_t){6000, 60000};
    cfg->rate_room_miss_user = (config_rate_t){20, 60000};
    cfg->rate_room_miss_ip = (config_rate_t){100, 60000};
    cfg->rate_login_account = (config_rate_t){10, 10 * 60000};
    cfg->rate_ws_auth = (config_rate_t){30, 60000};
    cfg->audit_window = 60000;
    cfg->audit_max_sources = 10000;
    cfg->audit_retention = 90 * 24 * HOUR_MS;
    int rc = net_cidr_list_parse("127.0.0.0/8,::1", &cfg->metrics_allow, &cfg->nmetrics_allow);
    CH_ASSERT(rc == 0);
    cfg->public_url = ch_strdup("http://127.0.0.1:8080");
    cfg->admins = ch_strdup("");
    cfg->metrics_token = ch_strdup("");
    cfg->admin_errors = 100;
    cfg->admin_list_max = 200;
    cfg->room_max_capacity = 50;
    cfg->room_max_hosted = 5;
    cfg->room_max_bans = 1000;
    cfg->room_join_history = 50;
    cfg->room_large = 100;
    cfg->room_large_tick = 100;
    cfg->room_join_participants = 100;
    cfg->room_changed_max = 100;
    cfg->room_large_rate = 50000;
    cfg->room_presence_subscribe_max = 256;
    cfg->upload_max_size = 20 * GiB;
    cfg->upload_expiry = 24 * HOUR_MS;
    cfg->upload_max_concurrent = 4;
    cfg->asset_url_ttl = HOUR_MS;
    cfg->rtc_max_members = 50;
    cfg->rtc_mesh_max = 6;
    cfg->rtc_max_signal = 16 * KiB;
    cfg->rtc_signal_rate = 50;
    cfg->stun_urls = ch_strdup("");
    cfg->turn_urls = ch_strdup("");
    cfg->turn_secret = ch_strdup("");
    cfg->turn_secret_file = ch_strdup("");
    cfg->turn_ttl = 24 * HOUR_MS;
    cfg->upload_quota_user = GiB;
    cfg->upload_max_incomplete = 10;
    cfg->upload_quota_room = 10 * GiB;
    cfg->blob_gc_grace = 24 * HOUR_MS;
    cfg->cluster = ch_strdup("");
    cfg->cluster_node_ttl = 6000;
    cfg->cluster_lease = 5000;
    cfg->cluster_op_timeout = 5000;
    cfg->cluster_max_inflight = 10000;
    cfg->cluster_max_bus_message = 16 * MiB;
    cfg->upload_types = ch_strdup("");
    cfg->room_max_message = 16 * KiB;
    cfg->room_max_metadata = 4 * KiB;
    cfg->room_max_broadcast = 64 * KiB;
    cfg->room_max_state = 64 * KiB;
    cfg->room_seat_grace = 60000;
    cfg->room_idle = 24 * HOUR_MS;
    cfg->room_sweep = HOUR_MS;
    cfg->room_quota = 128 * MiB;
    cfg->user_quota = 512 * MiB;
    cfg->message_retention = 0;
    cfg->message_retention_count = 0;
    cfg->doc_log_retention = 0;
    cfg->history_retention = 0;
    cfg->history_retention_count = 10000;
    cfg->retention_sweep = 10 * 60000;
    cfg->activity_edit_idle = 60000;
    cfg->activity_retention = 2160 * HOUR_MS;
    cfg->activity_max_rows = 10000;
    cfg->presence_rate = 20;
    cfg->presence_idle = 60000;
    cfg->presence_typing = 5000;
    cfg->presence_max = 2 * KiB;
    cfg->doc_max_size = 1 * MiB;
    cfg->doc_max_op = 256 * KiB;
    cfg->doc_max_components = 10000;
    cfg->doc_log_window = 1000;
    cfg->doc_log_max_bytes = 1 * MiB;
    cfg->doc_snapshot_every = 100;
    cfg->entity_max_count = 1000;
    cfg->entity_max_bytes = 16 * KiB;
    cfg->entity_max_patch = 8 * KiB;
    cfg->entity_log_window = 1000;
    cfg->entity_lock_max_ttl = 5 * 60 * 1000;
    cfg->entity_lock_max_hold = 10 * 60 * 1000;
    cfg->entity_transient_rate = 20;
    cfg->rpc_url = ch_strdup("");
    cfg->join_hook_url = ch_strdup("");
    cfg->rpc_secret = ch_strdup("");
    cfg->rpc_timeout = 5000;
    cfg->rpc_max_data = 64 * KiB;
    cfg->rpc_max_reply = 256 * KiB;
    cfg->rpc_max_calls = 1024;
    cfg->rpc_max_calls_conn = 8;
    cfg->join_hook_fail_open = 0;
    cfg->http_client_max_active = 64;
    cfg->http_client_max_queue = 1024;
    cfg->http_client_timeout = 10000;
    cfg->http_client_connect_timeout = 5000;
    cfg->webhook_url = ch_strdup("");
    cfg->webhook_secret = ch_strdup("");
    cfg->webhook_events = ch_strdup("*");
    cfg->webhook_max_attempts = 10;
    cfg->webhook_retry_base = 1000;
    cfg->webhook_retry_max = HOUR_MS;
    cfg->webhook_max_inflight = 32;
    cfg->webhook_max_queue = 100000;
    cfg->webhook_timeout = 10000;
    cfg->webhook_poll = 1000;
    cfg->webhook_log_retention = 7 * 24 * HOUR_MS;
    cfg->webhook_doc_debounce = 5000;
    cfg->webhook_max_endpoints = 16;
    cfg->webhook_client_events = ch_strdup("");
    cfg->janus_url = ch_strdup("");
    cfg->janus_admin_url = ch_strdup("");
    cfg->janus_admin_secret = ch_strdup("");
    cfg->janus_room_bitrate = 512000;
    cfg->janus_timeout = 5000;
    cfg->janus_max_inflight = 256;
}

static void free_origins(chorus_config_t *cfg)
{
    for (size_t i = 0; i < cfg->norigins; i++) free(cfg->origins[i]);
    free(cfg->origins);
    cfg->origins = NULL;
    cfg->norigins = 0;
}

void config_free(chorus_config_t *cfg)
{
    free(cfg->listen_host);
    free(cfg->data_dir);
    free(cfg->store);
    free(cfg->cluster);
    free(cfg->web_dir);
    free(cfg->config_file);
    free(cfg->jwt_secret);
    free(cfg->jwt_alg);
    free(cfg->jwt_public_key);
    free(cfg->jwt_private_key);
    free(cfg->public_url);
    free(cfg->webhook_url);
    free(cfg->webhook_secret);
    free(cfg->webhook_events);
    free(cfg->webhook_client_events);
    free(cfg->rpc_url);
    free(cfg->join_hook_url);
    free(cfg->rpc_secret);
    free(cfg->janus_url);
    free(cfg->janus_admin_url);
    free(cfg->janus_admin_secret);
    free(cfg->janus_admin_secret_file);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->tls_ciphers);
    free(cfg->tls_redirect_host);
    free(cfg->admins);
    free(cfg->metrics_listen_host);
    free(cfg->metrics_token);
    free(cfg->upload_types);
    free(cfg->stun_urls);
    free(cfg->turn_urls);
    if (cfg->turn_secret) sodium_memzero(cfg->turn_secret, strlen(cfg->turn_secret));
    free(cfg->turn_secret);
    free(cfg->turn_secret_file);
    free_origins(cfg);
    free(cfg->trusted_proxies);
    free(cfg->metrics_allow);
    memset(cfg, 0, sizeof(*cfg));
}

/* Parses an unsigned decimal prefix; returns a pointer past it, or NULL. */
static const char *parse_u64(const char *s, uint64_t *out)
{
    if (!isdigit((unsigned char)*s)) return NULL;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return NULL;
        v = v * 10 + d;
    }
    *out = v;
    return s;
}

static int scaled(uint64_t v, uint64_t mul, uint64_t *out)
{
    if (mul && v > UINT64_MAX / mul) return -1;
    *out = v * mul;
    return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
    uint64_t v;
    const char *u = parse_u64(s, &v);
    if (!u) return -1;
    static const struct { const char *suffix; uint64_t mul; } units[] = {
        {"", 1}, {"B", 1}, {"k", KiB}, {"K", KiB}, {"KB", KiB}, {"KiB", KiB},
        {"m", MiB}, {"M", MiB}, {"MB", MiB}, {"MiB", MiB},
        {"g", GiB}, {"G", GiB}, {"GB", GiB}, {"GiB", GiB},
    };
    for (size_t i = 0; i < CH_ARRAY_LEN(units); i++)
        if (strcmp(u, units[i].suffix) == 0) return scaled(v, units[i].mul, out);
    return -1;
}

int config_parse_duration(const char *s, uint64_t *out)
{
    uint64_t v;
    const char *u = parse_u64(s, &v);
    if (!u) return -1;
    static const struct { const char *suffix; uint64_t mul; } units[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", HOUR_MS},
    };
    for (size_t i = 0; i < CH_ARRAY_LEN(units); i++)
        if (strcmp(u, units[i].suffix) == 0) return scaled(v, units[i].mul, out);
    return -1;
}

int config_parse_rate(const char *s, config_rate_t *r)
{
    uint64_t limit, window;
    const char *slash = parse_u64(s, &limit);
    if (!slash || *slash != '/' || limit == 0 || limit > 100000000) return -1;
    if (config_parse_duration(slash + 1, &window) != 0) return -1;
    if (window == 0 || window > 24 * HOUR_MS) return -1;
    r->limit = limit;
    r->window_ms = window;
    return 0;
}

/* Splits "host:port" or "[v6]:port". */
/* Parses "HOST:PORT" or "[IPv6]:PORT" into the owned string *hostp and *portp. */
static int parse_listen(char **hostp, int *portp, const char *s)
{
    const char *colon;
    char host[256];
    size_t hlen;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':') return -1;
        hlen = (size_t)(end - s - 1);
        colon = end + 1;
        s++;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return -1;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= sizeof(host)) return -1;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    uint64_t port;
    const char *end = parse_u64(colon + 1, &port);
    if (!end || *end || port > 65535) return -1;
    free(*hostp);
    *hostp = ch_strdup(host);
    *portp = (int)port;
    return 0;
}

static void set_origins(chorus_config_t *cfg, const char *list)
{
    free_origins(cfg);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        const char *start = p;
        while (*p && *p != ',') p++;
        const char *end = p;
        while (end > start && end[-1] == ' ') end--;
        if (end > start) {
            cfg->origins = ch_realloc(cfg->origins, (cfg->norigins + 1) * sizeof(char *));
            cfg->origins[cfg->norigins++] = ch_strndup(start, (size_t)(end - start));
        }
    }
}

/* The form a value of o's type takes, for error messages. */
static const char *value_form(const opt_t *o)
{
    switch (o->type) {
    case OPT_LISTEN: return "HOST:PORT or [IPv6]:PORT, port 0 to 65535";
    case OPT_PATH: return "a path";
    case OPT_STRING: return "text";
    case OPT_ALG: return "HS256, RS256 or ES256";
    case OPT_LEVEL: return "debug, info, warn or error";
    case OPT_FORMAT: return "text or json";
    case OPT_COUNT: return "a whole number";
    case OPT_SIZE: return "bytes, or a number and KiB, MiB or GiB, such as 16KiB";
    case OPT_DURATION: return "seconds, or a number and ms, s, m or h, such as 250ms or 5m";
    case OPT_RATE:
        return "COUNT/DURATION such as 100/15m; COUNT 1 to 100000000, DURATION 1ms to 24h";
    case OPT_LIST: return "a comma-separated list";
    case OPT_CIDRS: return "comma-separated addresses or CIDRs such as 10.0.0.0/8, ::1";
    case OPT_SWITCH: return "on or off";
    case OPT_GROUP: break;
    }
    return "";
}

/* Applies one textual value. Returns 0, or -1 with err set. src names where the value
 * came from and under which name ("--ws-max-message", "CHORUS_WS_MAX_MESSAGE",
 * "config FILE: ws_max_message"), for the message. */
static int apply(chorus_config_t *cfg, const opt_t *o, const char *v, const char *src,
                 char *err, size_t errlen)
{
    char *base = (char *)cfg;
    uint64_t n = 0;
    int rc = 0;
    switch (o->type) {
    case OPT_LISTEN:
        if (!*v && o->offset != OFF(listen_host)) { /* an optional listener: off */
            free(*(char **)(base + o->offset));
            *(char **)(base + o->offset) = NULL;
            break;
        }
        rc = parse_listen((char **)(void *)(base + o->offset), (int *)(void *)(base + o->min),
                          v);
        break;
    case OPT_PATH:
        if (!*v) {
            rc = -1;
            break;
        }
        free(*(char **)(base + o->offset));
        *(char **)(base + o->offset) = ch_strdup(v);
        break;
    case OPT_ALG:
        if (strcmp(v, "HS256") != 0 && strcmp(v, "RS256") != 0 && strcmp(v, "ES256") != 0) {
            rc = -1;
            break;
        }
        /* fall through */
    case OPT_STRING:
        free(*(char **)(base + o->offset));
        *(char **)(base + o->offset) = ch_strdup(v);
        break;
    case OPT_RATE:
        rc = config_parse_rate(v, (config_rate_t *)(base + o->offset));
        break;
    case OPT_LEVEL:
        rc = log_level_parse(v, (log_level_t *)(base + o->offset));
        break;
    case OPT_FORMAT:
        rc = log_format_parse(v, (log_format_t *)(base + o->offset));
        break;
    case OPT_COUNT: {
        const char *end = parse_u64(v, &n);
        rc = (end && !*end) ? 0 : -1;
        break;
    }
    case OPT_SIZE:
        rc = config_parse_size(v, &n);
        break;
    case OPT_DURATION:
        rc = config_parse_duration(v, &n);
        break;
    case OPT_LIST:
        set_origins(cfg, v);
        break;
    case OPT_CIDRS: {
        net_cidr_t *list;
        size_t nlist;
        rc = net_cidr_list_parse(v, &list, &nlist);
        if (rc == 0) {
            net_cidr_t **lp = (net_cidr_t **)(void *)(base + o->offset);
            free(*lp);
            *lp = list;
            *(size_t *)(void *)(base + o->min) = nlist;
        }
        break;
    }
    case OPT_SWITCH:
        if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
            *(uint64_t *)(base + o->offset) = 1;
        else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
            *(uint64_t *)(base + o->offset) = 0;
        else
            rc = -1;
        break;
    case OPT_GROUP:
        rc = -1;
        break;
    }
    if (rc == 0 && (o->type == OPT_COUNT || o->type == OPT_SIZE || o->type == OPT_DURATION)) {
        if (n < o->min || n > o->max) {
            snprintf(err, errlen, "%s: value '%s' is out of range [%" PRIu64 ", %" PRIu64 "]",
                     src, v, o->min, o->max);
            return -1;
        }
        *(uint64_t *)(base + o->offset) = n;
    }
    /* A store URL may hold a password: the message never echoes it. */
    if (rc == 0 && o->offset == OFF(store) && o->type == OPT_STRING && *v &&
        strncmp(v, "postgres://", 11) != 0 && strncmp(v, "postgresql://", 13) != 0) {
        snprintf(err, errlen,
                 "%s: invalid value (want a postgres:// or postgresql:// URL, or "
                 "nothing for SQLite in the data directory)",
                 src);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: invalid value '%s' (want %s)", src, v, value_form(o));
        return -1;
    }
    return 0;
}

static const opt_t *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < CH_ARRAY_LEN(options); i++)
        if (options[i].name && strlen(options[i].name) == len &&
            memcmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

/* "ws-max-message" -> "CHORUS_WS_MAX_MESSAGE" or "ws_max_message". */
static void derive_name(const char *name, char *out, size_t cap, int env)
{
    size_t o = 0;
    if (env) o = (size_t)snprintf(out, cap, "CHORUS_");
    for (; *name && o + 1 < cap; name++)
        out[o++] = *name == '-' ? '_' : (char)(env ? toupper((unsigned char)*name) : *name);
    out[o] = '\0';
}

static const char *env_get(char **envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') return *envp + n + 1;
    return NULL;
}

static int apply_file(chorus_config_t *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        f = NULL;
        errno = EISDIR;
    }
    if (!f) {
        snprintf(err, errlen, "config file %s: %s", path, strerror(errno));
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (!root) {
        /* Not jerr.text: Jansson quotes the input near the error, which may be a secret. */
        snprintf(err, errlen, "config %s:%d:%d: not valid JSON", path, jerr.line, jerr.column);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "config %s: the top level must be an object", path);
        json_decref(root);
        return -1;
    }
    int rc = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        const opt_t *o = NULL;
        char jname[64];
        for (size_t i = 0; i < CH_ARRAY_LEN(options) && !o; i++) {
            if (!options[i].name) continue;
            derive_name(options[i].name, jname, sizeof(jname), 0);
            if (strcmp(jname, key) == 0 && strcmp(key, "config") != 0) o = &options[i];
        }
        if (!o) {
            snprintf(err, errlen, "config %s: unknown key '%s'", path, key);
            rc = -1;
            break;
        }
        char num[32], *text = NULL;
        const char *v = NULL;
        if (json_is_string(val)) {
            v = json_string_value(val);
        } else if (json_is_integer(val) && json_integer_value(val) >= 0) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(val));
            v = num;
        } else if (json_is_boolean(val) && o->type == OPT_SWITCH) {
            v = json_is_true(val) ? "on" : "off";
        } else if (json_is_array(val) && (o->type == OPT_LIST || o->type == OPT_CIDRS)) {
            /* ["https://a", "https://b"] is the natural JSON spelling of a list. */
            size_t i, total = 1;
            json_t *el;
            json_array_foreach(val, i, el) {
                if (!json_is_string(el)) break;
                total += strlen(json_string_value(el)) + 1;
            }
            if (i == json_array_size(val)) {
                text = ch_calloc(1, total);
                json_array_foreach(val, i, el) {
                    if (i) strcat(text, ",");
                    strcat(text, json_string_value(el));
                }
                v = text;
            }
        }
        if (!v) {
            snprintf(err, errlen, "config %s: %s: invalid value (want %s)", path, key,
                     value_form(o));
            rc = -1;
            break;
        }
        char src[400];
        snprintf(src, sizeof(src), "config %s: %s", path, key);
        rc = apply(cfg, o, v, src, err, errlen);
        free(text);
        if (rc) break;
    }
    json_decref(root);
    return rc;
}

/* Checks a comma-separated URL list: each item, spaces around it ignored, starts with one
 * of the schemes of prefixes (NULL-terminated) and has more after it. An empty list is
 * fine. Returns 0, or -1. */
static int turn_urls_check_list(const char *list, const char *const *prefixes)
{
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        int ok = 0;
        for (size_t i = 0; prefixes[i]; i++) {
            size_t n = strlen(prefixes[i]);
            if ((size_t)(b - a) > n && strncmp(a, prefixes[i], n) == 0) ok = 1;
        }
        if (!ok) return -1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* The TURN options' rules (docs/webrtc.md): the secret from --turn-secret-file (its first
 * line) when set, never with --turn-secret; TURN URLs need a secret and a secret needs
 * them; every URL of its scheme. The secret is never copied into err. */
static int turn_options(chorus_config_t *cfg, char *err, size_t errlen)
{
    static const char *const stun[] = {"stun:", "stuns:", NULL};
    static const char *const turn[] = {"turn:", "turns:", NULL};
    if (cfg->turn_secret_file[0]) {
        if (cfg->turn_secret[0]) {
            snprintf(err, errlen, "turn-secret and turn-secret-file: want one of them");
            return -1;
        }
        FILE *f = fopen(cfg->turn_secret_file, "r");
        char line[1025];
        if (!f || !fgets(line, sizeof(line), f)) {
            snprintf(err, errlen, "turn-secret-file %s: %s", cfg->turn_secret_file,
                     f ? "empty" : strerror(errno));
            if (f) fclose(f);
            return -1;
        }
        fclose(f);
        line[strcspn(line, "\r\n")] = 0;
        free(cfg->turn_secret);
        cfg->turn_secret = ch_strdup(line);
        sodium_memzero(line, sizeof(line));
        if (!cfg->turn_secret[0]) {
            snprintf(err, errlen, "turn-secret-file %s: the first line is empty",
                     cfg->turn_secret_file);
            return -1;
        }
    }
    if (!cfg->turn_urls[0] != !cfg->turn_secret[0]) {
        snprintf(err, errlen, "turn-urls and turn-secret (or turn-secret-file) go together");
        return -1;
    }
    if (turn_urls_check_list(cfg->stun_urls, stun) ||
        turn_urls_check_list(cfg->turn_urls, turn)) {
        snprintf(err, errlen,
                 "stun-urls / turn-urls: want comma-separated stun:, stuns:, "
                 "turn: or turns: URLs");
        return -1;
    }
    return 0;
}

int config_load(chorus_config_t *cfg, int argc, char **argv, char **envp, char *err,
                size_t errlen)
{
    /* First pass over the flags: syntax, and where the config file is. */
    const char *file = env_get(envp, "CHORUS_CONFIG");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return CONFIG_EHELP;
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s'", a);
            return -1;
        }
        const char *eq = strchr(a + 2, '=');
        size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const opt_t *o = find_flag(a + 2, nlen);
        if (!o) {
            snprintf(err, errlen, "unknown option '%.*s'", (int)(nlen + 2), a);
            return -1;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "option '--%s' needs a value", o->name);
                return -1;
            }
            v = argv[++i];
        }
        if (strcmp(o->name, "config") == 0) file = v;
    }
    if (file && *file) {
        free(cfg->config_file);
        cfg->config_file = ch_strdup(file);
        if (apply_file(cfg, file, err, errlen)) return -1;
    }
    for (size_t i = 0; i < CH_ARRAY_LEN(options); i++) {
        char env[64];
        if (!options[i].name) continue;
        derive_name(options[i].name, env, sizeof(env), 1);
        const char *v = env_get(envp, env);
        if (v && strcmp(options[i].name, "config") != 0 &&
            apply(cfg, &options[i], v, env, err, errlen))
            return -1;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a + 2, '=');
        size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const opt_t *o = find_flag(a + 2, nlen);
        const char *v = eq ? eq + 1 : argv[++i];
        char src[80];
        snprintf(src, sizeof(src), "--%s", o->name);
        if (strcmp(o->name, "config") != 0 && apply(cfg, o, v, src, err, errlen)) return -1;
    }
    /* Rules between options, checked once every source applied: a usage error like a bad
     * value, not a failure to start. */
    size_t slen = strlen(cfg->jwt_secret);
    if (strcmp(cfg->jwt_alg, "HS256") == 0 && slen > 0 && slen < CONFIG_SECRET_MIN) {
        snprintf(err, errlen, "jwt-secret: %zu bytes is too short for HS256 (want at least %d "
                 "bytes, or none: one is generated into the data directory)", slen,
                 CONFIG_SECRET_MIN);
        return -1;
    }
    if (turn_options(cfg, err, errlen)) return -1;
    if (!*cfg->tls_cert != !*cfg->tls_key) {
        snprintf(err, errlen, "tls-cert and tls-key go together (want both files, or neither)");
        return -1;
    }
    size_t mt = strlen(cfg->metrics_token);
    int mt_bad = mt && (mt < 16 || mt > 256);
    for (size_t i = 0; i < mt; i++)
        if (cfg->metrics_token[i] <= ' ' || cfg->metrics_token[i] > '~') mt_bad = 1;
    if (mt_bad) {
        snprintf(err, errlen,
                 "metrics-token: want 16 to 256 printable ASCII bytes without "
                 "spaces, or none");
        return -1;
    }
    if (cfg->tls_redirect_host && !*cfg->tls_cert) {
        snprintf(err, errlen, "tls-redirect needs TLS on the listener (tls-cert, tls-key)");
        return -1;
    }
    /* A finished upload whose asset is not recorded yet (a stop at its end) gets it from the
     * client's resuming HEAD until its record expires: its blob must outlive that. */
    if (cfg->blob_gc_grace < cfg->upload_expiry) {
        snprintf(err, errlen,
                 "blob-gc-grace (%" PRIu64 " ms) must be at least upload-expiry (%" PRIu64
                 " ms)",
                 (uint64_t)cfg->blob_gc_grace, (uint64_t)cfg->upload_expiry);
        return -1;
    }
    return 0;
}

/* The options SIGHUP applies (config_reload): each is read where it is used, or rebuilt
 * from the configuration by the reload (JWT verifier, TLS context, origins). */
static const char *const reloadable[] = {
    "log-level",
    "admins", /* read on each request (api_admin_is) */
    "max-connections",
    "max-connections-per-ip",
    "http-max-header",
    "http-max-body",
    "http-header-timeout",
    "http-idle-timeout",
    "http-request-timeout",
    "http-body-min-rate",
    "http-max-queue",
    "ws-max-queue",
    "ws-ping-interval",
    "ws-pong-timeout",
    "ws-stall-timeout",
    "origins",
    "shutdown-timeout",
    "trusted-proxies",
    "metrics-allow",
    "metrics-token", /* read on each scrape */
    "jwt-secret",
    "jwt-alg",
    "jwt-public-key",
    "jwt-private-key",
    "jwt-ttl",
    "jwt-leeway",
    "tls-cert",
    "tls-key",
    "tls-ciphers",
};

static int is_reloadable(const char *name)
{
    for (size_t i = 0; i < CH_ARRAY_LEN(reloadable); i++)
        if (strcmp(reloadable[i], name) == 0) return 1;
    return 0;
}

static int str_differs(const char *a, const char *b)
{
    if (!a || !b) return a != b;
    return strcmp(a, b) != 0;
}

/* 1 when o's value differs between a and b. */
static int opt_differs(const opt_t *o, const chorus_config_t *a, const chorus_config_t *b)
{
    const char *pa = (const char *)a, *pb = (const char *)b;
    switch (o->type) {
    case OPT_LISTEN:
        return str_differs(*(char *const *)(const void *)(pa + o->offset),
                           *(char *const *)(const void *)(pb + o->offset)) ||
               *(const int *)(const void *)(pa + o->min) !=
                   *(const int *)(const void *)(pb + o->min);
    case OPT_PATH:
    case OPT_STRING:
    case OPT_ALG:
        return str_differs(*(char *const *)(const void *)(pa + o->offset),
                           *(char *const *)(const void *)(pb + o->offset));
    case OPT_LEVEL:
        return a->log_level != b->log_level;
    case OPT_FORMAT:
        return a->log_format != b->log_format;
    case OPT_COUNT:
    case OPT_SIZE:
    case OPT_DURATION:
    case OPT_SWITCH:
        return *(const uint64_t *)(const void *)(pa + o->offset) !=
               *(const uint64_t *)(const void *)(pb + o->offset);
    case OPT_RATE:
        return memcmp(pa + o->offset, pb + o->offset, sizeof(config_rate_t)) != 0;
    case OPT_LIST: {
        if (a->norigins != b->norigins) return 1;
        for (size_t i = 0; i < a->norigins; i++)
            if (strcmp(a->origins[i], b->origins[i]) != 0) return 1;
        return 0;
    }
    case OPT_CIDRS: {
        size_t na = *(const size_t *)(const void *)(pa + o->min);
        size_t nb = *(const size_t *)(const void *)(pb + o->min);
        const void *la = *(void *const *)(const void *)(pa + o->offset);
        const void *lb = *(void *const *)(const void *)(pb + o->offset);
        return na != nb || (na && memcmp(la, lb, na * sizeof(net_cidr_t)) != 0);
    }
    case OPT_GROUP:
        break;
    }
    return 0;
}

/* Swaps o's value between a and b (strings and lists change owner with it). */
static void opt_swap(const opt_t *o, chorus_config_t *a, chorus_config_t *b)
{
    char *pa = (char *)a, *pb = (char *)b, tmp[sizeof(config_rate_t)];
    size_t n = 0;
    switch (o->type) {
    case OPT_LISTEN:
    case OPT_PATH:
    case OPT_STRING:
    case OPT_ALG:
    case OPT_CIDRS:
        n = sizeof(char *);
        break;
    case OPT_LEVEL:
        n = sizeof(a->log_level);
        break;
    case OPT_FORMAT:
        n = sizeof(a->log_format);
        break;
    case OPT_COUNT:
    case OPT_SIZE:
    case OPT_DURATION:
    case OPT_SWITCH:
        n = sizeof(uint64_t);
        break;
    case OPT_RATE:
        n = sizeof(config_rate_t);
        break;
    case OPT_LIST: {
        char **l = a->origins;
        size_t k = a->norigins;
        a->origins = b->origins;
        a->norigins = b->norigins;
        b->origins = l;
        b->norigins = k;
        return;
    }
    case OPT_GROUP:
        return;
    }
    memcpy(tmp, pa + o->offset, n);
    memcpy(pa + o->offset, pb + o->offset, n);
    memcpy(pb + o->offset, tmp, n);
    if (o->type == OPT_CIDRS) { /* and the count */
        size_t k = *(size_t *)(void *)(pa + o->min);
        *(size_t *)(void *)(pa + o->min) = *(size_t *)(void *)(pb + o->min);
        *(size_t *)(void *)(pb + o->min) = k;
    }
}

/* Appends name to the comma-separated list in out (whole names only: one that does not fit
 * ends the list, and *o becomes cap so nothing follows). */
static void name_append(char *out, size_t cap, size_t *o, const char *name)
{
    if (!cap || *o + 1 >= cap) return;
    int w = snprintf(out + *o, cap - *o, "%s%s", *o ? "," : "", name);
    if (w > 0 && (size_t)w < cap - *o) {
        *o += (size_t)w;
    } else {
        out[*o] = '\0';
        *o = cap;
    }
}

int config_reload(chorus_config_t *live, chorus_config_t *fresh, char *applied, size_t acap,
                  char *restart, size_t cap)
{
    int n = 0;
    size_t o = 0, a = 0;
    if (cap) restart[0] = '\0';
    if (acap) applied[0] = '\0';
    for (size_t i = 0; i < CH_ARRAY_LEN(options); i++) {
        const opt_t *opt = &options[i];
        if (!opt->name || strcmp(opt->name, "config") == 0 || !opt_differs(opt, live, fresh))
            continue;
        if (is_reloadable(opt->name)) {
            opt_swap(opt, live, fresh);
            name_append(applied, acap, &a, opt->name);
            n++;
        } else {
            name_append(restart, cap, &o, opt->name);
        }
    }
    return n;
}

/* The placeholder --help shows after o's flag. */
static const char *value_name(const opt_t *o)
{
    switch (o->type) {
    case OPT_LISTEN: return "HOST:PORT";
    case OPT_PATH: return "PATH";
    case OPT_STRING: return "TEXT";
    case OPT_ALG: return "ALG";
    case OPT_LEVEL: return "LEVEL";
    case OPT_FORMAT: return "FORMAT";
    case OPT_COUNT: return "N";
    case OPT_SIZE: return "SIZE";
    case OPT_DURATION: return "DURATION";
    case OPT_RATE: return "COUNT/DURATION";
    case OPT_LIST: return "LIST";
    case OPT_CIDRS: return "CIDRS";
    case OPT_SWITCH: return "on|off";
    case OPT_GROUP: break;
    }
    return "";
}

#define USAGE_WIDTH 99 /* columns of a --help line, at most */
#define USAGE_INDENT 34 /* where the description column starts */

/* Prints text word-wrapped from column col to USAGE_WIDTH, continuation lines indented
 * to USAGE_INDENT, then a newline. */
static void print_wrapped(FILE *out, size_t col, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t w = strcspn(p, " ");
        if (col > USAGE_INDENT && col + 1 + w > USAGE_WIDTH) {
            fprintf(out, "\n%*s", USAGE_INDENT, "");
            col = USAGE_INDENT;
        } else if (col > USAGE_INDENT) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, w, out);
        col += w;
        p += w;
        while (*p == ' ') p++;
    }
    fputc('\n', out);
}

uint64_t config_reply_budget(const chorus_config_t *cfg)
{
    uint64_t quarter = cfg->ws_max_queue / 4;
    return cfg->ws_max_reply < quarter ? cfg->ws_max_reply : quarter;
}

void config_print_usage(FILE *out)
{
    fprintf(out,
            "Every option is a flag (--ws-max-message 2MiB or --ws-max-message=2MiB), an\n"
            "environment variable (CHORUS_WS_MAX_MESSAGE=2MiB) and a key of the JSON config\n"
            "file ({\"ws_max_message\": \"2MiB\"}). Flags beat environment variables,\n"
            "which beat the config file, which beats the defaults (in brackets).\n");
    for (size_t i = 0; i < CH_ARRAY_LEN(options); i++) {
        const opt_t *o = &options[i];
        if (!o->name) {
            fprintf(out, "\n%s:\n", o->help);
            continue;
        }
        char flag[80], text[400];
        int n = snprintf(flag, sizeof(flag), "  --%s %s", o->name, value_name(o));
        if (*o->def) snprintf(text, sizeof(text), "%s [%s]", o->help, o->def);
        else snprintf(text, sizeof(text), "%s", o->help);
        if (n > USAGE_INDENT - 1) {
            fprintf(out, "%s\n%*s", flag, USAGE_INDENT, "");
        } else {
            fprintf(out, "%-*s", USAGE_INDENT, flag);
        }
        print_wrapped(out, USAGE_INDENT, text);
    }
    fprintf(out, "\nSIZE: %s.\nDURATION: %s.\n", value_form(&(opt_t){.type = OPT_SIZE}),
            value_form(&(opt_t){.type = OPT_DURATION}));
}
