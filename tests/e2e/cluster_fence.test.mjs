// cluster_fence.test.mjs: fencing by a token in the store (issue 19; docs/architecture.md,
// "Fencing"). A room's home whose write is still in PostgreSQL when its lease ends, and
// another node takes the room over meanwhile: the write either commits before the new
// home reads the room (and the new home sees it) or is refused (never acknowledged); no
// seq is handed out twice, nothing acknowledged is lost.
//
// Made deterministic without timings: the test holds an EXCLUSIVE lock on room_messages
// from its own PostgreSQL session, so the home's message insert waits inside its open
// transaction; the home is then stopped (SIGSTOP) past its lease, and a member on the
// other node posts, which makes that node take the room over. The lock is let go and the
// old home continued only once the new home's store request waits too.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH } from './lib/auth.mjs';
import { clusterHomes, startCluster } from './lib/cluster.mjs';
import { psql } from './lib/pg.mjs';
import { allMessages, createRoom, mkUser, mkUsers, RoomWs, until } from './lib/rooms.mjs';
import { delay } from './lib/util.mjs';

const LEASE_MS = 2000;
const TODO = !clusterHomes() && 'needs room homes with leases (issue 19)';
// A long op timeout: the new home's first op waits for its takeover's read, which waits for
// the old home's transaction (held here on purpose) without being answered unavailable.
const ARGS = [...FAST_HASH, '--cluster-node-ttl', '2s', '--cluster-lease', `${LEASE_MS}ms`,
  '--cluster-op-timeout', '60s', '--room-seat-grace', '500ms'];

/** A psql session of its own on url, in a transaction holding an EXCLUSIVE lock on table. */
async function lockTable(url, table) {
  const p = spawn('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { out += d; });
  p.stdin.write(`BEGIN;\nLOCK TABLE ${table} IN EXCLUSIVE MODE;\nSELECT 'lock' || 'ed';\n`);
  await until(() => out.includes('locked'), 30000, `the lock on ${table}: ${out}`);
  return {
    release: () => new Promise((res) => {
      p.once('exit', res);
      p.stdin.end('COMMIT;\n');
    }),
    kill: () => p.kill(),
  };
}

/** How many sessions of url's database wait for a lock. */
async function lockWaiters(url) {
  return Number((await psql(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).trim());
}

describe('cluster fencing', () => {
  let c;
  before(async () => {
    c = await startCluster(2, { args: ARGS });
  });
  after(async () => {
    await c?.stop();
  });

  it('a home stopped past its lease with a write open in the store: the new home sees it or it is refused; no seq twice, nothing acknowledged lost', { timeout: 120000, todo: TODO }, async () => {
    const [a, b] = c.nodes;
    const host = mkUser('FHost');
    const room = await createRoom(a.port, host, { name: 'fenced' }); // at home on a
    const [ua, ub] = mkUsers(2, 'f');
    const wa = await RoomWs.open(a.port, ua);
    const wb = await RoomWs.open(b.port, ub);
    let lock = null;
    let stopped = false;
    try {
      await wa.join(room.id);
      await wb.join(room.id);
      const acked = new Map(); // text -> seq
      const post = async (ws, text, timeout = 5000) => {
        const m = await ws.call('message', { room: room.id, type: 'user_text', content: text }, timeout);
        if (m.ok) acked.set(text, m.data.message.seq);
        return m;
      };
      for (let k = 1; k <= 3; k++) {
        assert.ok((await post(wa, `a${k}`)).ok);
        assert.ok((await post(wb, `b${k}`)).ok);
      }
      assert.equal(c.homeOf(room.id), a, 'the room is at home on a');

      // a's insert of m1 waits for the test's lock inside its transaction; m2 queues
      // behind it in a's store.
      lock = await lockTable(c.store, 'room_messages');
      const m1 = post(wa, 'm1', 90000);
      await until(async () => (await lockWaiters(c.store)) >= 1, 30000, 'a\'s insert to wait for the lock');
      const m2 = post(wa, 'm2', 90000);
      await delay(200); // m2 reaches a's store queue (if not, it is submitted after SIGCONT)

      // a stops past its lease (by Redis's clock: its key expires).
      a.proc.kill('SIGSTOP');
      stopped = true;
      await until(() => c.redis.cli('EXISTS', `chorus:room:${room.id}:home`).trim() === '0',
        LEASE_MS * 10, 'a\'s lease to run out');

      // A post on b: b takes the room over; its store request waits (the raise of the
      // room's epoch behind a's share lock; without fencing, its insert behind the test's
      // lock).
      const mb = post(wb, 'mb1', 90000);
      await until(async () => (await lockWaiters(c.store)) >= 2, 30000, 'b\'s store request to wait');
      await lock.release();
      lock = null;
      a.proc.kill('SIGCONT');
      stopped = false;

      const [r1, r2, rb] = await Promise.all([m1, m2, mb]);
      for (const r of [r1, r2])
        if (!r.ok) assert.ok(['unavailable', 'service_unavailable', 'forbidden'].includes(r.error?.code), JSON.stringify(r));
      // The new home read every write the old one committed: its first post is taken at
      // once, with a seq after theirs (no seq conflict, no refusal).
      assert.ok(rb.ok, `b's first post after the takeover: ${JSON.stringify(rb)}`);
      for (const t of ['m1', 'm2'])
        if (acked.has(t)) assert.ok(acked.get(t) < acked.get('mb1'), `${t} (seq ${acked.get(t)}) before mb1 (seq ${acked.get('mb1')})`);
      // b's connection was told room_reset at the takeover (the membership lived in a's
      // memory): it joins again, then posts.
      await wb.join(room.id);
      for (let k = 2; k <= 4; k++) {
        const r = await post(wb, `mb${k}`, 30000);
        assert.ok(r.ok, `b's post ${k}: ${JSON.stringify(r)}`);
      }
      const all = await allMessages(b.port, host, room.id);
      for (let i = 0; i < all.length; i++) assert.equal(all[i].seq, i + 1, `gapless seqs at ${i}`);
      const stored = new Map(all.filter((m) => m.type === 'user_text').map((m) => [m.content, m.seq]));
      assert.equal(stored.size, all.filter((m) => m.type === 'user_text').length, 'nothing stored twice');
      for (const [t, seq] of acked) assert.equal(stored.get(t), seq, `acknowledged ${t} kept at its seq`);
    } finally {
      if (stopped) a.proc.kill('SIGCONT');
      lock?.kill();
      wa.close();
      wb.close();
    }
  });
});
