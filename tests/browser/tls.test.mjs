// tls.test.mjs: the web app over HTTPS and wss:// (--tls-cert/--tls-key with a certificate
// from a test CA): two people sign up, meet in a room and chat. Chromium trusts the test CA
// the way a user's machine would: an NSS database (certutil, Debian's libnss3-tools) in a
// temporary HOME given to the browser, with the CA imported as trusted for servers; every
// certificate check stays on.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { makeTempDir } from '../e2e/lib/server.mjs';
import { makeCa } from '../e2e/lib/tls.mjs';
import { Env, messageTexts, roomOfTwo, sendMessage, until } from './lib/env.mjs';

/** A HOME whose NSS database (~/.pki/nssdb, where Chromium on Linux looks) trusts caFile. */
function homeTrusting(dir, caFile) {
  const db = path.join(dir, '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true });
  execFileSync('certutil', ['-d', `sql:${db}`, '-N', '--empty-password']);
  execFileSync('certutil', ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'chorus test CA', '-i', caFile]);
  return dir;
}

describe('web app over TLS', () => {
  let env;
  let A;
  let B;
  const tmp = makeTempDir('chorus-browser-tls-');

  before(async () => {
    const { issue } = makeCa(tmp);
    const leaf = issue('server');
    const home = homeTrusting(path.join(tmp, 'home'), path.join(tmp, 'ca.pem'));
    env = await Env.start({ tls: leaf, browserEnv: { HOME: home } });
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
