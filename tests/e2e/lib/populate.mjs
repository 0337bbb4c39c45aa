// populate.mjs: a database filled through the server's API (accounts, a revoked session, a
// logout-all, the audit trail, rooms with state, participants and a ban, messages with
// metadata, a document with ops and a snapshot, entities created, updated and deleted),
// and what the API shows of it, to compare two servers (export/import and migration tests).
import assert from 'node:assert/strict';

import { api, FAST_HASH, register, TEST_SECRET } from './auth.mjs';
import { allMessages, createRoom, getOk, RoomWs } from './rooms.mjs';

/** The server options the fixture needs: fast hashing, the test JWT secret, a snapshot every 2 ops. */
export const POPULATE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--doc-snapshot-every', '2'];

/** Fills the server on port; returns {users, rooms} for view(). */
export async function populate(port) {
  const ada = await register(port, { username: 'Ada \u00e9\u6f22' });
  const bob = await register(port, { username: 'Bob' });
  const eve = await register(port, { username: 'Eve' });
  // A revoked token (by jti) and a raised epoch: both kinds of revocation rows.
  const spare = (await api(port, 'POST', '/api/auth/login', { body: { email: bob.email, password: bob.password } })).json();
  assert.equal((await api(port, 'POST', '/api/auth/logout', { token: spare.token })).status, 200);
  assert.equal((await api(port, 'POST', '/api/auth/logout-all', { token: eve.token })).status, 200);
  // A failed login: an audit row.
  await api(port, 'POST', '/api/auth/login', { body: { email: ada.email, password: 'wrong password!' } });

  const users = [ada, bob];
  const r1 = await createRoom(port, ada, { name: 'One \u2713', isPublic: true });
  const r2 = await createRoom(port, bob, { name: 'Two' });
  const ca = await RoomWs.open(port, ada);
  const cb = await RoomWs.open(port, bob);
  try {
    await ca.join(r1.id);
    await cb.join(r1.id, { displayName: 'Bobby' });
    await cb.join(r2.id);
    await ca.ok('state', { room: r1.id, patch: { mode: 'focus', n: [1, 2, { x: null }] } });
    for (let i = 0; i < 5; i++) {
      await ca.ok('message', { room: r1.id, type: 'user_text', content: `hello ${i} \u{1f600}`, metadata: { i, tag: 'x' } });
      await cb.ok('message', { room: r1.id, type: 'user_text', content: `re ${i}` });
    }
    await cb.ok('message', { room: r2.id, type: 'user_text', content: 'alone "quoted" \\ text\n' });
    await ca.ok('doc_open', { room: r1.id, doc: 'main' });
    let v = 0;
    for (const delta of [['hello'], [5, ' world'], [{ d: 5 }, 'HELLO'], [11, '!']])
      v = (await ca.ok('doc_op', { room: r1.id, doc: 'main', version: v, delta, opId: `a-${v}` })).version;
    await ca.ok('entity_create', { room: r1.id, id: 'e1', kind: 'card', data: { text: 'hi', pos: [1, 2] } });
    await cb.ok('entity_create', { room: r1.id, id: 'e2', kind: 'pin', data: {}, ownerOnly: true });
    await ca.ok('entity_create', { room: r1.id, id: 'e3', kind: 'card', data: { gone: true } });
    await ca.ok('entity_update', { room: r1.id, id: 'e1', patch: { pos: [4, 2, 0] }, baseVersion: 1 });
    await ca.ok('entity_delete', { room: r1.id, id: 'e3' });
    await cb.ok('entity_create', { room: r2.id, id: 'solo', kind: 'note', data: { a: 1 } });
  } finally {
    ca.close();
    cb.close();
  }
  // A ban: Mallory joins r1 and the host kicks her with ban.
  const mal = await register(port, { username: 'Mallory' });
  const cm = await RoomWs.open(port, mal);
  try {
    await cm.join(r1.id);
  } finally {
    cm.close();
  }
  const k = await api(port, 'POST', `/api/rooms/${r1.id}/kick`, { body: { userId: mal.user.id, ban: true }, token: ada.token });
  assert.equal(k.status, 200, `kick: ${k.text}`);
  return { users, rooms: [{ room: r1, host: ada }, { room: r2, host: bob }] };
}

/** What the API shows of the fixture's data: accounts, rooms, messages, documents, entities. */
export async function view(port, fx) {
  const out = { users: [], rooms: [] };
  for (const u of fx.users) {
    const r = await api(port, 'POST', '/api/auth/login', { body: { email: u.email, password: u.password } });
    assert.equal(r.status, 200, `login of ${u.email} after the move: ${r.text}`);
    out.users.push(r.json().user);
  }
  for (const { room, host } of fx.rooms) {
    const detail = (await getOk(port, host, `/api/rooms/${room.id}`)).room;
    for (const p of detail.participants ?? []) delete p.online;
    const bans = (await getOk(port, host, `/api/rooms/${room.id}/bans`)).bans;
    const messages = await allMessages(port, host, room.id);
    const c = await RoomWs.open(port, host);
    try {
      const j = await c.join(room.id);
      const ents = [...j.entities].sort((a, b) => (a.id < b.id ? -1 : 1));
      const doc = await c.ok('doc_open', { room: room.id, doc: 'main' });
      const ops = (await c.ok('doc_ops', { room: room.id, doc: 'main', from: 0 })).ops;
      out.rooms.push({ detail, bans, messages, state: j.state, stateVersion: j.stateVersion, ents, doc, ops });
    } finally {
      c.close();
    }
  }
  return out;
}
