// cluster_home.test.mjs: a room's home in a cluster (bus_redis.c, bus_dir.c): three nodes
// over a real redis-server and PostgreSQL; a room made on node 1 is at home there (its
// lease in Redis names node 1), its members on nodes 2 and 3 reach it through the bus:
// their ops go to node 1 and back, its events come once per room through Redis and are
// framed on each node for its own connections. Last, node 1 killed: a running node takes
// the room over and its members on the live nodes get room_reset and join again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startCluster } from './lib/cluster.mjs';
import { psql } from './lib/pg.mjs';
import { withTimeout } from './lib/util.mjs';
import { createRoom, mkUser, mkUsers, RoomWs, closeAll, get, post, until } from './lib/rooms.mjs';

/**
 * Takes cl's room_reset events for roomId and joins again (retrying while the room's home
 * is changing: unavailable) until a join holds: no room_reset after it. Returns the
 * reasons of the resets taken.
 */
async function settle(cl, roomId) {
  const reasons = [];
  for (let round = 0; round < 20; round++) {
    await cl.sync();
    await new Promise((r) => setTimeout(r, 300));
    const resets = cl.kept((m) => m.op === 'room_reset' && m.room === roomId);
    if (!resets.length) return reasons;
    for (const ev of resets) reasons.push((await cl.waitEvent((m) => m === ev)).reason);
    for (;;) {
      const j = await cl.call('join', { room: roomId }, 10000);
      if (j.ok) break;
      assert.equal(j.error.code, 'unavailable', JSON.stringify(j));
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error('no join held');
}

/** The users of roomId's record entries whose field starts with kind ('c': attached, 'g': closed at their node). */
function recUsers(redis, roomId, kind) {
  const lines = redis.cli('HGETALL', `chorus:room:${roomId}:rec`).split('\n');
  const users = [];
  for (let i = 0; i + 1 < lines.length; i += 2) if (lines[i].startsWith(kind)) users.push(lines[i + 1]);
  return users;
}

/** Redis's count of PUBLISH commands so far (INFO commandstats). */
function publishes(redis) {
  const m = /cmdstat_publish:calls=(\d+)/.exec(redis.cli('INFO', 'commandstats'));
  return m ? Number(m[1]) : 0;
}

describe('a room at home on node 1, members on nodes 2 and 3', () => {
  let c, n1, n2, n3, room, host, a, b, hc, ac, bc;
  before(async () => {
    c = await startCluster(3, { args: ['--cluster-lease', '1s', '--cluster-op-timeout', '1s', '--cluster-node-ttl', '2s'] });
    [n1, n2, n3] = c.nodes;
    host = mkUser('Host');
    a = mkUser('Ann');
    b = mkUser('Bob');
    room = await createRoom(n1.port, host, { name: 'Home' });
    hc = await RoomWs.open(n1.port, host);
    ac = await RoomWs.open(n2.port, a);
    bc = await RoomWs.open(n3.port, b);
    await hc.join(room.id);
    await ac.join(room.id);
    await bc.join(room.roomCode);
  });
  after(async () => {
    closeAll([hc, ac, bc]);
    await c?.stop();
  });

  test('the lease names node 1', () => {
    assert.equal(c.redis.cli('GET', `chorus:room:${room.id}:home`), String(n1.node));
  });

  test('messages from every node: gapless seqs, the same order everywhere', async () => {
    for (const cl of [hc, ac, bc]) cl.clear();
    const sent = [];
    for (let i = 0; i < 4; i++)
      for (const [cl, who] of [[ac, 'a'], [bc, 'b'], [hc, 'h']]) {
        const d = await cl.ok('message', { room: room.id, type: 'user_text', content: `${who}${i}` });
        sent.push(d.seq ?? d.message?.seq);
      }
    const seqs = [...sent].sort((x, y) => x - y);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `gapless: ${seqs}`);
    // Each connection sees the others' messages (not its own) in seq order.
    for (const cl of [hc, ac, bc]) {
      const ours = (m) => m.op === 'message' && /^[abh]\d$/.test(m.message.content);
      await until(() => cl.kept(ours).length === 8, 5000, 'the others\' messages');
      assert.equal(cl.kept(ours).length, 8, 'each once');
      const got = cl.kept(ours).map((m) => m.message.seq);
      assert.deepEqual(got, [...got].sort((x, y) => x - y), 'in seq order');
    }
  });

  test('presence from node 2 reaches nodes 1 and 3', async () => {
    await ac.ok('presence', { room: room.id, state: { cursor: 7 } });
    for (const cl of [hc, bc]) {
      const ev = await cl.waitEvent((m) => m.op === 'presence' && m.userId === a.sub);
      assert.deepEqual(ev.state?.cursor ?? ev.presence?.cursor, 7);
    }
  });

  test('a lock held from node 2 is refused to node 3', async () => {
    await ac.ok('entity_create', { room: room.id, id: 'e1', kind: 'box', data: { x: 1 } });
    await ac.ok('entity_lock', { room: room.id, id: 'e1', ttl: 30000 });
    await bc.err('entity_lock', { room: room.id, id: 'e1' }, 'locked');
    await bc.err('entity_update', { room: room.id, id: 'e1', patch: { x: 2 } }, 'locked');
  });

  test('history read from node 3', async () => {
    const d = await bc.ok('history', { room: room.id, limit: 50 });
    const seqs = d.messages.map((m) => m.seq);
    assert.ok(seqs.length >= 12, `history: ${seqs}`);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1);
  });

  test('a document edited from nodes 2 and 3 converges', async () => {
    const o1 = await ac.ok('doc_open', { room: room.id, doc: 'd1' });
    const o2 = await bc.ok('doc_open', { room: room.id, doc: 'd1' });
    assert.equal(o1.version, 0);
    assert.equal(o2.version, 0);
    // Both at version 0: the home orders and transforms them.
    const [r1, r2] = await Promise.all([
      ac.ok('doc_op', { room: room.id, doc: 'd1', version: 0, opId: 'a1', delta: ['hello'] }),
      bc.ok('doc_op', { room: room.id, doc: 'd1', version: 0, opId: 'b1', delta: ['world'] }),
    ]);
    assert.deepEqual([r1.version, r2.version].sort(), [1, 2]);
    // Each sees the other's op, once, from the home.
    const e1 = await ac.waitEvent((m) => m.op === 'doc_op' && m.doc === 'd1');
    const e2 = await bc.waitEvent((m) => m.op === 'doc_op' && m.doc === 'd1');
    assert.equal(e1.version, r2.version);
    assert.equal(e2.version, r1.version);
    // The text the home holds, as a new reader on node 1 gets it, has both.
    const snap = await hc.ok('doc_open', { room: room.id, doc: 'd1' });
    assert.equal(snap.version, 2);
    assert.equal(snap.text.length, 10);
    assert.ok(snap.text.includes('hello') && snap.text.includes('world'), snap.text);
    await ac.sync();
    assert.equal(ac.kept((m) => m.op === 'doc_op').length, 0, 'no event twice');
  });

  test('a member on node 3 kicked from node 1 is out', async () => {
    const r = await post(n1.port, host, `/api/rooms/${room.id}/kick`, { userId: b.sub });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await bc.waitEvent('kicked');
    // Out as on one node: not subscribed, not a participant.
    await bc.err('message', { room: room.id, type: 'user_text', content: 'still here?' }, 'not_found');
    await hc.waitEvent((m) => m.op === 'participant_left' && m.userId === b.sub);
  });

  test('the home\'s record keeps no entry of a connection that left, was kicked or closed', async () => {
    const conns = () => recUsers(c.redis, room.id, 'c');
    const lo = mkUser('Looper');
    for (let i = 0; i < 3; i++) {
      const lc = await RoomWs.open(n2.port, lo);
      await lc.join(room.id);
      await lc.ok('leave', { room: room.id });
      lc.close();
    }
    const cl = await RoomWs.open(n3.port, lo); // joined, then closed without a leave
    await cl.join(room.id);
    await until(() => conns().includes(lo.sub), 10000, 'the joined connection\'s entry');
    cl.close();
    await hc.sync();
    // Bob (node 3) was kicked above; Ann (node 2) and the host (node 1) are attached.
    await until(() => {
      const u = conns();
      return !u.includes(lo.sub) && !u.includes(b.sub) && u.length === 2;
    }, 10000, `the record to hold the host and Ann only (holds ${JSON.stringify(conns())})`);
    assert.deepEqual(conns().sort(), [host.sub, a.sub].sort());
  });

  test('one PUBLISH per event, whatever the number of members (3 and 20)', async () => {
    // Broadcasts: an event each and nothing else (a message also feeds the activity
    // stream, whose events are coalesced by time).
    const perEvent = async (members) => {
      const r = await createRoom(n1.port, host, { name: `Fan ${members}`, maxParticipants: 50 });
      const users = mkUsers(members - 1, `f${members}-`);
      const cs = await Promise.all(users.map((u, i) => RoomWs.open([n2, n3][i % 2].port, u)));
      for (const cl of cs) await cl.join(r.id);
      const sender = cs[0];
      const mine = (m) => m.op === 'broadcast' && m.event === 'tick';
      await sender.ok('broadcast', { room: r.id, event: 'tick', data: -1 });
      for (const cl of cs.slice(1)) await until(() => cl.kept(mine).length === 1, 5000, 'warm-up');
      // The joins' own events (the activity stream's, written a moment later, and published
      // once stored) are out: read from the stored stream, since a member who joined after
      // an earlier join's row was published never receives that one.
      await until(async () => (await sender.ok('activity', { room: r.id, limit: 200 })).activity
        .filter((row) => row.kind === 'joined').length === members - 1, 10000, 'the joins\' activity stored');
      for (const cl of cs) await cl.sync();
      const before = publishes(c.redis);
      const N = 10;
      for (let i = 0; i < N; i++) await sender.ok('broadcast', { room: r.id, event: 'tick', data: i });
      for (const cl of cs.slice(1)) await until(() => cl.kept(mine).length === N + 1, 5000, 'fan-out');
      const per = (publishes(c.redis) - before) / N;
      closeAll(cs);
      return per;
    };
    const three = await perEvent(3);
    const twenty = await perEvent(20);
    // The op to the home, its answer back, the event once.
    assert.equal(three, 3);
    assert.equal(twenty, three);
  });

  test('a room made on node 1 is found at once on nodes 2 and 3, its announcement not awaited', async () => {
    // One user for every lookup: a lookup the store answers costs no failed-lookup token
    // (20 a minute), so 17 of them are never refused rate_limited.
    const d = mkUser('Dan');
    const dc = await RoomWs.open(n2.port, d);
    try {
      // The announcement lost: every node's subscriber connection dropped just before.
      c.redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
      const lost = await createRoom(n1.port, mkUser('Maker'), { name: 'Unannounced' });
      const seen = await get(n3.port, d, `/api/rooms/code/${lost.roomCode}`);
      assert.equal(seen.status, 200, `by code on node 3: ${seen.text}`);
      assert.equal(seen.json().room.id, lost.id);
      await until(() => c.redis.cli('PUBSUB', 'NUMSUB', 'chorus:rooms').split('\n')[1] === '3', 10000,
        'every node listening again');
      // Events of the room published while node 2 was not listening are lost there: its
      // member is told to join again (and catch up).
      const ev = await ac.waitEvent('room_reset', 10000);
      assert.deepEqual(ev, { op: 'room_reset', room: room.id, reason: 'resync' });
      await ac.join(room.id);
      // The race itself: a join and a lookup on the other nodes as soon as the room is made.
      for (let i = 0; i < 8; i++) {
        const r = await createRoom(n1.port, mkUser(`Maker${i}`), { name: `Race ${i}` });
        const [j, g] = await Promise.all([
          dc.call('join', { room: r.id }),
          get(n3.port, d, `/api/rooms/code/${r.roomCode}`),
        ]);
        assert.equal(j.ok, true, `join on node 2: ${JSON.stringify(j)}`);
        assert.equal(g.status, 200, `by code on node 3: ${g.text}`);
      }
    } finally {
      dc.close();
    }
  });

  test('a room no node knows: not_found, and the failed-lookup limit holds', async () => {
    const e = mkUser('Eve');
    const ec = await RoomWs.open(n2.port, e);
    try {
      // 20 failed lookups a minute (each a store read on a miss), then rate_limited.
      for (let i = 0; i < 20; i++) await ec.err('join', { room: `ZZZZZ${'23456789ABCDEFGHJKLMNPQRSTUVWXYZ'[i]}` }, 'not_found');
      await ec.err('join', { room: 'ZZZZZZ' }, 'rate_limited');
      const r = await get(n3.port, e, '/api/rooms/code/ZZZZZZ');
      assert.equal(r.status, 404, 'node 3 has its own limit');
    } finally {
      ec.close();
    }
  });

  test('Redis stopped and started again (empty): unavailable meanwhile, then the room goes on', async () => {
    await c.redis.kill();
    await until(async () => (await get(n2.port, null, '/healthz')).status === 503, 10000, 'node 2 not ready');
    await ac.err('message', { room: room.id, type: 'user_text', content: 'lost?' }, 'unavailable');
    await c.redis.start();
    await until(async () => (await get(n2.port, null, '/healthz')).status === 200, 15000, 'node 2 ready');
    // Node 2 missed the room's events meanwhile: its member joins again (resync). Node 1
    // kept the room if it could renew its lease in time, else let it go (resync) and a
    // node took it over (home_lost): either way the members join again.
    const reasons = await settle(ac, room.id);
    assert.equal(reasons[0], 'resync', `node 2's member told to resync: ${reasons}`);
    await settle(hc, room.id);
    assert.ok(c.homeOf(room.id), 'a live node holds the lease');
    await until(() => c.redis.cli('PUBSUB', 'NUMSUB', `chorus:room:${room.id}`).split('\n')[1] !== '0', 20000,
      'the channel listened to again');
    const last = (await hc.ok('history', { room: room.id, limit: 1 })).messages[0].seq;
    const d = await ac.ok('message', { room: room.id, type: 'user_text', content: 'back' });
    assert.equal(d.message.seq, last + 1, 'no seq lost or taken');
    const ev = await hc.waitEvent((m) => m.op === 'message' && m.message.content === 'back');
    assert.equal(ev.message.seq, last + 1);
  });

  // Last: it kills node 1.
  test('its home killed with a change it may not have published: its members get room_reset, join again and catch up', async () => {
    await until(async () => (await get(n3.port, null, '/healthz')).status === 200, 15000, 'node 3 ready');
    // A room of its own at home on node 1 (the first one's home may have moved with Redis's
    // restart above).
    const room = await createRoom(n1.port, host, { name: 'Kill' });
    for (const cl of [hc, ac, bc]) await cl.join(room.id);
    await hc.ok('message', { room: room.id, type: 'user_text', content: 'first' });
    const last = (await ac.ok('history', { room: room.id, limit: 1 })).messages[0].seq;
    n1.kill();
    await withTimeout(n1.exited, 5000, 'node 1 to exit');
    // As if its last message was stored but never published (killed in between): the new
    // home cannot show that the members missed nothing.
    c.redis.cli('HSET', `chorus:room:${room.id}:rec`, 's', String(last - 1));
    // Sent to the dead home: no answer within --cluster-op-timeout.
    await ac.err('message', { room: room.id, type: 'user_text', content: 'anyone?' }, 'unavailable');
    // Its lease runs out; the next op's node reads the room again and takes its lease.
    await until(() => c.redis.cli('EXISTS', `chorus:room:${room.id}:home`) === '0', 5000, 'the lease to end');
    // (Sent before the room_reset: stored at the new home, or refused; never lost silently.)
    await ac.call('message', { room: room.id, type: 'user_text', content: 'taken?' });
    // Every member on a live node is told once and is out of the room.
    for (const ws of [ac, bc]) {
      const ev = await ws.waitEvent((m) => m.op === 'room_reset' && m.room === room.id, 5000);
      assert.deepEqual(ev, { op: 'room_reset', room: room.id, reason: 'home_lost' });
    }
    const home = c.redis.cli('GET', `chorus:room:${room.id}:home`);
    assert.ok([n2.node, n3.node].map(String).includes(home), `a live node holds the lease: ${home}`);
    await ac.err('message', { room: room.id, type: 'user_text', content: 'out' }, 'forbidden');
    // Joined again: nothing acknowledged lost, the dead node's user offline, served by one home.
    const j = await ac.join(room.id);
    assert.equal(j.participants.find((p) => p.userId === host.sub).online, false);
    await bc.join(room.id);
    const sent = await bc.ok('message', { room: room.id, type: 'user_text', content: 'again' });
    const ev = await ac.waitEvent((m) => m.op === 'message' && m.message.content === 'again');
    assert.equal(ev.message.seq, sent.message.seq);
    const h = await ac.ok('history', { room: room.id, after: last - 1, limit: 100 });
    assert.deepEqual(h.messages.map((m) => m.seq), Array.from({ length: h.messages.length }, (_, i) => last + i));
    assert.equal(h.messages.at(-1).seq, sent.message.seq);
    const again = (m) => m.op === 'room_reset' && m.room === room.id;
    assert.equal(ac.kept(again).length + bc.kept(again).length, 0, 'room_reset once');
  });
});

// A takeover the surviving members do not see (issue 19): the home keeps a record in Redis
// of its connections and locks (bus_record); the new home reads it, puts the survivors'
// seats and locks back and releases the dead node's as one server does when a connection
// drops. The survivors get participant_left and entity_unlock for the dead node's user,
// no room_reset, keep their own lock, and the seqs go on gapless.
describe('its home killed: the dead node\'s user leaves, the others see nothing else', () => {
  let c, n1, n2, n3, room, host, dan, ann, bob, dc, ac, bc;
  before(async () => {
    c = await startCluster(3, { args: ['--cluster-lease', '1s', '--cluster-op-timeout', '1s', '--cluster-node-ttl', '2s'] });
    [n1, n2, n3] = c.nodes;
    [host, dan, ann, bob] = [mkUser('Host'), mkUser('Dan'), mkUser('Ann'), mkUser('Bob')];
    room = await createRoom(n1.port, host, { name: 'Invisible' });
    dc = await RoomWs.open(n1.port, dan);
    ac = await RoomWs.open(n2.port, ann);
    bc = await RoomWs.open(n3.port, bob);
    for (const cl of [dc, ac, bc]) await cl.join(room.id);
  });
  after(async () => {
    closeAll([dc, ac, bc]);
    await c?.stop();
  });

  test('participant_left and entity_unlock for the dead node\'s user, no room_reset, locks of the living kept, gapless seqs', async () => {
    await dc.ok('entity_create', { room: room.id, id: 'dan-box', kind: 'box', data: { x: 1 } });
    await ac.ok('entity_create', { room: room.id, id: 'ann-box', kind: 'box', data: { x: 2 } });
    await dc.ok('entity_lock', { room: room.id, id: 'dan-box', ttl: 60000 });
    await ac.ok('entity_lock', { room: room.id, id: 'ann-box', ttl: 60000 });
    for (const cl of [dc, ac, bc]) await cl.ok('message', { room: room.id, type: 'user_text', content: `hi from ${cl.user.name}` });
    const last = (await bc.ok('history', { room: room.id, limit: 1 })).messages[0].seq;
    for (const cl of [ac, bc]) {
      await cl.sync();
      cl.clear();
    }
    n1.kill();
    await withTimeout(n1.exited, 5000, 'node 1 to exit');
    await until(() => c.redis.cli('EXISTS', `chorus:room:${room.id}:home`) === '0', 10000, 'the lease to end');
    // The next op's node takes the room over (this message is stored there, or refused
    // while the room is read: it is sent again below either way).
    await ac.call('message', { room: room.id, type: 'user_text', content: 'wake' }, 10000);
    for (const cl of [ac, bc]) {
      const left = await cl.waitEvent((m) => m.op === 'participant_left' && m.userId === dan.sub, 10000);
      assert.equal(left.reason, 'disconnected');
      const un = await cl.waitEvent((m) => m.op === 'entity_unlock' && m.id === 'dan-box', 10000);
      assert.equal(un.reason, 'disconnected');
    }
    const home = c.homeOf(room.id);
    assert.ok(home === n2 || home === n3, 'a live node holds the lease');
    // Ann's lock is still hers: Bob is refused it.
    await bc.err('entity_lock', { room: room.id, id: 'ann-box' }, 'locked');
    await ac.ok('entity_update', { room: room.id, id: 'ann-box', patch: { x: 3 } });
    // Dan's lock is free.
    await bc.ok('entity_lock', { room: room.id, id: 'dan-box', ttl: 5000 });
    // Messages after the takeover: each seen by the other, seqs gapless.
    const sent = [];
    for (let i = 0; i < 3; i++) {
      sent.push((await ac.ok('message', { room: room.id, type: 'user_text', content: `a${i}` })).message);
      sent.push((await bc.ok('message', { room: room.id, type: 'user_text', content: `b${i}` })).message);
    }
    for (const [cl, from] of [[ac, 'b'], [bc, 'a']]) {
      for (const m of sent.filter((m) => m.content.startsWith(from))) {
        const ev = await cl.waitEvent((e) => e.op === 'message' && e.message.content === m.content, 10000);
        assert.equal(ev.message.seq, m.seq);
      }
    }
    const h = await ac.ok('history', { room: room.id, after: last - 1, limit: 100 });
    const seqs = h.messages.map((m) => m.seq);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => last + i), 'gapless');
    assert.equal(seqs.at(-1), sent.at(-1).seq);
    // Ann and Bob are online, Dan is not; neither connection was reset.
    const p = await bc.ok('participants', { room: room.id });
    assert.equal(p.onlineCount, 2, JSON.stringify(p));
    for (const cl of [ac, bc]) {
      await cl.sync();
      assert.equal(cl.kept((m) => m.op === 'room_reset').length, 0, `no room_reset for ${cl.user.name}`);
      assert.equal(cl.kept((m) => m.op === 'participant_left').length, 0, 'participant_left once');
    }
  });
});

// A connection closed on a surviving node while its room's home is dead: its detach goes
// to the dead home and is never served; its node records it closed, so the new home
// releases it (participant_left) instead of restoring it online for good.
describe('its home killed, then a survivor\'s connection closed before the takeover', () => {
  let c, n1, n2, n3, room, host, ann, bob, cal, ac, bc, cc;
  before(async () => {
    c = await startCluster(3, { args: ['--cluster-lease', '1s', '--cluster-op-timeout', '1s', '--cluster-node-ttl', '2s'] });
    [n1, n2, n3] = c.nodes;
    [host, ann, bob, cal] = [mkUser('Host'), mkUser('Ann'), mkUser('Bob'), mkUser('Cal')];
    room = await createRoom(n1.port, host, { name: 'Closed meanwhile' });
    ac = await RoomWs.open(n2.port, ann);
    bc = await RoomWs.open(n3.port, bob);
    cc = await RoomWs.open(n2.port, cal);
    for (const cl of [ac, bc, cc]) await cl.join(room.id);
  });
  after(async () => {
    closeAll([ac, bc, cc]);
    await c?.stop();
  });

  test('the new home releases it: participant_left, not online', async () => {
    await ac.ok('message', { room: room.id, type: 'user_text', content: 'before' });
    for (const cl of [ac, bc]) await cl.sync();
    n1.kill();
    await withTimeout(n1.exited, 5000, 'node 1 to exit');
    cc.close();
    // Cal's node recorded the connection closed (its detach waits for the dead home).
    const closed = () => recUsers(c.redis, room.id, 'g').includes(cal.sub);
    await until(closed, 10000, 'node 2 to record Cal\'s connection closed');
    await until(() => c.redis.cli('EXISTS', `chorus:room:${room.id}:home`) === '0', 10000, 'the lease to end');
    // Node 3 takes the room over (node 2 would find Cal's connection gone there itself).
    await bc.call('message', { room: room.id, type: 'user_text', content: 'wake' }, 10000);
    assert.equal(c.homeOf(room.id), n3);
    for (const cl of [ac, bc]) {
      const left = await cl.waitEvent((m) => m.op === 'participant_left' && m.userId === cal.sub, 10000);
      assert.equal(left.reason, 'disconnected');
    }
    const p = await bc.ok('participants', { room: room.id });
    assert.equal(p.onlineCount, 2, JSON.stringify(p));
    assert.equal(closed(), false, 'the released entry is deleted');
  });
});

// An event too large for the bus reached no other node: the home's record no longer
// shows its room's last seq, so the new home after its death does not keep the other
// nodes' connections (they missed the message): room_reset.
describe('its home killed after an event that reached no other node', () => {
  let c, n1, n2, n3, room, host, ann, bob, hc, ac, bc;
  before(async () => {
    c = await startCluster(3, { args: ['--cluster-lease', '1s', '--cluster-op-timeout', '1s', '--cluster-node-ttl', '2s', '--cluster-max-bus-message', '8KiB'] });
    [n1, n2, n3] = c.nodes;
    [host, ann, bob] = [mkUser('Host'), mkUser('Ann'), mkUser('Bob')];
    room = await createRoom(n1.port, host, { name: 'Too large' });
    hc = await RoomWs.open(n1.port, host);
    ac = await RoomWs.open(n2.port, ann);
    bc = await RoomWs.open(n3.port, bob);
    for (const cl of [hc, ac, bc]) await cl.join(room.id);
  });
  after(async () => {
    closeAll([hc, ac, bc]);
    await c?.stop();
  });

  test('the survivors get room_reset', async () => {
    const rec = `chorus:room:${room.id}:rec`;
    await hc.ok('message', { room: room.id, type: 'user_text', content: 'small' });
    await until(() => c.redis.cli('HEXISTS', rec, 's') === '1', 10000, 'the record\'s seq');
    await hc.ok('message', { room: room.id, type: 'user_text', content: 'x'.repeat(9000) });
    await hc.sync();
    await until(() => c.redis.cli('HEXISTS', rec, 's') === '0', 10000, 'the record\'s seq to go');
    for (const cl of [ac, bc]) cl.clear();
    n1.kill();
    await withTimeout(n1.exited, 5000, 'node 1 to exit');
    await until(() => c.redis.cli('EXISTS', `chorus:room:${room.id}:home`) === '0', 10000, 'the lease to end');
    await bc.call('message', { room: room.id, type: 'user_text', content: 'wake' }, 10000);
    for (const cl of [ac, bc]) {
      const ev = await cl.waitEvent((m) => m.op === 'room_reset', 10000);
      assert.equal(ev.reason, 'home_lost');
    }
  });
});

// A home cut off from Redis (its commands held: CLIENT PAUSE WRITE) sees its own member's
// connection close and, past the seat's grace, deletes the seat (no message: neither the
// seq nor the state version moves), then dies before Redis runs its commands: the record
// still shows the last seq and version and the member attached, but not the store's change
// counter (store.h, "Fencing"), so the survivors, who never saw participant_left, are reset
// (kept, they would show the member online for good, the new home not at all).
describe('its home cut off from Redis stores a change, then dies', () => {
  let c, n1, n2, n3, room, host, ann, bob, dan, ac, bc, dc;
  before(async () => {
    // A longer lease: the home must still hold it by its own clock while Redis holds its renewals.
    c = await startCluster(3, { args: ['--cluster-lease', '8s', '--cluster-op-timeout', '1s', '--cluster-node-ttl', '10s', '--room-seat-grace', '1s'] });
    [n1, n2, n3] = c.nodes;
    [host, ann, bob, dan] = [mkUser('Host'), mkUser('Ann'), mkUser('Bob'), mkUser('Dan')];
    room = await createRoom(n1.port, host, { name: 'Cut off' });
    ac = await RoomWs.open(n2.port, ann);
    bc = await RoomWs.open(n3.port, bob);
    dc = await RoomWs.open(n1.port, dan);
    for (const cl of [ac, bc, dc]) await cl.join(room.id);
  });
  after(async () => {
    c?.redis.cli('CLIENT', 'UNPAUSE');
    closeAll([ac, bc, dc]);
    await c?.stop();
  });

  test('the survivors, who missed participant_left, get room_reset and then do not list the member', async () => {
    const rec = `chorus:room:${room.id}:rec`;
    await ac.ok('entity_create', { room: room.id, id: 'box', kind: 'box', data: { x: 1 } });
    await ac.ok('message', { room: room.id, type: 'user_text', content: 'before' });
    const last = (await ac.ok('history', { room: room.id, limit: 1 })).messages[0].seq;
    await until(() => c.redis.cli('HGET', rec, 's') === String(last), 10000, 'the record\'s seq');
    for (const cl of [ac, bc]) {
      await cl.sync();
      cl.clear();
    }
    const seated = async () => Number((await psql(c.store,
      `SELECT count(*) FROM room_participants WHERE room_id = '${room.id}' AND user_id = '${dan.sub}'`)).trim());
    assert.equal(await seated(), 1);
    c.redis.cli('CLIENT', 'PAUSE', '120000', 'WRITE');
    try {
      dc.close();
      await until(async () => (await seated()) === 0, 30000, 'the home to release Dan\'s seat');
      n1.kill();
      await withTimeout(n1.exited, 5000, 'node 1 to exit');
    } finally {
      c.redis.cli('CLIENT', 'UNPAUSE');
    }
    assert.equal(c.redis.cli('HGET', rec, 's'), String(last), 'the record\'s seq is as before');
    assert.ok(recUsers(c.redis, room.id, 'c').includes(dan.sub), 'the record still has Dan attached');
    await until(() => c.redis.cli('EXISTS', `chorus:room:${room.id}:home`) === '0', 30000, 'the lease to end');
    await bc.call('message', { room: room.id, type: 'user_text', content: 'wake' }, 10000);
    for (const cl of [ac, bc]) {
      const ev = await cl.waitEvent((m) => m.op === 'room_reset', 20000);
      assert.equal(ev.reason, 'home_lost');
      await settle(cl, room.id);
    }
    const p = await ac.ok('participants', { room: room.id });
    assert.ok(!JSON.stringify(p).includes(dan.sub), `Dan is not listed: ${JSON.stringify(p)}`);
  });
});

// A dead home's room needed by two nodes at once: one wins its lease, and only then reads
// the room from the store (bus_redis.c, take_over); the other forwards to it. One read, one
// room_reset per connection, and the usage the room counts is read once.
describe('two nodes need a dead home\'s room at once', () => {
  let c, n1, n2, n3, room, host, a, b, a2, ac, bc, a2c;
  before(async () => {
    c = await startCluster(3, { args: ['--cluster-lease', '1s', '--cluster-op-timeout', '3s', '--cluster-node-ttl', '2s'] });
    [n1, n2, n3] = c.nodes;
    host = mkUser('Host');
    [a, b, a2] = [mkUser('Ann'), mkUser('Bob'), mkUser('Amy')];
    room = await createRoom(n1.port, host, { name: 'Race' });
    ac = await RoomWs.open(n2.port, a);
    a2c = await RoomWs.open(n2.port, a2);
    bc = await RoomWs.open(n3.port, b);
    for (const cl of [ac, a2c, bc]) await cl.join(room.id);
  });
  after(async () => {
    closeAll([ac, bc, a2c]);
    await c?.stop();
  });

  test('one node reads the room, every connection gets one room_reset, nothing lost', async () => {
    for (let i = 0; i < 3; i++) await ac.ok('message', { room: room.id, type: 'user_text', content: `before${i}` });
    const last = (await bc.ok('history', { room: room.id, limit: 1 })).messages[0].seq;
    n1.kill();
    await withTimeout(n1.exited, 5000, 'node 1 to exit');
    // As if its last message was stored but never published: every connection is reset.
    c.redis.cli('HSET', `chorus:room:${room.id}:rec`, 's', String(last - 1));
    await until(() => c.redis.cli('EXISTS', `chorus:room:${room.id}:home`) === '0', 10000, 'the lease to end');
    const mark = [n2, n3].map((n) => n.lines.length);
    // Nodes 2 and 3 need the room at the same moment; a connection told room_reset joins
    // again at once (what the SDK does).
    const rejoin = (cl) => cl.waitEvent('room_reset', 10000).then(async (ev) => {
      assert.deepEqual(ev, { op: 'room_reset', room: room.id, reason: 'home_lost' });
      for (;;) {
        const j = await cl.call('join', { room: room.id }, 10000);
        if (j.ok) return j.data;
        assert.equal(j.error.code, 'unavailable', JSON.stringify(j));
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    const joined = Promise.all([ac, a2c, bc].map(rejoin));
    // Both paused while their members' ops arrive, then resumed together: each reads the
    // op at the same moment and finds the lease free.
    for (const n of [n2, n3]) n.proc.kill('SIGSTOP');
    const racing = [
      ac.call('message', { room: room.id, type: 'user_text', content: 'race-a' }, 10000),
      bc.call('message', { room: room.id, type: 'user_text', content: 'race-b' }, 10000),
    ];
    await new Promise((r) => setTimeout(r, 200));
    for (const n of [n2, n3]) n.proc.kill('SIGCONT');
    await Promise.all(racing);
    await joined;
    const home = c.homeOf(room.id);
    assert.ok(home === n2 || home === n3, 'a live node holds the lease');
    // Settled: a message through the new home, seen by every connection.
    const sent = await bc.ok('message', { room: room.id, type: 'user_text', content: 'after' });
    for (const cl of [ac, a2c]) await cl.waitEvent((m) => m.op === 'message' && m.message.content === 'after', 10000);
    await new Promise((r) => setTimeout(r, 1500)); // a late second reset would be here by now
    for (const cl of [ac, a2c, bc]) {
      await cl.sync();
      assert.equal(cl.all.filter((m) => m.op === 'room_reset').length, 1, `one room_reset for ${cl.user.name ?? 'a connection'}`);
    }
    // The room was read from the store once, by its new home only.
    const reads = [n2, n3].map((n, i) => n.lines.slice(mark[i]).filter((l) => l.includes(`room ${room.id} read again`)).length);
    assert.deepEqual(reads.sort(), [0, 1], `reads of the room on nodes 2 and 3: ${reads}`);
    const h = await ac.ok('history', { room: room.id, after: last - 1, limit: 100 });
    const seqs = h.messages.map((m) => m.seq);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => last + i), 'gapless');
    assert.equal(seqs.at(-1), sent.message.seq);
  });
});

// A node that read the rooms at its start holds a whole copy of the room, its users'
// stored bytes counted (--user-quota); when it takes the room over from a dead home and
// reads it again, those bytes must stay counted once, not twice.
describe('a takeover by a node that read the room at its start', () => {
  let c;
  before(async () => {
    c = await startCluster(1, { args: ['--cluster-lease', '1s', '--cluster-op-timeout', '3s', '--cluster-node-ttl', '2s',
      '--user-quota', '40KiB'] });
  });
  after(async () => {
    await c?.stop();
  });

  test('counts its users\' stored bytes once: a user under the quota is not refused quota_exceeded', async () => {
    const [n1] = c.nodes;
    const host = mkUser('Quota');
    const room = await createRoom(n1.port, host, { name: 'Counted once' });
    const text = 'q'.repeat(3000);
    const hc = await RoomWs.open(n1.port, host);
    await hc.join(room.id);
    for (let i = 0; i < 8; i++) await hc.ok('message', { room: room.id, type: 'user_text', content: `${i}${text}` });
    hc.close();
    const n2 = await c.addNode(); // reads every room at its start: this one's usage counted
    n1.kill();
    await withTimeout(n1.exited, 5000, 'node 1 to exit');
    await until(() => c.redis.cli('EXISTS', `chorus:room:${room.id}:home`) === '0', 10000, 'the lease to end');
    const cl = await RoomWs.open(n2.port, host);
    try {
      for (;;) { // node 2 takes the room over (and reads it again) for this join
        const j = await cl.call('join', { room: room.id }, 10000);
        if (j.ok) break;
        assert.equal(j.error.code, 'unavailable', JSON.stringify(j));
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(c.homeOf(room.id), n2);
      // About 25 KiB stored of 40: one more message fits (counted twice it would not).
      const m = await cl.call('message', { room: room.id, type: 'user_text', content: `9${text}` }, 10000);
      assert.equal(m.ok, true, JSON.stringify(m.error));
    } finally {
      cl.close();
    }
  });
});

describe('a join that timed out at its member\'s node, served later by the home', () => {
  let c, n1, n2, room, host, hc, gc;
  before(async () => {
    // A short op timeout, a long lease: the home stopped for a moment keeps its rooms.
    c = await startCluster(2, { args: ['--cluster-lease', '30s', '--cluster-op-timeout', '500ms', '--cluster-node-ttl', '30s'] });
    [n1, n2] = c.nodes;
    host = mkUser('LHost');
    room = await createRoom(n1.port, host, { name: 'Late' });
    hc = await RoomWs.open(n1.port, host);
    await hc.join(room.id);
  });
  after(async () => {
    closeAll([hc, gc]);
    await c?.stop();
  });

  test('the home undoes it: the user is not left online there', async () => {
    const g = mkUser('Late');
    gc = await RoomWs.open(n2.port, g);
    const online = async () => (await hc.ok('participants', { room: room.id })).onlineCount;
    assert.equal(await online(), 1);
    n1.proc.kill('SIGSTOP');
    let j;
    try {
      // Forwarded to the stopped home: answered unavailable at node 2's op timeout.
      j = await gc.call('join', { room: room.id }, 15000);
    } finally {
      n1.proc.kill('SIGCONT');
    }
    assert.equal(j.error?.code, 'unavailable', JSON.stringify(j));
    // The home serves the join now (its lease is good): the host sees the user come...
    await hc.waitEvent((m) => m.op === 'participant_joined', 15000, 'the late join served');
    // ...and go again, since node 2 told it the join was answered unavailable.
    await until(async () => (await online()) === 1, 15000, 'the late joiner offline at the home');
    assert.equal(gc.all.filter((m) => m.op === 'room_reset').length, 0);
  });
});
