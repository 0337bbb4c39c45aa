// settings.test.mjs: the SDK's room settings and bans against the real server: updateRoom
// (REST) and room.updateSettings (the room_update op), the room_updated event keeping
// room.info current, bans() and unban() (the user joins again).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BASE_ARGS, connected, next, registered, startServer } from '../testlib/helpers.mjs';

describe('room settings and bans', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: BASE_ARGS });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('updateRoom and room.updateSettings: members get room_updated and room.info follows', async () => {
    const host = await connected(port, 'Host');
    const mem = await connected(port, 'Mem');
    try {
      const r = await host.createRoom({ name: 'before', maxParticipants: 4 });
      const hostRoom = await host.join(r.roomCode);
      const room = await mem.join(r.roomCode);
      const ev = next(room, 'room_updated');
      const info = await host.updateRoom(r.id, { name: 'after', isPublic: true });
      assert.equal(info.name, 'after');
      assert.equal(info.isPublic, true);
      assert.deepEqual(await ev, { name: 'after', maxParticipants: 4, isPublic: true, by: host.user.id });
      assert.equal(room.info.name, 'after');
      assert.equal(room.info.isPublic, true);

      const ev2 = next(room, 'room_updated');
      const info2 = await hostRoom.updateSettings({ maxParticipants: 9 });
      assert.equal(info2.maxParticipants, 9);
      assert.equal(hostRoom.info.maxParticipants, 9);
      assert.equal((await ev2).maxParticipants, 9);
      assert.equal(room.info.maxParticipants, 9);
      assert.equal(room.info.name, 'after');

      await assert.rejects(hostRoom.updateSettings({ maxParticipants: 1 }), { code: 'capacity_below_participants' });
      await assert.rejects(host.updateRoom(r.id, { maxParticipants: 1 }),
        { code: 'capacity_below_participants', status: 409, field: 'maxParticipants' });
      await assert.rejects(host.updateRoom(r.id, { name: '' }), { code: 'validation_error', status: 400, field: 'name' });
      await assert.rejects(room.updateSettings({ name: 'mine' }), { code: 'forbidden' });
      await assert.rejects(mem.updateRoom(r.id, { name: 'mine' }), { code: 'forbidden', status: 403 });
    } finally {
      host.close();
      mem.close();
    }
  });

  it('bans and unban: the banned user is listed, unbanned and joins again', async () => {
    const host = await registered(port, 'Host');
    const mem = await connected(port, 'Banned');
    try {
      const r = await host.createRoom({ name: 'bans' });
      await mem.join(r.roomCode);
      assert.deepEqual(await host.bans(r.id), []);
      await host.kick(r.id, mem.user.id, true);
      const bans = await host.bans(r.id);
      assert.deepEqual(bans.map((b) => [b.userId, b.displayName]), [[mem.user.id, 'Banned']]);
      assert.equal(typeof bans[0].bannedAt, 'number');
      await assert.rejects(mem.join(r.roomCode), { code: 'banned' });
      // The banned user is no participant: for them the room is not there (no enumeration).
      await assert.rejects(mem.bans(r.id), { code: 'not_found', status: 404 });
      await assert.rejects(mem.unban(r.id, mem.user.id), { code: 'not_found', status: 404 });
      await host.unban(r.id, mem.user.id);
      await assert.rejects(host.unban(r.id, mem.user.id), { code: 'not_found', status: 404 });
      assert.deepEqual(await host.bans(r.id), []);
      const room = await mem.join(r.roomCode);
      assert.equal(room.role, 'member');
    } finally {
      mem.close();
    }
  });
});
