// tls.test.mjs: the web app over HTTPS and wss:// (--tls-cert/--tls-key with a certificate
// from a test CA): two people sign up, meet in a room and chat. Chromium trusts the test
// server's key by its SPKI hash (--ignore-certificate-errors-spki-list: that one key only,
// every other certificate check stays on; a CA cannot be added without an NSS database tool).
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { makeTempDir } from '../e2e/lib/server.mjs';
import { makeCa } from '../e2e/lib/tls.mjs';
import { Env, messageTexts, roomOfTwo, sendMessage, until } from './lib/env.mjs';

describe('web app over TLS', () => {
  let env;
  let A;
  let B;
  const tmp = makeTempDir('chorus-browser-tls-');

  before(async () => {
    const { issue } = makeCa(tmp);
    const leaf = issue('server');
    const spki = execSync(`openssl pkey -in ${leaf.key} -pubout -outform der | openssl dgst -sha256 -binary | base64`,
      { encoding: 'utf8' }).trim();
    env = await Env.start({ tls: leaf, browserArgs: [`--ignore-certificate-errors-spki-list=${spki}`] });
    A = await env.newUser('Tia');
    B = await env.newUser('Tom');
  });

  after(async () => {
    await env?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('loads over https, joins over wss and chats', async () => {
    await roomOfTwo(env, A, B, 'Secure');
    assert.equal(await A.page.evaluate(() => location.protocol), 'https:');
    await sendMessage(A.page, 'hello over tls');
    await until(async () => (await messageTexts(B.page)).includes('hello over tls'),
      { message: 'B sees the message' });
    await sendMessage(B.page, 'and back');
    await until(async () => (await messageTexts(A.page)).includes('and back'),
      { message: 'A sees the reply' });
    await env.screenshot(A, path.join('tls-chat.png'));
    env.assertNoConsoleErrors();
  });
});
