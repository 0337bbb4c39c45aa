// protocol.test.mjs: the JSON envelope over WebSocket (via the `ws` package): echo,
// sizes, ordering, every envelope error, binary messages and the rate limit.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { echoOfSize } from './lib/rawws.mjs';
import { startServer } from './lib/server.mjs';
import { delay } from './lib/util.mjs';
import { assertErrorEvent, assertErrorReply, assertOkReply, JsonWs } from './lib/wsclient.mjs';

const T = { timeout: 20000 };

describe('protocol envelope', () => {
  let srv;
  let c;
  before(async () => {
    srv = await startServer();
    c = await JsonWs.open(srv.port);
  });
  after(async () => {
    c?.close();
    await srv?.stop();
  });

  /** After an error case: the connection is open and nothing else was sent. */
  async function assertStillInSync() {
    const ref = 900000 + Math.floor(Math.random() * 1000);
    c.send({ op: 'echo', ref, data: 'sentinel' });
    assertOkReply(await c.next(), ref, 'sentinel');
  }

  for (const [name, data] of [
    ['null', null],
    ['true', true],
    ['false', false],
    ['zero', 0],
    ['a negative float', -1.5],
    ['a large float', 1e300],
    ['a small float', 0.1],
    ['the largest safe integer', 9007199254740991],
    ['a negative integer', -42],
    ['an empty string', ''],
    ['a string with escapes', 'quote " backslash \\ slash / tab \t newline \n'],
    ['a unicode string', 'héllo wörld — 日本語 😀 \u{10ffff}'],
    ['an escaped surrogate pair', '\ud83c\udf0d'],
    ['an empty object', {}],
    ['an empty array', []],
    ['a nested value', { a: [1, 2, { b: null, c: [true, false] }], d: { e: { f: { g: 'deep' } } }, 'ключ': 'значение' }],
    ['an array of mixed values', [1, 'two', 3.5, null, [], {}, [[[]]]]],
    ['a 20-level nested array', JSON.parse('['.repeat(20) + ']'.repeat(20))],
  ]) {
    it(`echo returns ${name} deep-equal`, T, async () => {
      await c.echo(data);
    });
  }

  it('echo of a string containing \\u0000', T, async () => {
    await c.echo('nul\u0000inside');
  });

  it('ref 0 and a large ref are echoed back exactly', T, async () => {
    c.send({ op: 'echo', ref: 0, data: 'zero' });
    assertOkReply(await c.next(), 0, 'zero');
    c.send({ op: 'echo', ref: 4503599627370496, data: 'big' });
    assertOkReply(await c.next(), 4503599627370496, 'big');
  });

  it('the reply is exactly {"op":"reply","ref":N,"ok":true,"data":X}', T, async () => {
    c.send('{"op":"echo","ref":77,"data":{"x":[1,"y"]}}');
    const m = await c.next();
    assert.deepEqual(m, { op: 'reply', ref: 77, ok: true, data: { x: [1, 'y'] } });
  });

  for (const size of [125, 126, 65535, 65536, 1024 * 1024]) {
    it(`an echo message of exactly ${size} bytes`, T, async () => {
      const ref = size;
      const { text, data } = echoOfSize(ref, size);
      c.send(text);
      const m = await c.next(10000);
      assert.equal(m.ref, ref);
      assert.equal(m.ok, true, JSON.stringify(m).slice(0, 200));
      assert.equal(m.data.length, data.length);
      assert.equal(m.data, data);
    });
  }

  it('1,000 pipelined echoes (refs 1..1000) all come back in order', T, async () => {
    for (let i = 1; i <= 1000; i++) c.send({ op: 'echo', ref: i, data: { i, s: `msg-${i}` } });
    for (let i = 1; i <= 1000; i++) {
      const m = await c.next(10000);
      assertOkReply(m, i, { i, s: `msg-${i}` });
    }
  });

  for (const [name, text] of [
    ['an empty message (0 bytes)', ''],
    ['an unterminated object', '{'],
    ['a bare word', 'nope'],
    ['a trailing comma', '{"op":"echo","ref":1,}'],
    ['single quotes', "{'op':'echo'}"],
    ['two JSON values', '{"op":"echo"} {"op":"echo"}'],
    ['only whitespace', '   '],
  ]) {
    it(`invalid JSON: ${name} -> error event bad_json, connection stays open`, T, async () => {
      c.send(text);
      assertErrorEvent(await c.next(), 'bad_json');
      await assertStillInSync();
    });
  }

  for (const [name, text] of [
    ['an array [1,2]', '[1,2]'],
    ['a number 5', '5'],
    ['a string', '"echo"'],
    ['null', 'null'],
    ['an object without op', '{"data":1}'],
    ['op is a number', '{"op":5}'],
    ['op is null', '{"op":null}'],
    ['op is an object', '{"op":{"name":"echo"}}'],
    ['ref is a string', '{"op":"echo","ref":"1","data":1}'],
    ['ref is a float', '{"op":"echo","ref":1.5,"data":1}'],
    ['ref is a boolean', '{"op":"echo","ref":true,"data":1}'],
    ['ref is an object', '{"op":"echo","ref":{},"data":1}'],
    ['ref is null', '{"op":"echo","ref":null,"data":1}'],
  ]) {
    it(`${name} -> error event bad_request, connection stays open`, T, async () => {
      c.send(text);
      assertErrorEvent(await c.next(), 'bad_request');
      await assertStillInSync();
    });
  }

  for (const [name, text, ref] of [
    ['missing op with an integer ref', '{"ref":41,"data":1}', 41],
    ['op is a number with an integer ref', '{"op":5,"ref":42}', 42],
    ['op is an array with an integer ref', '{"op":["echo"],"ref":43}', 43],
  ]) {
    it(`${name} -> reply bad_request with that ref`, T, async () => {
      c.send(text);
      assertErrorReply(await c.next(), ref, 'bad_request');
      await assertStillInSync();
    });
  }

  it('echo without ref gets no answer', T, async () => {
    c.send({ op: 'echo', data: 'no ref, no reply' });
    c.send({ op: 'echo', ref: 46, data: 'with ref' });
    assertOkReply(await c.next(), 46, 'with ref');
  });

  it('echo without data replies with data null', T, async () => {
    c.send({ op: 'echo', ref: 47 });
    assertOkReply(await c.next(), 47, null);
  });

  it('unknown op without ref -> error event unknown_op', T, async () => {
    c.send({ op: 'no.such.op' });
    assertErrorEvent(await c.next(), 'unknown_op');
    await assertStillInSync();
  });

  it('a duplicate key in an object -> error event bad_json', T, async () => {
    c.send('{"op":"echo","ref":48,"ref":49}');
    assertErrorEvent(await c.next(), 'bad_json');
    await assertStillInSync();
  });

  it('unknown op -> reply unknown_op', T, async () => {
    c.send({ op: 'no.such.op', ref: 44 });
    assertErrorReply(await c.next(), 44, 'unknown_op');
    c.send({ op: 'ECHO', ref: 45, data: 1 });
    assertErrorReply(await c.next(), 45, 'unknown_op');
    await assertStillInSync();
  });

  it('a long non-ASCII unknown op is quoted cut at a character boundary (valid UTF-8 reply)', T, async () => {
    // The message quotes 64 bytes of the name: here that boundary falls inside a 2-byte 'é'.
    const op = `${'P'.repeat(63)}${'é'.repeat(40)}`;
    c.send({ op, ref: 46 });
    const m = await c.next();
    assertErrorReply(m, 46, 'unknown_op');
    assert.ok(m.error.message.includes('P'.repeat(63)), m.error.message);
    assert.ok(!m.error.message.includes('\ufffd'), 'no replacement character: the server scrubbed it');
    await assertStillInSync();
  });

  it('errors and replies keep their order in a burst', T, async () => {
    c.send({ op: 'echo', ref: 1, data: 'a' });
    c.send('not json');
    c.send({ op: 'nope', ref: 2 });
    c.send('[1,2]');
    c.send({ op: 'echo', ref: 3, data: 'b' });
    assertOkReply(await c.next(), 1, 'a');
    assertErrorEvent(await c.next(), 'bad_json');
    assertErrorReply(await c.next(), 2, 'unknown_op');
    assertErrorEvent(await c.next(), 'bad_request');
    assertOkReply(await c.next(), 3, 'b');
  });

  it('two connections get only their own replies', T, async () => {
    const d = await JsonWs.open(srv.port);
    try {
      for (let i = 1; i <= 50; i++) {
        c.send({ op: 'echo', ref: i, data: `c${i}` });
        d.send({ op: 'echo', ref: i, data: `d${i}` });
      }
      for (let i = 1; i <= 50; i++) {
        assertOkReply(await c.next(), i, `c${i}`);
        assertOkReply(await d.next(), i, `d${i}`);
      }
    } finally {
      d.close();
    }
  });

  it('a message of 1 MiB + 1 byte -> close 1009', T, async () => {
    const d = await JsonWs.open(srv.port);
    try {
      d.send(echoOfSize(1, 1024 * 1024 + 1).text);
      assert.equal((await d.waitClose()).code, 1009);
    } finally {
      d.close();
    }
  });

  it('a binary message -> close 1003', T, async () => {
    const d = await JsonWs.open(srv.port);
    try {
      d.ws.send(Buffer.from('{"op":"echo","ref":1,"data":1}'));
      assert.equal((await d.waitClose()).code, 1003);
    } finally {
      d.close();
    }
  });

  it('a client close 1000 gets close 1000 back', T, async () => {
    const d = await JsonWs.open(srv.port);
    await d.echo('before close');
    d.ws.close(1000, 'done');
    const info = await d.waitClose();
    assert.equal(info.code, 1000);
  });

  it('the first connection is unaffected by everything above', T, async () => {
    assert.equal(c.isOpen, true);
    await c.echo('still here');
  });
});

describe('rate limit (--ws-rate 5 --ws-burst 5 --ws-flood-close 20)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--ws-rate', '5', '--ws-burst', '5', '--ws-flood-close', '20'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('5 messages pass, the next are rate_limited (reply with ref, event without), tokens refill', T, async () => {
    const c = await JsonWs.open(srv.port);
    try {
      for (let i = 1; i <= 8; i++) c.send({ op: 'echo', ref: i, data: i });
      c.send({ op: 'echo', data: 'no ref' });
      for (let i = 1; i <= 5; i++) assertOkReply(await c.next(), i, i);
      for (let i = 6; i <= 8; i++) assertErrorReply(await c.next(), i, 'rate_limited');
      assertErrorEvent(await c.next(), 'rate_limited');
      // 5 per second: after 450 ms there are at least 2 new tokens.
      await delay(450);
      await c.echo('refilled');
      assert.equal(c.isOpen, true);
    } finally {
      c.close();
    }
  });

  it('19 limited messages in a row do not close the connection', T, async () => {
    const c = await JsonWs.open(srv.port);
    try {
      for (let i = 1; i <= 24; i++) c.send({ op: 'echo', ref: i, data: i });
      for (let i = 1; i <= 5; i++) assertOkReply(await c.next(), i, i);
      for (let i = 6; i <= 24; i++) assertErrorReply(await c.next(), i, 'rate_limited');
      await delay(450);
      await c.echo('still open');
    } finally {
      c.close();
    }
  });

  it('20 limited messages in a row -> close 1008', T, async () => {
    const c = await JsonWs.open(srv.port);
    try {
      for (let i = 1; i <= 35; i++) c.send({ op: 'echo', ref: i, data: i });
      const info = await c.waitClose(5000);
      assert.equal(info.code, 1008);
      const got = c.queue;
      const ok = got.filter((m) => m.ok === true);
      const limited = got.filter((m) => m.ok === false && m.error?.code === 'rate_limited');
      assert.equal(ok.length, 5, 'the burst passed');
      assert.ok(limited.length >= 19 && limited.length <= 20,
        `${limited.length} rate_limited replies before the close, expected 19 or 20`);
      assert.equal(got.length, ok.length + limited.length, 'nothing else');
    } finally {
      c.close();
    }
  });

  it('a limited connection does not limit another connection', T, async () => {
    const a = await JsonWs.open(srv.port);
    const bb = await JsonWs.open(srv.port);
    try {
      for (let i = 1; i <= 10; i++) a.send({ op: 'echo', ref: i, data: i });
      for (let i = 1; i <= 5; i++) assertOkReply(await a.next(), i, i);
      for (let i = 6; i <= 10; i++) assertErrorReply(await a.next(), i, 'rate_limited');
      for (let i = 0; i < 5; i++) await bb.echo(`b${i}`);
    } finally {
      a.close();
      bb.close();
    }
  });
});
