// editor.test.mjs: the room's shared code editor (CodeMirror 6 on the document "main") with
// two people against the real server: both open the Editor tab, type at once (one of them
// an emoji, so code points and UTF-16 differ), end with the same text, see each other's
// caret and selection in the right color, and a reload shows the stored text.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Env, CODE_RE, signUp, sendMessage, until, untilText } from './lib/env.mjs';

/** The editor's text as CodeMirror holds it (the app exposes the view for tests). */
const editorText = (page) => page.evaluate(() => window.chorusEditor?.view.state.doc.toString() ?? null);
/** The SDK Doc's text (code points, what the server has once synced). */
const docText = (page) => page.evaluate(() => window.chorusEditor?.doc.text ?? null);

async function openEditor(page) {
  await page.getByTestId('tab-editor').click();
  await page.getByTestId('editor-panel').waitFor();
  await page.locator('.cm-content').waitFor();
  await until(async () => (await page.getByTestId('editor-status').getAttribute('data-state')) === 'saved', { message: 'editor saved' });
}

/** Puts the caret at the end (or start) of the document, focused. */
async function caretTo(page, where) {
  await page.locator('.cm-content').click();
  await page.keyboard.press(where === 'end' ? 'Control+End' : 'Control+Home');
}

describe('web app: the shared code editor', () => {
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

  it('A creates a room, B joins it, both open the editor', async () => {
    await A.page.goto(env.url);
    await signUp(A.page, A);
    await A.page.getByTestId('create-name').fill('Pairing');
    await A.page.getByTestId('create-submit').click();
    code = (await untilText(A.page.getByTestId('room-code'), CODE_RE)).trim();

    await B.page.goto(env.url);
    await signUp(B.page, B);
    await B.page.getByTestId('join-code').fill(code);
    await B.page.getByTestId('join-submit').click();
    await untilText(B.page.getByTestId('participant-count'), '2/');
    await untilText(A.page.getByTestId('participant-count'), '2/');

    assert.equal(await A.page.getByTestId('tab-chat').getAttribute('aria-selected'), 'true', 'the room opens on the chat');
    assert.equal(await A.page.getByTestId('editor-panel').isVisible(), false);
    await openEditor(A.page);
    await openEditor(B.page);
    assert.equal(await A.page.getByTestId('chat-panel').isVisible(), false, 'the editor replaces the chat');
    assert.equal(await editorText(A.page), '');
    assert.equal(await editorText(B.page), '');
  });

  it('A types, B sees it; then both type at once (with an emoji) and converge', async () => {
    await caretTo(A.page, 'end');
    await A.page.keyboard.type('hello', { delay: 20 });
    await until(async () => (await editorText(B.page)) === 'hello', { message: 'B sees "hello"' });

    // Concurrently: A puts an emoji (two UTF-16 units, one code point) at the start, B
    // appends " world" at the end.
    await caretTo(B.page, 'end');
    await caretTo(A.page, 'start');
    await Promise.all([
      A.page.keyboard.type('🎉 ', { delay: 35 }),
      B.page.keyboard.type(' world', { delay: 25 }),
    ]);
    const want = '🎉 hello world';
    for (const u of [A, B]) {
      await until(async () => (await editorText(u.page)) === want && (await docText(u.page)) === want,
        { message: `${u.name} shows "${want}"` });
    }

    // After the emoji, code point and UTF-16 positions differ by one: an edit there must
    // land in the same place for both.
    await caretTo(A.page, 'end');
    await A.page.keyboard.type('!');
    await caretTo(B.page, 'start');
    await B.page.keyboard.press('ArrowRight'); // past the emoji (one character for the caret)
    await B.page.keyboard.type('✨');
    const final = '🎉✨ hello world!';
    for (const u of [A, B]) {
      await until(async () => (await editorText(u.page)) === final && (await docText(u.page)) === final,
        { message: `${u.name} shows "${final}"` });
      await until(async () => (await u.page.getByTestId('editor-status').getAttribute('data-state')) === 'saved', { message: 'saved' });
    }
    // The DOM shows it too (lines of .cm-content, without the carets' name labels).
    const shown = await B.page.locator('.cm-line').evaluateAll((ls) => ls.map((l) => {
      const c = l.cloneNode(true);
      c.querySelectorAll('.cm-remote-caret').forEach((n) => n.remove());
      return c.textContent;
    }).join('\n'));
    assert.equal(shown, final);
  });

  it('each sees the other\'s caret and selection, in the other\'s color, with the name', async () => {
    // A selects "hello" (Shift+Arrow from its end), B watches.
    await caretTo(A.page, 'end');
    await A.page.keyboard.press('ArrowLeft'); // before "!"
    for (let i = 0; i < 6; i++) await A.page.keyboard.press('ArrowLeft'); // before " world"
    for (let i = 0; i < 5; i++) await A.page.keyboard.press('Shift+ArrowLeft'); // select "hello"
    const caret = B.page.locator('[data-testid="remote-caret"]', { hasText: 'Ada' });
    await caret.waitFor();
    await untilText(caret.getByTestId('remote-caret-label'), 'Ada');
    const sel = B.page.locator('.cm-remote-selection');
    await until(async () => (await sel.allTextContents()).join('') === 'hello', { message: 'B sees A\'s selection of "hello"' });

    // The caret sits at the selection's head: right before "hello".
    const before = await caret.evaluate((n) => {
      let t = '';
      for (let p = n.previousSibling; p; p = p.previousSibling) t = p.textContent + t;
      return t;
    });
    assert.equal(before.endsWith('🎉✨ '), true, `A's caret is before "hello" (text before it: ${JSON.stringify(before)})`);

    // A's color: the one A's avatar has in B's participant list.
    const aColor = await B.page.locator('[data-testid="participant"]', { hasText: 'Ada' }).evaluate((n) => n.style.getPropertyValue('--c').trim());
    assert.ok(aColor, 'A has a color');
    assert.equal(await caret.evaluate((n) => n.style.getPropertyValue('--c').trim()), aColor);
    assert.equal(await sel.first().evaluate((n) => n.style.getPropertyValue('--c').trim()), aColor);

    // And the other way round: A sees B's caret (B typed last at the start).
    await caretTo(B.page, 'end');
    await A.page.locator('[data-testid="remote-caret"]', { hasText: 'Bob' }).waitFor();
    await untilText(A.page.getByTestId('editor-people'), '1');

    await A.page.waitForTimeout(150); // let the carets settle for the pictures
    await env.screenshot(A, 'editor-ada.png');
    await env.screenshot(B, 'editor-bob.png');
  });

  it('chat keeps working beside the editor: an unread count on the Chat tab', async () => {
    await A.page.getByTestId('tab-chat').click();
    // Leaving the editor hides A's caret for B.
    await until(async () => (await B.page.locator('[data-testid="remote-caret"]', { hasText: 'Ada' }).count()) === 0, { message: 'A\'s caret gone' });
    await sendMessage(A.page, 'see the editor');
    await untilText(B.page.getByTestId('chat-unread'), '1');
    await B.page.getByTestId('tab-chat').click();
    assert.equal(await B.page.getByTestId('chat-unread').isVisible(), false);
    await untilText(B.page.getByTestId('messages'), 'see the editor');
  });

  it('the text is stored: B reloads and sees it', async () => {
    await B.page.reload();
    await B.page.getByTestId('room-view').waitFor();
    await untilText(B.page.getByTestId('participant-count'), '2/');
    await openEditor(B.page);
    await until(async () => (await editorText(B.page)) === '🎉✨ hello world!', { message: 'text after reload' });
    env.assertNoConsoleErrors();
  });
});
