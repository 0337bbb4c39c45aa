// history.test.mjs: the room's history slider (web/history.js, issue 25) against the real
// server: Bob (the SDK in Node) changes the cosmos and the document in three steps; Ada's
// slider scrubs back and forth between those moments and her cosmos and editor show each,
// read-only; a live change while she looks back does not show until "Back to live".
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import { Chorus } from '../../clients/js/chorus.js';
import { Env, CODE_RE, PASSWORD, signUp, until, untilText } from './lib/env.mjs';

const entry = (text, pos) => ({ kind: 'entry', data: { pos, text, stage: 'final', final: true, size: 1 } });

/** Ada's cosmos as shown: [[id, target]] by id. */
const scene = (page) => page.evaluate(() => window.__cosmos.entities().map((e) => [e.id, e.target]).sort());
const historyText = (page) => page.getByTestId('history-editor-content').textContent();

describe('web app: the history slider', () => {
  let env;
  let A;
  let bob;

  before(async () => {
    env = await Env.start();
    A = await env.newUser('Ada');
  });

  after(async () => {
    bob?.close();
    await env?.close();
  });

  it('scrubs the cosmos and the editor to earlier moments and back to live', async () => {
    await A.page.goto(env.url);
    await signUp(A.page, A);
    await A.page.getByTestId('create-name').fill('Rewind');
    await A.page.getByTestId('create-submit').click();
    const code = (await untilText(A.page.getByTestId('room-code'), CODE_RE)).trim();
    bob = new Chorus({ url: env.url, WebSocket });
    await bob.register(`bob-${Date.now()}@example.com`, PASSWORD, 'Bob');
    await bob.connect();
    const room = await bob.join(code);
    const doc = await room.doc('main');

    // Three moments, each after Bob's changes were stored and before the next ones.
    const moments = [];
    const step = async (fn) => {
      await fn();
      await doc.whenSynced();
      const t = Date.now();
      moments.push(t);
      await until(() => Date.now() > t, { message: 'the next millisecond' });
    };
    await step(async () => {
      await room.entities.create({ id: 'e1', ...entry('one', [1, 0, 1]) });
      doc.insert(0, 'alpha');
    });
    await step(async () => {
      await room.entities.create({ id: 'e2', ...entry('two', [-2, 0, 3]) });
      await room.entities.update('e1', { pos: [2, 0, 2] });
      doc.insert(5, ' beta');
    });
    await step(async () => {
      await room.entities.delete('e1');
      doc.insert(10, ' gamma');
    });
    const want = [
      { scene: [['e1', [1, 0, 1]]], text: 'alpha' },
      { scene: [['e1', [2, 0, 2]], ['e2', [-2, 0, 3]]], text: 'alpha beta' },
      { scene: [['e2', [-2, 0, 3]]], text: 'alpha beta gamma' },
    ];

    // Ada opens the cosmos (so it is mounted) and the editor, then the history.
    await A.page.getByTestId('tab-cosmos').click();
    await until(() => A.page.evaluate(() => window.__cosmos?.ready === true), { message: 'the cosmos is ready' });
    await until(async () => JSON.stringify(await scene(A.page)) === JSON.stringify(want[2].scene), { message: 'the live cosmos' });
    await A.page.getByTestId('tab-editor').click();
    await A.page.getByTestId('history-toggle').click();
    await A.page.getByTestId('history-bar').waitFor();
    await until(async () => (await historyText(A.page).catch(() => '')) === want[2].text, { message: 'the history opens at now' });
    assert.equal(await A.page.getByTestId('history-editor-content').getAttribute('contenteditable'), 'false', 'read-only');

    const scrubTo = (t) => A.page.getByTestId('history-slider').evaluate((s, v) => {
      s.value = String(v);
      s.dispatchEvent(new Event('input', { bubbles: true }));
    }, t);
    for (const k of [0, 2, 1, 0, 2]) {
      await scrubTo(moments[k]);
      await until(async () => JSON.stringify(await scene(A.page)) === JSON.stringify(want[k].scene)
        && (await historyText(A.page)) === want[k].text, { message: `the moment after step ${k + 1}` });
    }
    await scrubTo(moments[0]);
    await until(async () => (await historyText(A.page)) === want[0].text, { message: 'back at the first moment' });
    await env.screenshot(A, 'history-slider.png');

    // A live change arrives while Ada looks back: her view stays at the moment.
    await room.entities.create({ id: 'e3', ...entry('three', [0, 0, -4]) });
    doc.insert(16, ' delta');
    await doc.whenSynced();
    await until(() => A.page.evaluate(() => window.chorusEditor?.doc.text === 'alpha beta gamma delta'), { message: 'the live document' });
    assert.deepEqual(await scene(A.page), want[0].scene);
    assert.equal(await historyText(A.page), want[0].text);

    // Back to live: the room as it is now, the read-only text gone.
    await A.page.getByTestId('history-live').click();
    await until(async () => JSON.stringify(await scene(A.page)) === JSON.stringify([['e2', [-2, 0, 3]], ['e3', [0, 0, -4]]]), { message: 'the live cosmos again' });
    assert.equal(await A.page.getByTestId('history-editor').isVisible(), false);
    assert.equal(await A.page.getByTestId('history-bar').isVisible(), false);
    assert.equal(await A.page.evaluate(() => window.chorusEditor.view.state.doc.toString()), 'alpha beta gamma delta');
    env.assertNoConsoleErrors();
  });
});
