// peer_rooms.mjs: the room logic both benchmark peers share: the subset of the Chorus
// protocol (docs/protocol.md) that chorus-bench uses, with the same JSON shapes. Nothing
// is verified or stored: tokens are read, not checked; messages live in memory only.

// Returns the token's "sub" claim without verifying the signature, or "anonymous".
export function userOfToken(token) {
  try {
    const payload = JSON.parse(Buffer.from(String(token).split('.')[1], 'base64url'));
    return typeof payload.sub === 'string' ? payload.sub : 'anonymous';
  } catch {
    return 'anonymous';
  }
}

// Rooms over any transport. A member is whatever the transport uses for a connection;
// send(member, op, obj) writes one event to it; broadcast(room, except, op, obj) writes
// the same event to every member of the room but one (encoded once by the transport).
export class Rooms {
  constructor({ send, broadcast }) {
    this.rooms = new Map(); // id -> { members: Set, seq: number }
    this.send = send;
    this.broadcast = broadcast;
  }

  members(id) {
    const r = this.rooms.get(id);
    return r ? r.members : new Set();
  }

  // Handles one client message (already parsed) from member m of user `user`.
  handle(m, user, msg) {
    const reply = (data) => {
      if (Number.isInteger(msg.ref)) this.send(m, 'reply', { op: 'reply', ref: msg.ref, ok: true, data });
    };
    const error = (code, message) => {
      const error = { code, message };
      if (Number.isInteger(msg.ref)) this.send(m, 'reply', { op: 'reply', ref: msg.ref, ok: false, error });
      else this.send(m, 'error', { op: 'error', error });
    };
    if (msg === null || typeof msg !== 'object' || typeof msg.op !== 'string') return error('bad_request', 'not an operation');
    if (msg.op === 'echo') return reply(msg.data ?? null);
    const id = msg.room;
    if (typeof id !== 'string') return error('bad_request', 'room is missing');
    switch (msg.op) {
      case 'join': {
        let r = this.rooms.get(id);
        if (!r) this.rooms.set(id, (r = { members: new Set(), seq: 0 }));
        m.rooms.add(id);
        r.members.add(m);
        const participant = { userId: user, online: true };
        this.broadcast(id, m, 'participant_joined', { op: 'participant_joined', room: id, participant });
        return reply({ room: { id }, participant, lastSeq: r.seq, messages: [] });
      }
      case 'leave':
        this.drop(m, user, id, 'left');
        return reply({});
      case 'broadcast':
        if (!m.rooms.has(id)) return error('forbidden', 'join the room first');
        this.broadcast(id, m, 'broadcast', { op: 'broadcast', room: id, event: msg.event, from: user, data: msg.data ?? null });
        return reply({});
      case 'message': {
        if (!m.rooms.has(id)) return error('forbidden', 'join the room first');
        const r = this.rooms.get(id);
        const message = {
          seq: ++r.seq, roomId: id, userId: user, type: msg.type ?? 'user_text',
          content: msg.content, metadata: msg.metadata ?? {}, createdAt: Date.now(),
        };
        reply({ message });
        this.broadcast(id, m, 'message', { op: 'message', room: id, message });
        return undefined;
      }
      default:
        return error('unknown_op', `unknown op "${msg.op}"`);
    }
  }

  // Member m leaves room id (reason "left") or every room (on disconnect).
  drop(m, user, id, reason) {
    const ids = id ? [id] : [...m.rooms];
    for (const rid of ids) {
      const r = this.rooms.get(rid);
      m.rooms.delete(rid);
      if (!r) continue;
      r.members.delete(m);
      this.broadcast(rid, m, 'participant_left', { op: 'participant_left', room: rid, userId: user, reason });
      if (r.members.size === 0) this.rooms.delete(rid);
    }
  }
}

// The port from argv[2] (default 0: any free port); the servers only ever listen on loopback.
export function peerPort() {
  return Number(process.argv[2] ?? 0);
}
