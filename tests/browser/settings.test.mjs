// settings.test.mjs: the host's room settings in the web app (issue 15): rename the room,
// change its capacity (not below the people holding a seat) and make it public, seen live
// by a member; the Banned list in the settings with an Unban button, after which the
// banned user joins again.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Env, roomOfTwo, until, untilText } from './lib/env.mjs';

describe('web app: room settings and bans', () => {
  let env;
  let A;
  let B;
  let code;

  before(async () => {
    env = await Env.start();
    A = await env.newUser('Ada');
    B = await env.newUser('Bob');
  });

  after(async () => {
    await env?.close();
  });

  it('A creates a room, B joins it', async () => {
    code = await roomOfTwo(env, A, B, 'Standup', { capacity: 5 });
    await untilText(A.page.getByTestId('participant-count'), '2/5');
  });

  it('the host renames the room, changes its capacity and makes it public; B sees it at once', async () => {
    const p = A.page;
    await p.getByTestId('settings-button').click();
    await p.getByTestId('dialog').waitFor();
    assert.equal(await p.getByTestId('settings-name').inputValue(), 'Standup');
    assert.equal(await p.getByTestId('settings-capacity').inputValue(), '5');
    assert.equal(await p.getByTestId('settings-public').isChecked(), false);
    await untilText(p.getByTestId('bans-empty'), 'Nobody is banned');
    await p.getByTestId('settings-name').fill('Standup (Tuesday)');
    // Two people hold a seat: a capacity of 1 is refused in the dialog, which stays open.
    await p.getByTestId('settings-capacity').fill('1');
    await p.getByTestId('dialog-confirm').click();
    await untilText(p.getByTestId('settings-error'), '2 people hold a seat');
    assert.equal(await p.getByTestId('dialog').isVisible(), true);
    await p.getByTestId('settings-capacity').fill('3');
    await p.getByTestId('settings-public').check();
    await p.getByTestId('dialog-confirm').click();
    await p.getByTestId('dialog').waitFor({ state: 'hidden' });
    for (const page of [A.page, B.page]) {
      await untilText(page.getByTestId('room-name'), 'Standup (Tuesday)');
      await untilText(page.getByTestId('participant-count'), '2/3');
      await untilText(page.getByTestId('room-visibility'), 'Public');
    }
    assert.equal(await B.page.title(), 'Standup (Tuesday) · Chorus');
    // The settings open with the new values.
    await p.getByTestId('settings-button').click();
    assert.equal(await p.getByTestId('settings-name').inputValue(), 'Standup (Tuesday)');
    assert.equal(await p.getByTestId('settings-capacity').inputValue(), '3');
    assert.equal(await p.getByTestId('settings-public').isChecked(), true);
    await p.getByTestId('dialog-cancel').click();
  });

  it('a banned user is listed under Banned; Unban lets them join again', async () => {
    const row = A.page.getByTestId('participant').filter({ hasText: 'Bob' });
    await row.hover();
    await row.getByTestId('kick-button').click();
    await A.page.getByTestId('kick-ban').check();
    await A.page.getByTestId('dialog-confirm').click();
    await B.page.getByTestId('lobby-view').waitFor();
    await untilText(A.page.getByTestId('participant-count'), '1/3');

    await A.page.getByTestId('settings-button').click();
    const ban = A.page.getByTestId('ban-row');
    await untilText(ban.getByTestId('ban-name'), 'Bob');
    assert.equal(await ban.count(), 1);
    await ban.getByTestId('unban-button').click();
    await untilText(A.page.getByTestId('bans-empty'), 'Nobody is banned');
    await A.page.getByTestId('dialog-cancel').click();

    await B.page.getByTestId('join-code').fill(code);
    await B.page.getByTestId('join-submit').click();
    await untilText(B.page.getByTestId('room-code'), code);
    await untilText(B.page.getByTestId('room-name'), 'Standup (Tuesday)');
    await until(async () => (await A.page.getByTestId('participant-count').textContent()).trim() === '2/3',
      { message: 'Bob back in the room' });
  });

  it('no console errors on any page', () => {
    env.assertNoConsoleErrors();
  });
});
