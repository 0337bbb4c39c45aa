// lobby.test.mjs: sign-up / sign-in / sign-out, the session kept across reloads, the
// lobby's lists, joining by link before signing in, unknown codes, host exit and delete,
// and the phone layout of the sign-in page and the lobby.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Env, PASSWORD, CODE_RE, httpStatusError, participants, signUp, until, untilText } from './lib/env.mjs';

describe('web app: accounts and the lobby', () => {
  let env;
  let D;
  let E;
  let code;

  before(async () => {
    env = await Env.start();
    D = await env.newUser('Dee');
    E = await env.newUser('Eve', { viewport: { width: 375, height: 812 } });
  });

  after(async () => {
    await env?.close();
  });

  it('sign-up validates, refuses a taken email, and keeps the session across a reload', async () => {
    const p = D.page;
    await p.goto(env.url);
    await p.getByTestId('auth-tab-register').click();
    await p.getByTestId('auth-username').fill('Dee');
    await p.getByTestId('auth-email').fill('not-an-email');
    await p.getByTestId('auth-password').fill(PASSWORD);
    await p.getByTestId('auth-submit').click();
    await untilText(p.getByTestId('auth-error'), /valid email/);
    await p.getByTestId('auth-email').fill(D.email);
    await p.getByTestId('auth-password').fill('short');
    await p.getByTestId('auth-submit').click();
    await untilText(p.getByTestId('auth-error'), /at least 8/);

    await signUp(p, D);
    await p.getByTestId('lobby-view').waitFor();
    await untilText(p.getByTestId('current-user'), 'Dee');
    await p.reload();
    await p.getByTestId('lobby-view').waitFor();
    await untilText(p.getByTestId('current-user'), 'Dee');

    // The same email again (from E's browser): the server's email_taken, in words.
    await E.page.goto(env.url);
    await env.expectingConsoleErrors([E], httpStatusError(409), async () => {
      await signUp(E.page, { name: 'Eve', email: D.email });
      await untilText(E.page.getByTestId('auth-error'), /already has an account/);
    });
    await env.screenshot(E, 'auth-phone.png');
  });

  it('sign out, a wrong password, then sign in again', async () => {
    const p = D.page;
    const { token } = JSON.parse(await p.evaluate(() => localStorage.getItem('chorus.session')));
    await p.getByTestId('signout').click();
    await p.getByTestId('auth-view').waitFor();
    assert.equal(await p.evaluate(() => localStorage.getItem('chorus.session')), null, 'the token is gone');
    // Sign-out revoked it on the server too (POST /api/auth/logout).
    for (let i = 0; ; i++) {
      const res = await fetch(new URL('/api/auth/me', env.url), { headers: { Authorization: `Bearer ${token}` } });
      if (res.status === 401) break;
      assert.ok(i < 50, `the token still works after sign-out (${res.status})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await p.getByTestId('auth-tab-login').click();
    assert.equal(await p.getByTestId('auth-username').isVisible(), false, 'no username to sign in');
    await p.getByTestId('auth-email').fill(D.email.toUpperCase());
    await p.getByTestId('auth-password').fill('wrong password');
    await env.expectingConsoleErrors([D], httpStatusError(401), async () => {
      await p.getByTestId('auth-submit').click();
      await untilText(p.getByTestId('auth-error'), 'Wrong email or password');
    });
    await p.getByTestId('auth-password').fill(PASSWORD);
    await p.getByTestId('auth-submit').click();
    await p.getByTestId('lobby-view').waitFor();
  });

  it('a public room shows in my rooms and in public rooms; an unknown code is refused', async () => {
    const p = D.page;
    await p.getByTestId('create-name').fill('Open studio');
    await p.getByTestId('create-capacity').fill('10');
    await p.getByTestId('create-public').check();
    await p.getByTestId('create-submit').click();
    await p.getByTestId('room-view').waitFor();
    code = (await untilText(p.getByTestId('room-code'), CODE_RE)).trim();
    await untilText(p.getByTestId('room-visibility'), 'Public');

    // The host exits (keeps the seat) through the dialog.
    await p.getByTestId('leave-button').click();
    await untilText(p.getByTestId('dialog-title'), 'Exit');
    await p.getByTestId('dialog-confirm').click();
    await p.getByTestId('lobby-view').waitFor();
    const mine = p.locator(`[data-testid="my-rooms"] [data-code="${code}"]`);
    await mine.waitFor();
    await untilText(mine, 'Open studio');
    await mine.getByTestId('room-copy-code').click();
    await until(async () => (await p.evaluate(() => navigator.clipboard.readText())) === code);
    await p.locator(`[data-testid="public-rooms"] [data-code="${code}"]`).waitFor();

    // E signs up for real and finds it among the public rooms.
    E.email = E.email.replace('@', '+2@');
    await E.page.reload();
    await signUp(E.page, E);
    await E.page.getByTestId('lobby-view').waitFor();
    await E.page.locator(`[data-testid="public-rooms"] [data-code="${code}"]`).waitFor();
    const overflow = await E.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal overflow at 375 px (${overflow})`);
    await env.screenshot(E, 'lobby-phone.png');
    await env.screenshot(D, 'lobby-desktop.png');

    const unknown = code === 'ZZZZZZ' ? 'YYYYYY' : 'ZZZZZZ';
    await E.page.getByTestId('join-code').fill(unknown);
    await E.page.getByTestId('join-submit').click();
    await untilText(E.page.getByTestId('join-error'), 'No room with that code');
  });

  it('a room link opened signed-out lands in the room after signing in; the host deletes the room', async () => {
    await E.page.getByTestId('signout').click();
    await E.page.goto(`${env.url}/?room=${code.toLowerCase()}`);
    await untilText(E.page.getByTestId('auth-pending-room'), code);
    await E.page.getByTestId('auth-tab-login').click();
    await E.page.getByTestId('auth-email').fill(E.email);
    await E.page.getByTestId('auth-password').fill(PASSWORD);
    await E.page.getByTestId('auth-submit').click();
    await E.page.getByTestId('room-view').waitFor();
    await untilText(E.page.getByTestId('room-name'), 'Open studio');

    // The host comes back from the lobby list and deletes the room from Settings.
    await D.page.locator(`[data-testid="my-rooms"] [data-code="${code}"]`).getByTestId('room-open').click();
    await D.page.getByTestId('room-view').waitFor();
    await until(async () => (await D.page.getByTestId('participant').count()) === 2);
    await D.page.getByTestId('settings-button').click();
    await D.page.getByTestId('delete-room').click();
    await untilText(D.page.getByTestId('dialog-title'), 'Delete');
    await D.page.getByTestId('dialog-confirm').click();
    await D.page.getByTestId('lobby-view').waitFor();
    await E.page.getByTestId('lobby-view').waitFor();
    await untilText(E.page.getByTestId('toasts'), 'deleted');
    await until(async () => (await D.page.locator(`[data-testid="my-rooms"] [data-code="${code}"]`).count()) === 0);
  });

  it('no console errors on any page', () => {
    env.assertNoConsoleErrors();
  });
});

describe('web app: two accounts with the same username in one room', () => {
  let env;
  let S1;
  let S2;

  before(async () => {
    env = await Env.start();
    S1 = await env.newUser('Sam');
    S2 = await env.newUser('Sam');
  });

  after(async () => {
    await env?.close();
  });

  it('the second joins as "Sam 2" (the server refuses a taken displayName with name_taken)', async () => {
    await S1.page.goto(env.url);
    await signUp(S1.page, S1);
    await S1.page.getByTestId('lobby-view').waitFor();
    await S1.page.getByTestId('create-name').fill('Namesakes');
    await S1.page.getByTestId('create-submit').click();
    await S1.page.getByTestId('room-view').waitFor();
    const code = (await untilText(S1.page.getByTestId('room-code'), CODE_RE)).trim();

    await S2.page.goto(env.url);
    await signUp(S2.page, S2);
    await S2.page.getByTestId('lobby-view').waitFor();
    await S2.page.getByTestId('join-code').fill(code);
    await S2.page.getByTestId('join-submit').click();
    await S2.page.getByTestId('room-view').waitFor();
    const names = async (p) => (await participants(p)).map((x) => x.name).sort().join(',');
    await until(async () => (await names(S1.page)) === 'Sam,Sam 2', { message: 'both listed on the host page' });
    await until(async () => (await names(S2.page)) === 'Sam,Sam 2', { message: 'both listed on the joiner page' });
  });

  it('no console errors on any page', () => {
    env.assertNoConsoleErrors();
  });
});
