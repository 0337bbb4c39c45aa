// cluster_chaos.test.mjs: a cluster losing a node and losing Redis (issue 19, "Chaos";
// docs/operations.md "Scaling out", failure behaviour). Three nodes of the real binary on
// a throwaway PostgreSQL and redis-server (lib/cluster.mjs), SDK clients (clients/js, with
// its reconnection) through a front door that spreads them over the nodes (lib/front.mjs).
// - kill -9 of a room's home while clients on all three nodes post messages, edit one
//   document and update entities: the room is served again within the lease time, every
//   acknowledged change survives, nothing is applied twice, history stays gapless and the
//   reconnected clients converge on the server's documents and entities.
// - redis-server killed for a few seconds during traffic, then started again: no node
//   crashes, every write is acknowledged (and kept) or refused with `unavailable`, never
//   lost, and everything works again afterwards.
// - events published while a node's Redis connections were down: its members are told
//   room_reset (resync), join again and catch up.
// - only the home's command connection lost, for a moment: the events it could not
//   publish meanwhile are announced once it is back, and the members on other nodes are
//   told room_reset (resync); the home's own members are not.
// - redis-server paused longer than the lease: the room's home stops serving it at its
//   lease's end by its own clock and lets it go (room_reset, resync); nothing is stored
//   twice or lost, seqs stay gapless.
// What the binary does not do yet (HOME's part of issue 19) is todo, with the reason.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import { Chorus } from '../../clients/js/chorus.js';
import { api, FAST_HASH } from './lib/auth.mjs';
import { clusterHomes, startCluster } from './lib/cluster.mjs';
import { startFront } from './lib/front.mjs';
import { fetchOnce } from './lib/http.mjs';
import { allMessages, createRoom, mkUser, mkUsers, RoomWs, until } from './lib/rooms.mjs';
import { delay, withTimeout } from './lib/util.mjs';
import { execFileSync } from 'node:child_process';
import net from 'node:net';

const LEASE_MS = 2000;
const HOMES = clusterHomes();
const TODO = !HOMES && 'needs room homes with leases, takeover and `unavailable` (issue 19, HOME): not in this binary yet';
const ARGS = [...FAST_HASH, '--cluster-node-ttl', '2s', ...(HOMES ? ['--cluster-lease', `${LEASE_MS}ms`, '--cluster-op-timeout', '1s'] : []),
  '--room-seat-grace', '500ms'];
const K = 6; // SDK clients: two on each node
const T = { timeout: 60000, todo: TODO };

/** An SDK client of user through port (the front door), connected. */
async function sdk(port, user) {
  const c = new Chorus({ url: `http://127.0.0.1:${port}`, WebSocket, token: user.token,
    reconnect: { base: 100, max: 800 }, maxMessages: 100000 });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** The room as the server has it, read through a fresh connection to node: entities and doc. */
async function serverView(node, user, roomId, docId) {
  const ws = await RoomWs.open(node.port, user);
  try {
    await ws.join(roomId);
    const doc = await ws.ok('doc_open', { room: roomId, doc: docId });
    const ents = (await api(node.port, 'GET', `/api/rooms/${roomId}/entities`, { token: user.token })).json();
    return { text: doc.text, entities: new Map(ents.entities.map((e) => [e.id, e])) };
  } finally {
    ws.close();
  }
}

/** Asserts that the stored history is gapless and holds every acknowledged text exactly once. */
function checkHistory(all, acked) {
  for (let i = 0; i < all.length; i++) assert.equal(all[i].seq, i + 1, `gapless seqs at ${i}`);
  const texts = all.filter((m) => m.type === 'user_text').map((m) => m.content);
  const seen = new Set();
  for (const t of texts) {
    assert.ok(!seen.has(t), `message ${t} stored twice`);
    seen.add(t);
  }
  for (const t of acked) assert.ok(seen.has(t), `acknowledged message ${t} kept`);
}

/** A connection to redis-server at port kept open (it stays in while new ones are refused);
 * cmd(...args) sends one command and resolves its reply's first line. */
async function redisConn(port) {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
  let buf = '';
  const waiting = [];
  sock.on('data', (d) => {
    buf += d.toString('latin1');
    let i;
    while (waiting.length && (i = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      waiting.shift()(line);
    }
  });
  return {
    cmd: (...args) => new Promise((res) => {
      waiting.push(res);
      sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
    }),
    close: () => sock.destroy(),
  };
}

/** The Redis client ids of node's connections to redis (its command connection: not pubsub). */
function commandConnOf(node, redis) {
  const ports = new Set();
  for (const line of execFileSync('ss', ['-tnpH', 'dst', `127.0.0.1:${redis.port}`], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 6 && f[4] === `127.0.0.1:${redis.port}` && line.includes(`pid=${node.proc.pid},`))
      ports.add(f[3]);
  }
  return redis.cli('CLIENT', 'LIST').split('\n')
    .filter((l) => ports.has(/ addr=(\S+)/.exec(l)?.[1]) && !/ flags=\S*P/.test(l))
    .map((l) => / ?id=(\d+)/.exec(l)[1]);
}

/** Joins roomId on cl, again while the room's home is changing (unavailable). */
async function joinRetry(cl, roomId, stop = { now: false }) {
  while (!stop.now) {
    const j = await cl.call('join', { room: roomId }, 15000);
    if (j.ok) return j.data;
    assert.equal(j.error?.code, 'unavailable', JSON.stringify(j));
    await delay(100);
  }
  return null;
}

describe('cluster chaos', () => {
  let c; // the Cluster
  let front;
  before(async () => {
    c = await startCluster(3, { args: ARGS });
    front = await startFront(() => c.nodes.filter((n) => !n.exitInfo).map((n) => n.port));
  });
  after(async () => {
    await front?.close();
    await c?.stop();
  });

  it('kill -9 of a room\'s home during writes from all nodes: served again within the lease, nothing acknowledged lost or applied twice, clients converge', T, async () => {
    const host = mkUser('Host');
    const room = await createRoom(c.nodes[0].port, host, { name: 'chaos', maxParticipants: 20 });
    const users = mkUsers(K, 'w');
    const clients = [];
    const stop = { now: false };
    try {
      for (const u of users) clients.push(await sdk(front.port, u));
      const rooms = [];
      for (const cl of clients) rooms.push(await cl.join(room.roomCode));
      const nodesUsed = new Set(clients.map((cl) => front.routeOf(cl.socket._socket.localPort)));
      assert.equal(nodesUsed.size, 3, 'the clients are on all three nodes');
      const docs = await Promise.all(rooms.map((r) => r.doc('d')));
      for (let i = 0; i < K; i++) await rooms[i].entities.create({ id: `e${i}`, kind: 'k', data: { n: 0 } });
      const home = c.homeOf(room.id) ?? c.nodes[0];

      // Each writer: a message, a document insert and an entity update per round, waiting
      // for each answer; what is acknowledged is recorded, what fails is retried only as a
      // new write (a message is never sent twice).
      const acked = new Set();
      const docErrors = [];
      docs.forEach((d) => d.on('error', (e) => docErrors.push(e)));
      const ent = Array.from({ length: K }, () => ({ acked: 0, tried: 0 }));
      const rounds = Array(K).fill(0);
      const failures = []; // a write refused with anything but a lost connection or unavailable
      const going = (cond) => () => {
        if (failures.length) throw failures[0];
        return cond();
      };
      let killedAt = 0;
      let servedAgainAt = 0;
      const ack = () => {
        if (killedAt && !servedAgainAt) servedAgainAt = Date.now();
      };
      const writer = async (i) => {
        for (let k = 1; !stop.now; k++) {
          if (clients[i].state !== 'open') {
            await delay(20);
            continue;
          }
          const text = `w${i}-${k}`;
          try {
            await rooms[i].send('user_text', text);
            acked.add(text);
            ack();
            docs[i].insert(0, `<${i}.${k}>`);
            ent[i].tried = k;
            await rooms[i].entities.update(`e${i}`, { n: k });
            ent[i].acked = k;
            ack();
          } catch (e) {
            if (!['closed', 'unavailable', 'timeout'].includes(e.code)) {
              failures.push(new Error(`client ${i}: a write fails with ${e.code}: ${e.message}`));
              return;
            }
            await delay(20);
          }
          rounds[i] = k;
        }
      };
      const writers = clients.map((_, i) => writer(i));
      await until(going(() => rounds.every((r) => r >= 5)), 20000, 'every writer to be under way');

      home.kill();
      killedAt = Date.now();
      await withTimeout(home.exited, 5000, 'the home to die');
      const before = [...rounds];
      await until(going(() => servedAgainAt && rounds.every((r, i) => r >= before[i] + 5)), LEASE_MS + 15000,
        'every writer to write again after the home died');
      // A live node took the room over (not a node started later).
      assert.ok(c.nodes.some((n) => n.lines.some((l) => l.includes(`room ${room.id} taken over`))), 'a live node took the room over');
      const outage = servedAgainAt - killedAt;
      assert.ok(outage <= LEASE_MS + 3000, `the room was served again ${outage} ms after its home died (lease ${LEASE_MS} ms)`);
      stop.now = true;
      await Promise.all(writers);

      // Every client is back, caught up and settled.
      const live = c.nodes.find((n) => !n.exitInfo);
      await until(() => clients.every((cl) => cl.state === 'open'), 15000, 'every client open again');
      await Promise.all(docs.map((d) => d.whenSynced()));
      const all = await allMessages(live.port, host, room.id);
      await until(() => rooms.every((r) => r.lastSeq === all.at(-1).seq), 15000, 'every client to catch up');

      checkHistory(all, acked);
      for (const r of rooms) {
        const ms = r.messages.map((m) => m.seq);
        for (let i = 1; i < ms.length; i++) assert.equal(ms[i], ms[i - 1] + 1, `room.messages gapless at ${i}`);
        assert.deepEqual(r.messages.map((m) => m.content), all.slice(all.length - ms.length).map((m) => m.content));
      }

      const view = await serverView(live, host, room.id, 'd');
      // The writers' last ops may still be on their way to the other clients (whenSynced
      // waits only for a client's own ops): each converges to the server's document.
      await until(() => docs.every((d) => d.text === view.text), 15000, 'every client to have the last ops').catch(() => {});
      for (const d of docs) assert.equal(d.text, view.text, 'every client has the server\'s document');
      for (let i = 0; i < K; i++) {
        for (let k = 1; k <= rounds[i]; k++) {
          const n = view.text.split(`<${i}.${k}>`).length - 1;
          assert.ok(n <= 1, `insert <${i}.${k}> applied ${n} times`);
          if (!docErrors.length && acked.has(`w${i}-${k}`)) assert.equal(n, 1, `insert <${i}.${k}> kept`);
        }
      }
      for (const r of rooms) {
        assert.deepEqual(new Map([...r.entities].map(([id, e]) => [id, e.version])),
          new Map([...view.entities].map(([id, e]) => [id, e.version])), 'every client has the server\'s entities');
      }
      for (let i = 0; i < K; i++) {
        const n = view.entities.get(`e${i}`).data.n;
        assert.ok(n === ent[i].acked || n === ent[i].tried, `e${i}: n ${n}, acknowledged ${ent[i].acked}`);
      }
    } finally {
      stop.now = true;
      clients.forEach((cl) => cl.close());
    }
  });

  it('redis-server stopped for a few seconds during traffic: no crash, writes acknowledged or refused `unavailable`, all works again after', T, async () => {
    while (c.nodes.filter((n) => !n.exitInfo).length < 3) await c.addNode();
    const live = () => c.nodes.filter((n) => !n.exitInfo);
    const host = mkUser('RHost');
    const room = await createRoom(live()[0].port, host, { name: 'redis' });
    const users = mkUsers(3, 'r');
    const ws = await Promise.all(users.map((u, i) => RoomWs.open(live()[i].port, u)));
    const stop = { now: false };
    try {
      for (const w of ws) await w.join(room.id);
      const acked = new Set();
      const refused = [];
      let sent = 0;
      const writer = async (i) => {
        for (let k = 1; !stop.now; k++) {
          const text = `r${i}-${k}`;
          sent++;
          const m = await ws[i].call('message', { room: room.id, type: 'user_text', content: text }, 15000);
          if (m.ok) acked.add(text);
          else if (m.error?.code === 'forbidden') {
            // A node that could not renew its leases while Redis was away lost them, and
            // another node took the room over: its connections are told room_reset (the new
            // home may refuse first) and join again, as the protocol says.
            await ws[i].waitEvent((e) => e.op === 'room_reset' && e.room === room.id, 3000);
            let j = null;
            while (!stop.now && !(j = await ws[i].call('join', { room: room.id }, 15000)).ok) await delay(100);
          } else {
            // Refused, never lost: unavailable while Redis is away; rate_limited when a
            // writer that is answered at once (refusals come fast) outruns the message rate.
            assert.ok(['unavailable', 'rate_limited'].includes(m.error?.code), `a refused write says unavailable: ${JSON.stringify(m)}`);
            if (m.error.code === 'unavailable') refused.push(text);
            await delay(m.error.code === 'rate_limited' ? 200 : 50);
          }
        }
      };
      const writers = ws.map((_, i) => writer(i));
      await until(() => acked.size >= 15, 10000, 'traffic');

      await c.redis.kill();
      const down = Date.now();
      // Meanwhile: writes refused, and the nodes not ready for new connections.
      await until(() => refused.length >= 3, 15000, 'writes to be refused while Redis is down');
      const health = await Promise.all(live().map((n) => fetchOnce(n.port, 'GET', '/healthz')));
      assert.ok(health.some((h) => h.status === 503), `a node without Redis says not ready: ${health.map((h) => h.status)}`);
      await delay(Math.max(0, 3000 - (Date.now() - down))); // down for a few seconds
      await c.redis.start();
      const n = acked.size;
      await until(() => acked.size >= n + 15, 20000, 'writes to be acknowledged again after Redis is back');
      stop.now = true;
      await Promise.all(writers);

      assert.equal(live().length, 3, 'no node crashed');
      await until(async () => (await Promise.all(live().map((x) => fetchOnce(x.port, 'GET', '/healthz'))))
        .every((h) => h.status === 200), 15000, 'every node ready again');
      const all = await allMessages(live()[1].port, host, room.id);
      checkHistory(all, acked);
      assert.ok(sent > acked.size, 'some writes were refused');
    } finally {
      stop.now = true;
      ws.forEach((w) => w.close());
    }
  });

  it('Redis lost for a moment: a member on another node than the home is told to resync, joins again and has every message', T, async () => {
    while (c.nodes.filter((n) => !n.exitInfo).length < 3) await c.addNode();
    const [home, other] = c.nodes.filter((n) => !n.exitInfo);
    const host = mkUser('SHost');
    const room = await createRoom(home.port, host, { name: 'resync' });
    const [ua, ub] = mkUsers(2, 's');
    const wa = await RoomWs.open(home.port, ua);
    const wb = await RoomWs.open(other.port, ub);
    try {
      await wa.join(room.id);
      await wb.join(room.id);
      for (let i = 0; i < 3; i++) await wa.ok('message', { room: room.id, type: 'user_text', content: `pre${i}` });
      await until(() => wb.kept((m) => m.op === 'message').length === 3, 10000, 'the messages on node 2');
      await c.redis.kill();
      // Posted at the home while Redis is away: stored (the home's lease is still good by
      // its clock) or refused unavailable; never reaching node 2 as events.
      const posted = [];
      for (let i = 0; i < 3; i++) {
        const m = await wa.call('message', { room: room.id, type: 'user_text', content: `during${i}` });
        if (m.ok) posted.push(m.data.message.seq);
      }
      assert.ok(posted.length >= 1, 'the home stored messages while Redis was away');
      await c.redis.start();
      const ev = await wb.waitEvent((m) => m.op === 'room_reset', 20000);
      assert.deepEqual(ev, { op: 'room_reset', room: room.id, reason: 'resync' });
      const j = await joinRetry(wb, room.id);
      const h = await wb.ok('history', { room: room.id, after: 0, limit: 100 });
      const seqs = h.messages.map((m) => m.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'gapless');
      for (const s of posted) assert.ok(seqs.includes(s), `message ${s} posted during the outage is in the history`);
      assert.ok(j.lastSeq === undefined || j.lastSeq >= Math.max(...posted), 'the join knows them');
    } finally {
      wa.close();
      wb.close();
    }
  });

  it('the home\'s command connection lost for a moment: its members on other nodes are told to resync, its own are not, and nothing is missed', T, async () => {
    while (c.nodes.filter((n) => !n.exitInfo).length < 3) await c.addNode();
    const [home, other] = c.nodes.filter((n) => !n.exitInfo);
    const host = mkUser('CHost');
    const room = await createRoom(home.port, host, { name: 'cmdconn' });
    const [ua, ub] = mkUsers(2, 'c');
    const wa = await RoomWs.open(home.port, ua);
    const wb = await RoomWs.open(other.port, ub);
    const rc = await redisConn(c.redis.port);
    try {
      await wa.join(room.id);
      await wb.join(room.id);
      await wa.ok('message', { room: room.id, type: 'user_text', content: 'pre' });
      await until(() => wb.kept((m) => m.op === 'message').length === 1, 10000, 'the message on node 2');
      const ids = commandConnOf(home, c.redis);
      assert.equal(ids.length, 1, 'the home\'s command connection found');
      // No new connection gets in (the other nodes keep theirs): the home cannot reconnect.
      assert.equal(await rc.cmd('CONFIG', 'SET', 'maxclients', '1'), '+OK');
      let posted;
      try {
        assert.equal(await rc.cmd('CLIENT', 'KILL', 'ID', ids[0]), ':1');
        // Served at the home (its lease is good by its clock), its event not published.
        posted = await wa.ok('message', { room: room.id, type: 'user_text', content: 'during' });
      } finally {
        assert.equal(await rc.cmd('CONFIG', 'SET', 'maxclients', '10000'), '+OK');
      }
      const ev = await wb.waitEvent((m) => m.op === 'room_reset', 20000, 'room_reset on node 2');
      assert.deepEqual(ev, { op: 'room_reset', room: room.id, reason: 'resync' });
      const j = await joinRetry(wb, room.id);
      assert.ok(j.lastSeq === undefined || j.lastSeq >= posted.message.seq, 'the join knows the message');
      const h = await wb.ok('history', { room: room.id, after: 0, limit: 100 });
      assert.deepEqual(h.messages.filter((m) => m.type === 'user_text').map((m) => m.content), ['pre', 'during']);
      // The home's own member got the event directly, and no reset.
      assert.equal(wa.all.filter((m) => m.op === 'room_reset').length, 0, 'the home\'s member is not reset');
      await wa.ok('message', { room: room.id, type: 'user_text', content: 'after' });
      await until(() => wb.all.some((m) => m.op === 'message' && m.message?.content === 'after'), 10000, 'events reach node 2 again');
    } finally {
      rc.close();
      wa.close();
      wb.close();
    }
  });

  it('redis-server paused longer than the lease: the home lets the room go at its lease\'s end, nothing stored twice or lost, seqs gapless', T, async () => {
    while (c.nodes.filter((n) => !n.exitInfo).length < 3) await c.addNode();
    const live = c.nodes.filter((n) => !n.exitInfo);
    const host = mkUser('PHost');
    const room = await createRoom(live[0].port, host, { name: 'paused' });
    const users = mkUsers(2, 'p');
    const ws = [await RoomWs.open(live[0].port, users[0]), await RoomWs.open(live[1].port, users[1])];
    const stop = { now: false };
    try {
      for (const w of ws) await w.join(room.id);
      const acked = new Set();
      const writer = async (i) => {
        for (let k = 1; !stop.now; k++) {
          const text = `p${i}-${k}`;
          const m = await ws[i].call('message', { room: room.id, type: 'user_text', content: text }, 15000);
          if (m.ok) acked.add(text);
          else if (m.error?.code === 'forbidden') {
            // Out of the room (room_reset on its way): joins again.
            await ws[i].waitEvent((e) => e.op === 'room_reset' && e.room === room.id, 5000);
            await joinRetry(ws[i], room.id, stop);
          } else {
            assert.ok(['unavailable', 'rate_limited'].includes(m.error?.code), JSON.stringify(m));
            await delay(m.error.code === 'rate_limited' ? 200 : 50);
          }
        }
      };
      const writers = ws.map((_, i) => writer(i));
      await until(() => acked.size >= 10, 10000, 'traffic');
      c.redis.proc.kill('SIGSTOP');
      try {
        // The home (node of ws[0]) cannot renew: at its lease's end by its own clock it
        // stops and lets the room go, telling its connection (while Redis is still away).
        const reset = (e) => e.op === 'room_reset' && e.room === room.id;
        await until(() => ws[0].all.some(reset), LEASE_MS + 5000, 'the home to let the room go');
        assert.equal(ws[0].all.find(reset).reason, 'resync');
        await delay(LEASE_MS);
      } finally {
        c.redis.proc.kill('SIGCONT');
      }
      const n = acked.size;
      await until(() => acked.size >= n + 10, 30000, 'writes acknowledged again after Redis is back');
      stop.now = true;
      await Promise.all(writers);
      // A node may still be reconnecting its bus (its REST reads answer 503 until then).
      await until(async () => (await Promise.all(live.map((x) => fetchOnce(x.port, 'GET', '/healthz'))))
        .every((h) => h.status === 200), 15000, 'every node ready again');
      const all = await allMessages(live[1].port, host, room.id);
      checkHistory(all, acked);
    } finally {
      stop.now = true;
      ws.forEach((w) => w.close());
    }
  });
});
