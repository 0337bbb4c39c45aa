// cluster_rooms.test.mjs: what a user reads of their own rooms in a cluster is what one
// server answers: the hosted-rooms limit counted across the nodes (the store counts it in
// the create's transaction), and "my rooms" (GET /api/rooms) on a node that is not the
// rooms' home. Three nodes over a real redis-server and PostgreSQL (lib/cluster.mjs).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startCluster } from './lib/cluster.mjs';
import { createRoom, mkUser, post } from './lib/rooms.mjs';

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
});
