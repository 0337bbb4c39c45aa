// room.test.mjs: two (then three) people in the web app against the real server: sign-up,
// create and join a room, participants, messages, typing, live cursors, the full-room
// message, host settings, a server killed and restarted in place, leave and kick.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Env, CODE_RE, CONNECTION_ERRORS, signUp, participants, messageTexts, sendMessage, until, untilText } from './lib/env.mjs';

describe('web app: a room with two people', () => {
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

  it('A signs up and creates a room (capacity validated)', async () => {
    const p = A.page;
    await p.goto(env.url);
    await signUp(p, A);
    await p.getByTestId('lobby-view').waitFor();
    assert.equal(await p.getByTestId('current-user').textContent().then((t) => t.includes('Ada')), true);
    await p.getByTestId('my-rooms-empty').waitFor();

    await p.getByTestId('create-submit').click();
    await untilText(p.getByTestId('create-error'), /name/i);
    await p.getByTestId('create-name').fill('Design review');
    for (const bad of ['0', '51', '2.5']) {
      await p.getByTestId('create-capacity').fill(bad);
      await p.getByTestId('create-submit').click();
      await untilText(p.getByTestId('create-error'), /Capacity/);
    }
    await p.getByTestId('create-capacity').fill('2');
    await p.getByTestId('create-submit').click();

    await p.getByTestId('room-view').waitFor();
    code = (await untilText(p.getByTestId('room-code'), CODE_RE)).trim();
    assert.match(code, CODE_RE);
    assert.equal(new URL(p.url()).searchParams.get('room'), code);
    await untilText(p.getByTestId('room-name'), 'Design review');
    await untilText(p.getByTestId('participant-count'), '1/2');
    await until(async () => (await p.getByTestId('connection-status').getAttribute('data-state')) === 'open');
    assert.deepEqual(await participants(p), [{ name: 'Ada', online: true, you: true, host: true }]);
    assert.equal(await p.getByTestId('settings-button').isVisible(), true, 'the host has settings');
  });

  it('B signs up and joins by code (validated, case-insensitive); both see each other', async () => {
    const p = B.page;
    await p.goto(env.url);
    await signUp(p, B);
    await p.getByTestId('lobby-view').waitFor();

    await p.getByTestId('join-code').fill('abc');
    await p.getByTestId('join-submit').click();
    await untilText(p.getByTestId('join-error'), /6 characters/);
    await p.getByTestId('join-code').fill('0OI1AA');
    await p.getByTestId('join-submit').click();
    await untilText(p.getByTestId('join-error'), /valid room code/);

    await p.getByTestId('join-code').fill(code.toLowerCase());
    assert.equal(await p.getByTestId('join-code').inputValue(), code, 'the code is upper-cased as typed');
    await p.getByTestId('join-submit').click();
    await p.getByTestId('room-view').waitFor();
    await untilText(p.getByTestId('room-code'), code);
    await untilText(p.getByTestId('participant-count'), '2/2');
    assert.equal(await p.getByTestId('settings-button').isVisible(), false, 'members have no settings');

    await until(async () => JSON.stringify(await participants(B.page)) === JSON.stringify([
      { name: 'Ada', online: true, you: false, host: true },
      { name: 'Bob', online: true, you: true, host: false },
    ]), { message: "B's participants list" });
    await until(async () => JSON.stringify(await participants(A.page)) === JSON.stringify([
      { name: 'Ada', online: true, you: true, host: true },
      { name: 'Bob', online: true, you: false, host: false },
    ]), { message: "A's participants list" });
    await untilText(A.page.getByTestId('participant-count'), '2/2');
    // 2/2: the full-room warning on both pages.
    await A.page.getByTestId('room-full-warning').waitFor();
    await B.page.getByTestId('room-full-warning').waitFor();
  });

  it('messages typed on each page appear on the other, with author and type', async () => {
    await sendMessage(A.page, 'Hello from Ada');
    await until(async () => (await messageTexts(B.page)).includes('Hello from Ada'), { message: 'Ada’s message on B' });
    await sendMessage(B.page, 'Hi Ada, Bob here');
    await until(async () => (await messageTexts(A.page)).includes('Hi Ada, Bob here'), { message: 'Bob’s message on A' });
    assert.equal(await A.page.getByTestId('message-input').inputValue(), '', 'Enter sent and cleared the input');

    const onB = B.page.getByTestId('message').filter({ hasText: 'Hello from Ada' });
    assert.equal(await onB.getAttribute('data-type'), 'user_text');
    assert.equal((await onB.getByTestId('message-author').textContent()).trim(), 'Ada');
    const mine = A.page.getByTestId('message').filter({ hasText: 'Hello from Ada' });
    assert.equal((await mine.getByTestId('message-author').textContent()).trim(), 'You');
    // The server's join messages are shown as system messages.
    assert.ok(await A.page.locator('[data-testid="message"][data-type="system"]').count() >= 1, 'system messages shown');
    // Structured: the page renders Bob's name (from its participant list) in a <bdi>.
    const joinedOnA = A.page.locator('[data-testid="message"][data-type="system"]').filter({ hasText: 'joined' }).first();
    assert.equal((await joinedOnA.getByTestId('message-content').textContent()).trim(), 'Bob joined');
    assert.equal((await joinedOnA.locator('bdi[data-testid="system-name"]').textContent()).trim(), 'Bob');
    // Each message exactly once (reply and event are deduplicated).
    const texts = await messageTexts(A.page);
    assert.equal(texts.filter((t) => t === 'Hello from Ada').length, 1);
  });

  it('typing shows “… is typing” and A’s cursor moves on B’s page in A’s name', async () => {
    // B types without sending: A sees the typing indicator.
    await B.page.getByTestId('message-input').click();
    await B.page.getByTestId('message-input').pressSequentially('thinking about it', { delay: 10 });
    await untilText(A.page.getByTestId('typing-indicator'), 'Bob is typing');

    // A's mouse over the room area: B sees a cursor labelled Ada at the same fractions.
    const area = await A.page.getByTestId('room-area').boundingBox();
    await A.page.mouse.move(area.x + area.width * 0.2, area.y + area.height * 0.2);
    await A.page.mouse.move(area.x + area.width * 0.3, area.y + area.height * 0.4, { steps: 8 });
    const cursor = B.page.getByTestId('cursor').filter({ hasText: 'Ada' });
    await cursor.waitFor({ state: 'visible' });
    assert.equal((await cursor.getByTestId('cursor-label').textContent()).trim(), 'Ada');
    await until(async () => {
      const pos = await cursor.evaluate((el) => ({ x: parseFloat(el.style.left), y: parseFloat(el.style.top) }));
      return Math.abs(pos.x - 30) < 1.5 && Math.abs(pos.y - 40) < 1.5;
    }, { message: 'the cursor at 30% / 40%' });
    // The cursor's color is Ada's participant color.
    const colors = await B.page.evaluate(() => ({
      cursor: document.querySelector('[data-testid="cursor"]').style.getPropertyValue('--c'),
      participant: [...document.querySelectorAll('[data-testid="participant"]')].find((e) => e.textContent.includes('Ada')).style.getPropertyValue('--c'),
    }));
    assert.equal(colors.cursor, colors.participant);
    // No cursor of one's own.
    assert.equal(await A.page.getByTestId('cursor').filter({ hasText: 'Ada' }).count(), 0);

    await env.screenshot(A, 'room-host-desktop.png');
    await env.screenshot(B, 'room-member-desktop.png');

    // Sending ends typing.
    await B.page.getByTestId('message-input').press('Enter');
    await until(async () => (await messageTexts(A.page)).includes('thinking about it'));
    await until(async () => !(await A.page.getByTestId('typing-indicator').textContent()).includes('typing'), { message: 'typing cleared' });

    // Phone width: everything fits, no horizontal scrolling.
    await B.page.setViewportSize({ width: 375, height: 812 });
    await A.page.mouse.move(area.x + area.width * 0.6, area.y + area.height * 0.5, { steps: 4 });
    await until(async () => Math.abs(parseFloat(await cursor.evaluate((el) => el.style.left)) - 60) < 1.5);
    const overflow = await B.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal overflow at 375 px (${overflow})`);
    await env.screenshot(B, 'room-member-phone.png');
    await B.page.setViewportSize({ width: 1280, height: 800 });

    // Without movement the cursor hides itself after ~5 s.
    await until(async () => (await cursor.getAttribute('data-hidden')) === 'true', { timeout: 8000, message: 'the idle cursor to hide' });
    await cursor.waitFor({ state: 'hidden' });
  });

  it('the host changes the mode in settings; the member sees it', async () => {
    await A.page.getByTestId('settings-button').click();
    await A.page.getByTestId('dialog').waitFor();
    await A.page.getByTestId('mode-select').selectOption('focus');
    await A.page.getByTestId('dialog-confirm').click();
    await untilText(B.page.getByTestId('room-mode'), 'focus');
    await untilText(A.page.getByTestId('room-mode'), 'focus');
  });

  it('the host rotates the room code: both pages show the new code, in the address bar too', async () => {
    const fresh = await A.page.evaluate(async (old) => {
      const { token } = JSON.parse(localStorage.getItem('chorus.session'));
      const auth = { authorization: `Bearer ${token}` };
      const room = (await (await fetch(`/api/rooms/code/${old}`, { headers: auth })).json()).room;
      const res = await fetch(`/api/rooms/${room.id}/code`, { method: 'POST', headers: auth });
      return (await res.json()).room.roomCode;
    }, code);
    assert.match(fresh, CODE_RE);
    assert.notEqual(fresh, code);
    for (const u of [A, B]) {
      await untilText(u.page.getByTestId('room-code'), fresh);
      assert.equal(new URL(u.page.url()).searchParams.get('room'), fresh);
    }
    code = fresh; // the share link below carries it
  });

  it('a third person opening the share link of the full room is told it is full', async () => {
    await A.page.getByTestId('share-link').click();
    await untilText(A.page.getByTestId('share-link'), 'Copied');
    const link = await A.page.evaluate(() => navigator.clipboard.readText());
    assert.equal(link, `${env.url}/?room=${code}`);
    await A.page.getByTestId('copy-code').click();
    await until(async () => (await A.page.evaluate(() => navigator.clipboard.readText())) === code, { message: 'the code in the clipboard' });

    await C.page.goto(link);
    await untilText(C.page.getByTestId('auth-pending-room'), code);
    await signUp(C.page, C);
    await C.page.getByTestId('lobby-view').waitFor();
    await untilText(C.page.getByTestId('join-error'), 'This room is full');
    assert.equal(new URL(C.page.url()).search, '', 'back on the lobby URL');
    await env.screenshot(C, 'lobby-room-full.png');
  });

  it('the server is killed and restarted: both pages show the banner, reconnect and keep working', async () => {
    await env.expectingConsoleErrors([A, B], CONNECTION_ERRORS, async () => {
      await env.killServer();
      for (const u of [A, B]) {
        await u.page.getByTestId('reconnect-banner').waitFor({ state: 'visible' });
        await until(async () => (await u.page.getByTestId('connection-status').getAttribute('data-state')) === 'reconnecting');
      }
      await env.screenshot(A, 'room-reconnecting.png');
      await env.restartServer();
      for (const u of [A, B]) {
        await u.page.getByTestId('reconnect-banner').waitFor({ state: 'hidden', timeout: 15000 });
        await until(async () => (await u.page.getByTestId('connection-status').getAttribute('data-state')) === 'open');
      }
    });

    await sendMessage(A.page, 'Back after the restart');
    await until(async () => (await messageTexts(B.page)).includes('Back after the restart'), { message: 'message after restart on B' });
    await sendMessage(B.page, 'Me too');
    await until(async () => (await messageTexts(A.page)).includes('Me too'), { message: 'message after restart on A' });
    await until(async () => JSON.stringify((await participants(A.page)).map((x) => [x.name, x.online])) === '[["Ada",true],["Bob",true]]',
      { message: 'both online again on A' });
    // History survived: the first messages are still there exactly once.
    assert.equal((await messageTexts(B.page)).filter((t) => t === 'Hello from Ada').length, 1);
  });

  it('B leaves through the confirmation dialog and disappears from A’s list', async () => {
    await B.page.getByTestId('leave-button').click();
    await B.page.getByTestId('dialog').waitFor();
    await B.page.getByTestId('dialog-cancel').click();
    await B.page.getByTestId('dialog').waitFor({ state: 'hidden' });
    assert.equal(await B.page.getByTestId('room-view').isVisible(), true, 'cancel keeps B in the room');

    await B.page.getByTestId('leave-button').click();
    await untilText(B.page.getByTestId('dialog-title'), 'Leave');
    await B.page.getByTestId('dialog-confirm').click();
    await B.page.getByTestId('lobby-view').waitFor();
    await until(async () => JSON.stringify(await participants(A.page)) === JSON.stringify([{ name: 'Ada', online: true, you: true, host: true }]),
      { message: 'Bob gone from A’s list' });
    await untilText(A.page.getByTestId('participant-count'), '1/2');
    await A.page.getByTestId('room-full-warning').waitFor({ state: 'hidden' });
    // B's lobby lists the rooms B is in: not this one any more.
    await until(async () => (await B.page.locator(`[data-testid="my-rooms"] [data-code="${code}"]`).count()) === 0);
  });

  it('the host removes and bans a member, who cannot come back', async () => {
    await C.page.getByTestId('join-code').fill(code);
    await C.page.getByTestId('join-submit').click();
    await C.page.getByTestId('room-view').waitFor();
    const row = A.page.getByTestId('participant').filter({ hasText: 'Cyd' });
    await row.waitFor();
    await row.hover();
    await row.getByTestId('kick-button').click();
    await A.page.getByTestId('kick-ban').check();
    await A.page.getByTestId('dialog-confirm').click();

    await C.page.getByTestId('lobby-view').waitFor();
    await untilText(C.page.getByTestId('toasts'), 'banned');
    await row.waitFor({ state: 'detached' });
    await C.page.getByTestId('join-code').fill(code);
    await C.page.getByTestId('join-submit').click();
    await untilText(C.page.getByTestId('join-error'), 'You are banned from this room');
  });

  it('no console errors on any page (but the expected connection errors during the restart)', () => {
    env.assertNoConsoleErrors();
  });
});
