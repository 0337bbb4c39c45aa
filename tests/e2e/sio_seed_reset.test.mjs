// sio_seed_reset.test.mjs: a seed 003 Socket.IO client whose room's home is killed -9 in a
// cluster (docs/socketio.md "Seed 003's events"): once another node took the room over, the
// server joins the client's connection to the room again on its behalf (room_reset, then
// room:joined and room:messages-history as after its own room:join), over WebSocket and over
// HTTP long-polling, so it goes on sending without a room:join of its own. A real cluster
// (tests/e2e/lib/cluster.mjs: PostgreSQL, redis-server, three nodes).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { io } from 'socket.io-client';

import { startCluster } from './lib/cluster.mjs';
import { closeAll, createRoom, mkUser, RoomWs, until } from './lib/rooms.mjs';
import { withTimeout } from './lib/util.mjs';

const ARGS = ['--cluster-lease', '1s', '--cluster-op-timeout', '1s', '--cluster-node-ttl', '2s'];

/** A socket.io-client socket that keeps every event ([name, ...args]) it gets. */
class Seed {
  constructor(port, user, transport) {
    this.user = user;
    this.events = [];
    this.socket = io(`http://127.0.0.1:${port}`, {
      transports: [transport], reconnection: false, forceNew: true, auth: { token: user.token },
    });
    this.socket.onAny((name, ...args) => this.events.push([name, ...args]));
  }

  static async open(port, user, transport) {
    const s = new Seed(port, user, transport);
    await withTimeout(new Promise((resolve, reject) => {
      s.socket.once('connect', resolve);
      s.socket.once('connect_error', reject);
    }), 10000, 'socket.io connect');
    return s;
  }

  ack(name, payload, ms = 10000) {
    return withTimeout(this.socket.timeout(ms).emitWithAck(name, payload), ms + 1000, `ack of ${name}`);
  }

  kept(name) {
    return this.events.filter((e) => e[0] === name).map((e) => e.slice(1));
  }

  close() {
    this.socket.disconnect();
  }
}

describe('seed 003 clients when their room\'s home is lost', () => {
  let c;
  const open = [];
  before(async () => {
    c = await startCluster(3, { args: ARGS });
  });
  after(async () => {
    closeAll(open.filter((x) => x instanceof RoomWs));
    for (const x of open) if (x instanceof Seed) x.close();
    await c?.stop();
  });

  it('are joined again on their behalf: room:joined, then their room:* events work', { timeout: 90000 }, async () => {
    const [n1, n2, n3] = c.nodes;
    const host = mkUser('Host');
    const room = await createRoom(n1.port, host, { name: 'Seeds' });
    const hc = await RoomWs.open(n1.port, host);
    open.push(hc);
    await hc.join(room.id);
    const a = await Seed.open(n2.port, mkUser('Ann'), 'websocket');
    const b = await Seed.open(n3.port, mkUser('Bob'), 'polling');
    open.push(a, b);
    for (const s of [a, b]) {
      const r = await s.ack('room:join', { roomCode: room.roomCode });
      assert.equal(r.ok, true, JSON.stringify(r));
    }
    assert.equal(c.redis.cli('GET', `chorus:room:${room.id}:home`), String(n1.node));
    const first = await a.ack('room:message', { content: 'before' });
    assert.equal(first.ok, true);
    // (Every event is kept from the join on: a slow node may lose its lease and the room be
    // taken over before the kill, and its reset counts the same.)

    n1.kill();
    await withTimeout(n1.exited, 10000, 'node 1 to exit');
    // As if the home died between storing a message and publishing it: the new home cannot
    // show that the members missed nothing, so they are reset (else the takeover is
    // invisible to them: cluster_home.test.mjs).
    c.redis.cli('HSET', `chorus:room:${room.id}:rec`, 's', '-1');
    // Ann's messages reach the dead home (unavailable) until a node takes the room over
    // (its lease run out); then both are told room_reset and joined again by the server.
    await until(async () => {
      await a.ack('room:message', { content: 'knock' }).catch(() => null);
      return a.kept('room_reset').length > 0;
    }, 40000, 'room_reset on Ann\'s connection');
    for (const s of [a, b]) {
      // Their own join's room:joined, then one for each reset (a node that lost a takeover
      // race may reset its connections twice), each after its room_reset.
      await until(() => s.kept('room_reset').length > 0 &&
        s.kept('room:joined').length === s.kept('room_reset').length + 1 &&
        s.kept('room:messages-history').length === s.kept('room:joined').length, 20000, 'room:joined again');
      const names = s.events.map((e) => e[0]);
      assert.ok(names.indexOf('room_reset') >= 0 && names.lastIndexOf('room_reset') < names.lastIndexOf('room:joined'),
        `room_reset, then room:joined: ${names}`);
      const [joined] = s.kept('room:joined').at(-1);
      assert.equal(joined.roomId, room.id);
      assert.ok(joined.participants.some((p) => p.userId === s.user.sub && p.online), 'in the room again, online');
      assert.equal(s.kept('room:error').filter(([e]) => e.event === 'room:join').length, 0, 'no rejoin refused');
    }
    // No room:join of their own: their room:* events go to the room again.
    const r = await a.ack('room:message', { content: 'after' });
    assert.equal(r.ok, true, JSON.stringify(r));
    await until(() => b.kept('room:message-received').some(([m]) => m.message.content === 'after'), 20000, 'Bob to get it');
    const rb = await b.ack('room:message', { content: 'bob after' });
    assert.equal(rb.ok, true, JSON.stringify(rb));
  });
});
