// rooms.mjs: helpers for the rooms tests (docs/api.md "Rooms", docs/protocol.md "Rooms"):
// app-backend users with minted tokens, REST shortcuts, exact shape checks of a room, a
// participant and a message, and a WebSocket client that separates replies (by ref) from
// events, so a test can wait for one event while others keep arriving.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import WebSocket from 'ws';

import { api, mintJwt, nowSec, TEST_SECRET, UUID_V4, COLOR } from './auth.mjs';
import { ON_CLUSTER } from './server.mjs';
import { delay, withTimeout } from './util.mjs';

export const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const ROOM_CODE = /^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{6}$/;

export const ROOM_KEYS = [
  'createdAt', 'currentMode', 'hostUserId', 'id', 'isActive', 'isPublic', 'joinLink', 'lastActivity',
  'maxParticipants', 'name', 'onlineCount', 'participantCount', 'roomCode', 'state', 'stateVersion',
].sort();
export const PARTICIPANT_KEYS = ['color', 'displayName', 'joinedAt', 'online', 'presence', 'role', 'userId'].sort();
export const MESSAGE_KEYS = ['content', 'createdAt', 'displayName', 'id', 'metadata', 'roomId', 'seq', 'type', 'userId'].sort();

const PALETTE = ['#ef4444', '#f97316', '#22c55e', '#3b82f6', '#a855f7', '#14b8a6'];
let userSeq = 0;

/**
 * An app-backend user: a unique sub, a name and a color, and an HS256 token minted with
 * TEST_SECRET (the server must run with --jwt-secret TEST_SECRET).
 */
export function mkUser(name = 'User') {
  userSeq++;
  const sub = `u${userSeq}-${randomUUID()}`;
  const color = PALETTE[userSeq % PALETTE.length];
  const token = mintJwt(TEST_SECRET, { sub, name, color, iat: nowSec() });
  return { sub, name, color, token };
}

/** n users named `${prefix}1`..`${prefix}n`. */
export const mkUsers = (n, prefix = 'u') => Array.from({ length: n }, (_, i) => mkUser(`${prefix}${i + 1}`));

export const near = (ms) => Number.isInteger(ms) && Math.abs(ms - Date.now()) < 10 * 60 * 1000;

/** The keys of a room summary: the room without what only participants see. */
export const ROOM_SUMMARY_KEYS = ROOM_KEYS.filter((k) => k !== 'state' && k !== 'currentMode');

/**
 * Asserts the room JSON of docs/api.md (exact keys; participants allowed when
 * withParticipants; summary: a list entry or a non-participant's view, without state).
 */
export function assertRoom(room, { withParticipants = false, summary = false } = {}) {
  const s = JSON.stringify(room);
  if (summary) {
    assert.deepEqual(Object.keys(room).sort(), ROOM_SUMMARY_KEYS, `room summary keys: ${s}`);
    return assertRoom({ ...room, state: {}, currentMode: null });
  }
  const keys = withParticipants ? [...ROOM_KEYS, 'participants'].sort() : ROOM_KEYS;
  assert.deepEqual(Object.keys(room).sort(), keys, `room keys: ${s}`);
  assert.match(room.id, UUID_V4, `room.id is a UUID: ${s}`);
  assert.match(room.roomCode, ROOM_CODE, `roomCode: ${s}`);
  assert.equal(typeof room.name, 'string');
  assert.ok(Number.isInteger(room.maxParticipants), `maxParticipants: ${s}`);
  assert.equal(typeof room.hostUserId, 'string');
  assert.equal(typeof room.isPublic, 'boolean');
  assert.equal(room.isActive, true, `isActive: ${s}`);
  assert.equal(typeof room.state, 'object');
  assert.ok(room.state !== null && !Array.isArray(room.state), `state is an object: ${s}`);
  assert.deepEqual(room.currentMode, room.state.mode ?? null, `currentMode mirrors state.mode: ${s}`);
  assert.ok(Number.isInteger(room.stateVersion) && room.stateVersion >= 0, `stateVersion: ${s}`);
  assert.ok(Number.isInteger(room.participantCount), `participantCount: ${s}`);
  assert.ok(Number.isInteger(room.onlineCount), `onlineCount: ${s}`);
  assert.ok(near(room.createdAt), `createdAt: ${s}`);
  assert.ok(near(room.lastActivity) && room.lastActivity >= room.createdAt, `lastActivity: ${s}`);
  assert.equal(typeof room.joinLink, 'string');
  if (withParticipants) {
    assert.ok(Array.isArray(room.participants), `participants: ${s}`);
    for (const p of room.participants) assertParticipant(p);
  }
  return room;
}

/** Asserts the participant JSON (exact keys). */
export function assertParticipant(p) {
  const s = JSON.stringify(p);
  assert.deepEqual(Object.keys(p).sort(), PARTICIPANT_KEYS, `participant keys: ${s}`);
  assert.equal(typeof p.userId, 'string');
  assert.equal(typeof p.displayName, 'string');
  assert.match(p.color, COLOR, `color: ${s}`);
  assert.ok(p.role === 'host' || p.role === 'member', `role: ${s}`);
  assert.equal(typeof p.online, 'boolean', `online: ${s}`);
  assert.ok(p.presence && typeof p.presence === 'object' && !Array.isArray(p.presence), `presence: ${s}`);
  assert.ok(near(p.joinedAt), `joinedAt: ${s}`);
  return p;
}

/** Asserts the message JSON (exact keys). */
export function assertMessage(m, roomId) {
  const s = JSON.stringify(m);
  assert.deepEqual(Object.keys(m).sort(), MESSAGE_KEYS, `message keys: ${s}`);
  assert.match(m.id, UUID_V4, `message id: ${s}`);
  if (roomId !== undefined) assert.equal(m.roomId, roomId, `roomId: ${s}`);
  assert.ok(Number.isInteger(m.seq) && m.seq >= 1, `seq: ${s}`);
  assert.ok(m.userId === null || typeof m.userId === 'string', `userId: ${s}`);
  if (m.type === 'system' && m.userId === null) assert.equal(typeof m.displayName, 'string');
  assert.equal(typeof m.type, 'string');
  assert.equal(typeof m.content, 'string');
  assert.ok(m.metadata && typeof m.metadata === 'object' && !Array.isArray(m.metadata), `metadata: ${s}`);
  assert.ok(near(m.createdAt), `createdAt: ${s}`);
  return m;
}

/** JSON body of a response with the expected status (message includes the body). */
export function expectJson(res, status) {
  assert.equal(res.status, status, `status (body ${res.text})`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/, 'content-type');
  const j = res.json();
  assert.equal(j.success, true, `success in ${res.text}`);
  return j;
}

/** POST /api/rooms/create (expects 201); returns the room. */
export async function createRoom(port, user, body = { name: 'Room' }) {
  const j = expectJson(await api(port, 'POST', '/api/rooms/create', { body, token: user.token }), 201);
  assertRoom(j.room);
  return j.room;
}

/** POST /api/rooms/:id/join (expects 200); returns {room, participant}. */
export async function joinRest(port, user, roomId, body) {
  const j = expectJson(await api(port, 'POST', `/api/rooms/${roomId}/join`, { body, token: user.token }), 200);
  return j;
}

/** GET a JSON route as user, expecting 200; returns the body. */
export async function getOk(port, user, path) {
  return expectJson(await api(port, 'GET', path, { token: user.token }), 200);
}

/**
 * Every message of a room through REST paging, newest page first, then before= (after=0
 * cannot start a forward walk: the server treats it as "no after").
 */
export async function allMessages(port, user, roomId) {
  let out = (await getOk(port, user, `/api/rooms/${roomId}/messages?limit=200`)).messages;
  while (out.length && out[0].seq > 1) {
    const j = await getOk(port, user, `/api/rooms/${roomId}/messages?before=${out[0].seq}&limit=200`);
    if (!j.messages.length) break;
    out = [...j.messages, ...out];
  }
  return out;
}

/**
 * A WebSocket client for the room ops: call() resolves with the reply of its ref (events
 * that arrive meanwhile are kept), waitEvent() with the first kept event matching pred
 * (taking it out of the list, so the next waitEvent finds the next one).
 */
export class RoomWs {
  static open(port, user, { timeout = 5000 } = {}) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${encodeURIComponent(user.token)}`, 'chorus.v1');
    const c = new RoomWs(ws, user);
    return withTimeout(new Promise((resolve, reject) => {
      ws.once('open', () => resolve(c));
      ws.once('unexpected-response', (req, res) => {
        req.destroy();
        reject(new Error(`unexpected handshake response ${res.statusCode}`));
      });
      ws.once('error', reject);
    }), timeout, 'WebSocket open');
  }

  constructor(ws, user) {
    this.ws = ws;
    this.user = user;
    this.nextRef = 1;
    this.pending = new Map(); // ref -> resolve
    this.events = []; // events not taken yet
    this.all = []; // every event received, in order (with .at = Date.now())
    this.waiters = new Set();
    this.closeInfo = null;
    this.rooms = new Set(); // ids of the rooms joined on this connection
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        for (const w of [...this.waiters]) w();
      });
    });
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString('utf8'));
      if (m.op === 'reply' && this.pending.has(m.ref)) {
        const r = this.pending.get(m.ref);
        this.pending.delete(m.ref);
        r(m);
        return;
      }
      Object.defineProperty(m, 'at', { value: Date.now(), enumerable: false });
      this.events.push(m);
      this.all.push(m);
      for (const w of [...this.waiters]) w();
    });
  }

  send(v) {
    this.ws.send(typeof v === 'string' ? v : JSON.stringify(v));
  }

  /** Sends {op, ref, ...fields}; resolves with the reply. */
  call(op, fields = {}, timeout = 5000) {
    const ref = this.nextRef++;
    const p = new Promise((resolve) => this.pending.set(ref, resolve));
    this.send({ op, ref, ...fields });
    return withTimeout(p, timeout, `the reply to ${op} (ref ${ref})`);
  }

  /** call() that must succeed; returns data. */
  async ok(op, fields = {}, timeout = 5000) {
    const m = await this.call(op, fields, timeout);
    assert.equal(m.ok, true, `${op} reply ok: ${JSON.stringify(m).slice(0, 500)}`);
    return m.data;
  }

  /** call() that must fail with code; returns the reply. */
  async err(op, fields, code, timeout = 5000) {
    const m = await this.call(op, fields, timeout);
    const s = JSON.stringify(m).slice(0, 500);
    assert.equal(m.ok, false, `${op} must fail with ${code}: ${s}`);
    assert.equal(m.error?.code, code, `${op} error code: ${s}`);
    assert.equal(typeof m.error.message, 'string');
    return m;
  }

  /** Joins room (id or code) on this connection; returns the reply data. */
  async join(room, fields = {}) {
    const d = await this.ok('join', { room, ...fields });
    if (d?.room?.id) this.rooms.add(d.room.id);
    return d;
  }

  /** The first kept event matching pred (a function, or an op name); taken out of the list. */
  waitEvent(pred, timeout = 5000, label) {
    const test = typeof pred === 'string' ? (m) => m.op === pred : pred;
    const what = label ?? (typeof pred === 'string' ? pred : 'a matching event');
    return new Promise((resolve, reject) => {
      let timer;
      const finish = (fn, v) => {
        this.waiters.delete(check);
        clearTimeout(timer);
        fn(v);
      };
      const check = () => {
        const i = this.events.findIndex(test);
        if (i >= 0) return finish(resolve, this.events.splice(i, 1)[0]);
        if (this.closeInfo) finish(reject, new Error(`closed (${JSON.stringify(this.closeInfo)}) while waiting for ${what}`));
      };
      timer = setTimeout(() => finish(reject, new Error(`timeout after ${timeout} ms waiting for ${what}; ` +
        `kept events: ${JSON.stringify(this.events).slice(0, 800)}`)), timeout);
      this.waiters.add(check);
      check();
    });
  }

  /** Kept events matching pred (not taken). */
  kept(pred) {
    const test = typeof pred === 'string' ? (m) => m.op === pred : pred;
    return this.events.filter(test);
  }

  /** Drops every kept event. */
  clear() {
    this.events.length = 0;
  }

  /**
   * A round trip (echo), so every event sent before it has arrived. In cluster mode an
   * echo is answered by this connection's node while a room's events come from its home,
   * so it is also a round trip to the home of each room joined here (a history page of
   * one, answered after the events the home published before it).
   */
  async sync() {
    await this.ok('echo', { data: 'sync' });
    if (ON_CLUSTER) await Promise.all([...this.rooms].map((room) => this.call('history', { room, limit: 1 })));
  }

  /** Abrupt: destroys the TCP connection without a close frame. */
  terminate() {
    this.ws.terminate();
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/** Opens a connection per user; returns the clients, in the users' order. */
export const openAll = (port, users) => Promise.all(users.map((u) => RoomWs.open(port, u)));

/** Closes every client (a missing one is skipped). */
export const closeAll = (clients) => clients.forEach((c) => c?.close());

/**
 * A room created by the first user, every user joined on its own connection, in order;
 * returns {room, cs, joins}: the clients (their kept events cleared) and their join replies.
 */
export async function roomWith(port, users, name = 'Room') {
  const room = await createRoom(port, users[0], { name });
  const cs = await openAll(port, users);
  const joins = [];
  for (const c of cs) joins.push(await c.join(room.id));
  for (const c of cs) c.clear();
  return { room, cs, joins };
}

/** REST as user (its token; none without a user): the response, whatever its status. */
export const get = (port, user, path) => api(port, 'GET', path, { token: user?.token });
export const post = (port, user, path, body) => api(port, 'POST', path, { body, token: user?.token });
export const patch = (port, user, path, body) => api(port, 'PATCH', path, { body, token: user?.token });
export const del = (port, user, path) => api(port, 'DELETE', path, { token: user?.token });

/** Polls fn until it returns a truthy value; rejects after ms. */
export async function until(fn, ms, label, every = 50) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timeout after ${ms} ms waiting for ${label}`);
    await delay(every);
  }
}
