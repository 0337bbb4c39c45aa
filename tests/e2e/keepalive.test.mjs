// keepalive.test.mjs: server pings after --ws-ping-interval of silence and drops a
// client that does not answer within --ws-pong-timeout.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { describeFrame, frame, OP, RawWs } from './lib/rawws.mjs';
import { startServer } from './lib/server.mjs';
import { delay } from './lib/util.mjs';
import { JsonWs } from './lib/wsclient.mjs';

const T = { timeout: 15000 };

describe('keepalive (--ws-ping-interval 200ms --ws-pong-timeout 200ms)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--ws-ping-interval', '200ms', '--ws-pong-timeout', '200ms'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('a raw client that never answers gets a ping, then is closed', T, async () => {
    const ws = await RawWs.connect(srv.port);
    try {
      const t0 = Date.now();
      const f = await ws.nextFrame(3000);
      const pingAt = Date.now() - t0;
      assert.equal(f.opcode, OP.PING, describeFrame(f));
      assert.ok(pingAt >= 150, `ping after ${pingAt} ms of silence, expected ~200`);
      // Whatever comes next (maybe a close frame), the TCP connection must end.
      const waited = await ws.waitClosed(3000);
      assert.ok(waited >= 100, `closed ${waited} ms after the ping, expected ~200`);
    } finally {
      ws.destroy();
    }
  });

  it('a raw client that answers each ping with a pong stays open', T, async () => {
    const ws = await RawWs.connect(srv.port);
    try {
      let pings = 0;
      const until = Date.now() + 1200;
      while (Date.now() < until) {
        let f;
        try {
          f = await ws.nextFrame(until - Date.now());
        } catch (e) {
          if (ws.reader.done) throw e;
          break; // timeout: the 1.2 s are over
        }
        assert.equal(f.opcode, OP.PING, describeFrame(f));
        pings++;
        ws.send(frame({ opcode: OP.PONG, payload: f.payload }));
      }
      assert.ok(pings >= 2, `${pings} pings in 1.2 s`);
      ws.sendJson({ op: 'echo', ref: 1, data: 'alive' });
      let m;
      do m = await ws.nextFrame(); while (m.opcode === OP.PING);
      assert.deepEqual(JSON.parse(m.payload), { op: 'reply', ref: 1, ok: true, data: 'alive' });
    } finally {
      ws.destroy();
    }
  });

  it('a ws client (answers pings) stays open over 1 s and sees at least 2 pings', T, async () => {
    const c = await JsonWs.open(srv.port);
    try {
      await delay(1200);
      assert.equal(c.isOpen, true, `closed: ${JSON.stringify(c.closeInfo)}`);
      assert.ok(c.pings >= 2, `${c.pings} pings in 1.2 s`);
      await c.echo('still open');
    } finally {
      c.close();
    }
  });
});
