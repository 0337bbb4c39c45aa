// sio_seed.test.mjs: seed 003's Socket.IO client in Chromium: a small page that loads
// socket.io-client 4 (its browser build, node_modules/socket.io-client/dist) joins a room
// by code with seed 003's room:* events, beside a /ws user of the SDK (/lib/chorus.js) in
// another browser context; they see each other join and chat.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { api, register } from '../e2e/lib/auth.mjs';
import { REPO_ROOT } from '../e2e/lib/server.mjs';
import { Env, until } from './lib/env.mjs';

/** The seed 003 page: script files only (the Content-Security-Policy allows no inline script). */
const SEED_HTML = `<!doctype html>
<meta charset="utf-8"><title>Space room</title><link rel="icon" href="/favicon.svg">
<ul data-testid="participants"></ul>
<ol data-testid="messages"></ol>
<p data-testid="status">connecting</p>
<input data-testid="input"><button data-testid="send">Send</button>
<script src="/seed003/socket.io.min.js"></script>
<script src="/seed003/page.js"></script>
`;

// What seed 003's RoomSocketContext does, reduced: connect with the token, join by code,
// keep participants and messages from room:* events, send with room:message.
const SEED_JS = `
const params = new URLSearchParams(location.hash.slice(1));
const $ = (id) => document.querySelector('[data-testid="' + id + '"]');
const participants = new Map();
const seen = new Set();
function showParticipants() {
  $('participants').replaceChildren(...[...participants.values()].map((p) => {
    const li = document.createElement('li');
    li.textContent = p.displayName;
    return li;
  }));
}
function showMessage(m) {
  if (seen.has(m.id)) return;
  seen.add(m.id);
  const li = document.createElement('li');
  li.dataset.type = m.type;
  li.textContent = (m.type === 'system' ? '' : m.displayName + ': ') + m.content;
  $('messages').append(li);
}
const socket = io({ auth: { token: params.get('token') }, transports: ['websocket'] });
window.seedSocket = socket;
socket.on('connect', () => socket.emit('room:join', { roomCode: params.get('code'), displayName: params.get('name') }));
socket.on('room:joined', (d) => {
  for (const p of d.participants) participants.set(p.userId, p);
  showParticipants();
  d.history.forEach(showMessage);
  $('status').textContent = 'joined ' + d.room.roomCode;
});
socket.on('room:participant-joined', ({ participant }) => {
  participants.set(participant.userId, participant);
  showParticipants();
});
socket.on('room:message-received', ({ message }) => showMessage(message));
socket.on('room:error', (e) => { $('status').textContent = 'error ' + e.code; });
$('send').addEventListener('click', () => {
  socket.emit('room:message', { messageType: 'user_text', content: $('input').value, metadata: {} });
  $('input').value = '';
});
`;

describe('Chromium: a seed 003 Socket.IO page and a /ws SDK user in one room', () => {
  let env;
  let sio;
  let sdk;

  before(async () => {
    env = await Env.start({
      files: {
        'seed003/index.html': SEED_HTML,
        'seed003/page.js': SEED_JS,
        'seed003/socket.io.min.js': fs.readFileSync(path.join(REPO_ROOT, 'node_modules/socket.io-client/dist/socket.io.min.js')),
      },
    });
    sio = await env.newUser('Sio');
    sdk = await env.newUser('Sdk');
  });

  after(async () => {
    await env?.close();
  });

  it('they join, see each other, and chat both ways', async () => {
    const a = await register(env.port, { username: 'Sdk' });
    const b = await register(env.port, { username: 'Sio' });
    const res = await api(env.port, 'POST', '/api/rooms/create', { token: a.token, body: { name: 'Space', maxParticipants: 5 } });
    assert.equal(res.status, 201, res.text);
    const code = JSON.parse(res.text).room.roomCode;

    // The SDK user, over /ws, in the page the server serves the SDK from.
    await sdk.page.goto(env.url);
    await sdk.page.evaluate(async ({ token, code }) => {
      const { Chorus } = await import('/lib/chorus.js');
      const chorus = new Chorus({ token });
      await chorus.connect();
      const room = await chorus.join(code, { displayName: 'Sdk user' });
      window.sdkRoom = room;
      window.sdkSeen = [];
      window.sdkJoined = [];
      room.on('message', (m) => window.sdkSeen.push(m));
      room.on('participant_joined', (p) => window.sdkJoined.push(p.displayName));
    }, { token: a.token, code });

    // The seed 003 page, over Socket.IO.
    const p = sio.page;
    await p.goto(`${env.url}/seed003/index.html#token=${encodeURIComponent(b.token)}&code=${code}&name=Socket%20user`);
    await until(async () => (await p.getByTestId('status').textContent()) === `joined ${code}`, { message: 'the seed page joined' });
    assert.equal(await p.evaluate(() => window.seedSocket.io.engine.transport.name), 'websocket');
    await until(async () => (await p.getByTestId('participants').textContent()).includes('Sdk user'), { message: 'the SDK user in the seed page' });
    await until(() => sdk.page.evaluate(() => window.sdkJoined.includes('Socket user')), { message: 'the seed user joined, seen by the SDK' });

    await p.getByTestId('input').fill('hello from socket.io');
    await p.getByTestId('send').click();
    const got = await until(() => sdk.page.evaluate(() => window.sdkSeen.find((m) => m.content === 'hello from socket.io')), { message: 'the SDK sees the seed message' });
    assert.equal(got.userId, b.user.id);
    assert.equal(got.displayName, 'Socket user');
    assert.equal(got.type, 'user_text');
    await until(async () => (await p.getByTestId('messages').textContent()).includes('Socket user: hello from socket.io'), { message: "the seed page's own message" });

    await sdk.page.evaluate(() => window.sdkRoom.send('ai_response', 'hello from the SDK'));
    await until(async () => (await p.getByTestId('messages').textContent()).includes('Sdk user: hello from the SDK'), { message: 'the seed page sees the SDK message' });
    const texts = await p.locator('[data-testid="messages"] li').allTextContents();
    assert.equal(texts.filter((t) => t === 'Socket user: hello from socket.io').length, 1, 'once');
    assert.equal(texts.filter((t) => t === 'Sdk user: hello from the SDK').length, 1, 'once');
    assert.equal(await p.getByTestId('status').textContent(), `joined ${code}`, 'no room:error');
    env.assertNoConsoleErrors();
  });
});
