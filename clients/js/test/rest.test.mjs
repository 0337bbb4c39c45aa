// rest.test.mjs: the SDK's REST helpers against the real server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Chorus, ChorusError } from '../chorus.js';
import { BASE_ARGS, client, registered, startServer, uniqueEmail } from '../testlib/helpers.mjs';

describe('REST helpers', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: BASE_ARGS });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('register sets the token; login; me; updateMe takes the fresh token', async () => {
    const email = uniqueEmail('ada');
    const c = client(port);
    assert.equal(c.token, undefined);
    const s = await c.register(email, 'correct horse', 'Ada');
    assert.equal(typeof s.token, 'string');
    assert.equal(c.token, s.token);
    assert.equal(s.user.username, 'Ada');
    assert.equal(s.user_id, s.user.id);

    const c2 = client(port);
    const s2 = await c2.login(email.toUpperCase(), 'correct horse');
    assert.equal(c2.token, s2.token);
    assert.equal(s2.user.id, s.user.id);

    const me = await c2.me();
    assert.equal(me.id, s.user.id);
    assert.equal(me.email, email);

    const before = c2.token;
    const u = await c2.updateMe({ username: 'Ada L.', color: '#22c55e' });
    assert.equal(u.username, 'Ada L.');
    assert.equal(u.color, '#22c55e');
    assert.notEqual(c2.token, before, 'updateMe takes the fresh token');
    const name = JSON.parse(Buffer.from(c2.token.split('.')[1], 'base64url')).name;
    assert.equal(name, 'Ada L.');
    assert.equal((await c2.me()).username, 'Ada L.');
  });

  it('logout revokes the token and closes the client; logoutAll revokes every session', async () => {
    const a = await registered(port, 'Out');
    await a.connect();
    const token = a.token;
    await a.logout();
    assert.equal(a.token, undefined);
    assert.equal(a.state, 'closed');
    const reuse = client(port);
    reuse.token = token;
    await assert.rejects(reuse.me(), (e) => e.code === 'unauthorized' && /revoked/.test(e.message));

    const email = uniqueEmail('all');
    const b = client(port);
    await b.register(email, 'correct horse', 'All');
    const b2 = client(port);
    await b2.login(email, 'correct horse');
    await b2.connect();
    const closed = new Promise((resolve) => b2.on('connection', (s) => s !== 'open' && resolve(s)));
    await b.logoutAll();
    await closed; // the server closed b2's socket (1008)
    await assert.rejects(b2.me(), (e) => e.code === 'unauthorized');
    b2.close();
  });

  it('changePassword takes the fresh token; deleteAccount needs the password', async () => {
    const email = uniqueEmail('pw');
    const c = client(port);
    await c.register(email, 'correct horse', 'Pw');
    const old = c.token;
    await assert.rejects(c.changePassword('wrong horse', 'battery staple'), (e) => e.code === 'invalid_credentials');
    const s = await c.changePassword('correct horse', 'battery staple');
    assert.equal(c.token, s.token);
    assert.notEqual(s.token, old);
    assert.equal((await c.me()).email, email);
    await assert.rejects(client(port).login(email, 'correct horse'), (e) => e.code === 'invalid_credentials');
    await assert.rejects(c.deleteAccount('correct horse'), (e) => e.code === 'invalid_credentials');
    assert.equal(c.token, s.token, 'a refused deletion keeps the session');
    await c.deleteAccount('battery staple');
    assert.equal(c.token, undefined);
    await assert.rejects(client(port).login(email, 'battery staple'), (e) => e.code === 'invalid_credentials');
  });

  it('errors are ChorusError with code, status and field', async () => {
    const c = client(port);
    await assert.rejects(c.register('not-an-email', 'correct horse', 'X'), (e) => {
      assert.ok(e instanceof ChorusError);
      assert.ok(e instanceof Error);
      assert.equal(e.name, 'ChorusError');
      assert.equal(e.code, 'validation_error');
      assert.equal(e.status, 400);
      assert.equal(e.field, 'email');
      assert.ok(e.message.length > 0);
      return true;
    });
    await assert.rejects(c.register(uniqueEmail(), 'short', 'X'),
      { name: 'ChorusError', code: 'validation_error', status: 400, field: 'password' });
    const email = uniqueEmail();
    await c.register(email, 'correct horse', 'X');
    await assert.rejects(client(port).register(email, 'correct horse', 'Y'), { code: 'email_taken', status: 409 });
    await assert.rejects(client(port).login(email, 'wrong password'), { code: 'invalid_credentials', status: 401 });
    await assert.rejects(client(port).me(), { code: 'unauthorized', status: 401 });
    await assert.rejects(client(port, { token: 'garbage' }).me(), { code: 'unauthorized', status: 401 });
    await assert.rejects(c.updateMe({ bogus: 1 }), { code: 'validation_error', status: 400 });
    await assert.rejects(c.getRoom('00000000-0000-4000-8000-000000000000'), { code: 'not_found', status: 404 });
    await assert.rejects(c.getRoom('ZZZZZZ'), { code: 'not_found', status: 404 });
  });

  it('network failure is ChorusError network', async () => {
    const c = new Chorus({ url: 'http://127.0.0.1:1' });
    await assert.rejects(c.login('a@example.com', 'correct horse'), { name: 'ChorusError', code: 'network' });
  });

  it('rooms: create, get by id and code, mine, public, kick, delete', async () => {
    const host = await registered(port, 'Host');
    const mem = await registered(port, 'Mem');
    const r = await host.createRoom({ name: 'sdk rest', isPublic: true, state: { mode: 'chill' } });
    assert.equal(r.name, 'sdk rest');
    assert.equal(r.roomCode.length, 6);
    assert.deepEqual(r.state, { mode: 'chill' });
    assert.equal((await mem.getRoom(r.roomCode)).id, r.id);
    assert.equal((await mem.getRoom(r.roomCode.toLowerCase())).id, r.id);
    assert.equal((await mem.getRoom(r.id)).roomCode, r.roomCode);
    assert.ok((await host.myRooms()).some((x) => x.id === r.id));
    assert.ok((await mem.publicRooms()).some((x) => x.id === r.id));
    const page = await mem.publicRoomsPage({ limit: 1 });
    assert.equal(page.rooms.length, 1);
    assert.equal('state' in page.rooms[0], false, 'a public list carries no state');
    assert.ok(page.nextCursor === null || typeof page.nextCursor === 'string');
    if (page.nextCursor) assert.ok(Array.isArray((await mem.publicRoomsPage({ limit: 1, cursor: page.nextCursor })).rooms));
    await assert.rejects(host.createRoom({ name: '' }), { code: 'validation_error', field: 'name', status: 400 });

    // The member joins over the WebSocket, then the host kicks with ban.
    await mem.connect();
    const room = await mem.join(r.roomCode);
    assert.ok((await mem.myRooms()).some((x) => x.id === r.id));
    // The host rotates the code: the member's room follows, the old code is gone.
    const rotated = new Promise((resolve) => room.on('room_code', resolve));
    const r2 = await host.rotateRoomCode(r.id);
    assert.notEqual(r2.roomCode, r.roomCode);
    assert.deepEqual(await rotated, { roomCode: r2.roomCode, joinLink: r2.joinLink });
    assert.equal(room.code, r2.roomCode);
    await assert.rejects(mem.rotateRoomCode(r.id), { code: 'forbidden', status: 403 });
    await assert.rejects(host.getRoom(r.roomCode), { code: 'not_found', status: 404 });
    const kicked = new Promise((resolve) => room.on('kicked', resolve));
    await host.kick(r.id, mem.session.user.id, true);
    assert.deepEqual(await kicked, { ban: true });
    assert.equal(room.active, false);
    await assert.rejects(mem.join(r2.roomCode), { code: 'banned' });
    // A banned user is not a participant: as for a room that does not exist.
    await assert.rejects(mem.deleteRoom(r.id), { code: 'not_found', status: 404 });
    await host.deleteRoom(r.id);
    await assert.rejects(host.getRoom(r.id), { code: 'not_found' });
    mem.close();
  });
});
