// bounded.test.mjs: memory and replies bounded by bytes (issue 14, items 2 and 5): the
// document op window by bytes (--doc-log-max-bytes); stored message content, metadata and
// documents limited by their encoded size; join, history, REST message pages and doc_ops
// bounded by the reply budget (--ws-max-reply, at most a quarter of --ws-max-queue), so
// no legal sequence of operations makes a room unjoinable.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { api, FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { insertOp } from './lib/docs.mjs';
import { scrape } from './lib/metrics.mjs';
import { allMessages, createRoom, mkUser, RoomWs } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 30000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];

/** Scrapes /metrics until ready(samples) holds; returns those samples. */
async function untilMetric(port, ready) {
  for (;;) {
    const { samples } = await scrape(port);
    if (ready(samples)) return samples;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A room of user's with one joined connection. */
async function roomAndClient(port, user, name = 'bounded') {
  const room = await createRoom(port, user, { name });
  const c = await RoomWs.open(port, user);
  await c.join(room.id);
  c.clear();
  return { room, c };
}

describe('document op window by bytes (--doc-log-max-bytes)', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--doc-log-max-bytes', '64KiB', '--doc-snapshot-every', '3'] });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('big insert/delete pairs push old versions out of the window; small ops stay', T, async () => {
    const a = mkUser('A');
    const { room, c } = await roomAndClient(port, a);
    const R = room.id;
    const op = (doc, version, delta) => c.call('doc_op', { room: R, doc, version, delta });
    try {
      await c.ok('doc_open', { room: R, doc: 'big' });
      // Four 20 KB inserts, each deleted again: the text stays empty, the ops hold ~80 KB.
      const big = 'x'.repeat(20000);
      let v = 0;
      let m;
      for (let i = 0; i < 4; i++) {
        for (const delta of [[big], [{ d: big.length }]]) {
          m = await op('big', v++, delta);
          assert.equal(m.ok, true, JSON.stringify(m).slice(0, 300));
        }
      }
      assert.deepEqual(await c.ok('doc_open', { room: R, doc: 'big' }), { doc: 'big', text: '', version: 8 });
      // The oldest versions left the window (by count they would still be in it: 1000).
      m = await op('big', 0, ['late']);
      assert.equal(m.error?.code, 'version_too_old', JSON.stringify(m).slice(0, 300));
      // The newest ones are still there: an op based on 6 is transformed through 7 and 8.
      m = await op('big', 6, ['late']);
      assert.equal(m.ok, true, JSON.stringify(m).slice(0, 300));
      assert.equal(m.data.version, 9);

      // Many small ops fit in the same budget: a base 50 versions back is still served.
      await c.ok('doc_open', { room: R, doc: 'small' });
      for (let i = 0; i < 60; i++) assert.equal((await op('small', i, insertOp(i, 'a'))).ok, true);
      m = await op('small', 10, ['b']);
      assert.equal(m.ok, true, JSON.stringify(m).slice(0, 300));

      // Reloaded from the store (closed, so unloaded): the window is bounded the same way.
      await c.ok('doc_close', { room: R, doc: 'big' });
      assert.deepEqual(await c.ok('doc_open', { room: R, doc: 'big' }), { doc: 'big', text: 'late', version: 9 });
      m = await op('big', 1, ['again']);
      assert.equal(m.error?.code, 'version_too_old', JSON.stringify(m).slice(0, 300));
      m = await op('big', 8, ['again']);
      assert.equal(m.ok, true, JSON.stringify(m).slice(0, 300));
      assert.equal(m.data.version, 10);
    } finally {
      c.close();
    }
  });
});

describe('stored data is bounded by its encoded size (default limits)', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: BASE_ARGS });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('metadata over --room-max-metadata (4 KiB encoded) is refused; the room stays joinable', T, async () => {
    const [host, m] = [mkUser('Host'), mkUser('M')];
    const { room, c: hc } = await roomAndClient(port, host);
    const c = await RoomWs.open(port, m);
    try {
      await c.join(room.id);
      // The attack: 5 messages with 1 MB of metadata each.
      for (let i = 0; i < 5; i++) {
        await c.err('message', { room: room.id, type: 'user_text', content: 'x', metadata: { pad: 'm'.repeat(1000000) } },
          'payload_too_large');
      }
      // 4 KiB encoded passes, one byte more does not ({"p":"…"} is 8 bytes around the text).
      await c.ok('message', { room: room.id, type: 'user_text', content: 'x', metadata: { p: 'm'.repeat(4096 - 8) } });
      await c.err('message', { room: room.id, type: 'user_text', content: 'x', metadata: { p: 'm'.repeat(4096 - 7) } },
        'payload_too_large');
      // Escapes count: 700 U+0001 are 4,200 bytes encoded.
      await c.err('message', { room: room.id, type: 'user_text', content: 'x', metadata: { p: '\u0001'.repeat(700) } },
        'payload_too_large');
      const late = await RoomWs.open(port, host);
      try {
        const j = await late.join(room.id);
        assert.equal(j.messages.at(-1).metadata.p.length, 4096 - 8);
      } finally {
        late.close();
      }
    } finally {
      c.close();
      hc.close();
    }
  });

  it('content counts its encoded size: 16,384 x U+0001 is over --room-max-message', T, async () => {
    const host = mkUser('Host');
    const { room, c } = await roomAndClient(port, host);
    try {
      // The attack: 50 messages of 16,384 x U+0001 (98 KB each once encoded).
      for (let i = 0; i < 50; i++) {
        await c.err('message', { room: room.id, type: 'user_text', content: '\u0001'.repeat(16384) }, 'payload_too_large');
      }
      await c.err('message', { room: room.id, type: 'user_text', content: '"'.repeat(8193) }, 'payload_too_large');
      await c.ok('message', { room: room.id, type: 'user_text', content: '"'.repeat(8192) });
      await c.ok('message', { room: room.id, type: 'user_text', content: 'é'.repeat(8192) }); // 16 KiB of UTF-8
      const late = await RoomWs.open(port, mkUser('Late'));
      try {
        const j = await late.join(room.id);
        assert.ok(j.messages.some((x) => x.content === 'é'.repeat(8192)), 'the last user message is in the join');
      } finally {
        late.close();
      }
    } finally {
      c.close();
    }
  });

  it('a document of quotes cannot pass --doc-max-size encoded (1 MiB): doc_open stays possible', T, async () => {
    const [host, m] = [mkUser('Host'), mkUser('M')];
    const { room, c: hc } = await roomAndClient(port, host);
    const c = await RoomWs.open(port, m);
    try {
      await c.join(room.id);
      await c.ok('doc_open', { room: room.id, doc: 'q' });
      const chunk = '"'.repeat(100000); // 200 KB of JSON per op, under --doc-max-op
      let v = 0;
      let refused = null;
      for (let i = 0; i < 30 && !refused; i++) {
        const r = await c.call('doc_op', { room: room.id, doc: 'q', version: v, delta: v ? [v * chunk.length, chunk] : [chunk] });
        if (r.ok) v++;
        else refused = r;
      }
      assert.equal(refused?.error?.code, 'document_too_large', JSON.stringify(refused).slice(0, 200));
      assert.ok(v >= 4 && v <= 5, `ops accepted: ${v}`); // 5 x 200 KB encoded is just under 1 MiB
      await hc.ok('doc_open', { room: room.id, doc: 'q' });
      const fresh = await RoomWs.open(port, host);
      try {
        await fresh.join(room.id);
        const d = await fresh.ok('doc_open', { room: room.id, doc: 'q' });
        assert.equal(d.text.length, v * chunk.length);
      } finally {
        fresh.close();
      }
    } finally {
      c.close();
      hc.close();
    }
  });

  it('doc_ops pages by bytes: more: true, and following from the last version gets the rest', T, async () => {
    const host = mkUser('Host');
    const { room, c } = await roomAndClient(port, host);
    try {
      await c.ok('doc_open', { room: room.id, doc: 'ops' });
      const chunk = 'o'.repeat(200000);
      for (let v = 0; v < 8; v++) await c.ok('doc_op', { room: room.id, doc: 'ops', version: v, delta: v ? [{ d: chunk.length }, chunk] : [chunk] });
      const first = await c.ok('doc_ops', { room: room.id, doc: 'ops', from: 0 });
      assert.equal(first.more, true);
      assert.ok(first.ops.length >= 1 && first.ops.length < 8, `first page: ${first.ops.length}`);
      assert.ok(JSON.stringify(first).length <= 1024 * 1024 + 4096);
      let got = first.ops.map((o) => o.version);
      let page = first;
      while (page.more) {
        page = await c.ok('doc_ops', { room: room.id, doc: 'ops', from: got.at(-1) });
        got = [...got, ...page.ops.map((o) => o.version)];
      }
      assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      c.close();
    }
  });
});

describe('replies that grow with stored data fit the reply budget (--ws-max-queue 64KiB: 16 KiB)', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--ws-max-queue', '64KiB'] });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('50 legal 3 KB messages: join returns the newest that fit; history and REST page by bytes', T, async () => {
    const [host, m] = [mkUser('Host'), mkUser('M')];
    const { room, c: hc } = await roomAndClient(port, host);
    const c = await RoomWs.open(port, m);
    try {
      await c.join(room.id);
      for (let i = 1; i <= 50; i++) await c.ok('message', { room: room.id, type: 'user_text', content: `${i}:` + 'z'.repeat(3000) });
      // Every later join succeeds (before: the join reply passed the queue cap, close 1008).
      for (const u of [host, m, mkUser('New')]) {
        const late = await RoomWs.open(port, u);
        try {
          const j = await late.join(room.id);
          assert.ok(j.messages.length >= 1 && j.messages.length < 50, `join messages: ${j.messages.length}`);
          assert.equal(j.messages.at(-1).seq, j.lastSeq, 'the newest message is there');
          assert.ok(JSON.stringify(j.messages).length <= 8 * 1024 + 4096);
          // The newest page of history, then the pages before it, reach every message.
          let page = await late.ok('history', { room: room.id, limit: 200 });
          assert.equal(page.more, true);
          let seqs = page.messages.map((x) => x.seq);
          while (seqs[0] > 1) {
            page = await late.ok('history', { room: room.id, before: seqs[0], limit: 200 });
            assert.ok(page.messages.length >= 1);
            seqs = [...page.messages.map((x) => x.seq), ...seqs];
          }
          assert.deepEqual(seqs.filter((s) => s > 0 && s <= 60).length, seqs.length);
          assert.equal(new Set(seqs).size, seqs.length);
          const after = await late.ok('history', { room: room.id, after: 0, limit: 200 });
          assert.equal(after.more, true);
          assert.equal(after.messages[0].seq, 1);
        } finally {
          late.close();
        }
      }
      // REST: a byte-bounded page with more: true; the helper walks before= to the start.
      const res = await api(port, 'GET', `/api/rooms/${room.id}/messages?limit=200`, { token: m.token });
      assert.equal(res.status, 200);
      assert.ok(res.text.length <= 16 * 1024 + 4096, `body ${res.text.length} bytes`);
      assert.equal(res.json().more, true);
      const all = await allMessages(port, m, room.id);
      assert.equal(all.filter((x) => x.type === 'user_text').length, 50);
    } finally {
      c.close();
      hc.close();
    }
  });
});

describe('entities come in pages of the reply budget (default limits)', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: BASE_ARGS });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  /** Follows sync pages from a first answer; returns the entities by id and the last page. */
  async function follow(c, roomId, first, map = new Map()) {
    let page = first;
    let pages = 1;
    for (;;) {
      if (page.type === 'full') map.clear();
      for (const e of page.entities ?? []) map.set(e.id, e);
      for (const e of page.changes ?? []) {
        if (e.deleted) map.delete(e.id);
        else map.set(e.id, e);
      }
      if (!page.more) return { map, page, pages };
      assert.ok(JSON.stringify(page).length <= 1024 * 1024 + 64 * 1024, `page of ${JSON.stringify(page).length} bytes`);
      page = await c.ok('sync', { room: roomId, version: page.stateVersion, cursor: page.cursor });
      pages++;
    }
  }

  it('280 entities of 16 KB: join, sync and REST stay possible and page through them all', { timeout: 60000 }, async () => {
    const [host, m] = [mkUser('Host'), mkUser('M')];
    const { room, c: hc } = await roomAndClient(port, host);
    const c = await RoomWs.open(port, m);
    const R = room.id;
    try {
      await c.join(R);
      const pad = 'p'.repeat(16000);
      for (let i = 0; i < 280; i += 40) {
        await Promise.all(Array.from({ length: Math.min(40, 280 - i) }, (_, k) =>
          c.ok('entity_create', { room: R, id: `e${i + k}`, kind: 'k', data: { pad, n: i + k } })));
      }
      // One deleted while the pages are walked, one created: the pages end at the truth.
      const late = await RoomWs.open(port, host);
      try {
        const j = await late.join(R);
        assert.ok(j.entities.length >= 1 && j.entities.length < 280, `first page: ${j.entities.length}`);
        assert.equal(typeof j.entitiesNext?.version, 'number');
        assert.equal(typeof j.entitiesNext?.cursor, 'number');
        const map = new Map(j.entities.map((e) => [e.id, e]));
        await hc.ok('entity_delete', { room: R, id: j.entities[0].id });
        await hc.ok('entity_create', { room: R, id: 'fresh', kind: 'k', data: {} });
        const first = await late.ok('sync', { room: R, version: j.entitiesNext.version, cursor: j.entitiesNext.cursor });
        const { map: all, pages } = await follow(late, R, first, map);
        assert.ok(pages >= 2, `pages: ${pages}`);
        assert.equal(all.size, 280);
        assert.ok(all.has('fresh') && !all.has(j.entities[0].id));
        // A full sync (version from the future) and a delta from 0 page the same way.
        for (const version of [1e9, 0]) {
          const s = await late.ok('sync', { room: R, version });
          assert.equal(s.more, true);
          const r = await follow(late, R, s);
          assert.equal(r.map.size, 280);
          assert.equal(r.page.stateVersion, (await late.ok('sync', { room: R, version: r.page.stateVersion })).stateVersion);
        }
        // join with since: its sync is a page too.
        const again = await RoomWs.open(port, m);
        try {
          const js = await again.join(R, { since: 0 });
          assert.equal(js.sync.more, true);
          assert.equal((await follow(again, R, js.sync)).map.size, 280);
        } finally {
          again.close();
        }
      } finally {
        late.close();
      }
      // REST: the first page and the ones after it.
      let res = await api(port, 'GET', `/api/rooms/${R}/entities`, { token: m.token });
      assert.equal(res.status, 200);
      assert.ok(res.text.length <= 1024 * 1024 + 64 * 1024, `body ${res.text.length} bytes`);
      let body = res.json();
      assert.equal(body.more, true);
      const ids = new Set(body.entities.map((e) => e.id));
      while (body.more) {
        res = await api(port, 'GET', `/api/rooms/${R}/entities?version=${body.stateVersion}&cursor=${body.cursor}`, { token: m.token });
        assert.equal(res.status, 200);
        body = res.json();
        for (const e of body.changes) ids.add(e.id);
      }
      assert.equal(ids.size, 280);
    } finally {
      c.close();
      hc.close();
    }
  });
});

describe('a client pipelining many commits is slowed down, not closed (default limits)', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: BASE_ARGS });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('1,000 pipelined 16 KB entity_creates (16 MB of replies) all succeed on one connection', { timeout: 90000 }, async () => {
    const host = mkUser('Host');
    const { room, c } = await roomAndClient(port, host);
    try {
      const pad = 'p'.repeat(16000);
      // Sent at once, before any reply: the server reads them as fast as they commit.
      const all = Promise.all(Array.from({ length: 1000 }, (_, i) =>
        c.call('entity_create', { room: room.id, id: `e${i}`, kind: 'k', data: { pad, i } }, 80000)));
      const replies = await Promise.race([all, c.closed.then((info) => {
        throw new Error(`the connection was closed: ${JSON.stringify(info)}`);
      })]);
      assert.equal(replies.filter((m) => m.ok).length, 1000, JSON.stringify(replies.find((m) => !m.ok) ?? c.closeInfo));
      assert.equal(c.closeInfo, null, 'the connection stays open');
      await c.sync();
      assert.equal(c.closeInfo, null, 'the connection stays open');
    } finally {
      c.close();
    }
  });

  it('a pipelining client that stops reading is paused at half --ws-max-queue, not closed; it reads every reply later', T, async () => {
    const host = mkUser('Host');
    const { room, c } = await roomAndClient(port, host);
    try {
      // 16 MB of replies to a client that reads none: past what the kernel buffers and the
      // 4 MiB queue together, so the server must stop reading the requests.
      c.ws._socket.pause();
      const pad = 'p'.repeat(16000);
      const all = Promise.all(Array.from({ length: 1000 }, (_, i) =>
        c.call('entity_create', { room: room.id, id: `s${i}`, kind: 'k', data: { pad, i } }, 60000)));
      // The server pauses reading once the queue is over the mark (2 MiB); without that it
      // reads on and closes the client when its queue passes 4 MiB.
      const m = await untilMetric(port, (s) => s.get('chorus_websocket_reads_paused_total') > 0 ||
        s.get('chorus_slow_clients_closed_total') > 0);
      assert.equal(m.get('chorus_slow_clients_closed_total'), 0, 'no client closed as slow');
      c.ws._socket.resume();
      const replies = await all;
      assert.equal(replies.filter((x) => x.ok).length, 1000, JSON.stringify(replies.find((x) => !x.ok) ?? c.closeInfo));
      assert.equal(c.closeInfo, null, 'the connection stays open');
    } finally {
      c.close();
    }
  });
});

describe('a pipelining client that never reads still loses its slot (--ws-stall-timeout 200ms)', () => {
  let srv;
  let port;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--ws-stall-timeout', '200ms'] });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
  });

  it('its requests wait with the queue over the mark; it is closed 1008 once that lasts', T, async () => {
    const host = mkUser('Host');
    const { room, c } = await roomAndClient(port, host);
    try {
      c.ws._socket.pause();
      const pad = 'p'.repeat(16000);
      for (let i = 0; i < 600; i++) c.send({ op: 'entity_create', ref: 1000 + i, room: room.id, id: `n${i}`, kind: 'k', data: { pad } });
      const m = await untilMetric(port, (s) => s.get('chorus_slow_clients_closed_total') > 0);
      assert.ok(m.get('chorus_websocket_reads_paused_total') > 0, 'its reading was paused first');
      c.ws._socket.resume();
      assert.deepEqual(await c.closed, { code: 1008, reason: 'client too slow' });
    } finally {
      c.close();
    }
  });
});
