// activity.test.mjs: the room's activity panel (web/activity.js, seed 001's ActivityStream)
// against the real server: two people act in a room and the host's panel shows each
// action as a sentence, newest first, live; a reload shows the same rows from the store.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Env, roomOfTwo, sendMessage, until } from './lib/env.mjs';

/** The panel's sentences, newest first. */
const rows = (page) => page.getByTestId('activity').locator('.activity-text').allTextContents();

describe('web app: the activity panel', () => {
  let env;
  let A;
  let B;

  before(async () => {
    env = await Env.start({ serverArgs: ['--activity-edit-idle', '300ms'] });
    A = await env.newUser('Ada');
    B = await env.newUser('Bob');
  });

  after(async () => {
    await env?.close();
  });

  it('shows who joined and a burst of messages as they happen, and again after a reload', async () => {
    await roomOfTwo(env, A, B, 'Activity');
    await A.page.getByTestId('activity-panel').waitFor();
    await until(async () => (await rows(A.page)).join('|') === 'Bob joined|Ada joined', { message: 'the joins' });
    await sendMessage(B.page, 'one');
    await sendMessage(B.page, 'two');
    await until(async () => /^Bob sent 2 messages( for \d+ s)?$/.test((await rows(A.page))[0]), { message: 'the messages row' });
    assert.equal(await A.page.getByTestId('activity-older').isVisible(), false, 'everything fits one page');
    await env.screenshot(A, 'activity-panel.png');
    await A.page.reload();
    // The reload is a disconnect and a join of Ada's: two more rows, above the stored ones.
    await until(async () => /^Ada joined\|Ada went offline\|Bob sent 2 messages[^|]*\|Bob joined\|Ada joined$/
      .test((await rows(A.page)).join('|')), { message: 'the stored rows after a reload' });
    env.assertNoConsoleErrors();
  });
});
