// cluster_late.test.mjs: joins answered unavailable at their node's deadline and served
// later by their home (issue 19; docs/architecture.md, "Answered exactly once"). The node
// remembers each such join for as long as a late answer can come (op timeout + lease), at
// most --cluster-max-inflight of them, and undoes every one that is served late: here 300
// at once (a node used to remember only its last 256: the 44 oldest stayed online at the
// home as ghosts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startCluster } from './lib/cluster.mjs';
import { closeAll, createRoom, mkUser, mkUsers, RoomWs, until } from './lib/rooms.mjs';

const N = 300;

describe('many joins that timed out at their node, served later by the home', () => {
  let c, n1, n2, room, host, hc;
  const gs = [];
  before(async () => {
    // A short op timeout, a long lease: the home stopped for a moment keeps its rooms.
    c = await startCluster(2, { args: ['--cluster-lease', '30s', '--cluster-op-timeout', '500ms',
      '--cluster-node-ttl', '30s', '--cluster-max-inflight', '1000', '--room-max-capacity', '1000',
      '--max-connections-per-ip', '0', '--rate-ws-auth', '10000/1m'] });
    [n1, n2] = c.nodes;
    host = mkUser('MHost');
    room = await createRoom(n1.port, host, { name: 'Many late', maxParticipants: 1000 });
    hc = await RoomWs.open(n1.port, host);
    await hc.join(room.id);
  });
  after(async () => {
    closeAll([hc, ...gs]);
    await c?.stop();
  });

  test(`every one of ${N} is undone: none left online at the home`, { timeout: 120000 }, async () => {
    const users = mkUsers(N, 'late');
    for (const u of users) gs.push(await RoomWs.open(n2.port, u, { timeout: 30000 }));
    const online = async () => (await hc.ok('participants', { room: room.id })).onlineCount;
    assert.equal(await online(), 1);
    n1.proc.kill('SIGSTOP');
    let answers;
    try {
      // Forwarded to the stopped home: each answered unavailable at node 2's op timeout.
      answers = await Promise.all(gs.map((g) => g.call('join', { room: room.id }, 60000)));
    } finally {
      n1.proc.kill('SIGCONT');
    }
    for (const j of answers) assert.equal(j.error?.code, 'unavailable', JSON.stringify(j));
    // The home serves them now, and node 2 undoes each (a line each; none forgotten)...
    const undone = () => n2.lines.filter((l) => /a join in room \S+ answered after its deadline is undone/.test(l)).length;
    await until(() => undone() >= N, 60000, `${N} late joins undone`).catch((e) => {
      throw new Error(`${e.message}: ${undone()} undone`); // 256 with the old ring
    });
    // ...so the home is back to the host alone.
    await until(async () => (await online()) === 1, 60000, 'every late joiner offline at the home');
  });
});
