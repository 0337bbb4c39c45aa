// polish.test.mjs: the finishing touches a new user expects (issue 15): validation that
// points at the field, a profile (name and color), deleting a room from the lobby when the
// room limit is reached, explained room modes, long names ellipsized with the full name
// reachable, one toast on delete, safe clickable links in chat, bursts of notices collapsed,
// a dismissible "room full" banner, caret labels out of the way of the code, and sign-out
// opening "Sign in".
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Env, CODE_RE, PASSWORD, httpStatusError, signUp, messageTexts, sendMessage, until, untilText } from './lib/env.mjs';

const focused = (page) => page.evaluate(() => document.activeElement?.dataset?.testid ?? null);
const LONG_NAME = `A very long room name ${'that keeps going '.repeat(5)}and ends here`.slice(0, 100);

describe('web app: polish', () => {
  let env;
  let A;
  let B;
  let code;

  before(async () => {
    env = await Env.start();
    A = await env.newUser('Ada');
    B = await env.newUser('Bob', { viewport: { width: 390, height: 844 } }); // a phone
  });

  after(async () => {
    await env?.close();
  });

  /** REST as A, with A's stored token. */
  const restA = (method, path, body) => A.page.evaluate(async ([m, p, b]) => {
    const { token } = JSON.parse(localStorage.getItem('chorus.session'));
    const r = await fetch(p, { method: m, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: b ? JSON.stringify(b) : undefined });
    return { status: r.status, json: await r.json() };
  }, [method, path, body]);

  it('validation points at the first field at fault', async () => {
    const p = A.page;
    await p.goto(env.url);
    await p.getByTestId('auth-tab-register').click();
    await p.getByTestId('auth-submit').click();
    await untilText(p.getByTestId('auth-error'), 'Choose a username');
    assert.equal(await focused(p), 'auth-username');
    assert.equal(await p.getByTestId('auth-username').getAttribute('aria-invalid'), 'true');
    await p.getByTestId('auth-username').fill('Ada');
    await p.getByTestId('auth-submit').click();
    await untilText(p.getByTestId('auth-error'), 'Enter your email');
    assert.equal(await focused(p), 'auth-email');
    await signUp(p, A);
    await p.getByTestId('lobby-view').waitFor();
    await p.getByTestId('create-submit').click();
    await untilText(p.getByTestId('create-error'), 'name');
    assert.equal(await focused(p), 'create-name');
  });

  it('the profile changes name and color', async () => {
    const p = A.page;
    await p.getByTestId('current-user').click();
    await p.getByTestId('dialog').waitFor();
    await p.getByTestId('profile-name').fill('Ada Lovelace');
    await p.locator('[data-testid="profile-color"][data-color="#3b82f6"]').click();
    await p.getByTestId('dialog-confirm').click();
    await untilText(p.getByTestId('current-user'), 'Ada Lovelace');
    const me = await restA('GET', '/api/auth/me');
    assert.equal(me.json.user.username, 'Ada Lovelace');
    assert.equal(me.json.user.color, '#3b82f6');
    await p.reload();
    await untilText(p.getByTestId('current-user'), 'Ada Lovelace');
    const c = await p.locator('[data-role="me-avatar"]').evaluate((n) => n.style.getPropertyValue('--c'));
    assert.equal(c, '#3b82f6');
  });

  it('at the room limit the error says where to delete one, and the lobby deletes it (one toast)', async () => {
    const p = A.page;
    for (let i = 0; i < 5; i++) {
      const r = await restA('POST', '/api/rooms/create', { name: i === 0 ? LONG_NAME : `Room ${i}`, maxParticipants: 2 });
      assert.equal(r.status, 201);
    }
    await p.getByTestId('refresh-rooms').click();
    await until(async () => (await p.locator('[data-testid="my-rooms"] [data-testid="room-item"]').count()) === 5, { message: 'five rooms listed' });
    // The long name is cut with an ellipsis; the full name is its title.
    const item = p.locator('[data-testid="my-rooms"] .room-item-name', { hasText: 'A very long' });
    assert.equal(await item.getAttribute('title'), LONG_NAME);
    assert.ok(await item.locator('.room-item-title').evaluate((n) => n.scrollWidth > n.clientWidth), 'ellipsized');

    await p.getByTestId('create-name').fill(`Sixth: ${LONG_NAME}`.slice(0, 100));
    await env.expectingConsoleErrors([A], httpStatusError(429), async () => {
      await p.getByTestId('create-submit').click();
      await untilText(p.getByTestId('create-error'), 'My rooms');
    });
    const row = p.locator('[data-testid="my-rooms"] [data-testid="room-item"]', { hasText: 'Room 1' });
    await row.getByTestId('room-delete').click();
    await p.getByTestId('dialog-confirm').click();
    await until(async () => (await p.locator('[data-testid="my-rooms"] [data-testid="room-item"]').count()) === 4, { message: 'four rooms left' });
    assert.equal(await p.getByTestId('toast').filter({ hasText: 'deleted' }).count(), 1);
    await p.getByTestId('create-capacity').fill('2');
    await p.getByTestId('create-submit').click();
    code = (await untilText(p.getByTestId('room-code'), CODE_RE)).trim();
  });

  it('room modes explain themselves', async () => {
    const p = A.page;
    await p.getByTestId('settings-button').click();
    await p.getByTestId('mode-select').selectOption('brainstorm');
    await untilText(p.getByTestId('mode-hint'), 'Every idea is welcome');
    await p.getByTestId('dialog-confirm').click();
    await untilText(p.getByTestId('room-mode'), 'brainstorm');
    assert.match(await p.getByTestId('room-mode').getAttribute('title'), /Every idea is welcome/);
  });

  it('the full banner can be dismissed; links in chat are clickable and safe; bursts of notices collapse', async () => {
    await B.page.goto(`${env.url}/?room=${code}`);
    await signUp(B.page, B);
    await untilText(B.page.getByTestId('room-code'), code);
    // On the phone the long name is ellipsized; a tap shows it whole.
    const h1 = B.page.getByTestId('room-name');
    await untilText(h1, 'Sixth');
    assert.equal(await h1.getAttribute('title'), `Sixth: ${LONG_NAME}`.slice(0, 100));
    assert.ok(await h1.evaluate((n) => n.scrollWidth > n.clientWidth), 'ellipsized');
    await h1.click();
    assert.ok(await h1.evaluate((n) => n.scrollWidth <= n.clientWidth), 'whole after a tap');
    await env.screenshot(B, 'polish-phone-long-name.png');
    await h1.click();
    await B.page.getByTestId('room-full-warning').waitFor();
    await B.page.getByTestId('room-full-dismiss').click();
    await B.page.getByTestId('room-full-warning').waitFor({ state: 'hidden' });
    await sendMessage(A.page, 'still hidden?');
    await until(async () => (await messageTexts(B.page)).includes('still hidden?'));
    assert.equal(await B.page.getByTestId('room-full-warning').isVisible(), false, 'stays dismissed');

    await sendMessage(A.page, 'see https://example.com/a?b=1, not javascript:alert(1) or <b>bold</b>');
    const link = B.page.getByTestId('message-link');
    await link.waitFor();
    assert.equal(await link.count(), 1);
    assert.equal(await link.getAttribute('href'), 'https://example.com/a?b=1');
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.match(await link.getAttribute('rel'), /noopener/);
    assert.equal(await B.page.locator('[data-testid="message-content"] b').count(), 0, 'markup stays text');

    // Three mode changes in a row: only the newest notice shows, with "2 more".
    for (const m of ['focus', 'chill', 'debate']) {
      await A.page.getByTestId('settings-button').click();
      await A.page.getByTestId('mode-select').selectOption(m);
      await A.page.getByTestId('dialog-confirm').click();
      await untilText(B.page.getByTestId('room-mode'), m);
    }
    const notices = B.page.locator('[data-testid="message"][data-type="system"]');
    await until(async () => (await messageTexts(B.page)).includes('Ada Lovelace set the room mode to debate'), { message: 'the last notice' });
    const visible = async () => (await notices.evaluateAll((ns) => ns.filter((n) => n.offsetParent !== null).map((n) => n.textContent)));
    const shown = await visible();
    const burst = (ts) => ts.filter((t) => /set the room mode to (focus|chill|debate)/.test(t));
    assert.deepEqual(burst(shown).length, 1, `one notice of the burst shows: ${shown}`);
    assert.match(burst(shown)[0], /debate/);
    await B.page.getByTestId('notices-more').click();
    assert.equal(burst(await visible()).length, 3, 'unfolded');
  });

  it('caret name labels get out of the way, and come back on hovering the line', async () => {
    await A.page.getByTestId('tab-editor').click();
    await B.page.getByTestId('tab-editor').click();
    await A.page.getByTestId('editor-content').click();
    await A.page.keyboard.type('const x = 1;');
    const label = B.page.getByTestId('remote-caret-label');
    await untilText(label, 'Ada Lovelace');
    const opacity = () => label.evaluate((n) => getComputedStyle(n).opacity);
    await until(async () => (await opacity()) === '0', { message: 'the label fades out' });
    await B.page.locator('.cm-line').first().hover();
    await until(async () => (await opacity()) === '1', { message: 'the label on hover' });
  });

  it('deleting the room from its settings says so once', async () => {
    await A.page.getByTestId('settings-button').click();
    await A.page.getByTestId('delete-room').click();
    await untilText(A.page.getByTestId('dialog-title'), 'Delete');
    await A.page.getByTestId('dialog-confirm').click();
    await A.page.getByTestId('lobby-view').waitFor();
    await untilText(A.page.getByTestId('toasts'), 'was deleted');
    // After the answer the room's events are unsubscribed: no second toast can follow.
    assert.equal(await A.page.getByTestId('toast').filter({ hasText: 'deleted' }).count(), 1);
    await untilText(B.page.getByTestId('toasts'), 'This room was deleted');
  });

  it('signing out opens "Sign in"', async () => {
    await A.page.getByTestId('signout').click();
    await A.page.getByTestId('auth-view').waitFor();
    await untilText(A.page.getByTestId('auth-submit'), 'Sign in');
    assert.equal(await A.page.getByTestId('auth-tab-login').getAttribute('aria-selected'), 'true');
    await A.page.getByTestId('auth-email').fill(A.email);
    await A.page.getByTestId('auth-password').fill(PASSWORD);
    await A.page.getByTestId('auth-submit').click();
    await A.page.getByTestId('lobby-view').waitFor();
  });

  it('no console errors on any page (but the expected ones)', () => {
    env.assertNoConsoleErrors();
  });
});
