// admin.test.mjs: the admin view in the web app (admin.html, issue 24): an admin (a token
// with "role": "admin") sees the live figures change when others join and chat, closes a
// room from the rooms table after a confirmation and its member sees it closed; a
// non-admin sees no Admin link and is refused by the page (the server answers them 403).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { mintJwt, nowSec } from '../e2e/lib/auth.mjs';
import { Env, roomOfTwo, sendMessage, untilText } from './lib/env.mjs';

describe('web app: the admin view', () => {
  let env;
  let A;
  let B;
  let R;
  let code;

  before(async () => {
    env = await Env.start();
    A = await env.newUser('Ada');
    B = await env.newUser('Bob');
    R = await env.newUser('Root');
  });

  after(async () => {
    await env?.close();
  });

  const num = async (page, id) => Number(await page.getByTestId(id).textContent());

  it('an admin signs in with an admin token: the Admin link leads to live figures', async () => {
    const secret = fs.readFileSync(path.join(env.dataDir, 'jwt_secret'), 'utf8').trim();
    const token = mintJwt(secret, { sub: 'root-1', name: 'Root', role: 'admin', iat: nowSec() });
    const p = R.page;
    await p.goto(env.url);
    await p.evaluate((t) => localStorage.setItem('chorus.session', JSON.stringify({ token: t, user: { id: 'root-1', username: 'Root' } })), token);
    await p.goto(env.url);
    await p.getByTestId('admin-link').waitFor();
    await p.getByTestId('admin-link').click();
    await p.getByTestId('admin-view').waitFor();
    await untilText(p.getByTestId('admin-updated'), 'Updated');
    assert.equal(await num(p, 'admin-rooms'), 0);
  });

  it('the figures change live when two pages join a room and chat', async () => {
    const p = R.page;
    const before = await num(p, 'admin-connections');
    code = await roomOfTwo(env, A, B, 'Ops room');
    await untilText(p.getByTestId('admin-rooms'), '1');
    await untilText(p.getByTestId('admin-online'), '2');
    const conns = Number(await untilText(p.getByTestId('admin-connections'), /^\d+$/).then(() => p.getByTestId('admin-connections').textContent()));
    assert.ok(conns >= before + 2 || conns >= 2, `connections ${before} -> ${conns}`);
    const msgs = await num(p, 'admin-messages');
    await sendMessage(B.page, 'hello ops');
    await sendMessage(B.page, 'second');
    await untilText(p.getByTestId('admin-messages'), String(msgs + 2));
    await untilText(p.getByTestId('busiest-table'), 'Ops room');
    await untilText(p.getByTestId('rooms-table'), code);
    await untilText(p.getByTestId('connections-table'), 'websocket');
    const points = await p.getByTestId('chart-messages').locator('polyline').getAttribute('points');
    assert.ok(points.split(' ').length >= 2, `the chart has points: ${points}`);
  });

  it('the admin closes the room after a confirmation; the member sees it closed; it is audited', async () => {
    const p = R.page;
    await p.getByTestId(`close-${code}`).click();
    await untilText(p.getByTestId('admin-dialog-text'), code);
    await p.getByTestId('admin-dialog-confirm').click();
    await untilText(B.page.getByTestId('toasts'), 'An admin closed this room');
    await B.page.getByTestId('lobby-view').waitFor();
    await untilText(p.getByTestId('admin-rooms'), '0');
    await untilText(p.getByTestId('audit-table'), 'admin_room_close');
  });

  it('a non-admin has no Admin link and is refused by the page', async () => {
    const p = A.page;
    await p.goto(env.url);
    await p.getByTestId('lobby-view').waitFor();
    await p.waitForLoadState('networkidle');
    assert.equal(await p.getByTestId('admin-link').isVisible(), false);
    await p.goto(`${env.url}/admin.html`);
    await untilText(p.getByTestId('admin-refused-text'), 'not one');
    assert.equal(await p.getByTestId('admin-view').isVisible(), false);
    env.assertNoConsoleErrors();
  });
});
