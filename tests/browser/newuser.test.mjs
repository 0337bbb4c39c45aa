// newuser.test.mjs: what a new user tripped on in the web app (issue 15): the words of a
// mode change, long chat messages (a counter, never cut), an outage (presence greys out,
// chat messages are queued and sent once in order, the editor opened offline recovers by
// itself), the remote caret in an empty document, the back arrow keeping a member's seat,
// and a join error that does not outlive its attempt.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Env, CODE_RE, CONNECTION_ERRORS, roomOfTwo, signUp, participants, messageTexts, sendMessage, until, untilText } from './lib/env.mjs';

describe('web app: what a new user tripped on', () => {
  let env;
  let A;
  let B;
  let C;
  let code;

  before(async () => {
    env = await Env.start();
    A = await env.newUser('Ada');
    B = await env.newUser('Bob');
    C = await env.newUser('Cyd');
  });

  after(async () => {
    await env?.close();
  });

  const connState = (u) => u.page.getByTestId('connection-status').getAttribute('data-state');

  it('A creates a room, B joins it', async () => {
    code = await roomOfTwo(env, A, B, 'Retro', { capacity: 5 });
    await untilText(A.page.getByTestId('participant-count'), '2/5');
  });

  it('a mode change is posted in words: who set which mode, no version number', async () => {
    await A.page.getByTestId('settings-button').click();
    await A.page.getByTestId('mode-select').selectOption('focus');
    await A.page.getByTestId('dialog-confirm').click();
    await until(async () => (await messageTexts(B.page)).includes('Ada set the room mode to focus'), { message: 'the mode message on B' });
    assert.ok((await messageTexts(B.page)).every((t) => !/version/.test(t)), 'no internal numbers');
  });

  it('a long message shows a counter and is sent whole; one over the limit is refused, never cut', async () => {
    const input = A.page.getByTestId('message-input');
    const counter = A.page.getByTestId('message-count');
    const long = `${'a'.repeat(4999)}Z`;
    await input.fill(long);
    assert.equal((await input.inputValue()).length, 5000, 'the box keeps all 5,000 characters');
    assert.equal(await counter.isVisible(), true);
    assert.equal((await counter.textContent()).trim(), '5,000 / 16,384');
    await input.press('Enter');
    await until(async () => (await messageTexts(B.page)).includes(long), { message: 'the 5,000-character message on B' });

    const tooLong = 'b'.repeat(17000);
    await input.fill(tooLong);
    assert.equal(await counter.getAttribute('data-over'), 'true');
    assert.match(await counter.textContent(), /17,000 \/ 16,384: 616 too many/);
    assert.equal(await A.page.getByTestId('send-button').isDisabled(), true);
    await input.press('Enter');
    await untilText(A.page.getByTestId('toasts'), 'Too long to send');
    assert.equal((await input.inputValue()).length, 17000, 'the text stays in the box, whole');
    await sendMessage(A.page, 'short again');
    await until(async () => (await messageTexts(B.page)).includes('short again'), { message: 'the next message on B' });
    assert.equal((await messageTexts(B.page)).filter((t) => t.startsWith('bbb')).length, 0, 'nothing of the long one was sent');
  });

  it('during an outage presence greys out, chat is queued (sent once, in order) and the editor opened offline recovers', async () => {
    await env.expectingConsoleErrors([A, B], CONNECTION_ERRORS, async () => {
      await env.killServer();
      await until(async () => (await connState(B)) === 'reconnecting', { message: 'B reconnecting' });
      await until(async () => (await participants(B.page)).every((p) => !p.online), { message: 'no one shown online on B' });

      await sendMessage(B.page, 'queued one');
      await sendMessage(B.page, 'queued two');
      const pending = B.page.locator('[data-testid="message"][data-pending="true"]');
      await until(async () => (await pending.count()) === 2, { message: 'two pending messages' });
      assert.equal(await B.page.getByTestId('message-input').inputValue(), '', 'the box is free for more');

      await B.page.getByTestId('tab-editor').click();
      await until(async () => (await B.page.getByTestId('editor-status').getAttribute('data-state')) === 'offline',
        { message: 'the editor says offline' });
      await env.screenshot(B, 'newuser-outage.png');

      await env.restartServer();
      for (const u of [A, B]) await until(async () => (await connState(u)) === 'open', { timeout: 15000, message: `${u.name} back` });
      // The editor opens by itself (no tab switch).
      await until(async () => (await B.page.getByTestId('editor-status').getAttribute('data-state')) === 'saved',
        { message: 'the editor recovers' });
      await B.page.getByTestId('tab-chat').click();
      await until(async () => (await pending.count()) === 0, { message: 'nothing pending on B' });
    });
    await until(async () => {
      const t = await messageTexts(A.page);
      return t.filter((x) => x.startsWith('queued')).join('|') === 'queued one|queued two';
    }, { message: 'the queued messages on A, once each, in order' });
    const onB = await messageTexts(B.page);
    assert.deepEqual(onB.filter((x) => x.startsWith('queued')), ['queued one', 'queued two']);
    await until(async () => (await participants(B.page)).every((p) => p.online), { message: 'both online again on B' });
  });

  it("in an empty document the other's caret is drawn at 0, before the placeholder", async () => {
    await A.page.getByTestId('tab-editor').click();
    await B.page.getByTestId('tab-editor').click();
    await A.page.getByTestId('editor-content').click();
    const caret = B.page.getByTestId('remote-caret');
    await caret.waitFor();
    const cb = await caret.boundingBox();
    const pb = await B.page.locator('.cm-placeholder').boundingBox();
    assert.ok(cb.x <= pb.x + 1, `caret at x=${cb.x}, placeholder from x=${pb.x}`);
    await env.screenshot(B, 'newuser-empty-doc-caret.png');
    await A.page.getByTestId('tab-chat').click();
    await B.page.getByTestId('tab-chat').click();
  });

  it('the back arrow takes a member to the lobby and keeps the seat; Leave is separate', async () => {
    await B.page.getByTestId('back-to-lobby').click();
    await B.page.getByTestId('lobby-view').waitFor();
    assert.equal(await B.page.getByTestId('dialog').isVisible(), false, 'no leave dialog');
    await until(async () => JSON.stringify((await participants(A.page)).map((p) => [p.name, p.online])) === '[["Ada",true],["Bob",false]]',
      { message: 'Bob still a participant (offline) on A' });
    await untilText(A.page.getByTestId('participant-count'), '2/5');
    // Back in through My rooms.
    await B.page.locator(`[data-testid="my-rooms"] [data-code="${code}"] [data-testid="room-open"]`).click();
    await untilText(B.page.getByTestId('room-code'), code);
    await until(async () => (await participants(A.page)).every((p) => p.online), { message: 'Bob online again' });
  });

  it('a join error does not stay under Join-by-code after visiting another room', async () => {
    await C.page.goto(`${env.url}/?room=${code}`);
    await signUp(C.page, C);
    await untilText(C.page.getByTestId('room-code'), code);
    const row = A.page.getByTestId('participant').filter({ hasText: 'Cyd' });
    await row.hover();
    await row.getByTestId('kick-button').click();
    await A.page.getByTestId('kick-ban').check();
    await A.page.getByTestId('dialog-confirm').click();
    await C.page.getByTestId('lobby-view').waitFor();
    await env.expectingConsoleErrors([C], /.*/, async () => {
      await C.page.getByTestId('join-code').fill(code);
      await C.page.getByTestId('join-submit').click();
      await untilText(C.page.getByTestId('join-error'), 'You are banned from this room');
    });
    // C visits a room of their own, then comes back.
    await C.page.getByTestId('create-name').fill('Elsewhere');
    await C.page.getByTestId('create-submit').click();
    await untilText(C.page.getByTestId('room-code'), CODE_RE);
    await C.page.getByTestId('back-to-lobby').click();
    await C.page.getByTestId('lobby-view').waitFor();
    assert.equal(await C.page.getByTestId('join-error').isVisible(), false, 'the old error is gone');
  });

  it('no console errors on any page (but the expected ones)', () => {
    env.assertNoConsoleErrors();
  });
});
