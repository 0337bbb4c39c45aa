/* janus_msg.h: what Chorus and Janus (the WebRTC SFU, its HTTP API and admin API, 1.x) say
 * to each other, pure: the requests built as JSON text (sessions, handles, the VideoRoom
 * plugin's create/destroy/list, publisher join and configure, subscriber join and start,
 * trickle, keepalive; the admin API's add_token/remove_token) and Janus's replies and
 * events read into a flat struct. Janus's text is input: a parse never trusts a field's
 * presence, type or size. No I/O (app/rtc_sfu.c does the calls). */
#ifndef CHORUS_JANUS_MSG_H
#define CHORUS_JANUS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define JANUS_TX_MAX 32      /* bytes of a transaction id (ours: "c" + a counter) */
#define JANUS_REASON_MAX 160 /* bytes of an error reason kept (cut) */
#define JANUS_TOKEN_MAX 64   /* bytes of a token */
#define JANUS_PUB_MAX 64     /* publishers read from one event at most */
#define JANUS_VIDEOROOM "janus.plugin.videoroom"

/* What a session-level request is about (janus_msg_request). */
typedef enum {
    JANUS_REQ_CREATE,    /* POST /janus: a new session */
    JANUS_REQ_DESTROY,   /* POST /janus/<session> */
    JANUS_REQ_KEEPALIVE, /* POST /janus/<session> */
    JANUS_REQ_DETACH,    /* POST /janus/<session>/<handle> */
} janus_req_t;

/* Returns the request (new, NUL-terminated, *len bytes) {"janus": kind, "transaction": tx,
 * "token": token?}. tx and token are borrowed (token NULL: none). */
char *janus_msg_request(janus_req_t kind, const char *tx, const char *token, size_t *len);

/* Returns {"janus":"attach","plugin":plugin,"transaction","token"?} (new, *len bytes). */
char *janus_msg_attach(const char *plugin, const char *tx, const char *token, size_t *len);

/* Returns {"janus":"message","body":body,"jsep"?,"transaction","token"?} (new, *len bytes).
 * body is borrowed; jsep_type/jsep_sdp (borrowed, both or neither) make the "jsep". */
char *janus_msg_message(const json_t *body, const char *jsep_type, const char *jsep_sdp,
                        const char *tx, const char *token, size_t *len);

/* Returns {"janus":"trickle","candidate":c,"transaction","token"?} (new, *len bytes): c
 * (borrowed) is an RTCIceCandidate's JSON ({candidate, sdpMid, sdpMLineIndex}), or NULL for
 * the end of candidates ({"completed": true}). */
char *janus_msg_trickle(const json_t *candidate, const char *tx, const char *token,
                        size_t *len);

/* Returns the admin API's {"janus": "add_token" or "remove_token", "token", "plugins"?
 * (add: [plugin]), "transaction", "admin_secret"} (new, *len bytes). */
char *janus_msg_admin_token(int add, const char *token, const char *plugin,
                            const char *admin_secret, const char *tx, size_t *len);

/* The VideoRoom request bodies (new references; pass to janus_msg_message). */
typedef struct {
    uint64_t room;           /* the room's number (ours) */
    uint32_t publishers;     /* publishers at most */
    uint32_t bitrate;        /* bits/s a publisher may send (0: Janus's default) */
    const char *description; /* borrowed; NULL: none */
} janus_vr_room_t;
/* {"request":"create","room","permanent":false,"publishers","bitrate"?,"description"?} */
json_t *janus_vr_create(const janus_vr_room_t *r);
/* {"request":"destroy","room"} */
json_t *janus_vr_destroy(uint64_t room);
/* {"request":"list"} */
json_t *janus_vr_list(void);
/* {"request":"join","ptype":"publisher","room","id","display"}: a publisher joins (its offer
 * comes later with "configure"); display (borrowed) is the call member id. */
json_t *janus_vr_publish(uint64_t room, uint64_t id, const char *display);
/* {"request":"configure"} for a publisher's renegotiation (an offer with it). */
json_t *janus_vr_configure(void);
/* {"request":"join","ptype":"subscriber","room","streams":[{"feed"}]} */
json_t *janus_vr_subscribe(uint64_t room, uint64_t feed);
/* {"request":"start"} (the subscriber's answer goes with it) */
json_t *janus_vr_start(void);

/* What a reply or event is. */
typedef enum {
    JANUS_MSG_OTHER = 0, /* anything else ("server_info", "slowlink", ...) */
    JANUS_MSG_SUCCESS,   /* a request's synchronous answer (data.id, or plugindata) */
    JANUS_MSG_ACK,       /* an asynchronous request was taken; its event comes later */
    JANUS_MSG_ERROR,     /* error.code, error.reason */
    JANUS_MSG_EVENT,     /* a plugin's event (plugindata, maybe jsep) */
    JANUS_MSG_WEBRTCUP,  /* a handle's PeerConnection is up */
    JANUS_MSG_HANGUP,    /* a handle's PeerConnection went down */
    JANUS_MSG_MEDIA,     /* media started or stopped on a handle */
    JANUS_MSG_DETACHED,  /* a handle was detached */
    JANUS_MSG_TIMEOUT,   /* the session timed out */
    JANUS_MSG_TRICKLE,   /* a candidate of Janus's (full trickle only) */
    JANUS_MSG_KEEPALIVE, /* a long poll that got no event */
} janus_kind_t;

/* The VideoRoom's part of an event or success (plugindata.data). */
typedef enum {
    JANUS_VR_NONE = 0,  /* not VideoRoom data */
    JANUS_VR_CREATED,   /* "created" (room) */
    JANUS_VR_DESTROYED, /* "destroyed" (room) */
    JANUS_VR_JOINED,    /* "joined": a publisher is in (id, publishers) */
    JANUS_VR_ATTACHED,  /* "attached": a subscriber's offer comes (jsep) */
    JANUS_VR_EVENT,     /* "event": publishers, leaving, unpublished, configured, started */
    JANUS_VR_SUCCESS,   /* "success" (list, exists, ...) */
    JANUS_VR_OTHER,     /* another videoroom value */
} janus_vr_kind_t;

typedef struct {
    uint64_t id;         /* a publisher's id */
    const char *display; /* borrowed from the message; NULL: none */
} janus_pub_t;

/* One reply or event. Strings are borrowed from root (valid until janus_msg_free). */
typedef struct {
    json_t *root; /* owned */
    janus_kind_t kind;
    char tx[JANUS_TX_MAX + 1];         /* "transaction", "" when none or too long */
    uint64_t session;                  /* "session_id", 0: none */
    uint64_t sender;                   /* "sender" (the handle), 0: none */
    uint64_t id;                       /* success: data.id (a new session or handle), 0: none */
    int error;                         /* error.code, or the plugin's error_code; 0: none */
    char reason[JANUS_REASON_MAX + 1]; /* error.reason or the plugin's error, cut */
    janus_vr_kind_t vr;                /* plugindata.data.videoroom */
    uint64_t room;                     /* plugindata.data.room, 0: none */
    uint64_t pub_id;                   /* "joined": the publisher's own id */
    uint64_t leaving;                  /* "leaving" (a publisher left), 0: none */
    uint64_t unpublished;              /* "unpublished" (a publisher stopped), 0: none */
    janus_pub_t pubs[JANUS_PUB_MAX];   /* "publishers" (joined, event) */
    size_t npubs;
    const char *jsep_type; /* "offer" or "answer", NULL: no jsep */
    const char *jsep_sdp;  /* with jsep_type */
    const json_t *list;    /* success of "list": the array, borrowed; NULL: none */
} janus_msg_t;

/* Reads one reply or event object from v (borrowed; janus_msg_free releases the reference
 * out takes). Returns 0, or -EINVAL when v is not an object with a string "janus". */
int janus_msg_read(json_t *v, janus_msg_t *out);

/* Parses the len bytes at text as one reply (an object). Returns 0, or -EINVAL (not JSON, or
 * not a reply), with nothing to free. */
int janus_msg_parse(const char *text, size_t len, janus_msg_t *out);

/* Parses a long poll's answer: one object, or an array of them (maxev > 1), calling fn on
 * each message that reads (out borrowed for the call: fn must not free it). Returns the
 * count of messages, or -EINVAL when the text is neither. */
int janus_msg_parse_events(const char *text, size_t len,
                           void (*fn)(void *ud, const janus_msg_t *m), void *ud);

/* Returns 1 when m (one reply, read by janus_msg_parse; borrowed) answers the request sent
 * with transaction tx (borrowed): a success, ack or error whose "transaction" is tx exactly;
 * else 0 (another request's reply, an event, no transaction, or tx NULL or ""). Janus echoes
 * the transaction of every request in its reply, so a reply is taken only by its own
 * request, never by an older one that reached another Janus (a restart). */
int janus_msg_answers(const janus_msg_t *m, const char *tx);

/* Releases what m holds. */
void janus_msg_free(janus_msg_t *m);

#endif
