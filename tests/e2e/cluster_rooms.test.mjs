// cluster_rooms.test.mjs: what a user reads of their own rooms in a cluster is what one
// server answers: the hosted-rooms limit counted across the nodes (the store counts it in
// the create's transaction), and "my rooms" (GET /api/rooms) on a node that is not the
// rooms' home. Three nodes over a real redis-server and PostgreSQL (lib/cluster.mjs).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startCluster } from './lib/cluster.mjs';
import { createRoom, del, getOk, joinRest, mkUser, patch, post } from './lib/rooms.mjs';

function expectOk(res) {
  assert.equal(res.status, 200, res.text);
}

describe('rooms in a cluster of three', () => {
  let c, n1, n2, n3;
  before(async () => {
    c = await startCluster(3, { args: ['--cluster-lease', '2s', '--cluster-op-timeout', '2s'] });
    [n1, n2, n3] = c.nodes;
  });
  after(async () => {
    await c?.stop();
  });

  test('creates for one host fired at every node at once: exactly --room-max-hosted (5) succeed, the rest 429 room_limit', async () => {
    const host = mkUser('Many');
    const nodes = [n1, n2, n3];
    const res = await Promise.all(
      Array.from({ length: 9 }, (_, i) => post(nodes[i % 3].port, host, '/api/rooms/create', { name: `r${i}` })),
    );
    const statuses = res.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 201, 201, 201, 201, 429, 429, 429, 429], res.map((r) => r.text).join('\n'));
    for (const r of res.filter((x) => x.status === 429)) assert.equal(r.json().error.code, 'room_limit');
    // And after: the sixth is refused on every node; another host is not.
    for (const n of nodes) assert.equal((await post(n.port, host, '/api/rooms/create', { name: 'x' })).status, 429);
    await createRoom(n3.port, mkUser('Other'), { name: 'theirs' });
  });

  /** GET /api/rooms on node n as user: the rooms by id, without joinLink (each node's own). */
  async function mine(n, user) {
    const { rooms } = await getOk(n.port, user, '/api/rooms');
    return rooms.map(({ joinLink, ...room }) => room).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Each user's list on nodes 2 and 3 is the list on node 1 (the rooms' home); returns it. */
  async function same(user) {
    const home = await mine(n1, user);
    assert.deepEqual(await mine(n2, user), home, 'node 2 lists what the home does');
    assert.deepEqual(await mine(n3, user), home, 'node 3 lists what the home does');
    return home;
  }

  test('"my rooms" on a node that is not the rooms\' home: after join, rename, new code, kick, leave and delete', async () => {
    const host = mkUser('Hana');
    const m = mkUser('Mo');
    const k = mkUser('Kit');
    const room = await createRoom(n1.port, host, { name: 'before' });
    await joinRest(n1.port, m, room.id);
    await joinRest(n1.port, k, room.id);
    let l = await same(m);
    assert.deepEqual(l.map((x) => x.id), [room.id], 'a member sees the room');
    assert.equal(l[0].participantCount, 3);
    assert.equal((await same(host))[0].participantCount, 3, 'the host sees the seats');

    expectOk(await patch(n1.port, host, `/api/rooms/${room.id}`, { name: 'after' }));
    assert.equal((await same(host))[0].name, 'after');
    const code = (await post(n1.port, host, `/api/rooms/${room.id}/code`)).json().room.roomCode;
    assert.equal((await same(m))[0].roomCode, code);

    expectOk(await post(n1.port, host, `/api/rooms/${room.id}/kick`, { userId: k.sub }));
    assert.deepEqual(await same(k), [], 'a kicked user no longer lists it');
    expectOk(await del(n1.port, m, `/api/rooms/${room.id}/leave`));
    assert.deepEqual(await same(m), [], 'a member who left no longer lists it');
    assert.equal((await same(host))[0].participantCount, 1);

    expectOk(await del(n1.port, host, `/api/rooms/${room.id}`));
    assert.deepEqual(await same(host), []);
  });
});
