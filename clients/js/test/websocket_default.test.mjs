// websocket_default.test.mjs: the SDK finds a WebSocket by itself: options.WebSocket, else
// globalThis.WebSocket, else (Node < 22 has none) the `ws` package.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import { Chorus } from '../chorus.js';
import { BASE_ARGS, startServer, uniqueEmail } from '../testlib/helpers.mjs';

describe('default WebSocket', () => {
  let srv;
  let url;
  let saved;
  before(async () => {
    srv = await startServer({ args: BASE_ARGS });
    url = `http://127.0.0.1:${srv.port}`;
    // This file runs in its own process: take the global away, as on Node 20.
    saved = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
    delete globalThis.WebSocket;
  });
  after(async () => {
    if (saved) Object.defineProperty(globalThis, 'WebSocket', saved);
    await srv?.stop();
  });

  it('without options.WebSocket nor a global one, Node uses the ws package', async () => {
    assert.equal(globalThis.WebSocket, undefined);
    const c = new Chorus({ url });
    await c.register(uniqueEmail('nows'), 'correct horse battery', 'NoWs');
    await c.connect();
    try {
      assert.equal(c.state, 'open');
      assert.ok(c.socket instanceof WebSocket, 'the socket is a ws WebSocket');
      const info = await c.createRoom({ name: 'Default' });
      const room = await c.join(info.roomCode);
      const m = await room.send('user_text', 'hi');
      assert.equal(m.content, 'hi');
    } finally {
      c.close();
    }
    assert.equal(c.state, 'closed');
  });

  it('close() while the ws package loads: connect rejects with closed, no socket', async () => {
    const c = new Chorus({ url, token: 'x' });
    const p = c.connect();
    c.close();
    await assert.rejects(p, (e) => e.code === 'closed');
    assert.equal(c.socket, null);
    assert.equal(c.state, 'closed');
  });

  it('a global WebSocket is used when there is one', async () => {
    let made = 0;
    class Counting extends WebSocket {
      constructor(...a) {
        super(...a);
        made++;
      }
    }
    globalThis.WebSocket = Counting;
    try {
      const c = new Chorus({ url });
      await c.register(uniqueEmail('glob'), 'correct horse battery', 'Glob');
      await c.connect();
      c.close();
      assert.equal(made, 1);
    } finally {
      delete globalThis.WebSocket;
    }
  });
});
