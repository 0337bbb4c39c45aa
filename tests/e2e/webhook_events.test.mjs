// webhook_events.test.mjs: every webhook event of issue 21 reaches a real Node receiver,
// signed, in the room's order: room.created, room.occupied, participant.joined,
// message.created, state.changed, entity.changed (durable changes only), document.saved
// (debounced: the first save at once, the ones after it as one at the interval's end),
// client.event (only for broadcasts named in --webhook-client-events), participant.left
// (left, disconnected), room.vacated (after the seat grace) and room.deleted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { accepted, receiver, verify } from './lib/hooks.mjs';
import { ON_PG } from './lib/pg.mjs';
import { createRoom, del, mkUser, RoomWs } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 60000, skip: ON_PG && 'the e2e-pg run repeats webhooks.test.mjs\'s durability test only' };
const SECRET = 'whsec-events-0123456789';

describe('webhook events', () => {
  it('every event kind, signed, each once, in the room\'s order', T, async () => {
    const r = await receiver();
    const srv = await startServer({
      args: ['--jwt-secret', TEST_SECRET, ...FAST_HASH, '--webhook-url', r.url, '--webhook-secret', SECRET,
        '--webhook-events', '*', '--webhook-client-events', 'agent_*, x-*', '--webhook-doc-debounce', '1s',
        '--webhook-poll', '50ms', '--room-seat-grace', '200ms'],
    });
    const host = mkUser('Host');
    const guest = mkUser('Guest');
    let hc, gc;
    try {
      const room = await createRoom(srv.port, host);
      const R = room.id;
      const ofRoom = () => accepted(r).filter((b) => b.room === R);
      const types = () => ofRoom().map((b) => b.type);
      const waitFor = (pred, label) => r.until(() => pred(ofRoom()), 20000, label);
      hc = await RoomWs.open(srv.port, host);
      await hc.join(R);
      gc = await RoomWs.open(srv.port, guest);
      await gc.join(R);
      await gc.ok('message', { room: R, type: 'user_text', content: 'hi' });
      await hc.ok('state', { room: R, patch: { phase: 'draft' } });
      await hc.ok('entity_create', { room: R, id: 'e1', kind: 'card', data: { text: 'a' } });
      await hc.ok('entity_update', { room: R, id: 'e1', patch: { text: 'b' } });
      await hc.ok('entity_delete', { room: R, id: 'e1' });
      // Three ops in one burst: document.saved at version 1, then once for 2 and 3 together.
      await hc.ok('doc_open', { room: R, doc: 'notes' });
      await Promise.all([['a'], [1, 'b'], [2, 'c']].map((delta, v) =>
        hc.ok('doc_op', { room: R, doc: 'notes', version: v, delta })));
      // A broadcast marked for the backend is acknowledged once its delivery is queued.
      // (Its data holds U+0000, which a broadcast may carry: it once aborted the server here.)
      await gc.ok('broadcast', { room: R, event: 'agent_action', data: { move: 'north', n: [1, 2], s: 'a\u0000b' } });
      await gc.ok('broadcast', { room: R, event: 'chat_typing', data: { x: 1 } }); // not marked
      await gc.ok('leave', { room: R });
      await waitFor((l) => l.filter((b) => b.type === 'document.saved').length === 2, 'the held document.saved');
      hc.close(); // the last one online goes: participant.left, then room.vacated after the grace
      await waitFor((l) => l.some((b) => b.type === 'room.vacated'), 'room.vacated');
      const res = await del(srv.port, host, `/api/rooms/${R}`);
      assert.equal(res.status, 200);
      await waitFor((l) => l.some((b) => b.type === 'room.deleted'), 'room.deleted');

      // What a message or a join writes goes in the order of the store's writes; only
      // document.saved's held delivery lands where the tick put it.
      const seq = types().filter((t) => t !== 'document.saved');
      assert.deepEqual(seq, [
        'room.created', 'room.occupied', 'participant.joined',
        'message.created', 'participant.joined', // the guest's "joined" system message first
        'message.created', 'state.changed', 'message.created', // the state change's system message
        'entity.changed', 'entity.changed', 'entity.changed',
        'client.event',
        'message.created', 'participant.left', // "left": the system message, then the member
        'participant.left', 'room.vacated', 'room.deleted',
      ]);
      const list = ofRoom();
      assert.equal(new Set(list.map((b) => b.id)).size, list.length, 'one id per delivery');
      for (const q of r.requests) {
        assert.ok(verify(q.headers, q.raw, SECRET), 'signed');
        assert.equal(q.headers['x-chorus-event'], q.body.type);
        assert.deepEqual(Object.keys(q.body).sort(), ['data', 'id', 'room', 'time', 'type']);
      }
      const one = (type, i = 0) => list.filter((b) => b.type === type)[i].data;
      assert.equal(one('room.created').room.id, R);
      assert.equal(one('room.created').room.hostUserId, host.sub);
      assert.equal(one('room.occupied').by.userId, host.sub);
      assert.deepEqual(one('participant.joined'), { userId: host.sub, displayName: 'Host', role: 'host', seq: 0, stateVersion: 0 });
      assert.equal(one('participant.joined', 1).userId, guest.sub);
      assert.equal(one('participant.joined', 1).role, 'member');
      const msgs = list.filter((b) => b.type === 'message.created').map((b) => b.data);
      assert.deepEqual(msgs.map((m) => m.seq), [1, 2, 3, 4]);
      assert.equal(msgs[1].content, 'hi');
      const st = one('state.changed');
      assert.deepEqual(st.patch, { phase: 'draft' });
      assert.equal(st.state.phase, 'draft');
      assert.equal(st.by, host.sub);
      assert.equal(st.seq, 2);
      const ents = list.filter((b) => b.type === 'entity.changed').map((b) => b.data);
      assert.deepEqual(ents.map((e) => e.action), ['create', 'update', 'delete']);
      assert.deepEqual(ents.map((e) => e.id), ['e1', 'e1', 'e1']);
      assert.equal(ents[1].entity.data.text, 'b');
      assert.equal(ents[2].entity, null);
      // The room's state version orders state and entity changes together.
      assert.deepEqual([st, ...ents].map((x) => x.stateVersion), [1, 2, 3, 4]);
      const saves = list.filter((b) => b.type === 'document.saved');
      assert.deepEqual(saves.map((b) => [b.data.doc, b.data.version]), [['notes', 1], ['notes', 3]]);
      assert.ok(saves[1].time - saves[0].time >= 1000, 'at most one per --webhook-doc-debounce');
      const ce = list.filter((b) => b.type === 'client.event');
      assert.equal(ce.length, 1, 'chat_typing is not marked for the backend');
      assert.deepEqual(ce[0].data, { event: 'agent_action', from: guest.sub, data: { move: 'north', n: [1, 2], s: 'a\u0000b' }, seq: 3, stateVersion: 4 });
      const left = list.filter((b) => b.type === 'participant.left').map((b) => [b.data.userId, b.data.reason]);
      assert.deepEqual(left, [[guest.sub, 'left'], [host.sub, 'disconnected']]);
      assert.equal(one('room.deleted').reason, 'deleted');
      assert.equal(one('room.vacated').seq, 4);
    } finally {
      hc?.close();
      gc?.close();
      await srv.stop();
      await r.close();
    }
  });
});
