// app_messages.test.mjs: the web app shows an app backend's messages distinctly (seed
// 003's type indicators): an rpc's effects post an ai_response, a system notice by an
// author and an app type (story_update); each is marked by its kind, label and author.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { login } from '../e2e/lib/auth.mjs';
import { RoomWs } from '../e2e/lib/rooms.mjs';
import { Env, CODE_RE, PASSWORD, signUp, until, untilText } from './lib/env.mjs';

describe('app messages in the web app', () => {
  let env;
  let backend;
  before(async () => {
    backend = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: 1, effects: { messages: [
          { type: 'ai_response', content: 'The AI speaks', author: 'Muse' },
          { type: 'system', content: 'Turn 1 complete', author: 'Narrator', metadata: { event: 'turn_complete' } },
          { type: 'story_update', content: 'The door opens', author: 'Narrator' },
        ] } }));
      });
    });
    await new Promise((r) => backend.listen(0, '127.0.0.1', r));
    env = await Env.start({ serverArgs: ['--rpc-url', `http://127.0.0.1:${backend.address().port}/`] });
  });
  after(async () => {
    await env?.close();
    backend?.closeAllConnections();
    backend?.close();
  });

  it('ai_response, an authored system notice and story_update each look their kind', async () => {
    const A = await env.newUser('Ada');
    await A.page.goto(env.url);
    await signUp(A.page, A);
    await A.page.getByTestId('create-name').fill('Story');
    await A.page.getByTestId('create-submit').click();
    const code = (await untilText(A.page.getByTestId('room-code'), CODE_RE)).trim();
    const { token } = await login(env.port, A.email, PASSWORD);
    const c = await RoomWs.open(env.port, { token });
    try {
      await c.join(code);
      await c.ok('rpc', { room: code, method: 'turn' });
    } finally {
      c.close();
    }
    const msgs = A.page.getByTestId('messages').getByTestId('message');
    const shown = await until(async () => {
      const all = await msgs.evaluateAll((els) => els.map((el) => ({
        type: el.dataset.type,
        cls: el.className,
        label: el.querySelector('[data-testid="message-type"]')?.textContent ?? null,
        author: el.querySelector('[data-testid="message-author"]')?.textContent ?? null,
        content: el.querySelector('[data-testid="message-content"]')?.textContent ?? null,
      })));
      const app = all.filter((m) => ['The AI speaks', 'Turn 1 complete', 'The door opens'].includes(m.content));
      return app.length === 3 ? app : null;
    }, { message: 'the three app messages shown' });
    const [ai, sys, story] = shown;
    assert.match(ai.cls, /\bmsg-ai\b/);
    assert.equal(ai.label, 'AI');
    assert.equal(ai.author, 'Muse');
    assert.match(sys.cls, /\bmsg-system\b/);
    assert.equal(sys.label, 'system');
    assert.equal(sys.author, 'Narrator: ');
    assert.match(story.cls, /\bmsg-app\b/);
    assert.equal(story.label, 'story_update');
    assert.equal(story.author, 'Narrator');
    env.assertNoConsoleErrors();
  });
});
