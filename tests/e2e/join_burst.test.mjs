// join_burst.test.mjs: many joins at once while one member floods the room with messages
// (issue 17: a join answer is a copy of the room's kept recent messages). For every joiner
// the reply's messages then the message events it gets cover each seq from the reply's
// first once, with no gap, up to the flood's last, and lastSeq is the reply's last
// message. Once in a room whose kept messages stay warm through the burst (small messages:
// each commit, the joiners' own "joined" messages too, is appended to them) and once in a
// room where they are cold (messages too big to keep: the joins that come while one reads
// the store wait for that read and get its page).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { closeAll, createRoom, mkUser, mkUsers, openAll, RoomWs, until } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 60000 };
const JOINERS = 16;
const FLOOD = 300;

/**
 * Floods room r from the host's connection ch (joined) while JOINERS new users join it at
 * once, then posts a last message; checks what each joiner saw. content(i) is the i-th
 * flood message's text.
 */
async function burst(port, r, ch, tag, content) {
  const users = mkUsers(JOINERS, tag);
  const cs = await openAll(port, users);
  try {
    const sends = Array.from({ length: FLOOD }, (_, i) =>
      ch.call('message', { room: r.id, type: 'user_text', content: content(i) }, 30000));
    const joins = cs.map((c) => c.call('join', { room: r.id }, 30000));
    const replies = await Promise.all(joins);
    for (const rep of replies) assert.equal(rep.ok, true, JSON.stringify(rep).slice(0, 300));
    assert.ok((await Promise.all(sends)).every((m) => m.ok), 'every flood message stored');
    const last = await ch.ok('message', { room: r.id, type: 'user_text', content: 'last' }, 30000);
    const end = last.message.seq;
    for (const [i, c] of cs.entries()) {
      const d = replies[i].data;
      const seqOf = (e) => e.message.seq;
      await until(() => c.kept('message').some((e) => seqOf(e) === end), 20000, `joiner ${i} to get seq ${end}`);
      const joinSeqs = d.messages.map((m) => m.seq);
      assert.ok(joinSeqs.length > 0 && joinSeqs.length <= 50, `joiner ${i}: ${joinSeqs.length} messages`);
      assert.equal(d.lastSeq, joinSeqs.at(-1), `joiner ${i}: lastSeq ${d.lastSeq} is the reply's last message`);
      assert.deepEqual(joinSeqs, Array.from({ length: joinSeqs.length }, (_, k) => joinSeqs[0] + k),
        `joiner ${i}: the reply's messages are consecutive`);
      const evSeqs = c.kept('message').map(seqOf);
      const all = [...joinSeqs, ...evSeqs];
      const from = joinSeqs[0];
      assert.deepEqual(all, Array.from({ length: end - from + 1 }, (_, k) => from + k),
        `joiner ${i}: reply ${from}..${joinSeqs.at(-1)} then events ${evSeqs[0]}..${evSeqs.at(-1)}: ` +
        'every seq once');
      // The texts are the stored ones: the flood's own messages, once each.
      const texts = [...d.messages, ...c.kept('message').map((e) => e.message)];
      const seen = new Set(texts.filter((m) => m.type === 'user_text').map((m) => m.content));
      assert.equal(seen.size, texts.filter((m) => m.type === 'user_text').length);
    }
  } finally {
    closeAll(cs);
  }
}

describe('joins during a message flood (issue 17)', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--room-max-message', '4KiB'] });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('kept messages warm: each joiner sees every seq once, lastSeq the reply\'s last', T, async () => {
    const host = mkUser('WarmHost');
    const r = await createRoom(port, host, { name: 'warm burst', maxParticipants: 30 });
    const ch = await RoomWs.open(port, host);
    try {
      await ch.join(r.id); // fills the room's kept messages
      for (let i = 0; i < 60; i++) await ch.ok('message', { room: r.id, type: 'user_text', content: `w${i}` });
      await burst(port, r, ch, 'warm', (i) => `f${i}`);
    } finally {
      ch.close();
    }
  });

  it('kept messages cold (too big to keep): the joins share one read, each sees every seq once', T, async () => {
    const host = mkUser('ColdHost');
    const r = await createRoom(port, host, { name: 'cold burst', maxParticipants: 30 });
    const ch = await RoomWs.open(port, host);
    try {
      await ch.join(r.id);
      // 40 messages of 2,000 bytes pass the 64 KiB a room keeps: dropped, so every join
      // reads the store.
      const big = (i) => `${i}:`.padEnd(2000, 'x');
      for (let i = 0; i < 40; i++) await ch.ok('message', { room: r.id, type: 'user_text', content: big(i) });
      await burst(port, r, ch, 'cold', (i) => big(1000 + i));
    } finally {
      ch.close();
    }
  });
});
