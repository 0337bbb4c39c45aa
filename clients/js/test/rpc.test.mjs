// rpc.test.mjs: room.rpc against the real server and a real app backend (a Node HTTP
// server started here): the backend's data as the result, its side effects seen as room
// events before the promise resolves, its error code as a ChorusError.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { BASE_ARGS, connected, startServer } from '../testlib/helpers.mjs';

describe('room.rpc', () => {
  let srv;
  let backend;
  before(async () => {
    backend = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const call = JSON.parse(body);
        const answer = call.method === 'roll'
          ? { data: { rolled: 4, by: call.user.name },
            effects: { messages: [{ type: 'system', content: 'rolled 4', author: 'Dice' }] } }
          : { error: { code: 'unknown_method', message: call.method } };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise((r) => backend.listen(0, '127.0.0.1', r));
    srv = await startServer({ args: [...BASE_ARGS, '--rpc-url', `http://127.0.0.1:${backend.address().port}/`] });
  });
  after(async () => {
    await srv?.stop();
    backend?.closeAllConnections();
    await new Promise((r) => backend?.close(r) ?? r());
  });

  it('resolves with the backend data after its messages arrived; rejects with its code', async () => {
    const c = await connected(srv.port, 'Ada');
    try {
      const r = await c.createRoom({ name: 'dice' });
      const room = await c.join(r.roomCode);
      const seen = [];
      room.on('message', (m) => seen.push(m));
      const out = await room.rpc('roll', { sides: 6 });
      assert.deepEqual(out, { rolled: 4, by: 'Ada' });
      const m = seen.find((x) => x.content === 'rolled 4');
      assert.ok(m, 'the effect message arrived before the reply');
      assert.equal(m.displayName, 'Dice');
      await assert.rejects(room.rpc('nope'), (e) => e.code === 'unknown_method' && e.message === 'nope');
    } finally {
      c.close();
    }
  });
});
