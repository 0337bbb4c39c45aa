/* store_sqlite.c: the SQLite store backend: schema migrations, cached statements, requests. */
#include "store/store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store_sqlite_dump.h"
#include "util/mem.h"

/* Migration n (1-based) brings the schema from version n-1 to n. Append only: a released
 * migration is never edited, since databases in the field already ran it. Each runs in its
 * own transaction together with its version bump, so a crash leaves a whole version. */
static const char *const sq_migrations[] = {
    /* 1: accounts. email is stored lower-cased by the caller, so UNIQUE is enough. */
    "CREATE TABLE users("
    " id TEXT PRIMARY KEY,"
    " email TEXT NOT NULL UNIQUE,"
    " username TEXT NOT NULL,"
    " color TEXT NOT NULL,"
    " password_hash TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);",
    /* 2: the security audit trail, read by time range. */
    "CREATE TABLE audit("
    " id INTEGER PRIMARY KEY,"
    " at INTEGER NOT NULL,"
    " event TEXT NOT NULL,"
    " user_id TEXT,"
    " ip TEXT,"
    " detail TEXT);"
    "CREATE INDEX audit_at ON audit(at);",
    /* 3: rooms, their participants and their chat history. Deleting a room deletes the
     * rest through ON DELETE CASCADE (the connection runs with foreign_keys=ON; open
     * checks it). UNIQUE(room_id, seq) is also the index pages and cascades use. */
    "CREATE TABLE rooms("
    " id TEXT PRIMARY KEY,"
    " code TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " host_id TEXT NOT NULL,"
    " capacity INTEGER NOT NULL,"
    " is_public INTEGER NOT NULL,"
    " state TEXT NOT NULL,"
    " state_version INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " last_activity INTEGER NOT NULL);"
    "CREATE INDEX rooms_host_id ON rooms(host_id);"
    "CREATE TABLE room_participants("
    " room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
    " user_id TEXT NOT NULL,"
    " display_name TEXT NOT NULL,"
    " color TEXT NOT NULL,"
    " role INTEGER NOT NULL,"
    " banned INTEGER NOT NULL DEFAULT 0,"
    " joined_at INTEGER NOT NULL,"
    " PRIMARY KEY(room_id, user_id));"
    "CREATE INDEX room_participants_user_id ON room_participants(user_id);"
    "CREATE TABLE room_messages("
    " id TEXT PRIMARY KEY,"
    " room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " user_id TEXT,"
    " display_name TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " content TEXT NOT NULL,"
    " metadata TEXT,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE(room_id, seq));",
    /* 4: collaborative documents: the latest snapshot of each, and the op log (kept
     * whole: ops before the snapshot are the history). Both are keyed and read by their
     * primary key, so WITHOUT ROWID stores the rows in that key's b-tree and needs no
     * second index; its room_id prefix also serves the cascade of a room delete. An op
     * does not need a documents row: a document gets one with its first snapshot. */
    "CREATE TABLE documents("
    " room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
    " doc_id TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " snapshot TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(room_id, doc_id)) WITHOUT ROWID;"
    "CREATE TABLE doc_ops("
    " room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
    " doc_id TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " delta TEXT NOT NULL,"
    " author TEXT NOT NULL,"
    " op_id TEXT,"
    " created_at INTEGER NOT NULL,"
    " PRIMARY KEY(room_id, doc_id, version)) WITHOUT ROWID;",
    /* 5: entities, the shared scene state of a room: the latest value of each (their
     * change history is not kept). The room's state_version is the version of the
     * room's last state or entity change. */
    "CREATE TABLE entities("
    " room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
    " id TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " owner TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " state_version INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(room_id, id)) WITHOUT ROWID;",
    /* 6: an entity may be changed by its owner and the room's host only (ownerOnly). */
    "ALTER TABLE entities ADD COLUMN owner_only INTEGER NOT NULL DEFAULT 0;",
    /* 7: a row may stand for several repeats of one failure from one source. */
    "ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;",
    /* 8: token revocation: a per-user epoch carried by tokens ("ep"), and the revoked
     * tokens (kind 0, by jti) and user epochs (kind 1) kept until no token they refuse
     * can still be valid. */
    "ALTER TABLE users ADD COLUMN token_epoch INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE revocations("
    " kind INTEGER NOT NULL,"
    " id TEXT NOT NULL,"
    " epoch INTEGER NOT NULL,"
    " until INTEGER NOT NULL,"
    " PRIMARY KEY(kind, id)) WITHOUT ROWID;"
    "CREATE INDEX revocations_until ON revocations(until);",
    /* 9 (BA, issue 21): the API keys of app backends: the SHA-256 of each secret, never
     * the secret; revoked_at 0 while the key is live. */
    "CREATE TABLE api_keys("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " secret_hash TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " revoked_at INTEGER NOT NULL DEFAULT 0);",
    /* 10 (BA, issue 21): a message an app backend posted through the server API. */
    "ALTER TABLE room_messages ADD COLUMN app INTEGER NOT NULL DEFAULT 0;",
    /* 11 (BH, issue 21, webhooks): the webhook delivery queue and its log, in one table:
     * a delivery is pending (state 0), delivered (1) or dead-lettered (2). seq is the
     * queue's order; the room_id is no foreign key, since a room's deletion is itself
     * delivered after the room is gone. */
    "CREATE TABLE webhook_deliveries("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " endpoint TEXT NOT NULL,"
    " room_id TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " state INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL,"
    " next_at INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " last_status INTEGER NOT NULL,"
    " last_error TEXT NOT NULL);"
    "CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(endpoint, room_id, seq)"
    " WHERE state = 0;"
    "CREATE INDEX webhook_deliveries_done ON webhook_deliveries(updated_at) WHERE state <> 0;",
    /* 12 (AST, issue 23, assets): a finished upload, naming its blob by SHA-256 (several
     * assets may share one), in a room or (room_id NULL) its uploader's own. Deleting the
     * room deletes its assets; the blobs stay until the collector finds them
     * unreferenced. */
    "CREATE TABLE assets("
    " id TEXT PRIMARY KEY,"
    " room_id TEXT REFERENCES rooms(id) ON DELETE CASCADE,"
    " uploader TEXT NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX assets_room ON assets(room_id, created_at, id);"
    "CREATE INDEX assets_sha256 ON assets(sha256);"
    "CREATE INDEX assets_uploader ON assets(uploader);",
    /* 13 (WH, issue 21): webhook
     * endpoints registered through the server API, each with its own URL, secret and
     * event filter; deliveries name them by id. */
    "CREATE TABLE webhook_endpoints("
    " id TEXT PRIMARY KEY,"
    " url TEXT NOT NULL,"
    " secret TEXT NOT NULL,"
    " events TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX webhook_deliveries_log ON webhook_deliveries(endpoint, seq);",
    /* 14 (ACT, issue 25, the activity stream): what people did in a room, a row per
     * change or per debounced burst; seq numbers a room's rows from 1 (1 + its highest,
     * which retention never deletes). Pages and the sweep read it by (room_id, seq);
     * deleting the room deletes its rows. */
    "CREATE TABLE activity("
    " room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " at INTEGER NOT NULL,"
    " user_id TEXT NOT NULL,"
    " display_name TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " PRIMARY KEY(room_id, seq)) WITHOUT ROWID;",
    /* 15 (AST, issue 23): an unfinished upload's
     * reservation of its Upload-Length against its uploader's (and its room's) quota,
     * from its creation until it becomes an asset (the same id), is deleted or expires.
     * room_id is no foreign key: a room deleted meanwhile leaves the upload no asset. */
    "CREATE TABLE uploads("
    " id TEXT PRIMARY KEY,"
    " owner TEXT NOT NULL,"
    " room_id TEXT,"
    " length INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX uploads_owner ON uploads(owner);"
    "CREATE INDEX uploads_room ON uploads(room_id);",
    /* 16 (TT, issue 25, time travel): the room's change log. One row per stored change of
     * the room's state (entity_id '', change 0) or of an entity (change 1: the entity as
     * written, 2: its deletion) at its state version; compaction keeps each key's latest change
     * at or below the base version (state_log_base), so the base stays rebuildable. A room that
     * predates the log starts it at its current version and entities. */
    "CREATE TABLE state_log("
    " room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
    " version INTEGER NOT NULL,"
    " entity_id TEXT NOT NULL,"
    " change INTEGER NOT NULL,"
    " at INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " owner TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " ent_version INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " owner_only INTEGER NOT NULL,"
    " PRIMARY KEY(room_id, version, entity_id)) WITHOUT ROWID;"
    "CREATE INDEX state_log_key ON state_log(room_id, entity_id, version);"
    "CREATE INDEX state_log_at ON state_log(room_id, at);"
    "CREATE TABLE state_log_base("
    " room_id TEXT PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,"
    " version INTEGER NOT NULL,"
    " at INTEGER NOT NULL);"
    "INSERT INTO state_log_base SELECT id, state_version, last_activity FROM rooms;"
    "INSERT INTO state_log SELECT id, state_version, '', 0, last_activity, '', '', state,"
    " 0, created_at, 0 FROM rooms;"
    "INSERT INTO state_log SELECT room_id, state_version, id, 1, updated_at, kind, owner,"
    " data, version, created_at, owner_only FROM entities;",
    /* 17 (ASTS, issue 23, asset versions): an asset id names successive contents. Each
     * version is a row of assets (its id the upload's): asset_id is the asset's stable
     * id (its first version's id), version counts from 1, current marks the newest (the
     * one lists and reads show). An existing asset is its own first version. */
    "ALTER TABLE assets ADD COLUMN asset_id TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE assets ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE assets ADD COLUMN current INTEGER NOT NULL DEFAULT 1;"
    "UPDATE assets SET asset_id = id;"
    "CREATE UNIQUE INDEX assets_versions ON assets(asset_id, version);",
    /* 18 (IDEM, issue 19): a message's client id, the sender's own name for it, so that a
     * message sent again (its acknowledgement lost with the connection) is found and not
     * stored twice: unique per room and user (the server's messages have neither). */
    "ALTER TABLE room_messages ADD COLUMN client_id TEXT;"
    "CREATE UNIQUE INDEX room_messages_client ON room_messages(room_id, user_id, client_id)"
    " WHERE client_id IS NOT NULL;",
    /* 19 (issue 19, fencing): PostgreSQL's rooms.epoch (store.h, "Fencing"), which one
     * process never needs: nothing changes here, the version only keeps step. */
    "SELECT 1;",
    /* 20 (issue 19): PostgreSQL's quota_leases, a cluster's allowances of users' quotas
     * (store.h, STORE_QUOTA_RESERVE): nothing here either. */
    "SELECT 1;",
    /* 21 (issue 19, takeover): PostgreSQL's rooms.changes (store.h, "Fencing"), as 19 and 20. */
    "SELECT 1;",
};
_Static_assert(CH_ARRAY_LEN(sq_migrations) == STORE_SQLITE_SCHEMA_VERSION,
               "STORE_SQLITE_SCHEMA_VERSION must equal the number of migrations");

/* Statements prepared once at open and reused for the connection's life. */
enum {
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_SAVEPOINT,
    SQ_RELEASE,
    SQ_ROLLBACK_TO,
    SQ_USER_INSERT,
    SQ_USER_BY_EMAIL,
    SQ_USER_BY_ID,
    SQ_USER_UPDATE,
    SQ_AUDIT_INSERT,
    SQ_AUDIT_PRUNE,
    SQ_AUDIT_RECENT,
    SQ_USER_DELETE,
    SQ_REVOKE_UPSERT,
    SQ_REVOKE_LOAD,
    SQ_REVOKE_PRUNE,
    SQ_ROOM_INSERT,
    SQ_ROOMS_HOSTED,
    SQ_ROOM_UPDATE,
    SQ_ROOM_EXISTS,
    SQ_ROOM_DELETE,
    SQ_PART_UPSERT,
    SQ_PART_DELETE,
    SQ_MSG_INSERT,
    SQ_ROOM_TOUCH,
    SQ_MSGS_DESC,
    SQ_MSGS_ASC,
    SQ_MSG_BY_CLIENT,
    SQ_ROOMS_ALL,
    SQ_PARTS_ALL,
    SQ_PARTS_OF_USER,
    SQ_ROOM_ONE,
    SQ_PARTS_ROOM,
    SQ_ENTS_ROOM,
    SQ_DOC_SELECT,
    SQ_DOC_UPSERT,
    SQ_DOC_NEXT,
    SQ_DOC_OP_INSERT,
    SQ_DOC_OPS,
    SQ_ENT_UPSERT,
    SQ_ENT_DELETE,
    SQ_ENT_ROOM_VERSION,
    SQ_ENTS_ALL,
    SQ_USAGE_ALL,
    SQ_USAGE_ROOM,
    SQ_RET_ROOMS,
    SQ_RET_MSG_MAX,
    SQ_RET_MSGS,
    SQ_RET_MSG_DELETE,
    SQ_RET_DOCS,
    SQ_RET_OPS,
    SQ_RET_OPS_DELETE,
    SQ_APIKEY_INSERT,
    SQ_APIKEY_GET,
    SQ_APIKEY_LIST,
    SQ_APIKEY_REVOKE,
    SQ_HOOK_INSERT,
    SQ_HOOK_DUE,
    SQ_HOOK_PENDING,
    SQ_HOOK_UPDATE,
    SQ_HOOK_LOG,
    SQ_HOOK_PRUNE,
    SQ_HOOK_RETRY,
    SQ_HOOK_GET,
    SQ_HOOK_EP_INSERT,
    SQ_HOOK_EP_LIST,
    SQ_HOOK_EP_DELETE,
    SQ_HOOK_EP_DEAD,
    SQ_ASSET_INSERT,
    SQ_ASSET_GET,
    SQ_ASSET_LIST,
    SQ_ASSET_DELETE,
    SQ_ASSET_READABLE,
    SQ_ASSET_USAGE,
    SQ_ASSET_HASH_USED,
    SQ_ASSET_TAKEN,
    SQ_ASSET_CURRENT,
    SQ_ASSET_SUPERSEDE,
    SQ_ASSET_VERSIONS,
    SQ_ACT_NEXT,
    SQ_ACT_INSERT,
    SQ_ACT_PAGE,
    SQ_RET_ACT_MAX,
    SQ_RET_ACTS,
    SQ_RET_ACT_DELETE,
    SQ_UPLOAD_HELD,
    SQ_UPLOAD_INSERT,
    SQ_UPLOAD_DELETE,
    SQ_UPLOAD_OLD,
    SQ_LOG_INSERT,
    SQ_LOG_BASE_INSERT,
    SQ_LOG_BASE,
    SQ_LOG_VERSION,
    SQ_LOG_AT_TIME,
    SQ_LOG_STATE,
    SQ_LOG_ENTS,
    SQ_RET_LOG_RULES,
    SQ_RET_LOG_BASE,
    SQ_RET_LOG_DELETE,
    SQ_LOG_DOCS,
    SQ_LOG_DOC_BOUNDS,
    SQ_LOG_DOC_FLOOR,
    SQ_STMT_MAX
};

#define SQ_USER_COLUMNS                                                                        \
    "id, email, username, color, password_hash, created_at, updated_at, token_epoch"
#define SQ_ROOM_COLUMNS                                                                        \
    "id, code, name, host_id, capacity, is_public, state, state_version, created_at,"          \
    " last_activity"
#define SQ_PART_COLUMNS "room_id, user_id, display_name, color, role, banned, joined_at"
#define SQ_MSG_COLUMNS                                                                         \
    "id, room_id, seq, user_id, display_name, type, content, metadata, created_at, app,"       \
    " client_id"
#define SQ_OP_COLUMNS "room_id, doc_id, version, delta, author, op_id, created_at"
#define SQ_ENT_COLUMNS                                                                         \
    "room_id, id, kind, owner, data, version, state_version, created_at, updated_at, "         \
    "owner_only"
#define SQ_APIKEY_COLUMNS "id, name, secret_hash, created_at, revoked_at"

/* What each stored row counts for quotas (store.h: STORE_ROW_BYTES plus its payload, in
 * bytes: length() of a BLOB cast, since length() of TEXT counts characters). The loop
 * counts the same way when it writes (rooms.c, docs.c, entities.c). */
#define SQ_ROW_BYTES "64" /* STORE_ROW_BYTES */
#define SQ_LEN(col) "length(CAST(" col " AS BLOB))"
#define SQ_MSG_BYTES                                                                           \
    "(" SQ_ROW_BYTES " + " SQ_LEN("content") " + coalesce(" SQ_LEN("metadata") ", 0))"
#define SQ_OP_BYTES "(" SQ_ROW_BYTES " + " SQ_LEN("delta") ")"
/* Bytes per room and author: every table that holds what a room's users wrote. The room
 * state counts for the host, snapshots for nobody (the room only). */
#define SQ_USAGE(where_room, where_id)                                                         \
    "SELECT room_id, user_id, sum(b) FROM ("                                                   \
    " SELECT room_id, coalesce(user_id, '') AS user_id, " SQ_MSG_BYTES " AS b"                 \
    "  FROM room_messages WHERE " where_room                                                   \
    " UNION ALL SELECT room_id, author, " SQ_OP_BYTES " FROM doc_ops WHERE " where_room        \
    " UNION ALL SELECT room_id, '', " SQ_LEN("snapshot") " FROM documents WHERE " where_room   \
    " UNION ALL SELECT room_id, owner, " SQ_ROW_BYTES " + " SQ_LEN("data")                     \
    "  FROM entities WHERE " where_room                                                        \
    " UNION ALL SELECT id, host_id, " SQ_LEN("state") " FROM rooms WHERE " where_id            \
    ") GROUP BY room_id, user_id"

#define SQ_HOOK_COLUMNS                                                                        \
    "seq, id, endpoint, room_id, type, body, state, attempts, next_at, created_at,"            \
    " updated_at, last_status, last_error"

#define SQ_ASSET_COLUMNS "id, room_id, uploader, sha256, size, name, type, created_at"
/* A row read back: the columns, its asset's id and version, and the asset's owner (its
 * first version's uploader), from assets a. */
#define SQ_ASSET_SELECT                                                                        \
    SQ_ASSET_COLUMNS ", asset_id, version, coalesce((SELECT f.uploader FROM assets f"          \
                     " WHERE f.id = a.asset_id), uploader)"

#define SQ_LOG_COLUMNS                                                                         \
    "room_id, version, entity_id, change, at, kind, owner, data, ent_version, created_at,"     \
    " owner_only"
/* The latest change of each key (an entity, or '' the room's state) at or below a version:
 * the room at that version (STORE_STATE_AT, compaction). */
#define SQ_LOG_LATEST(v)                                                                       \
    "version = (SELECT max(version) FROM state_log m WHERE m.room_id = l.room_id"              \
    " AND m.entity_id = l.entity_id AND m.version <= " v ")"

static const char *const sq_stmt_sql[SQ_STMT_MAX] = {
    /* The change log (issue 25): a row per stored change, in the change's request. */
    [SQ_LOG_INSERT] = "INSERT INTO state_log(" SQ_LOG_COLUMNS ")"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [SQ_LOG_BASE_INSERT] = "INSERT INTO state_log_base(room_id, version, at) VALUES(?1, ?2, ?3)"
                           " ON CONFLICT(room_id) DO UPDATE SET version = excluded.version,"
                           " at = excluded.at WHERE excluded.version > state_log_base.version",
    [SQ_LOG_BASE] = "SELECT b.version, b.at, r.state_version FROM rooms r"
                    " LEFT JOIN state_log_base b ON b.room_id = r.id WHERE r.id = ?1",
    /* The room's version at or below ?2, and that change's time. */
    [SQ_LOG_VERSION] = "SELECT version, at FROM state_log WHERE room_id = ?1 AND version <= ?2"
                       " ORDER BY version DESC LIMIT 1",
    /* The newest change at or before the time ?2. */
    [SQ_LOG_AT_TIME] = "SELECT max(version) FROM state_log WHERE room_id = ?1 AND at <= ?2",
    [SQ_LOG_STATE] = "SELECT data FROM state_log WHERE room_id = ?1 AND entity_id = ''"
                     " AND version <= ?2 ORDER BY version DESC LIMIT 1",
    /* The entities at version ?2, by id after ?3, at most ?4. */
    /* The entities at version ?2, by id after ?3, at most ?4: each key once (the
     * distinct ids come from the key index without reading a row), then its latest change
     * by one index seek, so the work follows the entities, not the changes. */
    [SQ_LOG_ENTS] = "SELECT l.entity_id, l.kind, l.owner, l.data, l.ent_version, l.version,"
                    " l.created_at, l.at, l.owner_only FROM (SELECT DISTINCT entity_id FROM"
                    " state_log WHERE room_id = ?1 AND entity_id > ?3) k JOIN state_log l"
                    " ON l.room_id = ?1 AND l.entity_id = k.entity_id AND l.version ="
                    " (SELECT max(version) FROM state_log m WHERE m.room_id = ?1"
                    " AND m.entity_id = k.entity_id AND m.version <= ?2)"
                    " WHERE l.change = 1 ORDER BY l.entity_id LIMIT ?4",
    /* A room's documents (those with no snapshot yet have ops only), by id. */
    [SQ_LOG_DOCS] = "SELECT doc_id FROM doc_ops WHERE room_id = ?1 UNION"
                    " SELECT doc_id FROM documents WHERE room_id = ?1 ORDER BY 1 LIMIT ?2",
    /* A document's oldest op, and its last op made at or before the time ?3. */
    [SQ_LOG_DOC_BOUNDS] = "SELECT coalesce(min(version), 0), coalesce((SELECT max(version)"
                          " FROM doc_ops WHERE room_id = ?1 AND doc_id = ?2"
                          " AND created_at <= ?3), 0) FROM doc_ops"
                          " WHERE room_id = ?1 AND doc_id = ?2",
    /* The newest snapshot time, after ?2, of the room's documents whose op log retention
     * trimmed (its first op gone): before it such a document cannot be rebuilt. */
    [SQ_LOG_DOC_FLOOR] = "SELECT max(d.updated_at) FROM documents d WHERE d.room_id = ?1"
                         " AND d.updated_at > ?2 AND coalesce((SELECT min(o.version)"
                         " FROM doc_ops o WHERE o.room_id = ?1 AND o.doc_id = d.doc_id),"
                         " d.version + 1) > 1",
    /* Compaction: the newest version, the one past the newest ?2 changes, and the newest
     * made before ?3. */
    [SQ_RET_LOG_RULES] = "SELECT (SELECT max(version) FROM state_log WHERE room_id = ?1),"
                         " (SELECT version FROM state_log WHERE room_id = ?1"
                         " ORDER BY version DESC LIMIT 1 OFFSET ?2),"
                         " (SELECT max(version) FROM state_log WHERE room_id = ?1"
                         " AND at < ?3),"
                         " (SELECT version FROM state_log_base WHERE room_id = ?1)",
    [SQ_RET_LOG_BASE] = "SELECT at FROM state_log WHERE room_id = ?1 AND version <= ?2"
                        " ORDER BY version DESC LIMIT 1",
    /* What the base at ?2 no longer needs, oldest first: a change followed by another of
     * its key at or below the base, and deletions (the entity is gone at the base). */
    [SQ_RET_LOG_DELETE] =
        "DELETE FROM state_log WHERE room_id = ?1 AND (version, entity_id) IN"
        " (SELECT version, entity_id FROM state_log l WHERE room_id = ?1 AND version <= ?2"
        " AND (change = 2 OR NOT " SQ_LOG_LATEST("?2") ") ORDER BY version LIMIT ?3)",
    [SQ_ASSET_INSERT] = "INSERT INTO assets(" SQ_ASSET_COLUMNS ", asset_id, version, current)"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1)",
    [SQ_ASSET_GET] = "SELECT " SQ_ASSET_SELECT " FROM assets a WHERE asset_id = ?1"
                     " AND current = 1",
    /* Newest first, after the cursor (?4, ?2): its asset may be gone. */
    [SQ_ASSET_LIST] = "SELECT " SQ_ASSET_SELECT " FROM assets a WHERE room_id = ?1"
                      " AND current = 1 AND (?2 = '' OR (created_at, id) < (?4, ?2))"
                      " ORDER BY created_at DESC, id DESC LIMIT ?3",
    [SQ_ASSET_DELETE] = "DELETE FROM assets WHERE asset_id = ?1",
    [SQ_ASSET_TAKEN] = "SELECT EXISTS(SELECT 1 FROM assets WHERE id = ?1)",
    [SQ_ASSET_CURRENT] = "SELECT room_id, version FROM assets WHERE asset_id = ?1"
                         " AND current = 1",
    [SQ_ASSET_SUPERSEDE] = "UPDATE assets SET current = 0 WHERE asset_id = ?1 AND current = 1",
    [SQ_ASSET_VERSIONS] = "SELECT " SQ_ASSET_SELECT " FROM assets a WHERE asset_id = ?1"
                          " AND (?2 <= 0 OR version < ?2) ORDER BY version DESC LIMIT ?3",
    [SQ_ASSET_READABLE] = "SELECT EXISTS(SELECT 1 FROM assets a WHERE a.sha256 = ?1"
                          " AND (a.uploader = ?2 OR EXISTS(SELECT 1 FROM room_participants p"
                          " WHERE p.room_id = a.room_id AND p.user_id = ?2"
                          " AND p.banned = 0)))",
    [SQ_ASSET_USAGE] = "SELECT coalesce(sum(size), 0) FROM assets WHERE uploader = ?1",
    [SQ_ASSET_HASH_USED] = "SELECT EXISTS(SELECT 1 FROM assets WHERE sha256 = ?1)",
    /* The room's next activity seq, 0 when the room is gone. */
    [SQ_ACT_NEXT] = "SELECT CASE WHEN EXISTS(SELECT 1 FROM rooms WHERE id = ?1) THEN"
                    " 1 + coalesce((SELECT max(seq) FROM activity WHERE room_id = ?1), 0)"
                    " ELSE 0 END",
    [SQ_ACT_INSERT] =
        "INSERT INTO activity(room_id, seq, at, user_id, display_name, kind, data)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [SQ_ACT_PAGE] = "SELECT seq, at, user_id, display_name, kind, data FROM activity"
                    " WHERE room_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
    [SQ_RET_ACT_MAX] = "SELECT coalesce(max(seq), 0) FROM activity WHERE room_id = ?1",
    [SQ_RET_ACTS] = "SELECT seq, at FROM activity WHERE room_id = ?1 ORDER BY seq LIMIT ?2",
    [SQ_RET_ACT_DELETE] = "DELETE FROM activity WHERE room_id = ?1 AND seq <= ?2",
    /* What uploader ?1 and room ?2 ('': none) hold, and the uploader's reservations. */
    [SQ_UPLOAD_HELD] =
        "SELECT (SELECT coalesce(sum(size), 0) FROM assets WHERE uploader = ?1)"
        " + (SELECT coalesce(sum(length), 0) FROM uploads WHERE owner = ?1),"
        " CASE WHEN ?2 = '' THEN 0 ELSE"
        " (SELECT coalesce(sum(size), 0) FROM assets WHERE room_id = ?2)"
        " + (SELECT coalesce(sum(length), 0) FROM uploads WHERE room_id = ?2) END,"
        " (SELECT count(*) FROM uploads WHERE owner = ?1)",
    [SQ_UPLOAD_INSERT] = "INSERT INTO uploads(id, owner, room_id, length, created_at)"
                         " VALUES(?1, ?2, ?3, ?4, ?5)",
    [SQ_UPLOAD_DELETE] = "DELETE FROM uploads WHERE id = ?1",
    [SQ_UPLOAD_OLD] = "SELECT id, owner, room_id, length, created_at FROM uploads"
                      " WHERE id > ?1 AND created_at < ?2 ORDER BY id LIMIT ?3",
    [SQ_HOOK_INSERT] =
        "INSERT INTO webhook_deliveries(id, endpoint, room_id, type, body, state,"
        " attempts, next_at, created_at, updated_at, last_status, last_error)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    /* The oldest pending delivery of each endpoint and room, when it is due. */
    [SQ_HOOK_DUE] = "SELECT " SQ_HOOK_COLUMNS " FROM webhook_deliveries d"
                    " WHERE state = 0 AND next_at <= ?1 AND seq = (SELECT min(seq)"
                    " FROM webhook_deliveries WHERE state = 0 AND endpoint = d.endpoint"
                    " AND room_id = d.room_id) ORDER BY seq LIMIT ?2",
    [SQ_HOOK_PENDING] = "SELECT count(*) FROM webhook_deliveries WHERE state = 0",
    [SQ_HOOK_UPDATE] = "UPDATE webhook_deliveries SET state = ?2, attempts = ?3, next_at = ?4,"
                       " updated_at = ?5, last_status = ?6, last_error = ?7 WHERE seq = ?1"
                       " AND state = 0",
    [SQ_HOOK_LOG] = "SELECT " SQ_HOOK_COLUMNS " FROM webhook_deliveries WHERE seq < ?1"
                    " AND (?3 = '' OR endpoint = ?3) AND (?4 < 0 OR state = ?4)"
                    " ORDER BY seq DESC LIMIT ?2",
    [SQ_HOOK_RETRY] = "UPDATE webhook_deliveries SET state = 0, attempts = 0, next_at = ?2,"
                      " updated_at = ?2 WHERE id = ?1 AND state = 2",
    [SQ_HOOK_GET] = "SELECT " SQ_HOOK_COLUMNS " FROM webhook_deliveries WHERE id = ?1",
    [SQ_HOOK_EP_INSERT] = "INSERT INTO webhook_endpoints(id, url, secret, events, created_at)"
                          " VALUES(?1, ?2, ?3, ?4, ?5)",
    [SQ_HOOK_EP_LIST] = "SELECT id, url, secret, events, created_at FROM webhook_endpoints"
                        " ORDER BY created_at, id",
    [SQ_HOOK_EP_DELETE] = "DELETE FROM webhook_endpoints WHERE id = ?1",
    [SQ_HOOK_EP_DEAD] = "UPDATE webhook_deliveries SET state = 2, updated_at = ?2,"
                        " last_error = 'endpoint deleted' WHERE endpoint = ?1 AND state = 0",
    [SQ_HOOK_PRUNE] = "DELETE FROM webhook_deliveries WHERE seq IN (SELECT seq FROM"
                      " webhook_deliveries WHERE state <> 0 AND updated_at < ?1 LIMIT ?2)",
    /* IMMEDIATE takes the write lock up front: a deferred transaction that reads and
     * then writes can fail with SQLITE_BUSY without waiting for the busy timeout. */
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    /* One savepoint around each request of several write statements (sq_exec): a
     * request answered ENOTFOUND or EEXISTS is undone whole, whichever of its statements
     * refused it, and the rest of the batch commits (store.h, "Atomicity"). */
    [SQ_SAVEPOINT] = "SAVEPOINT sq_req",
    [SQ_RELEASE] = "RELEASE sq_req",
    [SQ_ROLLBACK_TO] = "ROLLBACK TO sq_req",
    [SQ_USER_INSERT] =
        "INSERT INTO users(" SQ_USER_COLUMNS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [SQ_USER_BY_EMAIL] = "SELECT " SQ_USER_COLUMNS " FROM users WHERE email = ?1",
    [SQ_USER_BY_ID] = "SELECT " SQ_USER_COLUMNS " FROM users WHERE id = ?1",
    /* A NULL parameter keeps the column: the caller's update_mask decides what changes. */
    [SQ_USER_UPDATE] = "UPDATE users SET username = coalesce(?1, username),"
                       " color = coalesce(?2, color), updated_at = ?3,"
                       " password_hash = coalesce(?5, password_hash),"
                       " token_epoch = token_epoch + ?6 WHERE id = ?4",
    [SQ_AUDIT_INSERT] = "INSERT INTO audit(at, event, user_id, ip, detail, count)"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
    [SQ_REVOKE_UPSERT] =
        "INSERT INTO revocations(kind, id, epoch, until) VALUES(?1, ?2, ?3, ?4)"
        " ON CONFLICT(kind, id) DO UPDATE SET"
        " epoch = max(epoch, excluded.epoch), until = max(until, excluded.until)",
    [SQ_REVOKE_LOAD] = "SELECT kind, id, epoch, until FROM revocations WHERE until > ?1",
    [SQ_REVOKE_PRUNE] = "DELETE FROM revocations WHERE until <= ?1",
    [SQ_AUDIT_PRUNE] = "DELETE FROM audit WHERE id IN"
                       " (SELECT id FROM audit WHERE at < ?1 ORDER BY at LIMIT ?2)",
    [SQ_AUDIT_RECENT] = "SELECT at, event, user_id, ip, detail, count FROM audit"
                        " ORDER BY id DESC LIMIT ?1",
    [SQ_ROOM_INSERT] = "INSERT INTO rooms(" SQ_ROOM_COLUMNS ")"
                       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [SQ_ROOMS_HOSTED] = "SELECT count(*) FROM rooms WHERE host_id = ?1",
    [SQ_ROOM_UPDATE] = "UPDATE rooms SET name = ?1, capacity = ?2, is_public = ?3, state = ?4,"
                       " state_version = ?5, last_activity = ?6, code = ?8 WHERE id = ?7"
                       " AND state_version = ?9 AND ?5 > ?9",
    [SQ_ROOM_EXISTS] = "SELECT state_version FROM rooms WHERE id = ?1",
    /* Participants and messages go with it (ON DELETE CASCADE). */
    [SQ_ROOM_DELETE] = "DELETE FROM rooms WHERE id = ?1",
    [SQ_PART_UPSERT] = "INSERT INTO room_participants(" SQ_PART_COLUMNS ")"
                       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                       " ON CONFLICT(room_id, user_id) DO UPDATE SET"
                       " display_name = excluded.display_name, color = excluded.color,"
                       " role = excluded.role, banned = excluded.banned,"
                       " joined_at = excluded.joined_at",
    [SQ_PART_DELETE] = "DELETE FROM room_participants WHERE room_id = ?1 AND user_id = ?2",
    /* Only as the room's next seq (1 + its highest, which retention never deletes; the
     * UNIQUE(room_id, seq) index finds it): a taken seq, a stale one and a gap insert
     * nothing and raise no error, as PostgreSQL's rooms.last_seq check does. */
    [SQ_MSG_INSERT] = "INSERT INTO room_messages(" SQ_MSG_COLUMNS ")"
                      " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11"
                      " WHERE ?3 = 1 + (SELECT coalesce(max(seq), 0) FROM room_messages"
                      " WHERE room_id = ?2)",
    [SQ_ROOM_TOUCH] = "UPDATE rooms SET last_activity = ?1 WHERE id = ?2",
    /* A page between two exclusive seq bounds, newest first (before / latest: the caller
     * reverses it) or oldest first (after). */
    [SQ_MSGS_DESC] = "SELECT " SQ_MSG_COLUMNS " FROM room_messages"
                     " WHERE room_id = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4",
    [SQ_MSGS_ASC] = "SELECT " SQ_MSG_COLUMNS " FROM room_messages"
                    " WHERE room_id = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq ASC LIMIT ?4",
    /* A user's message by its client id (the room_messages_client index). */
    [SQ_MSG_BY_CLIENT] = "SELECT " SQ_MSG_COLUMNS " FROM room_messages"
                         " WHERE room_id = ?1 AND user_id = ?2 AND client_id = ?3",
    [SQ_ROOMS_ALL] =
        "SELECT " SQ_ROOM_COLUMNS ", coalesce((SELECT max(seq) FROM room_messages m"
        " WHERE m.room_id = rooms.id), 0) FROM rooms ORDER BY created_at, id",
    [SQ_PARTS_ALL] = "SELECT " SQ_PART_COLUMNS " FROM room_participants"
                     " ORDER BY room_id, joined_at, user_id",
    [SQ_PARTS_OF_USER] = "SELECT " SQ_PART_COLUMNS " FROM room_participants"
                         " WHERE user_id = ?1 AND banned = 0"
                         " ORDER BY joined_at, room_id LIMIT ?2",
    /* One room (STORE_ROOM_LOAD): by id, or with ?1 "" by code. */
    [SQ_ROOM_ONE] =
        "SELECT " SQ_ROOM_COLUMNS ", coalesce((SELECT max(seq) FROM room_messages m"
        " WHERE m.room_id = rooms.id), 0) FROM rooms WHERE id = ?1 OR (?1 = '' AND code = ?2)",
    [SQ_PARTS_ROOM] = "SELECT " SQ_PART_COLUMNS " FROM room_participants WHERE room_id = ?1"
                      " ORDER BY joined_at, user_id",
    [SQ_DOC_SELECT] = "SELECT version, snapshot, updated_at FROM documents"
                      " WHERE room_id = ?1 AND doc_id = ?2",
    /* Keeps the newest snapshot: one at a lower version than the stored one (ops
     * written out of order) is not an update. */
    [SQ_DOC_UPSERT] = "INSERT INTO documents(room_id, doc_id, version, snapshot, updated_at)"
                      " VALUES(?1, ?2, ?3, ?4, ?5)"
                      " ON CONFLICT(room_id, doc_id) DO UPDATE SET"
                      " version = excluded.version, snapshot = excluded.snapshot,"
                      " updated_at = excluded.updated_at"
                      " WHERE excluded.version >= documents.version",
    /* Whether the room exists, and the document's next version: 1 + the highest of its
     * op log and its snapshot (retention trims the log only below the snapshot). */
    [SQ_DOC_NEXT] = "SELECT EXISTS(SELECT 1 FROM rooms WHERE id = ?1), 1 + max("
                    "coalesce((SELECT max(version) FROM doc_ops"
                    " WHERE room_id = ?1 AND doc_id = ?2), 0),"
                    " coalesce((SELECT version FROM documents"
                    " WHERE room_id = ?1 AND doc_id = ?2), 0))",
    [SQ_DOC_OP_INSERT] = "INSERT INTO doc_ops(" SQ_OP_COLUMNS ")"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* A negative LIMIT is none (DOC_LOAD). */
    [SQ_DOC_OPS] = "SELECT " SQ_OP_COLUMNS " FROM doc_ops"
                   " WHERE room_id = ?1 AND doc_id = ?2 AND version > ?3"
                   " ORDER BY version ASC LIMIT ?4",
    [SQ_ENT_UPSERT] = "INSERT OR REPLACE INTO entities(" SQ_ENT_COLUMNS ")"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [SQ_ENT_DELETE] = "DELETE FROM entities WHERE room_id = ?1 AND id = ?2",
    /* The room's next version only (after the stored ?4): any other matches nothing and
     * is refused (EEXISTS). */
    [SQ_ENT_ROOM_VERSION] = "UPDATE rooms SET state_version = ?1,"
                            " last_activity = max(last_activity, ?2) WHERE id = ?3"
                            " AND state_version = ?4 AND ?1 > ?4",
    [SQ_ENTS_ALL] = "SELECT " SQ_ENT_COLUMNS " FROM entities ORDER BY room_id, state_version",
    [SQ_ENTS_ROOM] = "SELECT " SQ_ENT_COLUMNS " FROM entities WHERE room_id = ?1"
                     " ORDER BY state_version",
    [SQ_USAGE_ALL] = SQ_USAGE("1", "1"),
    [SQ_USAGE_ROOM] = SQ_USAGE("room_id = ?1", "id = ?1"),
    /* Retention walks the rooms in id order from a cursor, one room at a time. */
    [SQ_RET_ROOMS] = "SELECT id FROM rooms WHERE id >= ?1 ORDER BY id",
    [SQ_RET_MSG_MAX] = "SELECT max(seq) FROM room_messages WHERE room_id = ?1",
    /* The oldest first: seq grows with time, so the rows to go are a prefix. */
    [SQ_RET_MSGS] = "SELECT seq, coalesce(user_id, ''), created_at, " SQ_MSG_BYTES
                    " FROM room_messages WHERE room_id = ?1 ORDER BY seq LIMIT ?2",
    [SQ_RET_MSG_DELETE] = "DELETE FROM room_messages WHERE room_id = ?1 AND seq <= ?2",
    [SQ_RET_DOCS] = "SELECT doc_id, version FROM documents WHERE room_id = ?1",
    [SQ_RET_OPS] = "SELECT version, author, " SQ_OP_BYTES " FROM doc_ops"
                   " WHERE room_id = ?1 AND doc_id = ?2 AND version <= ?3"
                   " ORDER BY version LIMIT ?4",
    [SQ_RET_OPS_DELETE] = "DELETE FROM doc_ops WHERE room_id = ?1 AND doc_id = ?2"
                          " AND version <= ?3",
    [SQ_APIKEY_INSERT] =
        "INSERT INTO api_keys(" SQ_APIKEY_COLUMNS ") VALUES(?1, ?2, ?3, ?4, ?5)",
    [SQ_APIKEY_GET] = "SELECT " SQ_APIKEY_COLUMNS " FROM api_keys WHERE id = ?1",
    [SQ_APIKEY_LIST] = "SELECT " SQ_APIKEY_COLUMNS " FROM api_keys ORDER BY created_at, id",
    /* A key revoked before keeps its first time. */
    [SQ_APIKEY_REVOKE] = "UPDATE api_keys SET revoked_at ="
                         " CASE WHEN revoked_at = 0 THEN ?2 ELSE revoked_at END WHERE id = ?1",
};
_Static_assert(STORE_ROW_BYTES == 64, "SQ_ROW_BYTES must equal STORE_ROW_BYTES");

/* One connection. Used by one thread at a time (open on the caller's thread, everything
 * else on the store's worker, handed over through the store's mutex and thread start), so
 * the connection is opened with SQLITE_OPEN_NOMUTEX. */
typedef struct {
    sqlite3 *db;
    log_t *log; /* borrowed */
    sqlite3_stmt *stmt[SQ_STMT_MAX];
} sq_conn_t;

/* ---- helpers ---- */

/* Logs a failed database call with SQLite's reason and returns STORE_EIO. */
static int sq_fail(sq_conn_t *c, const char *what)
{
    log_error(c->log, "store sqlite: %s: %s (%d)", what, sqlite3_errmsg(c->db),
              sqlite3_extended_errcode(c->db));
    return STORE_EIO;
}

/* Makes s reusable and drops its bindings (which may point into a request). */
static void sq_release(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Binds a fixed-size text field (borrowed until sq_release). Reads at most cap - 1 bytes,
 * so a field the caller forgot to terminate cannot be overrun. */
static int sq_bind_field(sqlite3_stmt *s, int idx, const char *field, size_t cap)
{
    return sqlite3_bind_text(s, idx, field, (int)strnlen(field, cap - 1), SQLITE_STATIC);
}

/* Same, binding NULL for an empty field. */
static int sq_bind_opt(sqlite3_stmt *s, int idx, const char *field, size_t cap)
{
    return field[0] ? sq_bind_field(s, idx, field, cap) : sqlite3_bind_null(s, idx);
}

#define SQ_BIND(s, idx, field) sq_bind_field((s), (idx), (field), sizeof(field))
#define SQ_BIND_OPT(s, idx, field) sq_bind_opt((s), (idx), (field), sizeof(field))

/* Copies text column col into dst (cap bytes including the NUL). A longer value (only
 * possible if the file was edited by hand) is cut at a UTF-8 character boundary and
 * reported, never written past cap. */
static void sq_copy_text(sq_conn_t *c, char *dst, size_t cap, sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(s, col) : 0;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && (t[n] & 0xC0) == 0x80)
            n--; /* do not split a character */
        /* Names the column, never its value: it may be a password hash. */
        log_warn(c->log, "store sqlite: column %s is longer than its %zu-byte field; truncated",
                 sqlite3_column_name(s, col), cap - 1);
    }
    if (n) memcpy(dst, t, n);
    dst[n] = '\0';
}

/* Fills u from the current row of a SQ_USER_COLUMNS select. */
static void sq_read_user(sq_conn_t *c, sqlite3_stmt *s, store_user_t *u)
{
    sq_copy_text(c, u->id, sizeof(u->id), s, 0);
    sq_copy_text(c, u->email, sizeof(u->email), s, 1);
    sq_copy_text(c, u->username, sizeof(u->username), s, 2);
    sq_copy_text(c, u->color, sizeof(u->color), s, 3);
    sq_copy_text(c, u->password_hash, sizeof(u->password_hash), s, 4);
    u->created_at = sqlite3_column_int64(s, 5);
    u->updated_at = sqlite3_column_int64(s, 6);
    u->token_epoch = sqlite3_column_int64(s, 7);
}

/* Runs a one-row select bound to key; fills u. Returns 0, STORE_ENOTFOUND or STORE_EIO. */
static int sq_user_select(sq_conn_t *c, int which, const char *key, size_t keycap,
                          store_user_t *u)
{
    sqlite3_stmt *s = c->stmt[which];
    int rc = sq_bind_field(s, 1, key, keycap);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    int err;
    if (rc == SQLITE_ROW) {
        sq_read_user(c, s, u);
        err = STORE_OK;
    } else if (rc == SQLITE_DONE) {
        err = STORE_ENOTFOUND;
    } else {
        err = sq_fail(c, which == SQ_USER_BY_ID ? "user by id" : "user by email");
    }
    sq_release(s);
    return err;
}

/* ---- requests (worker thread, inside a transaction) ---- */

static int sq_user_create(sq_conn_t *c, const store_user_t *u)
{
    sqlite3_stmt *s = c->stmt[SQ_USER_INSERT];
    int bad = SQ_BIND(s, 1, u->id) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, u->email) != SQLITE_OK;
    bad |= SQ_BIND(s, 3, u->username) != SQLITE_OK;
    bad |= SQ_BIND(s, 4, u->color) != SQLITE_OK;
    bad |= SQ_BIND(s, 5, u->password_hash) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 6, u->created_at) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 7, u->updated_at) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 8, u->token_epoch) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = STORE_OK;
    /* A constraint failure undoes only this statement (ON CONFLICT ABORT), so the rest of
     * the transaction stays valid. A taken id is reported like a taken email: both mean
     * "this account already exists". */
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        err = STORE_EEXISTS;
    else if (rc != SQLITE_DONE)
        err = sq_fail(c, "user create");
    sq_release(s);
    return err;
}

static int sq_revoke_put(sq_conn_t *c, const store_revoke_t *r)
{
    sqlite3_stmt *s = c->stmt[SQ_REVOKE_UPSERT];
    int bad = sqlite3_bind_int(s, 1, r->kind) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, r->id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, r->epoch) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 4, r->until_s) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "revocation put");
    sq_release(s);
    return err;
}

static int sq_user_update(sq_conn_t *c, store_req_t *req)
{
    store_user_t *u = &req->user;
    sqlite3_stmt *s = c->stmt[SQ_USER_UPDATE];
    int bad = ((req->update_mask & STORE_UPD_USERNAME) ? SQ_BIND(s, 1, u->username)
                                                       : sqlite3_bind_null(s, 1)) != SQLITE_OK;
    bad |= ((req->update_mask & STORE_UPD_COLOR) ? SQ_BIND(s, 2, u->color)
                                                 : sqlite3_bind_null(s, 2)) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, u->updated_at) != SQLITE_OK;
    bad |= SQ_BIND(s, 4, u->id) != SQLITE_OK;
    bad |= ((req->update_mask & STORE_UPD_PASSWORD) ? SQ_BIND(s, 5, u->password_hash)
                                                    : sqlite3_bind_null(s, 5)) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 6, (req->update_mask & STORE_UPD_EPOCH) ? 1 : 0) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int changed = sqlite3_changes(c->db);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "user update");
    sq_release(s);
    if (err != STORE_OK) return err;
    if (changed == 0) return STORE_ENOTFOUND;
    /* Answer with the whole row as stored. Copy the id out first: u is overwritten. */
    char id[STORE_ID_LEN];
    memcpy(id, u->id, sizeof(id));
    id[sizeof(id) - 1] = '\0';
    err = sq_user_select(c, SQ_USER_BY_ID, id, sizeof(id), u);
    if (err != STORE_OK || !(req->update_mask & STORE_UPD_EPOCH)) return err;
    store_revoke_t rv = {.kind = STORE_REVOKE_USER, .epoch = u->token_epoch,
                         .until_s = req->revoke.until_s};
    memcpy(rv.id, id, sizeof(id));
    return sq_revoke_put(c, &rv);
}

static int sq_user_delete(sq_conn_t *c, store_req_t *req)
{
    sqlite3_stmt *s = c->stmt[SQ_USER_DELETE];
    int rc = SQ_BIND(s, 1, req->user.id) != SQLITE_OK ? SQLITE_ERROR : sqlite3_step(s);
    int changed = sqlite3_changes(c->db);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "user delete");
    sq_release(s);
    if (err != STORE_OK) return err;
    if (changed == 0) return STORE_ENOTFOUND;
    store_revoke_t rv = {.kind = STORE_REVOKE_USER, .epoch = INT64_MAX,
                         .until_s = req->revoke.until_s};
    snprintf(rv.id, sizeof(rv.id), "%.*s", (int)sizeof(req->user.id) - 1, req->user.id);
    return sq_revoke_put(c, &rv);
}

static int sq_revoke_load(sq_conn_t *c, store_req_t *req)
{
    sqlite3_stmt *s = c->stmt[SQ_REVOKE_LOAD];
    int rc = sqlite3_bind_int64(s, 1, req->revoke.until_s);
    size_t n = 0, cap = 0;
    store_revoke_t *out = NULL;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(s);
        if (rc != SQLITE_ROW) break;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            out = ch_realloc(out, cap * sizeof(*out));
        }
        store_revoke_t *r = &out[n++];
        r->kind = sqlite3_column_int(s, 0);
        sq_copy_text(c, r->id, sizeof(r->id), s, 1);
        r->epoch = sqlite3_column_int64(s, 2);
        r->until_s = sqlite3_column_int64(s, 3);
    }
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "revocations load");
    sq_release(s);
    if (err != STORE_OK) {
        free(out);
        return err;
    }
    req->revokes = out;
    req->nrevokes = n;
    return STORE_OK;
}

static int sq_audit(sq_conn_t *c, const store_audit_t *a)
{
    sqlite3_stmt *s = c->stmt[SQ_AUDIT_INSERT];
    int bad = sqlite3_bind_int64(s, 1, a->at) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, a->event) != SQLITE_OK;
    bad |= SQ_BIND_OPT(s, 3, a->user_id) != SQLITE_OK;
    bad |= SQ_BIND_OPT(s, 4, a->ip) != SQLITE_OK;
    bad |= SQ_BIND_OPT(s, 5, a->detail) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 6, a->count > 0 ? a->count : 1) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "audit insert");
    sq_release(s);
    return err;
}

static int sq_audit_prune(sq_conn_t *c, store_audit_t *a)
{
    sqlite3_stmt *s = c->stmt[SQ_AUDIT_PRUNE];
    int bad = sqlite3_bind_int64(s, 1, a->at) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, STORE_AUDIT_PRUNE_BATCH) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "audit prune");
    a->count = err == STORE_OK ? sqlite3_changes(c->db) : 0;
    sq_release(s);
    return err;
}

static int sq_audit_recent(sq_conn_t *c, store_req_t *req)
{
    int64_t limit = req->audit.count < 1                        ? 1
                    : req->audit.count > STORE_AUDIT_RECENT_MAX ? STORE_AUDIT_RECENT_MAX
                                                                : req->audit.count;
    sqlite3_stmt *s = c->stmt[SQ_AUDIT_RECENT];
    int rc = sqlite3_bind_int64(s, 1, limit);
    store_audit_t *out = ch_calloc((size_t)limit, sizeof(*out));
    size_t n = 0;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(s);
        if (rc != SQLITE_ROW || n == (size_t)limit) break;
        store_audit_t *a = &out[n++];
        a->at = sqlite3_column_int64(s, 0);
        sq_copy_text(c, a->event, sizeof(a->event), s, 1);
        sq_copy_text(c, a->user_id, sizeof(a->user_id), s, 2);
        sq_copy_text(c, a->ip, sizeof(a->ip), s, 3);
        sq_copy_text(c, a->detail, sizeof(a->detail), s, 4);
        a->count = sqlite3_column_int64(s, 5);
    }
    int err = rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK : sq_fail(c, "audit recent");
    sq_release(s);
    if (err != STORE_OK) {
        free(out);
        return err;
    }
    req->audits = out;
    req->naudits = n;
    return STORE_OK;
}

/* One row, or none, of statement which bound to key (a field of cap bytes): read(c, s,
 * out) takes the row (STORE_OK), no row is STORE_ENOTFOUND, a failure is logged as what. */
static int sq_get_row(sq_conn_t *c, int which, const char *key, size_t cap,
                      void (*read)(sq_conn_t *, sqlite3_stmt *, void *), void *out,
                      const char *what)
{
    sqlite3_stmt *s = c->stmt[which];
    int rc = sq_bind_field(s, 1, key, cap) != SQLITE_OK ? SQLITE_ERROR : sqlite3_step(s);
    int err;
    if (rc == SQLITE_ROW) {
        read(c, s, out);
        err = STORE_OK;
    } else {
        err = rc == SQLITE_DONE ? STORE_ENOTFOUND : sq_fail(c, what);
    }
    sq_release(s);
    return err;
}

/* Runs statement which, bound to key (a field of cap bytes), that returns no row; the rows
 * it changed go to *changed (NULL: not wanted). A failure is logged as what. */
static int sq_exec_key(sq_conn_t *c, int which, const char *key, size_t cap, int *changed,
                       const char *what)
{
    sqlite3_stmt *s = c->stmt[which];
    int rc = sq_bind_field(s, 1, key, cap) != SQLITE_OK ? SQLITE_ERROR : sqlite3_step(s);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, what);
    if (changed) *changed = err == STORE_OK ? sqlite3_changes(c->db) : 0;
    sq_release(s);
    return err;
}

/* ---- API keys ---- */

static void sq_read_apikey(sq_conn_t *c, sqlite3_stmt *s, void *out)
{
    store_apikey_t *k = out;
    sq_copy_text(c, k->id, sizeof(k->id), s, 0);
    sq_copy_text(c, k->name, sizeof(k->name), s, 1);
    sq_copy_text(c, k->hash, sizeof(k->hash), s, 2);
    k->created_at = sqlite3_column_int64(s, 3);
    k->revoked_at = sqlite3_column_int64(s, 4);
}

static int sq_apikey_create(sq_conn_t *c, const store_apikey_t *k)
{
    sqlite3_stmt *s = c->stmt[SQ_APIKEY_INSERT];
    int bad = SQ_BIND(s, 1, k->id) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, k->name) != SQLITE_OK;
    bad |= SQ_BIND(s, 3, k->hash) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 4, k->created_at) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 5, k->revoked_at) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = STORE_OK;
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        err = STORE_EEXISTS;
    else if (rc != SQLITE_DONE)
        err = sq_fail(c, "api key create");
    sq_release(s);
    return err;
}

static int sq_apikey_get(sq_conn_t *c, store_apikey_t *k)
{
    return sq_get_row(c, SQ_APIKEY_GET, k->id, sizeof(k->id), sq_read_apikey, k, "api key get");
}

static int sq_apikey_list(sq_conn_t *c, store_req_t *req)
{
    sqlite3_stmt *s = c->stmt[SQ_APIKEY_LIST];
    size_t n = 0, cap = 0;
    store_apikey_t *out = NULL;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            out = ch_realloc(out, cap * sizeof(*out));
        }
        sq_read_apikey(c, s, &out[n++]);
    }
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "api key list");
    sq_release(s);
    free(req->apikeys);
    req->apikeys = err == STORE_OK ? out : NULL;
    req->napikeys = err == STORE_OK ? n : 0;
    if (err != STORE_OK) free(out);
    return err;
}

static int sq_apikey_revoke(sq_conn_t *c, store_apikey_t *k)
{
    sqlite3_stmt *s = c->stmt[SQ_APIKEY_REVOKE];
    int bad = SQ_BIND(s, 1, k->id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, k->revoked_at) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int changed = sqlite3_changes(c->db);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "api key revoke");
    sq_release(s);
    if (err != STORE_OK) return err;
    if (changed == 0) return STORE_ENOTFOUND;
    return sq_apikey_get(c, k);
}

/* ---- assets ---- */

static void sq_read_asset(sq_conn_t *c, sqlite3_stmt *s, void *out)
{
    store_asset_t *a = out;
    sq_copy_text(c, a->id, sizeof(a->id), s, 0);
    sq_copy_text(c, a->room_id, sizeof(a->room_id), s, 1);
    sq_copy_text(c, a->uploader, sizeof(a->uploader), s, 2);
    sq_copy_text(c, a->sha256, sizeof(a->sha256), s, 3);
    a->size = sqlite3_column_int64(s, 4);
    sq_copy_text(c, a->name, sizeof(a->name), s, 5);
    sq_copy_text(c, a->type, sizeof(a->type), s, 6);
    a->created_at = sqlite3_column_int64(s, 7);
    sq_copy_text(c, a->asset_id, sizeof(a->asset_id), s, 8);
    a->version = sqlite3_column_int64(s, 9);
    sq_copy_text(c, a->owner, sizeof(a->owner), s, 10);
}

static int sq_asset_int(sq_conn_t *c, int which, const char *f1, size_t cap1, const char *f2,
                        size_t cap2, int64_t *out);

/* SQ_ASSET_CURRENT's row: the asset's room, and its next version number. */
static void sq_read_next_version(sq_conn_t *c, sqlite3_stmt *s, void *out)
{
    store_asset_t *a = out;
    sq_copy_text(c, a->room_id, sizeof(a->room_id), s, 0);
    a->version = sqlite3_column_int64(s, 1) + 1;
}

/* The owner column of an SQ_ASSET_GET row. */
static void sq_read_owner(sq_conn_t *c, sqlite3_stmt *s, void *out)
{
    store_asset_t *a = out;
    sq_copy_text(c, a->owner, sizeof(a->owner), s, 10);
}

/* A version of asset a->asset_id: it takes the asset's room and the next version number,
 * and the asset's current version is current no more. ENOTFOUND: no such asset; EEXISTS:
 * a's id is taken (checked first, so a refusal changes nothing). */
static int sq_asset_next_version(sq_conn_t *c, store_asset_t *a)
{
    int64_t taken = 0;
    int err = sq_asset_int(c, SQ_ASSET_TAKEN, a->id, sizeof(a->id), NULL, 0, &taken);
    if (err != STORE_OK) return err;
    if (taken) return STORE_EEXISTS;
    err = sq_get_row(c, SQ_ASSET_CURRENT, a->asset_id, sizeof(a->asset_id),
                     sq_read_next_version, a, "asset version");
    if (err != STORE_OK) return err;
    return sq_exec_key(c, SQ_ASSET_SUPERSEDE, a->asset_id, sizeof(a->asset_id), NULL,
                       "asset version");
}

static int sq_asset_put(sq_conn_t *c, store_asset_t *a)
{
    int err = STORE_OK;
    if (!a->asset_id[0] || strcmp(a->asset_id, a->id) == 0) {
        snprintf(a->asset_id, sizeof(a->asset_id), "%s", a->id);
        a->version = 1;
    } else if ((err = sq_asset_next_version(c, a)) != STORE_OK) {
        return err;
    }
    sqlite3_stmt *s = c->stmt[SQ_ASSET_INSERT];
    int bad = SQ_BIND(s, 1, a->id) != SQLITE_OK;
    bad |= SQ_BIND_OPT(s, 2, a->room_id) != SQLITE_OK;
    bad |= SQ_BIND(s, 3, a->uploader) != SQLITE_OK;
    bad |= SQ_BIND(s, 4, a->sha256) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 5, a->size) != SQLITE_OK;
    bad |= SQ_BIND(s, 6, a->name) != SQLITE_OK;
    bad |= SQ_BIND(s, 7, a->type) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 8, a->created_at) != SQLITE_OK;
    bad |= SQ_BIND(s, 9, a->asset_id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 10, a->version) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
        (rc == SQLITE_CONSTRAINT_UNIQUE && a->version == 1))
        err = STORE_EEXISTS; /* the id is taken: this upload was recorded already */
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        err = STORE_ENOTFOUND;
    else if (rc != SQLITE_DONE) /* a version number taken too: never "recorded before" */
        err = sq_fail(c, "asset put");
    sq_release(s);
    if (err == STORE_OK) /* the asset counts now, not the reservation */
        err = sq_exec_key(c, SQ_UPLOAD_DELETE, a->id, sizeof(a->id), NULL,
                          "asset put (reservation)");
    if (err == STORE_OK) { /* the owner: the first version's uploader */
        err = sq_get_row(c, SQ_ASSET_GET, a->asset_id, sizeof(a->asset_id), sq_read_owner, a,
                         "asset put (owner)");
        if (err == STORE_ENOTFOUND) err = sq_fail(c, "asset put (owner)");
    }
    return err;
}

static int sq_asset_get(sq_conn_t *c, store_asset_t *a)
{
    return sq_get_row(c, SQ_ASSET_GET, a->id, sizeof(a->id), sq_read_asset, a, "asset get");
}

/* The current version as it was, then every version gone (one transaction: nothing
 * comes between). */
static int sq_asset_delete(sq_conn_t *c, store_asset_t *a)
{
    int err = sq_asset_get(c, a);
    if (err != STORE_OK) return err;
    return sq_exec_key(c, SQ_ASSET_DELETE, a->asset_id, sizeof(a->asset_id), NULL,
                       "asset delete");
}

/* LIST (a room's current versions) and VERSIONS (an asset's versions). */
static int sq_asset_list(sq_conn_t *c, store_assets_t *a, int versions)
{
    store_assets_free(a);
    uint32_t limit = a->limit < STORE_PAGE_MAX ? a->limit : STORE_PAGE_MAX;
    if (limit == 0) return STORE_OK;
    sqlite3_stmt *s = c->stmt[versions ? SQ_ASSET_VERSIONS : SQ_ASSET_LIST];
    int bad;
    if (versions) {
        bad = SQ_BIND(s, 1, a->row.id) != SQLITE_OK;
        bad |= sqlite3_bind_int64(s, 2, a->before_at) != SQLITE_OK;
        bad |= sqlite3_bind_int64(s, 3, limit) != SQLITE_OK;
    } else {
        bad = SQ_BIND(s, 1, a->row.room_id) != SQLITE_OK;
        bad |= SQ_BIND(s, 2, a->before) != SQLITE_OK;
        bad |= sqlite3_bind_int64(s, 3, limit) != SQLITE_OK;
        bad |= sqlite3_bind_int64(s, 4, a->before_at) != SQLITE_OK;
    }
    store_asset_t *out = ch_calloc(limit, sizeof(*out));
    size_t n = 0;
    int rc = bad ? SQLITE_ERROR : SQLITE_ROW;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW && n < limit)
        sq_read_asset(c, s, &out[n++]);
    int err = rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK : sq_fail(c, "asset list");
    sq_release(s);
    if (err != STORE_OK) {
        free(out);
        return err;
    }
    a->rows = out;
    a->nrows = n;
    return STORE_OK;
}

/* READABLE, USAGE, HASH_USED, TAKEN: one integer from a one-row select bound to one or
 * two fields. */
static int sq_asset_int(sq_conn_t *c, int which, const char *f1, size_t cap1, const char *f2,
                        size_t cap2, int64_t *out)
{
    sqlite3_stmt *s = c->stmt[which];
    int bad = sq_bind_field(s, 1, f1, cap1) != SQLITE_OK;
    if (f2) bad |= sq_bind_field(s, 2, f2, cap2) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = rc == SQLITE_ROW ? STORE_OK : sq_fail(c, "asset query");
    if (err == STORE_OK) *out = sqlite3_column_int64(s, 0);
    sq_release(s);
    return err;
}

/* Checks a's reservation against the limits and stores it when it fits (one
 * transaction: the write lock is held from the sums to the insert). */
static int sq_upload_reserve(sq_conn_t *c, store_assets_t *a)
{
    const store_asset_t *row = &a->row;
    sqlite3_stmt *s = c->stmt[SQ_UPLOAD_HELD];
    int bad = SQ_BIND(s, 1, row->uploader) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, row->room_id) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sq_release(s);
        return sq_fail(c, "upload reserve");
    }
    a->bytes = sqlite3_column_int64(s, 0);
    a->room_bytes = sqlite3_column_int64(s, 1);
    a->count = sqlite3_column_int64(s, 2);
    sq_release(s);
    a->refused = store_reserve_refusal(a);
    if (a->refused) return STORE_OK;
    s = c->stmt[SQ_UPLOAD_INSERT];
    bad = SQ_BIND(s, 1, row->id) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, row->uploader) != SQLITE_OK;
    bad |= SQ_BIND_OPT(s, 3, row->room_id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 4, row->size) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 5, row->created_at) != SQLITE_OK;
    rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = STORE_OK;
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        err = STORE_EEXISTS;
    else if (rc != SQLITE_DONE)
        err = sq_fail(c, "upload reserve");
    sq_release(s);
    return err;
}

static int sq_upload_release(sq_conn_t *c, const store_asset_t *row)
{
    int changed;
    int err =
        sq_exec_key(c, SQ_UPLOAD_DELETE, row->id, sizeof(row->id), &changed, "upload release");
    return err == STORE_OK && changed == 0 ? STORE_ENOTFOUND : err;
}

/* The reservations created before a->before_at, by id after a->row.id. */
static int sq_upload_old(sq_conn_t *c, store_assets_t *a)
{
    store_assets_free(a);
    uint32_t limit = a->limit < STORE_PAGE_MAX ? a->limit : STORE_PAGE_MAX;
    if (limit == 0) return STORE_OK;
    sqlite3_stmt *s = c->stmt[SQ_UPLOAD_OLD];
    int bad = SQ_BIND(s, 1, a->row.id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, a->before_at) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, limit) != SQLITE_OK;
    store_asset_t *out = ch_calloc(limit, sizeof(*out));
    size_t n = 0;
    int rc = bad ? SQLITE_ERROR : SQLITE_ROW;
    while (rc == SQLITE_ROW && (rc = sqlite3_step(s)) == SQLITE_ROW && n < limit) {
        store_asset_t *u = &out[n++];
        sq_copy_text(c, u->id, sizeof(u->id), s, 0);
        sq_copy_text(c, u->uploader, sizeof(u->uploader), s, 1);
        sq_copy_text(c, u->room_id, sizeof(u->room_id), s, 2);
        u->size = sqlite3_column_int64(s, 3);
        u->created_at = sqlite3_column_int64(s, 4);
    }
    int err = rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK : sq_fail(c, "upload old");
    sq_release(s);
    if (err != STORE_OK) {
        free(out);
        return err;
    }
    a->rows = out;
    a->nrows = n;
    return STORE_OK;
}

static int sq_assets(sq_conn_t *c, store_req_t *req)
{
    store_assets_t *a = req->assets;
    store_asset_t *row = &a->row;
    int64_t v = 0;
    int err;
    switch (req->type) {
    case STORE_ASSET_PUT:
        return sq_asset_put(c, row);
    case STORE_ASSET_GET:
        return sq_asset_get(c, row);
    case STORE_ASSET_DELETE:
        return sq_asset_delete(c, row);
    case STORE_ASSET_LIST:
        return sq_asset_list(c, a, 0);
    case STORE_ASSET_VERSIONS:
        return sq_asset_list(c, a, 1);
    case STORE_UPLOAD_RESERVE:
        return sq_upload_reserve(c, a);
    case STORE_UPLOAD_RELEASE:
        return sq_upload_release(c, row);
    case STORE_UPLOAD_OLD:
        return sq_upload_old(c, a);
    case STORE_ASSET_READABLE:
        err = sq_asset_int(c, SQ_ASSET_READABLE, row->sha256, sizeof(row->sha256),
                           row->uploader, sizeof(row->uploader), &v);
        a->found = err == STORE_OK && v != 0;
        return err;
    case STORE_ASSET_USAGE:
        err =
            sq_asset_int(c, SQ_ASSET_USAGE, row->uploader, sizeof(row->uploader), NULL, 0, &v);
        a->bytes = err == STORE_OK ? v : 0;
        return err;
    default: /* STORE_ASSET_HASH_USED */
        err =
            sq_asset_int(c, SQ_ASSET_HASH_USED, row->sha256, sizeof(row->sha256), NULL, 0, &v);
        a->found = err == STORE_OK && v != 0;
        return err;
    }
}

/* ---- rooms ---- */

/* Binds a malloc'd string (borrowed until sq_release); NULL binds dflt, or SQL NULL when
 * dflt is NULL too. */
static int sq_bind_str(sqlite3_stmt *s, int idx, const char *str, const char *dflt)
{
    if (!str) str = dflt;
    return str ? sqlite3_bind_text(s, idx, str, -1, SQLITE_STATIC) : sqlite3_bind_null(s, idx);
}

/* Returns a malloc'd copy of text column col, or NULL for SQL NULL (or "" when
 * not_null: a NOT NULL column never gives a caller a NULL). */
static char *sq_dup_text(sqlite3_stmt *s, int col, int not_null)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    if (!t) return not_null ? ch_strdup("") : NULL;
    return ch_strndup((const char *)t, (size_t)sqlite3_column_bytes(s, col));
}

/* Maps a failed write's result code to the store's answer: a taken unique key is
 * EEXISTS, a missing room (foreign key) ENOTFOUND; both undid only this statement. Any
 * other code is logged as EIO. */
static int sq_write_result(sq_conn_t *c, int rc, const char *what)
{
    if (rc == SQLITE_DONE) return STORE_OK;
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return STORE_EEXISTS;
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return STORE_ENOTFOUND;
    return sq_fail(c, what);
}

/* Inserts or replaces p, in the room room_id (a fixed STORE_ID_LEN field). */
static int sq_part_put(sq_conn_t *c, const store_participant_t *p, const char *room_id)
{
    sqlite3_stmt *s = c->stmt[SQ_PART_UPSERT];
    int bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, p->user_id) != SQLITE_OK;
    bad |= SQ_BIND(s, 3, p->display_name) != SQLITE_OK;
    bad |= SQ_BIND(s, 4, p->color) != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 5, p->role) != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 6, p->banned ? 1 : 0) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 7, p->joined_at) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = sq_write_result(c, rc, "participant put");
    sq_release(s);
    return err;
}

/* ---- the change log (issue 25) ---- */

/* Logs a change of room_id at version (time at): the room's state (change 0, ent NULL,
 * data the state), an entity as written (1) or its deletion (2, data ""). */
static int sq_log(sq_conn_t *c, const char *room_id, int64_t version, int64_t at, int change,
                  const store_entity_t *ent, const char *data)
{
    sqlite3_stmt *s = c->stmt[SQ_LOG_INSERT];
    int bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, version) != SQLITE_OK;
    bad |= sq_bind_field(s, 3, ent ? ent->id : "", STORE_ENTITY_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 4, change) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 5, at) != SQLITE_OK;
    bad |=
        sq_bind_field(s, 6, change == 1 ? ent->kind : "", STORE_ENTITY_KIND_LEN) != SQLITE_OK;
    bad |= sq_bind_field(s, 7, change == 1 ? ent->owner : "", STORE_SUB_LEN) != SQLITE_OK;
    bad |= sq_bind_str(s, 8, data, "{}") != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 9, change == 1 ? ent->version : 0) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 10, change == 1 ? ent->created_at : 0) != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 11, change == 1 && ent->owner_only) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    /* Versions are unique per room (the room row's check ran first): a taken key here is
     * a database a consistent store cannot have. */
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "change log");
    sq_release(s);
    return err;
}

/* Sets room_id's log base to version (time at) when it is above the stored one. */
static int sq_log_base(sq_conn_t *c, const char *room_id, int64_t version, int64_t at)
{
    sqlite3_stmt *s = c->stmt[SQ_LOG_BASE_INSERT];
    int bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, version) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, at) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "change log base");
    sq_release(s);
    return err;
}

/* One integer (or NULL: dflt) of column col of the current row. */
static int64_t sq_int_or(sqlite3_stmt *s, int col, int64_t dflt)
{
    return sqlite3_column_type(s, col) == SQLITE_NULL ? dflt : sqlite3_column_int64(s, col);
}

/* Runs the one-row select `which` bound to room_id and the integer v; *out gets column 0
 * (NULL or no row: dflt), *out2 column 1 when asked. */
static int sq_log_int(sq_conn_t *c, int which, const char *room_id, int64_t v, int64_t dflt,
                      int64_t *out, int64_t *out2)
{
    sqlite3_stmt *s = c->stmt[which];
    int bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, v) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sq_int_or(s, 0, dflt) : dflt;
    if (out2) *out2 = rc == SQLITE_ROW ? sq_int_or(s, 1, dflt) : dflt;
    int err = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "change log read");
    sq_release(s);
    return err;
}

static int sq_docs_at(sq_conn_t *c, store_rooms_t *r, int64_t t);

/* STORE_STATE_AT: the room at a moment, from the log's latest change of each key. */
static int sq_state_at(sq_conn_t *c, store_rooms_t *r)
{
    store_hist_t *h = &r->hist;
    const char *room_id = r->room.id;
    store_rooms_free(r);
    h->unavailable = h->more = 0;
    sqlite3_stmt *s = c->stmt[SQ_LOG_BASE];
    int rc = SQ_BIND(s, 1, r->room.id) != SQLITE_OK ? SQLITE_ERROR : sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        h->base_version = sq_int_or(s, 0, 0);
        h->base_time = sq_int_or(s, 1, 0);
    }
    int err = rc == SQLITE_ROW    ? STORE_OK
              : rc == SQLITE_DONE ? STORE_ENOTFOUND
                                  : sq_fail(c, "change log base read");
    sq_release(s);
    if (err != STORE_OK) return err;
    /* A document whose op log retention trimmed rebuilds only from its snapshot on: the
     * oldest moment is then that time, in the room's version then. */
    int64_t floor = 0, v0 = 0;
    err = sq_log_int(c, SQ_LOG_DOC_FLOOR, room_id, h->base_time, 0, &floor, NULL);
    if (err == STORE_OK && floor > h->base_time)
        err = sq_log_int(c, SQ_LOG_AT_TIME, room_id, floor, h->base_version, &v0, NULL);
    if (err != STORE_OK) return err;
    if (floor > h->base_time) {
        h->base_version = v0 > h->base_version ? v0 : h->base_version;
        h->base_time = floor;
    }
    int64_t v = h->at_version;
    if (v < 0) { /* by time: the newest change made at or before it */
        if (h->at_time < h->base_time) {
            h->unavailable = 1;
            return STORE_OK;
        }
        err = sq_log_int(c, SQ_LOG_AT_TIME, room_id, h->at_time, h->base_version, &v, NULL);
        if (err != STORE_OK) return err;
        if (v < h->base_version) v = h->base_version; /* at or after the base's time */
    }
    if (v < h->base_version) {
        h->unavailable = 1;
        return STORE_OK;
    }
    err = sq_log_int(c, SQ_LOG_VERSION, room_id, v, h->base_version, &h->version, &h->time);
    if (err != STORE_OK) return err;
    if (h->version <= h->base_version) { /* compacted below the base: the base itself */
        h->version = h->base_version;
        h->time = h->base_time;
    }
    s = c->stmt[SQ_LOG_STATE];
    int bad = SQ_BIND(s, 1, r->room.id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, h->version) != SQLITE_OK;
    rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    r->room.state = rc == SQLITE_ROW ? sq_dup_text(s, 0, 1) : ch_strdup("{}");
    err = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "change log state");
    sq_release(s);
    if (err != STORE_OK) return err;
    uint32_t limit = r->limit < STORE_PAGE_MAX ? r->limit : STORE_PAGE_MAX;
    if (limit == 0) return STORE_OK;
    s = c->stmt[SQ_LOG_ENTS];
    bad = SQ_BIND(s, 1, r->room.id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, h->version) != SQLITE_OK;
    bad |= SQ_BIND(s, 3, h->after) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 4, (int64_t)limit + 1) != SQLITE_OK;
    store_entity_t *ents = ch_calloc(limit, sizeof(*ents));
    size_t n = 0;
    rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        if (n == limit) {
            h->more = 1;
            rc = SQLITE_DONE;
            break;
        }
        store_entity_t *e = &ents[n++];
        memcpy(e->room_id, r->room.id, sizeof(e->room_id));
        sq_copy_text(c, e->id, sizeof(e->id), s, 0);
        sq_copy_text(c, e->kind, sizeof(e->kind), s, 1);
        sq_copy_text(c, e->owner, sizeof(e->owner), s, 2);
        e->data = sq_dup_text(s, 3, 1);
        e->version = sqlite3_column_int64(s, 4);
        e->state_version = sqlite3_column_int64(s, 5);
        e->created_at = sqlite3_column_int64(s, 6);
        e->updated_at = sqlite3_column_int64(s, 7);
        e->owner_only = sqlite3_column_int(s, 8) != 0;
    }
    err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "change log entities");
    sq_release(s);
    r->ents = ents;
    r->nents = n;
    /* The documents at the moment's time, never before the oldest moment's (a clock that
     * went back between two changes). */
    int64_t t = h->at_version < 0 ? h->at_time : h->time;
    if (err == STORE_OK) err = sq_docs_at(c, r, t < h->base_time ? h->base_time : t);
    if (err != STORE_OK) store_rooms_free(r);
    return err;
}

static int sq_doc_select(sq_conn_t *c, store_doc_t *doc, const char *room_id,
                         const char *doc_id);
static int sq_doc_ops(sq_conn_t *c, store_docs_t *d, const char *room_id, const char *doc_id,
                      int64_t from, int64_t limit);

/* STORE_STATE_AT's documents: each one's base and its ops up to the moment t. */
static int sq_docs_at(sq_conn_t *c, store_rooms_t *r, int64_t t)
{
    const char *room_id = r->room.id;
    sqlite3_stmt *s = c->stmt[SQ_LOG_DOCS];
    int bad = SQ_BIND(s, 1, r->room.id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, (int64_t)STORE_DOCS_AT_MAX + 1) != SQLITE_OK;
    r->docs = ch_calloc(STORE_DOCS_AT_MAX, sizeof(*r->docs));
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        if (r->ndocs == STORE_DOCS_AT_MAX) {
            r->hist.docs_more = 1;
            rc = SQLITE_DONE;
            break;
        }
        store_doc_t *d = &r->docs[r->ndocs++];
        memcpy(d->room_id, room_id, sizeof(d->room_id));
        sq_copy_text(c, d->doc_id, sizeof(d->doc_id), s, 0);
    }
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "change log documents");
    sq_release(s);
    size_t budget = STORE_OPS_MAX, keep = 0;
    for (size_t i = 0; err == STORE_OK && i < r->ndocs; i++) {
        store_doc_t *d = &r->docs[i];
        char doc_id[STORE_DOC_ID_LEN];
        memcpy(doc_id, d->doc_id, sizeof(doc_id));
        store_doc_t snap = {0};
        err = sq_doc_select(c, &snap, room_id, doc_id);
        if (err != STORE_OK) break;
        s = c->stmt[SQ_LOG_DOC_BOUNDS];
        bad = SQ_BIND(s, 1, r->room.id) != SQLITE_OK;
        bad |= SQ_BIND(s, 2, doc_id) != SQLITE_OK;
        bad |= sqlite3_bind_int64(s, 3, t) != SQLITE_OK;
        rc = bad ? SQLITE_ERROR : sqlite3_step(s);
        int64_t first = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        int64_t last = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
        err = rc == SQLITE_ROW ? STORE_OK : sq_fail(c, "change log document");
        sq_release(s);
        if (err != STORE_OK) {
            free(snap.snapshot);
            break;
        }
        /* The base: the snapshot when it was made by then, else the empty document when
         * the op log is whole; else retention took what the moment needs. */
        store_doc_t *out = &r->docs[keep];
        memmove(out, d, sizeof(*out));
        if (snap.snapshot && snap.version > 0 && snap.updated_at <= t) {
            out->version = snap.version;
            out->snapshot = snap.snapshot;
            out->updated_at = snap.updated_at;
            if (last < snap.version) last = snap.version;
        } else if (first <= 1) {
            free(snap.snapshot);
            if (last == 0) continue; /* no op by then: not there yet */
            out->version = 0;
            out->snapshot = ch_strdup("");
        } else {
            free(snap.snapshot);
            out->version = -1;
            keep++;
            continue;
        }
        if ((size_t)(last - out->version) > budget) {
            free(out->snapshot);
            out->snapshot = NULL;
            out->version = -1;
            keep++;
            continue;
        }
        keep++;
        if (last == out->version) continue;
        budget -= (size_t)(last - out->version);
        store_docs_t tmp = {0};
        /* Above the base the log has no gap: the next (last - base) ops. */
        err = sq_doc_ops(c, &tmp, room_id, doc_id, out->version, last - out->version);
        if (err == STORE_OK) {
            r->dops = ch_realloc(r->dops, (r->ndops + tmp.nops) * sizeof(*r->dops));
            memcpy(r->dops + r->ndops, tmp.ops, tmp.nops * sizeof(*tmp.ops));
            r->ndops += tmp.nops;
            free(tmp.ops);
        }
    }
    r->ndocs = keep;
    return err;
}

/* ELIMIT when host_id hosts max rooms or more; else OK. The count is in the write
 * transaction (BEGIN IMMEDIATE), which no other writer shares. */
static int sq_rooms_hosted_full(sq_conn_t *c, const char *host_id, uint32_t max)
{
    sqlite3_stmt *s = c->stmt[SQ_ROOMS_HOSTED];
    int rc = sq_bind_field(s, 1, host_id, STORE_SUB_LEN) != SQLITE_OK ? SQLITE_ERROR
                                                                      : sqlite3_step(s);
    int err = rc == SQLITE_ROW ? STORE_OK : sq_fail(c, "rooms hosted");
    if (err == STORE_OK && sqlite3_column_int64(s, 0) >= (int64_t)max) err = STORE_ELIMIT;
    sq_release(s);
    return err;
}

static int sq_room_create(sq_conn_t *c, const store_rooms_t *r)
{
    const store_room_t *rm = &r->room;
    if (r->max_hosted) {
        int herr = sq_rooms_hosted_full(c, rm->host_id, r->max_hosted);
        if (herr != STORE_OK) return herr;
    }
    sqlite3_stmt *s = c->stmt[SQ_ROOM_INSERT];
    int bad = SQ_BIND(s, 1, rm->id) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, rm->code) != SQLITE_OK;
    bad |= SQ_BIND(s, 3, rm->name) != SQLITE_OK;
    bad |= SQ_BIND(s, 4, rm->host_id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 5, rm->capacity) != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 6, rm->is_public ? 1 : 0) != SQLITE_OK;
    bad |= sq_bind_str(s, 7, rm->state, "{}") != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 8, rm->state_version) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 9, rm->created_at) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 10, rm->last_activity) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = sq_write_result(c, rc, "room create");
    sq_release(s);
    if (err != STORE_OK) return err;
    /* The host joins the room just created, whatever part.room_id says. This cannot meet
     * a constraint in a consistent database; if it does, failing with EIO rolls the room
     * back too, since an answer other than EIO must leave no change behind. */
    err = sq_part_put(c, &r->part, rm->id);
    if (err != STORE_OK && err != STORE_EIO) {
        log_error(c->log, "store sqlite: room create: the host participant was refused (%d)",
                  err);
        err = STORE_EIO;
    }
    /* The log starts here: its base is the room as created. */
    if (err == STORE_OK) err = sq_log_base(c, rm->id, rm->state_version, rm->created_at);
    if (err == STORE_OK)
        err = sq_log(c, rm->id, rm->state_version, rm->created_at, 0, NULL, rm->state);
    return err;
}

/* After a state write that matched nothing: ENOTFOUND when the room is missing, else
 * EEXISTS (its version is not the stored one's next) with the stored state version in
 * *stored, or EIO. */
static int sq_room_unmatched(sq_conn_t *c, const char *room_id, int64_t *stored)
{
    sqlite3_stmt *s = c->stmt[SQ_ROOM_EXISTS];
    int rc = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK ? SQLITE_ERROR
                                                                     : sqlite3_step(s);
    int err = rc == SQLITE_ROW    ? STORE_EEXISTS
              : rc == SQLITE_DONE ? STORE_ENOTFOUND
                                  : sq_fail(c, "room exists");
    if (rc == SQLITE_ROW) *stored = sqlite3_column_int64(s, 0);
    sq_release(s);
    return err;
}

static int sq_room_update(sq_conn_t *c, store_room_t *rm)
{
    sqlite3_stmt *s = c->stmt[SQ_ROOM_UPDATE];
    int bad = SQ_BIND(s, 1, rm->name) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, rm->capacity) != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 3, rm->is_public ? 1 : 0) != SQLITE_OK;
    bad |= sq_bind_str(s, 4, rm->state, "{}") != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 5, rm->state_version) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 6, rm->last_activity) != SQLITE_OK;
    bad |= SQ_BIND(s, 7, rm->id) != SQLITE_OK;
    bad |= SQ_BIND(s, 8, rm->code) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 9, rm->state_base) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    /* A code taken by another room is EEXISTS (the loop picks free codes, so only a
     * caller's bug meets it) and leaves the batch alone. */
    int err = sq_write_result(c, rc, "room update");
    int changed = err == STORE_OK ? sqlite3_changes(c->db) : 1;
    sq_release(s);
    /* A version that is not the stored one's next matched nothing: EEXISTS. */
    if (changed == 0) return sq_room_unmatched(c, rm->id, &rm->state_base);
    if (err != STORE_OK) return err;
    return sq_log(c, rm->id, rm->state_version, rm->last_activity, 0, NULL, rm->state);
}

/* Runs the cached DELETE statement `which` with its keys bound (k2 NULL: one key only).
 * ENOTFOUND when no row matched. */
static int sq_delete(sq_conn_t *c, int which, const char *k1, size_t cap1, const char *k2,
                     size_t cap2, const char *what)
{
    sqlite3_stmt *s = c->stmt[which];
    int bad = sq_bind_field(s, 1, k1, cap1) != SQLITE_OK;
    if (k2) bad |= sq_bind_field(s, 2, k2, cap2) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, what);
    /* Counts the rows the statement named, not the ones its cascade removed. */
    if (err == STORE_OK && sqlite3_changes(c->db) == 0) err = STORE_ENOTFOUND;
    sq_release(s);
    return err;
}

static void sq_read_msg(sq_conn_t *c, sqlite3_stmt *s, store_message_t *m);

/* With a client id: the user's message of that id in the room, read into *m (replacing
 * it) with EEXISTS and *dup = 1; else OK (nothing read). */
static int sq_message_dup(sq_conn_t *c, store_message_t *m, int *dup)
{
    *dup = 0;
    if (!m->client_id[0] || !m->user_id[0]) return STORE_OK;
    sqlite3_stmt *s = c->stmt[SQ_MSG_BY_CLIENT];
    int bad = SQ_BIND(s, 1, m->room_id) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, m->user_id) != SQLITE_OK;
    bad |= SQ_BIND(s, 3, m->client_id) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = STORE_OK;
    if (rc == SQLITE_ROW) {
        free(m->content);
        free(m->metadata);
        sq_read_msg(c, s, m);
        *dup = 1;
        err = STORE_EEXISTS;
    } else if (rc != SQLITE_DONE) {
        err = sq_fail(c, "message by client id");
    }
    sq_release(s);
    return err;
}

/* Inserts m; refused (EEXISTS), writes the room's highest stored seq into *last_seq, or,
 * a duplicate of its client id, the stored message into *m with *dup = 1. */
static int sq_message_insert(sq_conn_t *c, store_message_t *m, int64_t *last_seq, int *dup)
{
    int derr = sq_message_dup(c, m, dup);
    if (derr != STORE_OK) return derr;
    sqlite3_stmt *s = c->stmt[SQ_MSG_INSERT];
    int bad = SQ_BIND(s, 1, m->id) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, m->room_id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, m->seq) != SQLITE_OK;
    bad |= SQ_BIND_OPT(s, 4, m->user_id) != SQLITE_OK; /* "" (the server) is NULL */
    bad |= SQ_BIND(s, 5, m->display_name) != SQLITE_OK;
    bad |= SQ_BIND(s, 6, m->type) != SQLITE_OK;
    bad |= sq_bind_str(s, 7, m->content, "") != SQLITE_OK;
    bad |= sq_bind_str(s, 8, m->metadata, NULL) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 9, m->created_at) != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 10, m->app ? 1 : 0) != SQLITE_OK;
    bad |= SQ_BIND_OPT(s, 11, m->client_id) != SQLITE_OK; /* "" (none) is NULL */
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = sq_write_result(c, rc, "message insert");
    int changed = err == STORE_OK ? sqlite3_changes(c->db) : 1;
    sq_release(s);
    if (changed == 0) { /* not the next seq: EEXISTS, unless the room is missing */
        int64_t ignored;
        err = sq_room_unmatched(c, m->room_id, &ignored);
    }
    if (err == STORE_EEXISTS) {
        s = c->stmt[SQ_RET_MSG_MAX];
        rc = sq_bind_field(s, 1, m->room_id, STORE_ID_LEN) == SQLITE_OK ? sqlite3_step(s)
                                                                        : SQLITE_ERROR;
        if (rc == SQLITE_ROW)
            *last_seq = sqlite3_column_int64(s, 0);
        else
            err = sq_fail(c, "room last seq");
        sq_release(s);
    }
    if (err != STORE_OK) return err;
    /* After the insert, so that a refused message leaves the room untouched; the insert
     * passed the foreign key, so the room exists. */
    s = c->stmt[SQ_ROOM_TOUCH];
    bad = sqlite3_bind_int64(s, 1, m->created_at) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, m->room_id) != SQLITE_OK;
    rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "room last_activity");
    sq_release(s);
    return err;
}

/* Fills m (malloc'd strings) from the current row of a SQ_MSG_COLUMNS select. */
static void sq_read_msg(sq_conn_t *c, sqlite3_stmt *s, store_message_t *m)
{
    memset(m, 0, sizeof(*m));
    sq_copy_text(c, m->id, sizeof(m->id), s, 0);
    sq_copy_text(c, m->room_id, sizeof(m->room_id), s, 1);
    m->seq = sqlite3_column_int64(s, 2);
    sq_copy_text(c, m->user_id, sizeof(m->user_id), s, 3); /* NULL reads as "" */
    sq_copy_text(c, m->display_name, sizeof(m->display_name), s, 4);
    sq_copy_text(c, m->type, sizeof(m->type), s, 5);
    m->content = sq_dup_text(s, 6, 1);
    m->metadata = sq_dup_text(s, 7, 0);
    m->created_at = sqlite3_column_int64(s, 8);
    m->app = sqlite3_column_int(s, 9) != 0;
    sq_copy_text(c, m->client_id, sizeof(m->client_id), s, 10); /* NULL reads as "" */
}

static void sq_free_msgs(store_message_t *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(msgs[i].content);
        free(msgs[i].metadata);
    }
    free(msgs);
}

static int sq_messages_page(sq_conn_t *c, store_rooms_t *r)
{
    r->msgs = NULL;
    r->nmsgs = 0;
    uint32_t limit = r->limit < STORE_PAGE_MAX ? r->limit : STORE_PAGE_MAX;
    if (limit == 0) return STORE_OK;
    /* A negative bound means none (0 is a real bound: after 0 is "from the first"). With
     * after, the oldest messages above it (also below before, if both are given);
     * otherwise the newest. */
    int asc = r->after >= 0;
    int64_t lo = r->after >= 0 ? r->after : 0;
    int64_t hi = r->before >= 0 ? r->before : INT64_MAX;
    sqlite3_stmt *s = c->stmt[asc ? SQ_MSGS_ASC : SQ_MSGS_DESC];
    int bad = SQ_BIND(s, 1, r->room.id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, lo) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, hi) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 4, limit) != SQLITE_OK;
    store_message_t *msgs = NULL;
    size_t n = 0, cap = 0;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    for (; rc == SQLITE_ROW && n < limit; rc = sqlite3_step(s)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            if (cap > limit) cap = limit;
            msgs = ch_realloc(msgs, cap * sizeof(*msgs));
        }
        sq_read_msg(c, s, &msgs[n++]);
    }
    if (rc == SQLITE_ROW) rc = SQLITE_DONE; /* LIMIT makes this unreachable */
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "messages page");
    sq_release(s);
    if (err != STORE_OK) {
        sq_free_msgs(msgs, n);
        return err;
    }
    if (!asc) /* newest first from the database; the answer is ascending */
        for (size_t i = 0, j = n ? n - 1 : 0; i < j; i++, j--) {
            store_message_t t = msgs[i];
            msgs[i] = msgs[j];
            msgs[j] = t;
        }
    r->msgs = msgs;
    r->nmsgs = n;
    return STORE_OK;
}

/* Steps s (bound; SQ_PART_COLUMNS) to its end into *parts (malloc'd), *nparts; resets s.
 * On an error *parts may hold the rows read so far (the caller frees it). */
static int sq_parts_read(sq_conn_t *c, sqlite3_stmt *s, store_participant_t **parts,
                         size_t *nparts, const char *what)
{
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*nparts == cap) {
            cap = cap ? cap * 2 : 16;
            *parts = ch_realloc(*parts, cap * sizeof(**parts));
        }
        store_participant_t *p = &(*parts)[(*nparts)++];
        memset(p, 0, sizeof(*p));
        sq_copy_text(c, p->room_id, sizeof(p->room_id), s, 0);
        sq_copy_text(c, p->user_id, sizeof(p->user_id), s, 1);
        sq_copy_text(c, p->display_name, sizeof(p->display_name), s, 2);
        sq_copy_text(c, p->color, sizeof(p->color), s, 3);
        p->role = sqlite3_column_int(s, 4);
        p->banned = sqlite3_column_int64(s, 5) != 0;
        p->joined_at = sqlite3_column_int64(s, 6);
    }
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, what);
    sq_release(s);
    return err;
}

static int sq_parts_of_user(sq_conn_t *c, store_rooms_t *r)
{
    uint32_t limit = r->limit < STORE_PAGE_MAX ? r->limit : STORE_PAGE_MAX;
    if (!limit) return STORE_OK;
    sqlite3_stmt *s = c->stmt[SQ_PARTS_OF_USER];
    if (sq_bind_field(s, 1, r->part.user_id, STORE_SUB_LEN) != SQLITE_OK ||
        sqlite3_bind_int64(s, 2, limit) != SQLITE_OK) {
        sq_release(s);
        return sq_fail(c, "participants of user");
    }
    int err = sq_parts_read(c, s, &r->parts, &r->nparts, "participants of user");
    if (err != STORE_OK) {
        free(r->parts);
        r->parts = NULL;
        r->nparts = 0;
    }
    return err;
}

/* Every room with its participants, or with one (STORE_ROOM_LOAD) the room r->room names
 * (ENOTFOUND when none). */
static int sq_rooms_load(sq_conn_t *c, store_rooms_t *r, int one)
{
    char id[STORE_ID_LEN];
    snprintf(id, sizeof(id), "%s", r->room.id);
    r->rooms = NULL;
    r->nrooms = 0;
    r->parts = NULL;
    r->nparts = 0;
    store_room_t *rooms = NULL;
    store_participant_t *parts = NULL;
    size_t nrooms = 0, nparts = 0, cap = 0;

    sqlite3_stmt *s = c->stmt[one ? SQ_ROOM_ONE : SQ_ROOMS_ALL];
    int rc = SQLITE_OK;
    if (one && (SQ_BIND(s, 1, id) != SQLITE_OK || SQ_BIND(s, 2, r->room.code) != SQLITE_OK))
        rc = SQLITE_ERROR;
    while (rc != SQLITE_ERROR && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (nrooms == cap) {
            cap = cap ? cap * 2 : 16;
            rooms = ch_realloc(rooms, cap * sizeof(*rooms));
        }
        store_room_t *rm = &rooms[nrooms++];
        memset(rm, 0, sizeof(*rm));
        sq_copy_text(c, rm->id, sizeof(rm->id), s, 0);
        sq_copy_text(c, rm->code, sizeof(rm->code), s, 1);
        sq_copy_text(c, rm->name, sizeof(rm->name), s, 2);
        sq_copy_text(c, rm->host_id, sizeof(rm->host_id), s, 3);
        int64_t capacity = sqlite3_column_int64(s, 4);
        rm->capacity = capacity < 0            ? 0
                       : capacity > UINT32_MAX ? UINT32_MAX
                                               : (uint32_t)capacity;
        rm->is_public = sqlite3_column_int64(s, 5) != 0;
        rm->state = sq_dup_text(s, 6, 1);
        rm->state_version = sqlite3_column_int64(s, 7);
        rm->created_at = sqlite3_column_int64(s, 8);
        rm->last_activity = sqlite3_column_int64(s, 9);
        rm->last_seq = sqlite3_column_int64(s, 10);
    }
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "rooms load");
    sq_release(s);
    if (err == STORE_OK && one && nrooms == 0) err = STORE_ENOTFOUND;
    if (err != STORE_OK) goto fail;

    s = c->stmt[one ? SQ_PARTS_ROOM : SQ_PARTS_ALL];
    if (one && SQ_BIND(s, 1, rooms[0].id) != SQLITE_OK) {
        sq_release(s);
        err = sq_fail(c, "participants load");
    } else {
        err = sq_parts_read(c, s, &parts, &nparts, "participants load");
    }
    if (err != STORE_OK) goto fail;

    r->rooms = rooms;
    r->nrooms = nrooms;
    r->parts = parts;
    r->nparts = nparts;
    return STORE_OK;

fail:
    for (size_t i = 0; i < nrooms; i++)
        free(rooms[i].state);
    free(rooms);
    free(parts);
    return err;
}

/* ---- entities ---- */

/* Sets the room's state version to e's room_version, and raises its activity to e's
 * (same transaction as the change). EEXISTS when the stored version is not e's room_base
 * or room_version is not above it (nothing changed; room_base then holds the stored one),
 * ENOTFOUND when the room is gone. */
static int sq_ent_room_version(sq_conn_t *c, store_entity_t *e)
{
    sqlite3_stmt *s = c->stmt[SQ_ENT_ROOM_VERSION];
    int bad = sqlite3_bind_int64(s, 1, e->room_version) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, e->updated_at) != SQLITE_OK;
    bad |= SQ_BIND(s, 3, e->room_id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 4, e->room_base) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "entity room version");
    int changed = err == STORE_OK ? sqlite3_changes(c->db) : 1;
    sq_release(s);
    return changed == 0 ? sq_room_unmatched(c, e->room_id, &e->room_base) : err;
}

static int sq_ent_put(sq_conn_t *c, store_entity_t *e)
{
    sqlite3_stmt *s = c->stmt[SQ_ENT_UPSERT];
    int bad = SQ_BIND(s, 1, e->room_id) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, e->id) != SQLITE_OK;
    bad |= SQ_BIND(s, 3, e->kind) != SQLITE_OK;
    bad |= SQ_BIND(s, 4, e->owner) != SQLITE_OK;
    bad |= sq_bind_str(s, 5, e->data, "{}") != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 6, e->version) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 7, e->state_version) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 8, e->created_at) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 9, e->updated_at) != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 10, e->owner_only ? 1 : 0) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    /* A missing room is the foreign key: ENOTFOUND, and only this statement was undone. */
    int err = sq_write_result(c, rc, "entity put");
    sq_release(s);
    if (err != STORE_OK) return err;
    err = sq_ent_room_version(c, e);
    if (err == STORE_ENOTFOUND) return STORE_EIO; /* the row passed the foreign key */
    if (err != STORE_OK) return err;
    return sq_log(c, e->room_id, e->room_version, e->updated_at, 1, e, e->data);
}

static int sq_ent_delete(sq_conn_t *c, store_entity_t *e)
{
    int err = sq_delete(c, SQ_ENT_DELETE, e->room_id, STORE_ID_LEN, e->id, STORE_ENTITY_ID_LEN,
                        "entity delete");
    if (err != STORE_OK && err != STORE_ENOTFOUND) return err;
    err = sq_ent_room_version(c, e);
    /* A missing room: the entity went with it, nothing to do. EEXISTS (a lower version):
     * the savepoint undoes the delete. */
    if (err == STORE_ENOTFOUND) return STORE_OK;
    if (err != STORE_OK) return err;
    return sq_log(c, e->room_id, e->room_version, e->updated_at, 2, e, "");
}

/* Every entity, or those of room_id (not NULL). */
static int sq_ents_load(sq_conn_t *c, store_rooms_t *r, const char *room_id)
{
    store_entity_t *ents = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *s = c->stmt[room_id ? SQ_ENTS_ROOM : SQ_ENTS_ALL];
    int rc = room_id && sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK ? SQLITE_ERROR
                                                                                : SQLITE_OK;
    while (rc != SQLITE_ERROR && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            ents = ch_realloc(ents, cap * sizeof(*ents));
        }
        store_entity_t *e = &ents[n++];
        memset(e, 0, sizeof(*e));
        sq_copy_text(c, e->room_id, sizeof(e->room_id), s, 0);
        sq_copy_text(c, e->id, sizeof(e->id), s, 1);
        sq_copy_text(c, e->kind, sizeof(e->kind), s, 2);
        sq_copy_text(c, e->owner, sizeof(e->owner), s, 3);
        e->data = sq_dup_text(s, 4, 1);
        e->version = sqlite3_column_int64(s, 5);
        e->state_version = sqlite3_column_int64(s, 6);
        e->created_at = sqlite3_column_int64(s, 7);
        e->updated_at = sqlite3_column_int64(s, 8);
        e->owner_only = sqlite3_column_int(s, 9) != 0;
    }
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "entities load");
    sq_release(s);
    if (err != STORE_OK) {
        for (size_t i = 0; i < n; i++)
            free(ents[i].data);
        free(ents);
        return err;
    }
    r->ents = ents;
    r->nents = n;
    return STORE_OK;
}

/* ---- documents ---- */

/* Fills op (malloc'd delta) from the current row of a SQ_OP_COLUMNS select. */
static void sq_read_op(sq_conn_t *c, sqlite3_stmt *s, store_doc_op_t *op)
{
    memset(op, 0, sizeof(*op));
    sq_copy_text(c, op->room_id, sizeof(op->room_id), s, 0);
    sq_copy_text(c, op->doc_id, sizeof(op->doc_id), s, 1);
    op->version = sqlite3_column_int64(s, 2);
    op->delta = sq_dup_text(s, 3, 1);
    sq_copy_text(c, op->author, sizeof(op->author), s, 4);
    sq_copy_text(c, op->op_id, sizeof(op->op_id), s, 5); /* NULL reads as "" */
    op->created_at = sqlite3_column_int64(s, 6);
}

static void sq_free_ops(store_doc_op_t *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ops[i].delta);
    free(ops);
}

/* Replaces d's output ops (freeing earlier ones) with the ops of document room_id/doc_id
 * with version > from, ascending, at most limit (negative: all). */
static int sq_doc_ops(sq_conn_t *c, store_docs_t *d, const char *room_id, const char *doc_id,
                      int64_t from, int64_t limit)
{
    sq_free_ops(d->ops, d->nops);
    d->ops = NULL;
    d->nops = 0;
    if (limit == 0) return STORE_OK;
    sqlite3_stmt *s = c->stmt[SQ_DOC_OPS];
    int bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sq_bind_field(s, 2, doc_id, STORE_DOC_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, from) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 4, limit) != SQLITE_OK;
    store_doc_op_t *ops = NULL;
    size_t n = 0, cap = 0;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            if (limit > 0 && cap > (size_t)limit) cap = (size_t)limit;
            ops = ch_realloc(ops, cap * sizeof(*ops));
        }
        sq_read_op(c, s, &ops[n++]);
    }
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "doc ops");
    sq_release(s);
    if (err != STORE_OK) {
        sq_free_ops(ops, n);
        return err;
    }
    d->ops = ops;
    d->nops = n;
    return STORE_OK;
}

/* A document's stored snapshot into doc (version 0 and no text when it has none). */
static int sq_doc_select(sq_conn_t *c, store_doc_t *doc, const char *room_id,
                         const char *doc_id)
{
    sqlite3_stmt *s = c->stmt[SQ_DOC_SELECT];
    int bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sq_bind_field(s, 2, doc_id, STORE_DOC_ID_LEN) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        doc->version = sqlite3_column_int64(s, 0);
        doc->snapshot = sq_dup_text(s, 1, 1);
        doc->updated_at = sqlite3_column_int64(s, 2);
    }
    int err = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "doc select");
    sq_release(s);
    return err;
}

static int sq_doc_load(sq_conn_t *c, store_docs_t *d)
{
    store_doc_t *doc = &d->doc;
    free(doc->snapshot);
    doc->snapshot = NULL;
    doc->version = 0;
    doc->updated_at = 0;
    sqlite3_stmt *s = c->stmt[SQ_DOC_SELECT];
    int bad = SQ_BIND(s, 1, doc->room_id) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, doc->doc_id) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = STORE_OK;
    if (rc == SQLITE_ROW) {
        doc->version = sqlite3_column_int64(s, 0);
        doc->snapshot = sq_dup_text(s, 1, 1);
        doc->updated_at = sqlite3_column_int64(s, 2);
    } else if (rc == SQLITE_DONE) {
        doc->snapshot = ch_strdup(""); /* a new document: version 0, empty */
    } else {
        err = sq_fail(c, "doc load");
    }
    sq_release(s);
    /* Same transaction: the ops are exactly those after this snapshot. */
    if (err == STORE_OK) err = sq_doc_ops(c, d, doc->room_id, doc->doc_id, doc->version, -1);
    if (err != STORE_OK) {
        free(doc->snapshot);
        doc->snapshot = NULL;
        doc->version = 0;
    }
    return err;
}

/* Checks that op is its document's next version (gapless, never reused): 0, EEXISTS
 * (taken, stale or a gap), ENOTFOUND (no such room) or EIO. SQLite has one writer at a
 * time (BEGIN IMMEDIATE), so nothing can come between this check and the insert. */
static int sq_doc_op_next(sq_conn_t *c, const store_doc_op_t *op)
{
    sqlite3_stmt *s = c->stmt[SQ_DOC_NEXT];
    int bad = SQ_BIND(s, 1, op->room_id) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, op->doc_id) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err;
    if (rc != SQLITE_ROW)
        err = sq_fail(c, "doc op version");
    else if (sqlite3_column_int64(s, 0) == 0)
        err = STORE_ENOTFOUND;
    else
        err = sqlite3_column_int64(s, 1) == op->version ? STORE_OK : STORE_EEXISTS;
    sq_release(s);
    return err;
}

static int sq_doc_op_insert(sq_conn_t *c, const store_docs_t *d)
{
    const store_doc_op_t *op = &d->op;
    int err = sq_doc_op_next(c, op);
    if (err != STORE_OK) return err;
    sqlite3_stmt *s = c->stmt[SQ_DOC_OP_INSERT];
    int bad = SQ_BIND(s, 1, op->room_id) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, op->doc_id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, op->version) != SQLITE_OK;
    bad |= sq_bind_str(s, 4, op->delta, "") != SQLITE_OK;
    bad |= SQ_BIND(s, 5, op->author) != SQLITE_OK;
    bad |= SQ_BIND_OPT(s, 6, op->op_id) != SQLITE_OK; /* "" (none) is NULL */
    bad |= sqlite3_bind_int64(s, 7, op->created_at) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    /* Checked above; kept as a guard: a taken version is EEXISTS, a missing room
     * (foreign key) ENOTFOUND, both undoing only this statement. */
    err = sq_write_result(c, rc, "doc op insert");
    sq_release(s);
    if (err != STORE_OK || !d->doc.snapshot) return err;
    /* The op passed the foreign key, so the room exists. This cannot meet a constraint in
     * a consistent database; if it does, failing with EIO rolls the op back too, since an
     * answer other than EIO must leave no change behind. */
    s = c->stmt[SQ_DOC_UPSERT];
    bad = SQ_BIND(s, 1, op->room_id) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, op->doc_id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, op->version) != SQLITE_OK;
    bad |= sq_bind_str(s, 4, d->doc.snapshot, NULL) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 5, op->created_at) != SQLITE_OK;
    rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "doc snapshot");
    sq_release(s);
    return err;
}

static int sq_doc_ops_range(sq_conn_t *c, store_docs_t *d)
{
    uint32_t limit = d->limit < STORE_OPS_MAX ? d->limit : STORE_OPS_MAX;
    return sq_doc_ops(c, d, d->doc.room_id, d->doc.doc_id, d->from, limit);
}

/* ---- usage and retention ---- */

/* Adds bytes to (room_id, user_id) in *u (n rows, *cap allocated). Rows of one room are
 * added together, so only the tail is searched for the pair. */
static void sq_usage_add(store_usage_t **u, size_t *n, size_t *cap, const char *room_id,
                         const char *user_id, int64_t bytes)
{
    for (size_t i = *n; i-- > 0 && strcmp((*u)[i].room_id, room_id) == 0;) {
        if (strcmp((*u)[i].user_id, user_id) == 0) {
            (*u)[i].bytes += bytes;
            return;
        }
    }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *u = ch_realloc(*u, *cap * sizeof(**u));
    }
    store_usage_t *row = &(*u)[(*n)++];
    memset(row, 0, sizeof(*row));
    snprintf(row->room_id, sizeof(row->room_id), "%s", room_id);
    snprintf(row->user_id, sizeof(row->user_id), "%s", user_id);
    row->bytes = bytes;
}

/* Sets r->usage to the bytes stored per room and author: of every room (room_id NULL) or
 * of one. */
static int sq_usage(sq_conn_t *c, store_rooms_t *r, const char *room_id)
{
    free(r->usage);
    r->usage = NULL;
    r->nusage = 0;
    sqlite3_stmt *s = c->stmt[room_id ? SQ_USAGE_ROOM : SQ_USAGE_ALL];
    int bad = room_id ? sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK : 0;
    store_usage_t *u = NULL;
    size_t n = 0, cap = 0;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        char rid[STORE_ID_LEN], uid[STORE_SUB_LEN];
        sq_copy_text(c, rid, sizeof(rid), s, 0);
        sq_copy_text(c, uid, sizeof(uid), s, 1);
        sq_usage_add(&u, &n, &cap, rid, uid, sqlite3_column_int64(s, 2));
    }
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "usage");
    sq_release(s);
    if (err != STORE_OK) {
        free(u);
        return err;
    }
    r->usage = u;
    r->nusage = n;
    return STORE_OK;
}

/* ---- the activity log (ACT, issue 25) ---- */

static int sq_act_put(sq_conn_t *c, store_acts_t *a)
{
    for (size_t i = 0; i < a->nrows; i++) {
        store_act_t *row = &a->rows[i];
        sqlite3_stmt *s = c->stmt[SQ_ACT_NEXT];
        int rc = SQ_BIND(s, 1, row->room_id) == SQLITE_OK ? sqlite3_step(s) : SQLITE_ERROR;
        row->seq = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        int err = rc == SQLITE_ROW ? STORE_OK : sq_fail(c, "activity next");
        sq_release(s);
        if (err != STORE_OK) return err;
        if (row->seq == 0) continue; /* the room is gone: so is its log */
        s = c->stmt[SQ_ACT_INSERT];
        int bad = SQ_BIND(s, 1, row->room_id) != SQLITE_OK;
        bad |= sqlite3_bind_int64(s, 2, row->seq) != SQLITE_OK;
        bad |= sqlite3_bind_int64(s, 3, row->at) != SQLITE_OK;
        bad |= SQ_BIND(s, 4, row->user_id) != SQLITE_OK;
        bad |= SQ_BIND(s, 5, row->display_name) != SQLITE_OK;
        bad |= SQ_BIND(s, 6, row->kind) != SQLITE_OK;
        bad |= sq_bind_str(s, 7, row->data, "{}") != SQLITE_OK;
        rc = bad ? SQLITE_ERROR : sqlite3_step(s);
        err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "activity insert");
        sq_release(s);
        if (err != STORE_OK) return err;
    }
    return STORE_OK;
}

static int sq_act_page(sq_conn_t *c, store_acts_t *a)
{
    store_acts_free(a);
    uint32_t limit = a->limit < STORE_PAGE_MAX ? a->limit : STORE_PAGE_MAX;
    if (limit == 0) return STORE_OK;
    sqlite3_stmt *s = c->stmt[SQ_ACT_PAGE];
    int bad = SQ_BIND(s, 1, a->room_id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, a->before > 0 ? a->before : INT64_MAX) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, limit) != SQLITE_OK;
    size_t n = 0, cap = 0;
    store_act_t *rows = NULL;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            rows = ch_realloc(rows, cap * sizeof(*rows));
        }
        store_act_t *row = &rows[n++];
        memset(row, 0, sizeof(*row));
        memcpy(row->room_id, a->room_id, sizeof(row->room_id));
        row->seq = sqlite3_column_int64(s, 0);
        row->at = sqlite3_column_int64(s, 1);
        sq_copy_text(c, row->user_id, sizeof(row->user_id), s, 2);
        sq_copy_text(c, row->display_name, sizeof(row->display_name), s, 3);
        sq_copy_text(c, row->kind, sizeof(row->kind), s, 4);
        row->data = sq_dup_text(s, 5, 1);
    }
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "activity page");
    sq_release(s);
    a->rows = rows;
    a->nrows = n;
    if (err != STORE_OK) store_acts_free(a);
    return err;
}

/* Deletes the activity rows of room_id past act_before / act_keep, oldest first, at most
 * *budget rows; the newest always stays, so the room's seqs never restart. */
static int sq_ret_acts(sq_conn_t *c, const store_retention_t *ret, const char *room_id,
                       uint32_t *budget)
{
    sqlite3_stmt *s = c->stmt[SQ_RET_ACT_MAX];
    int rc = sq_bind_field(s, 1, room_id, STORE_ID_LEN) == SQLITE_OK ? sqlite3_step(s)
                                                                     : SQLITE_ERROR;
    int64_t max = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    int err = rc == SQLITE_ROW ? STORE_OK : sq_fail(c, "retention activity max");
    sq_release(s);
    if (err != STORE_OK || max <= 1) return err;
    s = c->stmt[SQ_RET_ACTS];
    int bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, *budget) != SQLITE_OK;
    int64_t upto = 0;
    rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        int64_t seq = sqlite3_column_int64(s, 0), at = sqlite3_column_int64(s, 1);
        int old = ret->act_before > 0 && at < ret->act_before;
        int over = ret->act_keep > 0 && seq <= max - ret->act_keep;
        if (seq >= max || (!old && !over)) break;
        upto = seq;
        (*budget)--;
    }
    err = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "retention activity");
    sq_release(s);
    if (err != STORE_OK || upto == 0) return err;
    s = c->stmt[SQ_RET_ACT_DELETE];
    bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, upto) != SQLITE_OK;
    rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "retention activity delete");
    sq_release(s);
    return err;
}

/* Deletes the messages of room_id past the rules, oldest first, at most *budget rows
 * (lowered by what went). The newest message always stays, so seqs never restart. */
static int sq_ret_messages(sq_conn_t *c, store_rooms_t *r, const char *room_id, uint32_t *budget,
                           size_t *ucap)
{
    const store_retention_t *ret = &r->ret;
    sqlite3_stmt *s = c->stmt[SQ_RET_MSG_MAX];
    int rc = sq_bind_field(s, 1, room_id, STORE_ID_LEN) == SQLITE_OK ? sqlite3_step(s)
                                                                      : SQLITE_ERROR;
    int64_t max = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    int err = rc == SQLITE_ROW ? STORE_OK : sq_fail(c, "retention max seq");
    sq_release(s);
    if (err != STORE_OK || max <= 1) return err;

    s = c->stmt[SQ_RET_MSGS];
    int bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, *budget) != SQLITE_OK;
    int64_t upto = 0;
    rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        int64_t seq = sqlite3_column_int64(s, 0);
        int64_t at = sqlite3_column_int64(s, 2);
        int old = ret->msg_before > 0 && at < ret->msg_before;
        int over = ret->msg_keep > 0 && seq <= max - ret->msg_keep;
        if (seq >= max || (!old && !over)) break;
        char uid[STORE_SUB_LEN];
        sq_copy_text(c, uid, sizeof(uid), s, 1);
        sq_usage_add(&r->usage, &r->nusage, ucap, room_id, uid, sqlite3_column_int64(s, 3));
        upto = seq;
        (*budget)--;
    }
    err = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "retention messages");
    sq_release(s);
    if (err != STORE_OK || upto == 0) return err;
    s = c->stmt[SQ_RET_MSG_DELETE];
    bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, upto) != SQLITE_OK;
    rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "retention message delete");
    sq_release(s);
    return err;
}

/* Deletes the op log rows of one document more than doc_keep before its snapshot (at
 * version snap), oldest first, at most *budget rows. */
static int sq_ret_doc(sq_conn_t *c, store_rooms_t *r, const char *room_id, const char *doc_id,
                      int64_t snap, uint32_t *budget, size_t *ucap)
{
    int64_t lim = snap - r->ret.doc_keep;
    if (lim <= 0) return STORE_OK;
    sqlite3_stmt *s = c->stmt[SQ_RET_OPS];
    int bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sq_bind_field(s, 2, doc_id, STORE_DOC_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, lim) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 4, *budget) != SQLITE_OK;
    int64_t upto = 0;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        char uid[STORE_SUB_LEN];
        sq_copy_text(c, uid, sizeof(uid), s, 1);
        sq_usage_add(&r->usage, &r->nusage, ucap, room_id, uid, sqlite3_column_int64(s, 2));
        upto = sqlite3_column_int64(s, 0);
        (*budget)--;
    }
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "retention ops");
    sq_release(s);
    if (err != STORE_OK || upto == 0) return err;
    s = c->stmt[SQ_RET_OPS_DELETE];
    bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sq_bind_field(s, 2, doc_id, STORE_DOC_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, upto) != SQLITE_OK;
    rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "retention op delete");
    sq_release(s);
    return err;
}

static int sq_ret_docs(sq_conn_t *c, store_rooms_t *r, const char *room_id, uint32_t *budget,
                       size_t *ucap)
{
    sqlite3_stmt *s = c->stmt[SQ_RET_DOCS];
    int rc = sq_bind_field(s, 1, room_id, STORE_ID_LEN) == SQLITE_OK ? sqlite3_step(s)
                                                                      : SQLITE_ERROR;
    int err = STORE_OK;
    for (; rc == SQLITE_ROW && *budget > 0; rc = sqlite3_step(s)) {
        char doc_id[STORE_DOC_ID_LEN];
        sq_copy_text(c, doc_id, sizeof(doc_id), s, 0);
        err = sq_ret_doc(c, r, room_id, doc_id, sqlite3_column_int64(s, 1), budget, ucap);
        if (err != STORE_OK) break;
    }
    if (err == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = sq_fail(c, "retention documents");
    sq_release(s);
    return err;
}

/* Compacts room_id's change log (issue 25): the base moves up to the oldest version the
 * rules keep, and the changes that version no longer needs go, oldest first, at most
 * *budget rows. The base moves first, so a sweep cut by its budget leaves a log that
 * rebuilds every version from the base on. */
static int sq_ret_log(sq_conn_t *c, store_rooms_t *r, const char *room_id, uint32_t *budget)
{
    const store_retention_t *ret = &r->ret;
    sqlite3_stmt *s = c->stmt[SQ_RET_LOG_RULES];
    int bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, ret->log_keep > 0 ? ret->log_keep : INT64_MAX) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, ret->log_before) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int64_t max = 0, by_count = 0, by_age = 0, base = 0;
    if (rc == SQLITE_ROW) {
        max = sq_int_or(s, 0, 0);
        by_count = ret->log_keep > 0 ? sq_int_or(s, 1, 0) : 0;
        by_age = ret->log_before > 0 ? sq_int_or(s, 2, 0) : 0;
        base = sq_int_or(s, 3, 0);
    }
    int err = rc == SQLITE_ROW ? STORE_OK : sq_fail(c, "retention change log");
    sq_release(s);
    if (err != STORE_OK) return err;
    int64_t cut = by_count > by_age ? by_count : by_age;
    if (cut > max) cut = max;
    if (cut > base) {
        int64_t at = 0;
        err = sq_log_int(c, SQ_RET_LOG_BASE, room_id, cut, 0, &at, NULL);
        if (err == STORE_OK) err = sq_log_base(c, room_id, cut, at);
        if (err != STORE_OK) return err;
        base = cut;
    }
    if (base <= 0) return STORE_OK;
    s = c->stmt[SQ_RET_LOG_DELETE];
    bad = sq_bind_field(s, 1, room_id, STORE_ID_LEN) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, base) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, *budget) != SQLITE_OK;
    rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "retention change log delete");
    int n = err == STORE_OK ? sqlite3_changes(c->db) : 0;
    sq_release(s);
    *budget -= (uint32_t)n < *budget ? (uint32_t)n : *budget;
    return err;
}

static int sq_retention(sq_conn_t *c, store_rooms_t *r)
{
    store_retention_t *ret = &r->ret;
    free(r->usage);
    r->usage = NULL;
    r->nusage = 0;
    ret->more = 0;
    size_t ucap = 0;
    uint32_t budget = ret->batch ? ret->batch : 1;
    sqlite3_stmt *s = c->stmt[SQ_RET_ROOMS];
    int rc = SQ_BIND(s, 1, ret->cursor) == SQLITE_OK ? sqlite3_step(s) : SQLITE_ERROR;
    int err = STORE_OK;
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        char room_id[STORE_ID_LEN];
        sq_copy_text(c, room_id, sizeof(room_id), s, 0);
        if (budget == 0) { /* out of budget: this room is the next request's first */
            memcpy(ret->cursor, room_id, sizeof(ret->cursor));
            ret->more = 1;
            break;
        }
        if (ret->msg_before > 0 || ret->msg_keep > 0)
            err = sq_ret_messages(c, r, room_id, &budget, &ucap);
        if (err == STORE_OK && ret->doc_keep > 0 && budget > 0)
            err = sq_ret_docs(c, r, room_id, &budget, &ucap);
        if (err == STORE_OK && (ret->act_before > 0 || ret->act_keep > 0) && budget > 0)
            err = sq_ret_acts(c, ret, room_id, &budget);
        if (err == STORE_OK && (ret->log_keep > 0 || ret->log_before > 0) && budget > 0)
            err = sq_ret_log(c, r, room_id, &budget);
        if (err != STORE_OK) break;
        if (budget == 0) { /* maybe more in this room: start there next time */
            memcpy(ret->cursor, room_id, sizeof(ret->cursor));
            ret->more = 1;
            break;
        }
    }
    if (err == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = sq_fail(c, "retention rooms");
    sq_release(s);
    if (!ret->more) ret->cursor[0] = '\0';
    return err;
}

/* ---- backend functions ---- */

/* Steps a cached no-row statement (BEGIN, COMMIT, ROLLBACK, savepoints). Returns 0 or
 * STORE_EIO. */
/* ---- webhook deliveries ---- */

static int sq_hook_insert(sq_conn_t *c, const store_hook_t *h)
{
    sqlite3_stmt *s = c->stmt[SQ_HOOK_INSERT];
    int bad = SQ_BIND(s, 1, h->id) != SQLITE_OK;
    bad |= SQ_BIND(s, 2, h->endpoint) != SQLITE_OK;
    bad |= SQ_BIND(s, 3, h->room_id) != SQLITE_OK;
    bad |= SQ_BIND(s, 4, h->type) != SQLITE_OK;
    bad |= sq_bind_str(s, 5, h->body, "{}") != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 6, h->state) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 7, h->attempts) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 8, h->next_at) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 9, h->created_at) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 10, h->updated_at) != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 11, h->last_status) != SQLITE_OK;
    bad |= SQ_BIND(s, 12, h->last_error) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    /* A taken id cannot happen (random ids): EIO, so nothing half-done commits. */
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "webhook insert");
    sq_release(s);
    return err;
}

/* Queues the deliveries a request carries (req->enqueue). */
static int sq_hooks_enqueue(sq_conn_t *c, const store_req_t *req)
{
    for (size_t i = 0; i < req->nenqueue; i++) {
        int err = sq_hook_insert(c, &req->enqueue[i]);
        if (err != STORE_OK) return err;
    }
    return STORE_OK;
}

/* Reads rows of a SQ_HOOK_COLUMNS select into h->rows (replacing them). */
static int sq_hooks_read(sq_conn_t *c, sqlite3_stmt *s, store_hooks_t *h, const char *what)
{
    size_t n = 0, cap = 0;
    store_hook_t *out = NULL;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            out = ch_realloc(out, cap * sizeof(*out));
        }
        store_hook_t *r = &out[n++];
        memset(r, 0, sizeof(*r));
        r->seq = sqlite3_column_int64(s, 0);
        sq_copy_text(c, r->id, sizeof(r->id), s, 1);
        sq_copy_text(c, r->endpoint, sizeof(r->endpoint), s, 2);
        sq_copy_text(c, r->room_id, sizeof(r->room_id), s, 3);
        sq_copy_text(c, r->type, sizeof(r->type), s, 4);
        r->body = sq_dup_text(s, 5, 1);
        r->state = sqlite3_column_int(s, 6);
        r->attempts = sqlite3_column_int64(s, 7);
        r->next_at = sqlite3_column_int64(s, 8);
        r->created_at = sqlite3_column_int64(s, 9);
        r->updated_at = sqlite3_column_int64(s, 10);
        r->last_status = sqlite3_column_int(s, 11);
        sq_copy_text(c, r->last_error, sizeof(r->last_error), s, 12);
    }
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, what);
    sq_release(s);
    for (size_t i = 0; i < h->nrows; i++) /* the rows read before: replaced */
        free(h->rows[i].body);
    free(h->rows);
    if (err != STORE_OK) {
        for (size_t i = 0; i < n; i++)
            free(out[i].body);
        free(out);
        out = NULL;
        n = 0;
    }
    h->rows = out;
    h->nrows = n;
    return err;
}

static int64_t sq_hook_limit(uint32_t limit)
{
    return limit < STORE_PAGE_MAX ? limit : STORE_PAGE_MAX;
}

static int sq_hook_due(sq_conn_t *c, store_hooks_t *h)
{
    sqlite3_stmt *s = c->stmt[SQ_HOOK_DUE];
    int bad = sqlite3_bind_int64(s, 1, h->now) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, sq_hook_limit(h->limit)) != SQLITE_OK;
    if (bad) {
        sq_release(s);
        return sq_fail(c, "webhooks due");
    }
    int err = sq_hooks_read(c, s, h, "webhooks due");
    if (err != STORE_OK) return err;
    s = c->stmt[SQ_HOOK_PENDING];
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) h->pending = sqlite3_column_int64(s, 0);
    err = rc == SQLITE_ROW ? STORE_OK : sq_fail(c, "webhooks pending");
    sq_release(s);
    return err;
}

static int sq_hook_update(sq_conn_t *c, const store_hook_t *h)
{
    sqlite3_stmt *s = c->stmt[SQ_HOOK_UPDATE];
    int bad = sqlite3_bind_int64(s, 1, h->seq) != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 2, h->state) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 3, h->attempts) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 4, h->next_at) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 5, h->updated_at) != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 6, h->last_status) != SQLITE_OK;
    bad |= SQ_BIND(s, 7, h->last_error) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "webhook update");
    if (err == STORE_OK && sqlite3_changes(c->db) == 0) err = STORE_ENOTFOUND;
    sq_release(s);
    return err;
}

static int sq_hook_log(sq_conn_t *c, store_hooks_t *h)
{
    sqlite3_stmt *s = c->stmt[SQ_HOOK_LOG];
    int bad = sqlite3_bind_int64(s, 1, h->before < 0 ? INT64_MAX : h->before) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, sq_hook_limit(h->limit)) != SQLITE_OK;
    bad |= SQ_BIND(s, 3, h->endpoint) != SQLITE_OK;
    bad |= sqlite3_bind_int(s, 4, h->log_state - 1) != SQLITE_OK;
    if (bad) {
        sq_release(s);
        return sq_fail(c, "webhook log");
    }
    return sq_hooks_read(c, s, h, "webhook log");
}

static int sq_hook_prune(sq_conn_t *c, store_hooks_t *h)
{
    sqlite3_stmt *s = c->stmt[SQ_HOOK_PRUNE];
    int bad = sqlite3_bind_int64(s, 1, h->before) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, STORE_AUDIT_PRUNE_BATCH) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "webhook prune");
    if (err == STORE_OK) h->pending = sqlite3_changes(c->db);
    sq_release(s);
    return err;
}

static int sq_hook_retry(sq_conn_t *c, store_hooks_t *h)
{
    sqlite3_stmt *s = c->stmt[SQ_HOOK_RETRY];
    int bad = SQ_BIND(s, 1, h->row.id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, h->now) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "webhook retry");
    int changed = err == STORE_OK && sqlite3_changes(c->db) > 0;
    sq_release(s);
    if (err != STORE_OK) return err;
    /* The row as it is now; none: no such delivery; unchanged: it was not dead. */
    s = c->stmt[SQ_HOOK_GET];
    if (SQ_BIND(s, 1, h->row.id) != SQLITE_OK) {
        sq_release(s);
        return sq_fail(c, "webhook get");
    }
    err = sq_hooks_read(c, s, h, "webhook get");
    if (err != STORE_OK) return err;
    if (h->nrows == 0) return STORE_ENOTFOUND;
    free(h->row.body);
    h->row = h->rows[0];
    h->rows[0].body = NULL;
    return changed ? STORE_OK : STORE_EEXISTS;
}

static int sq_hook_ep_create(sq_conn_t *c, const store_hook_ep_t *e)
{
    sqlite3_stmt *s = c->stmt[SQ_HOOK_EP_INSERT];
    int bad = SQ_BIND(s, 1, e->id) != SQLITE_OK;
    bad |= sq_bind_str(s, 2, e->url, "") != SQLITE_OK;
    bad |= SQ_BIND(s, 3, e->secret) != SQLITE_OK;
    bad |= SQ_BIND(s, 4, e->events) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 5, e->created_at) != SQLITE_OK;
    int rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    int err = STORE_OK;
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        err = STORE_EEXISTS;
    else if (rc != SQLITE_DONE)
        err = sq_fail(c, "webhook endpoint create");
    sq_release(s);
    return err;
}

static int sq_hook_ep_list(sq_conn_t *c, store_hooks_t *h)
{
    sqlite3_stmt *s = c->stmt[SQ_HOOK_EP_LIST];
    size_t n = 0, cap = 0;
    store_hook_ep_t *out = NULL;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            out = ch_realloc(out, cap * sizeof(*out));
        }
        store_hook_ep_t *e = &out[n++];
        memset(e, 0, sizeof(*e));
        sq_copy_text(c, e->id, sizeof(e->id), s, 0);
        e->url = sq_dup_text(s, 1, 1);
        sq_copy_text(c, e->secret, sizeof(e->secret), s, 2);
        sq_copy_text(c, e->events, sizeof(e->events), s, 3);
        e->created_at = sqlite3_column_int64(s, 4);
    }
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "webhook endpoint list");
    sq_release(s);
    for (size_t i = 0; i < h->neps; i++)
        free(h->eps[i].url);
    free(h->eps);
    if (err != STORE_OK) {
        for (size_t i = 0; i < n; i++)
            free(out[i].url);
        free(out);
        out = NULL;
        n = 0;
    }
    h->eps = out;
    h->neps = n;
    return err;
}

static int sq_hook_ep_delete(sq_conn_t *c, store_hooks_t *h)
{
    sqlite3_stmt *s = c->stmt[SQ_HOOK_EP_DELETE];
    int rc = SQ_BIND(s, 1, h->ep.id) != SQLITE_OK ? SQLITE_ERROR : sqlite3_step(s);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "webhook endpoint delete");
    if (err == STORE_OK && sqlite3_changes(c->db) == 0) err = STORE_ENOTFOUND;
    sq_release(s);
    if (err != STORE_OK) return err; /* nothing changed */
    s = c->stmt[SQ_HOOK_EP_DEAD];
    int bad = SQ_BIND(s, 1, h->ep.id) != SQLITE_OK;
    bad |= sqlite3_bind_int64(s, 2, h->now) != SQLITE_OK;
    rc = bad ? SQLITE_ERROR : sqlite3_step(s);
    err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "webhook endpoint dead letters");
    if (err == STORE_OK) h->pending = sqlite3_changes(c->db);
    sq_release(s);
    return err;
}

static int sq_step_simple(sq_conn_t *c, int which, const char *what)
{
    sqlite3_stmt *s = c->stmt[which];
    int rc = sqlite3_step(s);
    int err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, what);
    sqlite3_reset(s);
    return err;
}

static int sq_begin(void *conn)
{
    return sq_step_simple(conn, SQ_BEGIN, "begin");
}

static int sq_commit(void *conn)
{
    return sq_step_simple(conn, SQ_COMMIT, "commit");
}

static void sq_rollback(void *conn)
{
    sq_conn_t *c = conn;
    /* Some errors (SQLITE_FULL, IOERR, NOMEM) already rolled the transaction back. */
    if (sqlite3_get_autocommit(c->db)) return;
    sq_step_simple(c, SQ_ROLLBACK, "rollback");
}

/* Runs one request (sq_exec wraps it in its savepoint). */
static void sq_exec_req(sq_conn_t *c, store_req_t *req)
{
    switch (req->type) {
    case STORE_USER_CREATE:
        req->err = sq_user_create(c, &req->user);
        break;
    case STORE_USER_BY_EMAIL:
        req->err = sq_user_select(c, SQ_USER_BY_EMAIL, req->key, sizeof(req->key), &req->user);
        break;
    case STORE_USER_BY_ID:
        req->err = sq_user_select(c, SQ_USER_BY_ID, req->key, sizeof(req->key), &req->user);
        break;
    case STORE_USER_UPDATE:
        req->err = sq_user_update(c, req);
        break;
    case STORE_AUDIT:
        req->err = sq_audit(c, &req->audit);
        break;
    case STORE_AUDIT_PRUNE:
        req->err = sq_audit_prune(c, &req->audit);
        break;
    case STORE_AUDIT_RECENT:
        req->err = sq_audit_recent(c, req);
        break;
    case STORE_USER_DELETE:
        req->err = sq_user_delete(c, req);
        break;
    case STORE_REVOKE_PUT:
        req->err = sq_revoke_put(c, &req->revoke);
        break;
    case STORE_REVOKE_LOAD:
        req->err = sq_revoke_load(c, req);
        break;
    case STORE_REVOKE_PRUNE: {
        sqlite3_stmt *s = c->stmt[SQ_REVOKE_PRUNE];
        int rc = sqlite3_bind_int64(s, 1, req->revoke.until_s);
        if (rc == SQLITE_OK) rc = sqlite3_step(s);
        req->err = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, "revocations prune");
        sq_release(s);
        break;
    }
    case STORE_ASSET_PUT:
    case STORE_ASSET_GET:
    case STORE_ASSET_LIST:
    case STORE_ASSET_DELETE:
    case STORE_ASSET_READABLE:
    case STORE_ASSET_USAGE:
    case STORE_ASSET_HASH_USED:
    case STORE_UPLOAD_RESERVE:
    case STORE_UPLOAD_RELEASE:
    case STORE_UPLOAD_OLD:
    case STORE_ASSET_VERSIONS:
        CH_ASSERT(req->assets);
        req->err = sq_assets(c, req);
        break;
    case STORE_APIKEY_CREATE:
        req->err = sq_apikey_create(c, &req->apikey);
        break;
    case STORE_APIKEY_GET:
        req->err = sq_apikey_get(c, &req->apikey);
        break;
    case STORE_APIKEY_LIST:
        req->err = sq_apikey_list(c, req);
        break;
    case STORE_APIKEY_REVOKE:
        req->err = sq_apikey_revoke(c, &req->apikey);
        break;
    case STORE_ROOM_CREATE:
        CH_ASSERT(req->rooms);
        req->err = sq_room_create(c, req->rooms);
        break;
    case STORE_ROOM_UPDATE:
        CH_ASSERT(req->rooms);
        req->err = sq_room_update(c, &req->rooms->room);
        break;
    case STORE_ROOM_DELETE:
        CH_ASSERT(req->rooms);
        /* What goes with the room, for the authors' quotas; same transaction. */
        req->err = sq_usage(c, req->rooms, req->rooms->room.id);
        if (req->err == STORE_OK)
            req->err = sq_delete(c, SQ_ROOM_DELETE, req->rooms->room.id, STORE_ID_LEN, NULL,
                                 0, "room delete");
        break;
    case STORE_PARTICIPANT_PUT:
        CH_ASSERT(req->rooms);
        req->err = sq_part_put(c, &req->rooms->part, req->rooms->part.room_id);
        break;
    case STORE_PARTICIPANT_DELETE:
        CH_ASSERT(req->rooms);
        req->err = sq_delete(c, SQ_PART_DELETE, req->rooms->part.room_id, STORE_ID_LEN,
                             req->rooms->part.user_id, STORE_SUB_LEN, "participant delete");
        break;
    case STORE_MESSAGE_INSERT:
        CH_ASSERT(req->rooms);
        req->err = sq_message_insert(c, &req->rooms->msg, &req->rooms->room.last_seq,
                                     &req->rooms->dup);
        break;
    case STORE_MESSAGES_PAGE:
        CH_ASSERT(req->rooms);
        req->err = sq_messages_page(c, req->rooms);
        break;
    case STORE_PARTS_OF_USER:
        CH_ASSERT(req->rooms);
        req->err = sq_parts_of_user(c, req->rooms);
        break;
    case STORE_ROOMS_LOAD:
        CH_ASSERT(req->rooms);
        req->err = sq_rooms_load(c, req->rooms, 0);
        if (req->err == STORE_OK) req->err = sq_ents_load(c, req->rooms, NULL);
        if (req->err == STORE_OK) req->err = sq_usage(c, req->rooms, NULL);
        break;
    case STORE_ROOM_LOAD:
        CH_ASSERT(req->rooms);
        req->err = sq_rooms_load(c, req->rooms, 1);
        if (req->err == STORE_OK)
            req->err = sq_ents_load(c, req->rooms, req->rooms->rooms[0].id);
        if (req->err == STORE_OK) req->err = sq_usage(c, req->rooms, req->rooms->rooms[0].id);
        break;
    case STORE_ENTITY_PUT:
        CH_ASSERT(req->rooms);
        req->err = sq_ent_put(c, &req->rooms->ent);
        break;
    case STORE_ENTITY_DELETE:
        CH_ASSERT(req->rooms);
        req->err = sq_ent_delete(c, &req->rooms->ent);
        break;
    case STORE_RETENTION_SWEEP:
        CH_ASSERT(req->rooms);
        req->err = sq_retention(c, req->rooms);
        break;
    case STORE_STATE_AT:
        CH_ASSERT(req->rooms);
        req->err = sq_state_at(c, req->rooms);
        break;
    case STORE_DOC_LOAD:
        CH_ASSERT(req->docs);
        req->err = sq_doc_load(c, req->docs);
        break;
    case STORE_DOC_OP_INSERT:
        CH_ASSERT(req->docs);
        req->err = sq_doc_op_insert(c, req->docs);
        break;
    case STORE_DOC_OPS_RANGE:
        CH_ASSERT(req->docs);
        req->err = sq_doc_ops_range(c, req->docs);
        break;
    case STORE_HOOK_PUT:
        req->err = STORE_OK; /* the deliveries are queued by sq_exec */
        break;
    case STORE_HOOK_DUE:
        CH_ASSERT(req->hooks);
        req->err = sq_hook_due(c, req->hooks);
        break;
    case STORE_HOOK_UPDATE:
        CH_ASSERT(req->hooks);
        req->err = sq_hook_update(c, &req->hooks->row);
        break;
    case STORE_HOOK_LOG:
        CH_ASSERT(req->hooks);
        req->err = sq_hook_log(c, req->hooks);
        break;
    case STORE_HOOK_PRUNE:
        CH_ASSERT(req->hooks);
        req->err = sq_hook_prune(c, req->hooks);
        break;
    case STORE_HOOK_RETRY:
        CH_ASSERT(req->hooks);
        req->err = sq_hook_retry(c, req->hooks);
        break;
    case STORE_HOOK_EP_CREATE:
        CH_ASSERT(req->hooks);
        req->err = sq_hook_ep_create(c, &req->hooks->ep);
        break;
    case STORE_HOOK_EP_LIST:
        CH_ASSERT(req->hooks);
        req->err = sq_hook_ep_list(c, req->hooks);
        break;
    case STORE_HOOK_EP_DELETE:
        CH_ASSERT(req->hooks);
        req->err = sq_hook_ep_delete(c, req->hooks);
        break;
    case STORE_ACT_PUT:
        CH_ASSERT(req->acts);
        req->err = sq_act_put(c, req->acts);
        break;
    case STORE_ACT_PAGE:
        CH_ASSERT(req->acts);
        req->err = sq_act_page(c, req->acts);
        break;
    case STORE_QUOTA_RESERVE: /* one node keeps no allowances (store.h) */
        CH_ASSERT(req->quota);
        req->quota->grant = req->quota->want;
        req->quota->used = req->quota->others = 0;
        break;
    default:
        CH_ASSERT(!"unknown store request type");
    }
    /* The deliveries the change makes commit with it (store.h). */
    if (req->err == STORE_OK && req->nenqueue) req->err = sq_hooks_enqueue(c, req);
}

/* Whether a request may run more than one write statement. SQLite undoes a refused
 * statement by itself (ON CONFLICT ABORT), so a read or a single write is atomic as it
 * is; a request of several writes needs a savepoint to be undone whole. Skipping it for
 * the others keeps it off the most frequent requests (document ops without a snapshot,
 * audit rows, participants). */
static int sq_needs_savepoint(const store_req_t *req)
{
    switch (req->type) {
    case STORE_USER_UPDATE:    /* the row, then the revocation */
    case STORE_USER_DELETE:    /* the row, then the revocation */
    case STORE_ROOM_CREATE:    /* the room, then its host, then its log */
    case STORE_MESSAGE_INSERT: /* the message, then the room's activity */
    case STORE_ENTITY_PUT:     /* the entity, then the room's version */
    case STORE_ENTITY_DELETE:  /* the entity, then the room's version */
    case STORE_RETENTION_SWEEP:
    case STORE_ASSET_PUT: /* a version: the current one superseded, then the row (which a
                           * missing room refuses), then the reservation */
        return 1;
    case STORE_ACT_PUT: /* several rows: only EIO, which needs none */
    case STORE_HOOK_PUT:
        return 0;
    case STORE_DOC_OP_INSERT: /* the op, then the snapshot when there is one */
        return req->docs && req->docs->doc.snapshot != NULL;
    default:
        return 0;
    }
}

static void sq_exec(void *conn, store_req_t *req)
{
    sq_conn_t *c = conn;
    if (!sq_needs_savepoint(req)) {
        sq_exec_req(c, req);
        return;
    }
    /* The savepoint undoes every statement of a refused request, whichever of them
     * refused it. EIO needs none: the store rolls the whole transaction back. */
    req->err = sq_step_simple(c, SQ_SAVEPOINT, "savepoint");
    if (req->err != STORE_OK) return;
    sq_exec_req(c, req);
    if (req->err == STORE_EIO) return;
    if (req->err != STORE_OK && sq_step_simple(c, SQ_ROLLBACK_TO, "rollback to savepoint") != 0)
        req->err = STORE_EIO;
    else if (sq_step_simple(c, SQ_RELEASE, "release savepoint") != 0)
        req->err = STORE_EIO;
}

static void sq_close(void *conn)
{
    sq_conn_t *c = conn;
    if (!c) return;
    if (c->db && !sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < SQ_STMT_MAX; i++)
        sqlite3_finalize(c->stmt[i]); /* NULL is a no-op */
    /* The last connection to close checkpoints the WAL into the main file. */
    if (sqlite3_close(c->db) != SQLITE_OK)
        log_error(c->log, "store sqlite: close: %s", sqlite3_errmsg(c->db));
    free(c);
}

/* ---- open and migrations (caller's thread) ---- */

/* Runs SQL without parameters (pragmas, DDL, transaction control). Returns 0, or -1 with
 * "what: reason" in err. */
static int sq_exec_sql(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    snprintf(err, errlen, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

/* Reads the schema version inside the open transaction, creating the version table (at
 * version 0) in an empty database. Returns 0 or -1 with a reason in err. */
static int sq_read_version(sqlite3 *db, int64_t *version, char *err, size_t errlen)
{
    if (sq_exec_sql(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
                    "create schema_version", err, errlen) != 0)
        return -1;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT count(*), max(version) FROM schema_version", -1, &s,
                                NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        snprintf(err, errlen, "read schema version: %s", sqlite3_errmsg(db));
        sqlite3_finalize(s);
        return -1;
    }
    int64_t rows = sqlite3_column_int64(s, 0);
    *version = sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    if (rows > 1) {
        snprintf(err, errlen, "table schema_version has %" PRId64 " rows; expected one", rows);
        return -1;
    }
    if (rows == 0) {
        *version = 0;
        return sq_exec_sql(db, "INSERT INTO schema_version(version) VALUES(0)",
                           "init schema_version", err, errlen);
    }
    return 0;
}

/* Sets the schema version inside the open transaction. Returns 0 or -1 with err. */
static int sq_write_version(sqlite3 *db, int64_t version, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "UPDATE schema_version SET version = ?1", -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 1, version);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "write schema version: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* Brings the schema to STORE_SQLITE_SCHEMA_VERSION, one migration per transaction. The
 * version is re-read inside every transaction, so two processes opening the same file at
 * once cannot both apply a migration. Returns 0 or -1 with a reason in err. */
static int sq_migrate(sqlite3 *db, log_t *log, char *err, size_t errlen)
{
    for (;;) {
        if (sq_exec_sql(db, "BEGIN IMMEDIATE", "begin migration", err, errlen) != 0) return -1;
        int64_t v;
        if (sq_read_version(db, &v, err, errlen) != 0) goto fail;
        if (v > STORE_SQLITE_SCHEMA_VERSION) {
            snprintf(err, errlen,
                     "database schema version %" PRId64
                     " is newer than this chorus supports (%d); upgrade chorus",
                     v, STORE_SQLITE_SCHEMA_VERSION);
            goto fail;
        }
        if (v < 0) {
            snprintf(err, errlen, "database schema version %" PRId64 " is invalid", v);
            goto fail;
        }
        if (v == STORE_SQLITE_SCHEMA_VERSION)
            return sq_exec_sql(db, "COMMIT", "commit", err, errlen);
        char what[64];
        snprintf(what, sizeof(what), "migration %" PRId64, v + 1);
        if (sq_exec_sql(db, sq_migrations[v], what, err, errlen) != 0) goto fail;
        if (sq_write_version(db, v + 1, err, errlen) != 0) goto fail;
        if (sq_exec_sql(db, "COMMIT", what, err, errlen) != 0) goto fail;
        log_info(log, "store sqlite: database migrated to schema version %" PRId64, v + 1);
    }
fail:
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* The database holds password hashes and every message: only the server's user may read
 * it. SQLite creates a database file with mode 0644 less the umask, and its -wal and -shm
 * files with the database file's mode, so the database is created (or an existing one
 * tightened) to 0600 before SQLite opens it, and -wal and -shm files left by an earlier run
 * are tightened too. ":memory:" and other non-file targets are left alone. Returns 0, or
 * -1 with err set. */
static int sq_restrict_mode(const char *target, char *err, size_t errlen)
{
    if (target[0] == '\0' || target[0] == ':' || strncmp(target, "file:", 5) == 0) return 0;
    int fd = open(target, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        snprintf(err, errlen, "cannot open database %s (mode 0600): %s", target,
                 strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    static const char *const companions[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(companions) / sizeof(companions[0]); i++) {
        char path[4096];
        int n = snprintf(path, sizeof(path), "%s%s", target, companions[i]);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            snprintf(err, errlen, "database path too long: %s", target);
            return -1;
        }
        if (chmod(path, 0600) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "cannot set mode 0600 on %s: %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void *sq_open(const char *target, log_t *log, char *err, size_t errlen)
{
    /* The connection is used from two threads, one at a time: that needs a SQLite built
     * thread-safe (mode 1 or 2), even though the connection itself takes no mutex. */
    if (!sqlite3_threadsafe()) {
        snprintf(err, errlen, "sqlite was built without thread support");
        return NULL;
    }
    if (sq_restrict_mode(target, err, errlen) != 0) return NULL;
    sq_conn_t *c = ch_calloc(1, sizeof(*c));
    c->log = log;
    int rc = sqlite3_open_v2(
        target, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", target,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(c->db, 1); /* SQLITE_CONSTRAINT_UNIQUE, not CONSTRAINT */
    /* Another process (a backup, the sqlite3 shell) may hold the lock briefly. */
    sqlite3_busy_timeout(c->db, 5000);

    char why[256];
    /* WAL: readers never block the writer, and a commit is one append to the log.
     * synchronous=NORMAL in WAL mode syncs the log only at checkpoints, not on each
     * commit: a committed transaction survives the process being killed (kill -9, crash),
     * since it is already in the OS's page cache; a power loss or kernel crash may lose
     * the last commits but never corrupts the database. FULL would fsync every commit. */
    sqlite3_stmt *s = NULL;
    rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        snprintf(err, errlen, "%s: journal_mode=WAL: %s", target, sqlite3_errmsg(c->db));
        sqlite3_finalize(s);
        goto fail;
    }
    const unsigned char *mode = sqlite3_column_text(s, 0);
    if (!mode || sqlite3_stricmp((const char *)mode, "wal") != 0)
        log_warn(log, "store sqlite: %s: journal mode is %s, not wal", target,
                 mode ? (const char *)mode : "unknown");
    sqlite3_finalize(s);
    if (sq_exec_sql(c->db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", "pragma", why,
                    sizeof(why)) != 0 ||
        sq_migrate(c->db, log, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: %s", target, why);
        goto fail;
    }
    /* Deleting a room relies on ON DELETE CASCADE, and a participant or message for a
     * missing room on the foreign key: a SQLite built without them is refused. */
    s = NULL;
    rc = sqlite3_prepare_v2(c->db, "PRAGMA foreign_keys", -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    int fk = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    if (fk != 1) {
        snprintf(err, errlen, "%s: sqlite foreign keys are off (needed for rooms)", target);
        goto fail;
    }
    for (int i = 0; i < SQ_STMT_MAX; i++) {
        rc = sqlite3_prepare_v3(c->db, sq_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &c->stmt[i], NULL);
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "%s: prepare: %s", target, sqlite3_errmsg(c->db));
            goto fail;
        }
    }
    return c;

fail:
    sq_close(c);
    return NULL;
}

/* store_backend_t.trim, once a second without work: gives back the page cache
 * (sqlite3_db_release_memory: every page no statement holds), since an idle server keeps
 * no use for it and the next reads come from the OS's page cache. No lock is taken (a
 * BEGIN here would wait on another process's write lock and turn the store not ready). */
static void sq_trim(void *conn)
{
    sq_conn_t *c = conn;
    sqlite3_db_release_memory(c->db);
}

/* A deferred transaction holds no lock until it reads; its first read (here, so that the
 * snapshot is taken now) makes it a WAL read transaction: it sees the database as it was
 * then, to its end, while the server's writers go on committing beside it. */
static int sq_begin_read(void *conn)
{
    sq_conn_t *c = conn;
    if (sqlite3_exec(c->db, "BEGIN DEFERRED; SELECT count(*) FROM sqlite_master", NULL, NULL,
                     NULL) == SQLITE_OK)
        return STORE_OK;
    int err = sq_fail(c, "begin read");
    sq_rollback(c);
    return err;
}

static int sq_dump(void *conn, int (*row)(void *ud, const char *table, json_t *obj), void *ud)
{
    sq_conn_t *c = conn;
    return store_sqlite_dump_rows(c->db, c->log, row, ud);
}

static int sq_load(void *conn, const char *table, json_t *obj)
{
    sq_conn_t *c = conn;
    return store_sqlite_load_row(c->db, c->log, table, obj);
}

const store_backend_t store_sqlite_backend = {
    .name = "sqlite",
    .open = sq_open,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .exec = sq_exec,
    .close = sq_close,
    .trim = sq_trim,
    .dump = sq_dump,
    .load = sq_load,
    .begin_read = sq_begin_read,
};
