// frames.test.mjs: RFC 6455 framing rules over a raw TCP client, each with its exact
// close code, sent whole and (where the split matters) one byte per TCP write.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  closeFrame, closePayload, describeFrame, echoOfSize, frame, jsonFrame, OP, RawWs, textFrame,
} from './lib/rawws.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 15000 };
const MODES = ['whole', 'bytewise'];
const b = (...bytes) => Buffer.from(bytes);
const cat = (...bufs) => Buffer.concat(bufs);

/** A JSON echo request whose "data" holds the given raw UTF-8 bytes, as a Buffer. */
const echoWithRawData = (ref, rawBytes) =>
  cat(Buffer.from(`{"op":"echo","ref":${ref},"data":"`), rawBytes, Buffer.from('"}'));

// [name, bytes to send, expected close code]
const VIOLATIONS = [
  ['an unmasked client frame', () => textFrame('{"op":"echo","ref":1,"data":1}', { mask: false }), 1002],
  ['RSV1 set', () => textFrame('{}', { rsv: 4 }), 1002],
  ['RSV2 set', () => textFrame('{}', { rsv: 2 }), 1002],
  ['RSV3 set', () => textFrame('{}', { rsv: 1 }), 1002],
  ['RSV1 on a ping', () => frame({ opcode: OP.PING, payload: 'x', rsv: 4 }), 1002],
  ['reserved opcode 0x3', () => frame({ opcode: 0x3, payload: 'x' }), 1002],
  ['reserved opcode 0x7', () => frame({ opcode: 0x7, payload: 'x' }), 1002],
  ['reserved opcode 0xB', () => frame({ opcode: 0xb, payload: 'x' }), 1002],
  ['reserved opcode 0xF', () => frame({ opcode: 0xf, payload: 'x' }), 1002],
  ['a ping with a 126-byte payload', () => frame({ opcode: OP.PING, payload: Buffer.alloc(126, 0x61) }), 1002],
  ['a close with a 126-byte payload', () => frame({ opcode: OP.CLOSE, payload: closePayload(1000, 'r'.repeat(124)) }), 1002],
  ['a fragmented ping (FIN=0)', () => frame({ opcode: OP.PING, payload: 'x', fin: false }), 1002],
  ['a fragmented close (FIN=0)', () => frame({ opcode: OP.CLOSE, payload: closePayload(1000), fin: false }), 1002],
  ['a continuation frame without a start', () => frame({ opcode: OP.CONT, payload: 'abc' }), 1002],
  ['a final continuation frame without a start', () => frame({ opcode: OP.CONT, payload: 'abc', fin: true }), 1002],
  ['a new text frame inside a fragmented message', () => cat(
    frame({ opcode: OP.TEXT, payload: '{"op":"echo",', fin: false }),
    frame({ opcode: OP.TEXT, payload: '"ref":1}' })), 1002],
  ['a binary frame inside a fragmented text message', () => cat(
    frame({ opcode: OP.TEXT, payload: '{"op":', fin: false }),
    frame({ opcode: OP.BINARY, payload: '"echo"}' })), 1002],
  ['invalid UTF-8: overlong 2-byte C0 AF', () => textFrame(echoWithRawData(1, b(0xc0, 0xaf))), 1007],
  ['invalid UTF-8: overlong 3-byte E0 80 AF', () => textFrame(echoWithRawData(1, b(0xe0, 0x80, 0xaf))), 1007],
  ['invalid UTF-8: overlong 4-byte F0 80 80 AF', () => textFrame(echoWithRawData(1, b(0xf0, 0x80, 0x80, 0xaf))), 1007],
  ['invalid UTF-8: surrogate ED A0 80', () => textFrame(echoWithRawData(1, b(0xed, 0xa0, 0x80))), 1007],
  ['invalid UTF-8: surrogate ED BF BF', () => textFrame(echoWithRawData(1, b(0xed, 0xbf, 0xbf))), 1007],
  ['invalid UTF-8: above U+10FFFF F4 90 80 80', () => textFrame(echoWithRawData(1, b(0xf4, 0x90, 0x80, 0x80))), 1007],
  ['invalid UTF-8: byte FF', () => textFrame(echoWithRawData(1, b(0xff))), 1007],
  ['invalid UTF-8: lone continuation byte 80', () => textFrame(echoWithRawData(1, b(0x80))), 1007],
  ['invalid UTF-8: truncated sequence at the end of a message', () => textFrame(b(0x22, 0x61, 0xe2, 0x82)), 1007],
  ['invalid UTF-8: truncated sequence at the end of a fragmented message', () => cat(
    frame({ opcode: OP.TEXT, payload: '"abc', fin: false }),
    frame({ opcode: OP.CONT, payload: b(0xf0, 0x9f, 0x98) })), 1007],
  ['invalid UTF-8 in a continuation frame', () => cat(
    frame({ opcode: OP.TEXT, payload: '{"op":"echo","ref":1,"data":"', fin: false }),
    frame({ opcode: OP.CONT, payload: b(0xed, 0xa0, 0x80, 0x22, 0x7d) })), 1007],
  ['a close frame with a 1-byte payload', () => frame({ opcode: OP.CLOSE, payload: b(0x03) }), 1002],
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535].map((code) =>
    [`a close frame with invalid code ${code}`, () => closeFrame(code), 1002]),
  ['a close reason that is not UTF-8', () => frame({ opcode: OP.CLOSE, payload: closePayload(1000, b(0xff, 0xfe)) }), 1007],
  ['a close reason with a surrogate', () => frame({ opcode: OP.CLOSE, payload: closePayload(1000, b(0x61, 0xed, 0xa0, 0x80)) }), 1007],
  ['a binary frame', () => frame({ opcode: OP.BINARY, payload: '{"op":"echo","ref":1}' }), 1003],
  ['a fragmented binary message', () => cat(
    frame({ opcode: OP.BINARY, payload: 'ab', fin: false }),
    frame({ opcode: OP.CONT, payload: 'cd' })), 1003],
];

describe('frame rules: violations close with the exact code', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stop();
  });

  for (const [name, build, code] of VIOLATIONS) {
    for (const mode of MODES) {
      it(`${name} -> close ${code} (${mode})`, T, async () => {
        const ws = await RawWs.connect(srv.port);
        try {
          await ws.sendMode(build(), mode);
          const { before: earlier } = await ws.expectClose(code);
          assert.deepEqual(earlier.map(describeFrame), [], 'nothing but the close frame');
        } finally {
          ws.destroy();
        }
      });
    }
  }

  it('fail-fast UTF-8: a text frame announcing 1000 bytes closes 1007 before the rest is sent', T, async () => {
    const payload = Buffer.alloc(1000, 0x61);
    payload[0] = 0x22; // '"'
    payload[1] = 0xff; // never valid
    const whole = textFrame(payload);
    const ws = await RawWs.connect(srv.port);
    try {
      ws.send(whole.subarray(0, 2 + 2 + 4 + 4)); // header, 16-bit length, mask, 4 payload bytes
      await ws.expectClose(1007, { timeout: 3000 });
    } finally {
      ws.destroy();
    }
  });

  it('fail-fast UTF-8: a surrogate in the first bytes of a long frame', T, async () => {
    const payload = Buffer.alloc(1000, 0x61);
    payload.set([0x22, 0xed, 0xa0, 0x80], 0);
    const ws = await RawWs.connect(srv.port);
    try {
      ws.send(textFrame(payload).subarray(0, 8 + 4));
      await ws.expectClose(1007, { timeout: 3000 });
    } finally {
      ws.destroy();
    }
  });

  it('fail-fast UTF-8: invalid bytes in the first fragment of an unfinished message', T, async () => {
    const ws = await RawWs.connect(srv.port);
    try {
      ws.send(frame({ opcode: OP.TEXT, payload: b(0x22, 0xf4, 0x90), fin: false }));
      await ws.expectClose(1007, { timeout: 3000 });
    } finally {
      ws.destroy();
    }
  });
});

describe('frame rules: what must work', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv?.stop();
  });

  let ws;
  const open = async () => {
    ws = await RawWs.connect(srv.port);
    return ws;
  };
  const cleanup = () => ws?.destroy();

  const expectEcho = async (ref, data) => {
    assert.deepEqual(await ws.nextJson(), { op: 'reply', ref, ok: true, data });
  };

  for (const mode of MODES) {
    it(`an echo request (${mode})`, T, async () => {
      await open();
      try {
        await ws.sendMode(jsonFrame({ op: 'echo', ref: 1, data: 'split' }), mode, { stopOnReply: false });
        await expectEcho(1, 'split');
      } finally {
        cleanup();
      }
    });

    for (const payload of ['', 'hello', Buffer.from(Array.from({ length: 125 }, (_, i) => i * 7 % 256))]) {
      it(`ping with ${payload.length} bytes -> pong with the same payload (${mode})`, T, async () => {
        await open();
        try {
          await ws.sendMode(frame({ opcode: OP.PING, payload }), mode, { stopOnReply: false });
          const f = await ws.nextFrame();
          assert.equal(f.opcode, OP.PONG, describeFrame(f));
          assert.equal(f.fin, true);
          assert.deepEqual(f.payload, Buffer.from(payload));
        } finally {
          cleanup();
        }
      });
    }

    for (const code of [1000, 1001, 3000, 3999, 4000, 4999]) {
      it(`close ${code} -> the server echoes ${code} and closes TCP (${mode})`, T, async () => {
        await open();
        try {
          await ws.sendMode(closeFrame(code, 'bye'), mode, { stopOnReply: false });
          const f = await ws.nextFrame();
          assert.equal(f.opcode, OP.CLOSE, describeFrame(f));
          assert.equal(f.code, code);
          await ws.waitClosed(3000);
        } finally {
          cleanup();
        }
      });
    }

    it(`a fragmented message with a ping between fragments (${mode})`, T, async () => {
      await open();
      try {
        const bytes = cat(
          frame({ opcode: OP.TEXT, payload: '{"op":"echo",', fin: false }),
          frame({ opcode: OP.PING, payload: 'mid' }),
          frame({ opcode: OP.CONT, payload: '"ref":5,', fin: false }),
          frame({ opcode: OP.CONT, payload: '', fin: false }),
          frame({ opcode: OP.CONT, payload: '"data":"frag"}' }),
        );
        await ws.sendMode(bytes, mode, { stopOnReply: false });
        const pong = await ws.nextFrame();
        assert.equal(pong.opcode, OP.PONG, describeFrame(pong));
        assert.equal(pong.payload.toString(), 'mid');
        await expectEcho(5, 'frag');
      } finally {
        cleanup();
      }
    });

    it(`UTF-8 sequences split across fragments are valid (${mode})`, T, async () => {
      await open();
      try {
        const text = Buffer.from('{"op":"echo","ref":6,"data":"€😀"}');
        const i = text.indexOf(0xe2) + 1; // inside "€"
        const j = text.indexOf(0xf0) + 3; // inside the emoji
        const bytes = cat(
          frame({ opcode: OP.TEXT, payload: text.subarray(0, i), fin: false }),
          frame({ opcode: OP.CONT, payload: text.subarray(i, j), fin: false }),
          frame({ opcode: OP.CONT, payload: text.subarray(j) }),
        );
        await ws.sendMode(bytes, mode, { stopOnReply: false });
        await expectEcho(6, '€😀');
      } finally {
        cleanup();
      }
    });
  }

  it('boundary code points U+007F U+0080 U+07FF U+0800 U+D7FF U+E000 U+FFFF U+10000 U+10FFFF are valid', T, async () => {
    await open();
    try {
      const s = '\u007f\u0080\u07ff\u0800\ud7ff\ue000\uffff\u{10000}\u{10ffff}';
      ws.send(textFrame(echoWithRawData(8, Buffer.from(s))));
      await expectEcho(8, s);
    } finally {
      cleanup();
    }
  });

  it('a close with an empty payload -> the server replies (1000 or empty) and closes TCP', T, async () => {
    await open();
    try {
      ws.send(closeFrame(null));
      const f = await ws.nextFrame();
      assert.equal(f.opcode, OP.CLOSE, describeFrame(f));
      assert.ok(f.code === null || f.code === 1000, `close reply code ${f.code}`);
      await ws.waitClosed(3000);
    } finally {
      cleanup();
    }
  });

  it('a close with a UTF-8 reason of 123 bytes is valid', T, async () => {
    await open();
    try {
      ws.send(closeFrame(4001, 'é'.repeat(61) + 'x'));
      const f = await ws.nextFrame();
      assert.equal(f.opcode, OP.CLOSE);
      assert.equal(f.code, 4001);
      await ws.waitClosed(3000);
    } finally {
      cleanup();
    }
  });

  it('an unsolicited pong is ignored', T, async () => {
    await open();
    try {
      ws.send(cat(frame({ opcode: OP.PONG, payload: 'unasked' }), jsonFrame({ op: 'echo', ref: 9, data: 'after pong' })));
      await expectEcho(9, 'after pong');
    } finally {
      cleanup();
    }
  });

  it('many frames in one write: 100 echoes and pings -> replies in order', T, async () => {
    await open();
    try {
      const frames = [];
      for (let i = 1; i <= 100; i++) {
        frames.push(jsonFrame({ op: 'echo', ref: i, data: i }));
        if (i % 25 === 0) frames.push(frame({ opcode: OP.PING, payload: `p${i}` }));
      }
      ws.send(cat(...frames));
      const pongs = [];
      for (let i = 1; i <= 100;) {
        const f = await ws.nextFrame();
        if (f.opcode === OP.PONG) {
          pongs.push(f.payload.toString());
          continue;
        }
        assert.deepEqual(JSON.parse(f.payload), { op: 'reply', ref: i, ok: true, data: i });
        i++;
      }
      while (pongs.length < 4) pongs.push((await ws.nextFrame()).payload.toString());
      assert.deepEqual(pongs, ['p25', 'p50', 'p75', 'p100']);
    } finally {
      cleanup();
    }
  });

  it('a 70000-byte text message with a 64-bit length works (and the reply uses one too)', T, async () => {
    await open();
    try {
      const { text, data } = echoOfSize(10, 70000);
      const bytes = textFrame(text);
      assert.equal(bytes[1] & 0x7f, 127, '64-bit length encoding');
      ws.send(bytes);
      const f = await ws.nextFrame();
      assert.equal(f.lenBytes, 8, 'the reply is over 65535 bytes: 64-bit length');
      assert.deepEqual(JSON.parse(f.payload), { op: 'reply', ref: 10, ok: true, data });
    } finally {
      cleanup();
    }
  });

  it('the 70000-byte frame with its 14-byte header sent one byte at a time', T, async () => {
    await open();
    try {
      const { text, data } = echoOfSize(11, 70000);
      await ws.sendBytewise(textFrame(text), { upto: 20, stopOnReply: false });
      assert.deepEqual(await ws.nextJson(), { op: 'reply', ref: 11, ok: true, data });
    } finally {
      cleanup();
    }
  });

  it('a 200-byte message with a 16-bit length; the reply uses a 16-bit length', T, async () => {
    await open();
    try {
      const { text, data } = echoOfSize(12, 200);
      ws.send(textFrame(text));
      const f = await ws.nextFrame();
      assert.equal(f.lenBytes, 2);
      assert.deepEqual(JSON.parse(f.payload), { op: 'reply', ref: 12, ok: true, data });
    } finally {
      cleanup();
    }
  });

  it('a message in 50 fragments of any size (some empty)', T, async () => {
    await open();
    try {
      const { text, data } = echoOfSize(13, 3000);
      const buf = Buffer.from(text);
      const parts = [];
      let pos = 0;
      for (let i = 0; i < 50; i++) {
        const end = i === 49 ? buf.length : Math.min(buf.length, pos + (i % 5 === 0 ? 0 : (i * 37) % 120));
        parts.push(frame({ opcode: i === 0 ? OP.TEXT : OP.CONT, payload: buf.subarray(pos, end), fin: i === 49 }));
        pos = end;
      }
      ws.send(cat(...parts));
      await expectEcho(13, data);
    } finally {
      cleanup();
    }
  });
});

describe('message size limit (--ws-max-message 1KiB)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--ws-max-message', '1KiB'] });
  });
  after(async () => {
    await srv?.stop();
  });

  it('a message of exactly 1024 bytes works', T, async () => {
    const ws = await RawWs.connect(srv.port);
    try {
      const { text, data } = echoOfSize(1, 1024);
      ws.send(textFrame(text));
      assert.deepEqual(await ws.nextJson(), { op: 'reply', ref: 1, ok: true, data });
    } finally {
      ws.destroy();
    }
  });

  it('a fragmented message of exactly 1024 bytes works', T, async () => {
    const ws = await RawWs.connect(srv.port);
    try {
      const { text, data } = echoOfSize(2, 1024);
      const buf = Buffer.from(text);
      ws.send(cat(
        frame({ opcode: OP.TEXT, payload: buf.subarray(0, 500), fin: false }),
        frame({ opcode: OP.CONT, payload: buf.subarray(500) }),
      ));
      assert.deepEqual(await ws.nextJson(), { op: 'reply', ref: 2, ok: true, data });
    } finally {
      ws.destroy();
    }
  });

  for (const mode of MODES) {
    it(`a 1025-byte message -> close 1009 (${mode})`, T, async () => {
      const ws = await RawWs.connect(srv.port);
      try {
        await ws.sendMode(textFrame(echoOfSize(3, 1025).text), mode);
        await ws.expectClose(1009);
      } finally {
        ws.destroy();
      }
    });

    it(`three 400-byte fragments (1200 in all) -> close 1009 (${mode})`, T, async () => {
      const ws = await RawWs.connect(srv.port);
      try {
        const buf = Buffer.from(echoOfSize(4, 1200).text);
        await ws.sendMode(cat(
          frame({ opcode: OP.TEXT, payload: buf.subarray(0, 400), fin: false }),
          frame({ opcode: OP.CONT, payload: buf.subarray(400, 800), fin: false }),
          frame({ opcode: OP.CONT, payload: buf.subarray(800) }),
        ), mode);
        await ws.expectClose(1009);
      } finally {
        ws.destroy();
      }
    });
  }

  it('a 64-bit length announcing 2^40 bytes -> close 1009 without waiting for the payload', T, async () => {
    const ws = await RawWs.connect(srv.port);
    try {
      const head = Buffer.alloc(14);
      head[0] = 0x81;
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(2n ** 40n, 2);
      ws.send(head);
      await ws.expectClose(1009, { timeout: 3000 });
    } finally {
      ws.destroy();
    }
  });
});
