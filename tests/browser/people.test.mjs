// people.test.mjs: the people panel of a large room (web/people.js, issue 26) against the
// real server with --room-large 3: the counts, "Load more" until everyone is listed, a
// search the server answers for people not loaded yet, and a local search once all are.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import { Chorus } from '../../clients/js/chorus.js';
import { Env, PASSWORD, participants, signUp, until, untilText } from './lib/env.mjs';

const names = async (page) => (await participants(page)).map((p) => p.name).sort();

describe('web app: the people list of a large room', () => {
  let env;
  let A;
  const sdk = [];

  before(async () => {
    env = await Env.start({ serverArgs: ['--room-large', '3', '--room-join-participants', '2'] });
    A = await env.newUser('Ada');
  });

  after(async () => {
    for (const c of sdk) c.close();
    await env?.close();
  });

  async function member(name) {
    const c = new Chorus({ url: env.url, WebSocket });
    await c.register(`${name.toLowerCase()}-${Date.now()}@example.com`, PASSWORD, name);
    await c.connect();
    sdk.push(c);
    return c;
  }

  it('shows "N people, M online", loads more, and searches', async () => {
    const host = await member('Host');
    const info = await host.createRoom({ name: 'Town hall', maxParticipants: 10 });
    await host.join(info.roomCode);
    for (const n of ['Bob', 'Cyd', 'Dee', 'Eve']) await (await member(n)).join(info.roomCode);
    sdk.at(-1).close(); // Eve goes offline; her seat stays

    await A.page.goto(`${env.url}/?room=${info.roomCode}`);
    await signUp(A.page, A);
    const p = A.page;
    await untilText(p.getByTestId('people-summary'), '6 people, 5 online');
    assert.equal((await p.getByTestId('participant-count').textContent()).trim(), '6/10');
    const more = p.getByTestId('people-more');
    await more.waitFor();
    assert.ok((await participants(p)).length <= 3, 'the first page and me');

    // Eve is not loaded: the search asks the server.
    assert.ok(!(await names(p)).includes('Eve'));
    await p.getByTestId('people-search').fill('eV');
    await until(async () => (await names(p)).join() === 'Eve', { message: 'the server finds Eve' });
    assert.equal((await participants(p))[0].online, false);
    await p.getByTestId('people-search').fill('');

    while (await more.isVisible()) {
      const n = (await participants(p)).length;
      await more.click();
      await until(async () => (await participants(p)).length > n || !(await more.isVisible()), { message: 'a page more' });
    }
    assert.deepEqual(await names(p), ['Ada', 'Bob', 'Cyd', 'Dee', 'Eve', 'Host']);

    // Everyone loaded: the search filters locally.
    await p.getByTestId('people-search').fill('d');
    await until(async () => (await names(p)).join() === 'Ada,Cyd,Dee', { message: 'the local filter' });
    await env.screenshot(A, 'people-large-room.png');
    env.assertNoConsoleErrors();
  });
});
