// history.test.mjs: history pages with the server's `more` flag (room.historyPage over the
// WebSocket, chorus.roomMessagesPage over REST), against a server whose reply budget
// (--ws-max-queue 64KiB: 16 KiB) cuts a page of 3 KB messages short.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BASE_ARGS, connected, startServer } from '../testlib/helpers.mjs';

const T = { timeout: 20000 };
const COUNT = 20;

describe('history pages say whether the reply budget cut them short (more)', () => {
  let srv;
  let host;
  let room;
  let sent;
  before(async () => {
    srv = await startServer({ args: [...BASE_ARGS, '--ws-max-queue', '64KiB'] });
    host = await connected(srv.port, 'Hist');
    const info = await host.createRoom({ name: 'history more' });
    room = await host.join(info.roomCode);
    sent = [];
    for (let i = 0; i < COUNT; i++) sent.push(await room.send('user_text', `${i}:${'z'.repeat(3000)}`));
  });
  after(async () => {
    host?.close();
    await srv?.stop();
  });

  /** Walks the pages from the newest back with `before`, as `more` says; checks each page. */
  async function walkBack(getPage) {
    const pages = [];
    let page = await getPage({ limit: 200 });
    pages.push(page);
    while (page.more) {
      assert.ok(page.messages.length >= 1, 'a cut page holds at least one message');
      page = await getPage({ before: page.messages[0].seq, limit: 200 });
      pages.push(page);
    }
    return pages;
  }

  it('room.historyPage: more is true while the budget cuts, false on the page that fits', T, async () => {
    const pages = await walkBack((opts) => room.historyPage(opts));
    assert.ok(pages.length >= 2, `${pages.length} pages`);
    assert.equal(pages[0].more, true);
    assert.ok(pages[0].messages.length < COUNT);
    assert.equal(pages.at(-1).more, false);
    const seqs = pages.reverse().flatMap((p) => p.messages.map((m) => m.seq));
    assert.deepEqual(seqs, sent.map((m) => m.seq), 'every message once, in order');
    // `after` pages too (the oldest that fit).
    const first = await room.historyPage({ after: 0, limit: 200 });
    assert.equal(first.more, true);
    assert.equal(first.messages[0].seq, sent[0].seq);
    // A page the budget does not cut: more is false.
    const small = await room.historyPage({ limit: 2 });
    assert.deepEqual(small, { messages: sent.slice(-2), more: false });
  });

  it('room.history is unchanged: the messages of the same page, an array', T, async () => {
    const msgs = await room.history({ limit: 200 });
    assert.ok(Array.isArray(msgs));
    assert.deepEqual(msgs, (await room.historyPage({ limit: 200 })).messages);
  });

  it('chorus.roomMessagesPage (REST): the same pages and flags; roomMessages is unchanged', T, async () => {
    const pages = await walkBack((opts) => host.roomMessagesPage(room.id, opts));
    assert.ok(pages.length >= 2, `${pages.length} pages`);
    assert.equal(pages[0].more, true);
    assert.equal(pages.at(-1).more, false);
    const seqs = pages.reverse().flatMap((p) => p.messages.map((m) => m.seq));
    assert.deepEqual(seqs, sent.map((m) => m.seq));
    const msgs = await host.roomMessages(room.id, { limit: 200 });
    assert.deepEqual(msgs, (await host.roomMessagesPage(room.id, { limit: 200 })).messages);
    assert.deepEqual(await host.roomMessagesPage(room.id, { limit: 2 }), { messages: sent.slice(-2), more: false });
  });
});
