// rejoin.test.mjs: a rejoin answered `unavailable` is tried again (client.js _retryRejoin).
// A real cluster (lib/cluster.mjs: PostgreSQL, redis-server, real nodes) behind the front
// door (lib/front.mjs): B's connection and the room's home are on node 1, which is killed;
// B reconnects through the front to node 2, where the room has no home: its rejoin is
// answered `unavailable` (the op to the dead home times out, then the lease is gone) until
// a node takes the room (node 3, started after, once a client there needs the room). B's
// room must then be rejoined and live, not given up.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { startCluster } from '../../../tests/e2e/lib/cluster.mjs';
import { startFront } from '../../../tests/e2e/lib/front.mjs';
import { connected, next, until } from '../testlib/helpers.mjs';

const ARGS = ['--password-ops', '1', '--password-memory', '8KiB',
  '--cluster-lease', '1s', '--cluster-op-timeout', '1s', '--cluster-node-ttl', '2s'];

describe('a rejoin answered unavailable', () => {
  let c, front;
  const clients = [];
  before(async () => {
    c = await startCluster(2, { args: ARGS });
    front = await startFront(() => c.nodes.filter((n) => !n.exitInfo).map((n) => n.port));
  });
  after(async () => {
    for (const x of clients) x.close();
    await front?.close();
    await c?.stop();
  });

  it('is tried again with the reconnect backoff until the room has a home again', { timeout: 30000 }, async () => {
    const [n1] = c.nodes;
    // B's first WebSocket through the front goes to node 1 (the front's first turn).
    const b = await connected(front.port, 'B', { reconnect: { base: 100, max: 500 } });
    clients.push(b);
    assert.equal(front.routeOf(b.socket._socket.localPort), n1.port, 'B is on node 1');
    const a = await connected(n1.port, 'A', { reconnect: false });
    clients.push(a);
    const r = await a.createRoom({ name: 'orphan' }); // at home on node 1
    await a.join(r.roomCode);
    const br = await b.join(r.roomCode);
    assert.equal(c.homeOf(r.id), n1, 'the room is at home on node 1');

    const refused = [];
    const orig = b._joinRequest.bind(b);
    b._joinRequest = (...args) => orig(...args).catch((e) => {
      refused.push(e.code);
      throw e;
    });
    const errors = [];
    b.on('error', (e) => errors.push(e));

    n1.kill();
    await until(() => refused.includes('unavailable'), 10000, 'a rejoin answered unavailable');
    // The lease ran out (nobody renews it): a node started now reads the room as its last
    // home left it and takes it when one of its clients needs it.
    await until(() => !c.redis.cli('GET', `chorus:room:${r.id}:home`), 10000, 'the lease gone');
    const n3 = await c.addNode();
    const d = await connected(n3.port, 'D', { reconnect: false });
    clients.push(d);
    const dr = await d.join(r.roomCode);

    // B's next rejoin reaches the new home; the message comes live or with the rejoin's
    // catch-up, either way only if B kept the room.
    const got = next(br, 'message', (m) => m.content === 'back', 15000);
    await dr.send('user_text', 'back');
    await got;
    assert.ok(br.active, 'B\'s room is active');
    assert.deepEqual(errors.map((e) => e.code), [], 'no room given up');
  });
});
