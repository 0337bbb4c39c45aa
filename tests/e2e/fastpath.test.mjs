// fastpath.test.mjs: the hot ops (echo, broadcast, presence, message) read their frame with
// the envelope scanner (src/util/jscan.c), not a JSON tree; the bytes they send back are
// byte for byte those of the Jansson encoding they had before: a value sent in another
// form (whitespace, escapes, numbers Jansson writes otherwise) comes back as Jansson wrote
// it, and frames the scanner leaves to Jansson (an escaped key, many keys) work as before.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { closeAll, mkUser, roomWith } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';
import { JsonWs } from './lib/wsclient.mjs';
import { withTimeout } from './lib/util.mjs';

const T = { timeout: 20000 };

/** Resolves with the next text frame of ws (the `ws` object) whose text matches re. */
function nextRaw(ws, re) {
  return withTimeout(new Promise((resolve) => {
    const on = (data, isBinary) => {
      const s = data.toString('utf8');
      if (isBinary || !re.test(s)) return;
      ws.off('message', on);
      resolve(s);
    };
    ws.on('message', on);
  }), 5000, `a frame matching ${re}`);
}

// [sent data text, the bytes Jansson writes for it]
const FORMS = [
  ['{"x":"y"}', '{"x":"y"}'],
  ['{ "a" : [1, 2.50, 1e2, 1E-7, -0, 0.1, -0.0] }',
    '{"a":[1,2.5,100.0,9.9999999999999995e-8,0,0.10000000000000001,-0.0]}'],
  ['"\\u00e9\\/\\u001f\\u001F\\ud83d\\ude00\\b\\u0008"', '"é/\\u001F\\u001F😀\\b\\b"'],
  ['[ ]', '[]'],
  ['12345678901234567', '12345678901234567'],
];

describe('hot ops: the scanned frame and the bytes sent back', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: [...FAST_HASH, '--jwt-secret', TEST_SECRET] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('echo sends the data as Jansson wrote it', T, async () => {
    const c = await JsonWs.open(srv.port);
    try {
      let ref = 1;
      for (const [sent, want] of FORMS) {
        const got = nextRaw(c.ws, new RegExp(`"ref":${ref},`));
        c.send(`{"op":"echo","ref":${ref},"data":${sent}}`);
        assert.equal(await got, `{"op":"reply","ref":${ref},"ok":true,"data":${want}}`);
        ref++;
      }
      // No data: null. An escaped key (left to Jansson): the same reply.
      let got = nextRaw(c.ws, /"ref":50,/);
      c.send('{"op":"echo","ref":50}');
      assert.equal(await got, '{"op":"reply","ref":50,"ok":true,"data":null}');
      got = nextRaw(c.ws, /"ref":51,/);
      c.send('{"op":"echo","ref":51,"d\\u0061ta":{"k" :1}}');
      assert.equal(await got, '{"op":"reply","ref":51,"ok":true,"data":{"k":1}}');
      // More keys than the scanner keeps: Jansson reads it, the same reply.
      const many = Array.from({ length: 20 }, (_, i) => `"k${i}":${i}`).join(',');
      got = nextRaw(c.ws, /"ref":52,/);
      c.send(`{"op":"echo",${many},"ref":52,"data":[1]}`);
      assert.equal(await got, '{"op":"reply","ref":52,"ok":true,"data":[1]}');
      // Refused as before: duplicates at any depth, depth, bad refs and ops.
      for (const [text, code] of [
        ['{"op":"echo","ref":60,"data":{"a":1,"a":2}}', 'bad_json'],
        ['{"op":"echo","ref":61,"ref":61}', 'bad_json'],
        [`{"op":"echo","ref":62,"data":${'['.repeat(2048)}${']'.repeat(2048)}}`, 'bad_json'],
        [`{"op":"echo","ref":63,"data":${'['.repeat(2046)}${']'.repeat(2046)}}`, null],
        ['{"op":"echo","ref":1.5}', 'bad_request'],
        ['{"op":"ec\\u0000ho","ref":64}', 'bad_request'],
        ['{"op":"\\u0065cho","ref":65,"data":1}', null],
        ['{"op":"echo","ref":66,"data":1e400}', 'bad_json'],
        ['{"op":"echo","ref":67,"data":9223372036854775808}', 'bad_json'],
        ['{"op":"echo","ref":68,"data":"\\ud800"}', 'bad_json'],
      ]) {
        const reply = nextRaw(c.ws, /^\{"op":"(reply|error)"/);
        c.send(text);
        const m = JSON.parse(await reply);
        if (code === null) {
          assert.equal(m.ok, true, text);
        } else {
          assert.equal(m.error.code, code, text);
        }
      }
    } finally {
      c.close();
    }
  });

  it('broadcast, presence and message carry the values as Jansson wrote them', T, async () => {
    const [ann, bob] = [mkUser('Ann'), mkUser('Bob')];
    const { room, cs } = await roomWith(srv.port, [ann, bob]);
    try {
      for (const [sent, want] of FORMS) {
        const got = nextRaw(cs[1].ws, /^\{"op":"broadcast"/);
        cs[0].send(`{"op":"broadcast","room":"${room.id}","event":"e\\u00e9","data":${sent}}`);
        assert.equal(await got,
          `{"op":"broadcast","room":"${room.id}","event":"eé","from":"${ann.sub}","data":${want}}`);
      }
      let got = nextRaw(cs[1].ws, /^\{"op":"broadcast"/);
      cs[0].send(`{"room":"${room.id}", "event":"none","op":"broadcast"}`);
      assert.equal(await got,
        `{"op":"broadcast","room":"${room.id}","event":"none","from":"${ann.sub}","data":null}`);

      got = nextRaw(cs[1].ws, /^\{"op":"presence"/);
      cs[0].send(`{"op":"presence","room":"${room.id}","state":{"cursor" : {"x":0.5, "y":1e1}}}`);
      assert.match(await got, /"cursor":\{"x":0.5,"y":10.0\}/);

      got = nextRaw(cs[1].ws, /^\{"op":"message"/);
      cs[0].send(`{"op":"message","ref":9,"room":"${room.id}","type":"user_text",` +
        '"content":"h\\u00e9 \\"q\\"","metadata":{ "n" : 0.1, "s":"\\/" }}');
      const ev = await got;
      assert.match(ev, /"content":"hé \\"q\\""/);
      assert.match(ev, /"metadata":\{"n":0.10000000000000001,"s":"\/"\}/);
    } finally {
      closeAll(cs);
    }
  });
});
