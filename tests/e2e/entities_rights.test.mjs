// entities_rights.test.mjs: who may change an entity (docs/protocol.md "Entities"): the
// ownerOnly flag (owner and host only; set at create, changed by owner or host, stored),
// the host breaking a lock (entity_unlock force) and deleting any entity, and the most a
// lock can be held (--entity-lock-max-hold) with the turn it gives the others.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { closeAll, createRoom, joinRest, mkUser, RoomWs } from './lib/rooms.mjs';
import { makeTempDir, startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];

/** host, owner and other joined on their own connections to a room of host's. */
async function scene(port, start = 'scene') {
  const [host, owner, other] = [mkUser('Host'), mkUser('Owner'), mkUser('Other')];
  const room = await createRoom(port, host, { name: start });
  const cs = await Promise.all([host, owner, other].map((u) => RoomWs.open(port, u)));
  for (const c of cs) await c.join(room.id);
  for (const c of cs) c.clear();
  return { room, host, owner, other, cs };
}

describe('entity rights', () => {
  let srv;
  let dir;
  const start = (extra = []) => startServer({ data: false, args: ['--data', dir, ...BASE_ARGS, ...extra] });
  before(async () => {
    dir = makeTempDir('chorus-ent-rights-');
    srv = await start();
  });
  after(async () => {
    await srv?.stop();
  });

  it('ownerOnly: only the owner and the host change it; owner or host set the flag; it is stored', T, async () => {
    const { room, host, owner, other, cs: [ch, co, cx] } = await scene(srv.port);
    const r = room.id;
    try {
      const made = await co.ok('entity_create', { room: r, id: 'mine', kind: 'k', data: { a: 1 }, ownerOnly: true });
      assert.equal(made.entity.ownerOnly, true);
      assert.equal((await cx.waitEvent((e) => e.op === 'entity' && e.action === 'create')).entity.ownerOnly, true);
      // Others: every change is refused, whatever its kind.
      await cx.err('entity_update', { room: r, id: 'mine', patch: { a: 2 } }, 'forbidden');
      await cx.err('entity_update', { room: r, id: 'mine', patch: { a: 2 }, transient: true }, 'forbidden');
      await cx.err('entity_delete', { room: r, id: 'mine' }, 'forbidden');
      await cx.err('entity_lock', { room: r, id: 'mine' }, 'forbidden');
      await cx.err('entity_update', { room: r, id: 'mine', ownerOnly: false }, 'forbidden');
      // The owner and the host may.
      assert.equal((await co.ok('entity_update', { room: r, id: 'mine', patch: { a: 2 } })).entity.version, 2);
      assert.equal((await ch.ok('entity_update', { room: r, id: 'mine', patch: { b: 1 } })).entity.version, 3);
      // A plain entity is anyone's; only its owner or the host may make it owner-only.
      await cx.ok('entity_create', { room: r, id: 'open', kind: 'k' });
      const plain = await co.ok('entity_update', { room: r, id: 'open', patch: { by: 'owner' } });
      assert.equal('ownerOnly' in plain.entity, false);
      await co.err('entity_update', { room: r, id: 'open', ownerOnly: true }, 'forbidden');
      const flagged = await ch.ok('entity_update', { room: r, id: 'open', ownerOnly: true });
      assert.equal(flagged.entity.ownerOnly, true);
      await co.err('entity_update', { room: r, id: 'open', patch: { x: 1 } }, 'forbidden');
      // Bad values.
      for (const [op, f] of [['entity_create', { kind: 'k', ownerOnly: 'yes' }],
        ['entity_update', { id: 'mine', ownerOnly: 1 }], ['entity_update', { id: 'mine', ownerOnly: true, transient: true, patch: {} }]]) {
        const m = await co.err(op, { room: r, ...f }, 'validation_error');
        assert.equal(m.error.field, 'ownerOnly');
      }
      // The owner clears it (the flag alone is a change); then anyone may change it.
      const cleared = await co.ok('entity_update', { room: r, id: 'mine', ownerOnly: false });
      assert.equal('ownerOnly' in cleared.entity, false);
      assert.equal(cleared.entity.version, 4);
      await cx.ok('entity_update', { room: r, id: 'mine', patch: { c: 1 } });
      await co.ok('entity_update', { room: r, id: 'mine', ownerOnly: true });
    } finally {
      closeAll([ch, co, cx]);
    }
    await srv.stop();
    srv = await start();
    const c = await RoomWs.open(srv.port, other);
    try {
      await joinRest(srv.port, other, r);
      const j = await c.join(r);
      const byId = new Map(j.entities.map((e) => [e.id, e]));
      assert.equal(byId.get('mine').ownerOnly, true, 'ownerOnly survives a restart');
      assert.equal(byId.get('open').ownerOnly, true);
      await c.err('entity_update', { room: r, id: 'mine', patch: { d: 1 } }, 'forbidden');
    } finally {
      c.close();
    }
    assert.ok(host && owner);
  });

  it('the host breaks a lock (entity_unlock force) and deletes any entity, locked or not', T, async () => {
    const { room, cs: [ch, co, cx] } = await scene(srv.port);
    const r = room.id;
    try {
      await co.ok('entity_create', { room: r, id: 'held', kind: 'k' });
      await co.ok('entity_lock', { room: r, id: 'held', ttl: 60000 });
      await ch.err('entity_update', { room: r, id: 'held', patch: { a: 1 } }, 'locked');
      await cx.err('entity_unlock', { room: r, id: 'held', force: true }, 'forbidden');
      await cx.err('entity_unlock', { room: r, id: 'held' }, 'forbidden');
      await cx.err('entity_delete', { room: r, id: 'held' }, 'locked');
      await ch.err('entity_unlock', { room: r, id: 'held', force: 'yes' }, 'validation_error');
      co.clear();
      assert.deepEqual(await ch.ok('entity_unlock', { room: r, id: 'held', force: true }), { id: 'held' });
      for (const c of [co, cx]) {
        const ev = await c.waitEvent('entity_unlock');
        assert.deepEqual({ ...ev }, { op: 'entity_unlock', room: r, id: 'held', reason: 'broken' });
      }
      await ch.ok('entity_update', { room: r, id: 'held', patch: { a: 1 } });
      // Locked again: the host still deletes it.
      await co.ok('entity_lock', { room: r, id: 'held', ttl: 60000 });
      co.clear();
      const d = await ch.ok('entity_delete', { room: r, id: 'held' });
      assert.equal(d.id, 'held');
      assert.equal((await co.waitEvent('entity_unlock')).reason, 'deleted');
      assert.equal((await co.waitEvent((e) => e.op === 'entity' && e.action === 'delete')).id, 'held');
      // Owner-only entities too.
      await co.ok('entity_create', { room: r, id: 'own', kind: 'k', ownerOnly: true });
      await ch.ok('entity_delete', { room: r, id: 'own' });
    } finally {
      closeAll([ch, co, cx]);
    }
  });

});

describe('entity lock hold', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--entity-lock-max-hold', '1s'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('a lock lasts at most --entity-lock-max-hold, renewals included; then the others get a turn', T, async () => {
    const { room, cs: [ch, co, cx] } = await scene(srv.port);
    const r = room.id;
    try {
      await co.ok('entity_create', { room: r, id: 'hog', kind: 'k' });
      const t0 = Date.now();
      const l1 = await co.ok('entity_lock', { room: r, id: 'hog', ttl: 60000 });
      const t1 = Date.now();
      assert.ok(l1.lock.expiresAt <= t1 + 1000, `cut to the 1 s hold: ${l1.lock.expiresAt - t0} ms`);
      // A renewal does not move the end.
      const l2 = await co.ok('entity_lock', { room: r, id: 'hog', ttl: 60000 });
      assert.equal(l2.lock.expiresAt, l1.lock.expiresAt, 'a renewal keeps the end');
      const ended = await cx.waitEvent('entity_unlock', 5000);
      assert.equal(ended.reason, 'expired');
      await co.err('entity_lock', { room: r, id: 'hog', ttl: 1000 }, 'lock_limit');
      await cx.ok('entity_lock', { room: r, id: 'hog', ttl: 60000 });
      assert.ok(ch);
    } finally {
      closeAll([ch, co, cx]);
    }
  });
});
