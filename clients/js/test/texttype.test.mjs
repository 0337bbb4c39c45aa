// texttype.test.mjs: the SDK's dependency-free textType against the ot-text-unicode npm
// package (the reference the server follows), on random docs with emoji and combining marks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import pkg from 'ot-text-unicode';

import { textType as T } from '../chorus.js';

const R = pkg.type;
const CASES = 3000;

// A small PRNG so that a failure is reproducible from the printed seed.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'b', 'c', ' ', '\n', 'é', 'e\u0301', '\u0301', '😀', '👍🏽', '𝄞', '中', '🇫🇷', 'z'];

function makeGen(seed) {
  const rand = rng(seed);
  const int = (n) => Math.floor(rand() * n);
  const str = (max) => {
    let s = '';
    const n = 1 + int(max);
    for (let i = 0; i < n; i++) s += ALPHABET[int(ALPHABET.length)];
    return s;
  };
  /** A random op valid for doc (raw: maybe not normalized). */
  const op = (doc, { raw = false } = {}) => {
    const cps = Array.from(doc);
    const out = [];
    let pos = 0;
    const steps = 1 + int(5);
    for (let k = 0; k < steps; k++) {
      const left = cps.length - pos;
      const r = rand();
      if (r < 0.35 && left > 0) {
        const n = 1 + int(left);
        out.push(n);
        pos += n;
      } else if (r < 0.7) {
        out.push(str(4));
      } else if (left > 0) {
        const n = 1 + int(Math.min(left, 4));
        out.push(rand() < 0.3 ? { d: cps.slice(pos, pos + n).join('') } : { d: n });
        pos += n;
      }
      if (raw && rand() < 0.2) out.push(rand() < 0.5 ? 0 : '');
    }
    if (raw && rand() < 0.5 && cps.length - pos > 0) out.push(1 + int(cps.length - pos));
    return raw ? out : R.normalize(out);
  };
  return { int, str, op, rand };
}

const clone = (x) => JSON.parse(JSON.stringify(x));
const cpLen = (s) => Array.from(s).length;

describe('textType vs ot-text-unicode', () => {
  it('normalize and apply agree', () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const g = makeGen(seed);
      const doc = g.str(20);
      const raw = g.op(doc, { raw: true });
      const norm = T.normalize(clone(raw));
      assert.deepEqual(norm, R.normalize(clone(raw)), `seed ${seed}: normalize ${JSON.stringify(raw)}`);
      assert.equal(T.apply(doc, norm), R.apply(doc, norm), `seed ${seed}: apply`);
      assert.equal(T.length(doc), cpLen(doc));
    }
  });

  it('transform (left and right) agrees and converges', () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const g = makeGen(seed * 7919);
      const doc = g.str(16);
      const a = g.op(doc);
      const b = g.op(doc);
      for (const side of ['left', 'right']) {
        const mine = T.transform(clone(a), clone(b), side);
        assert.deepEqual(mine, R.transform(clone(a), clone(b), side),
          `seed ${seed}: transform(${JSON.stringify(a)}, ${JSON.stringify(b)}, ${side}) on ${JSON.stringify(doc)}`);
      }
      // TP1: a then b' = b then a'.
      const x = T.apply(T.apply(doc, a), T.transform(b, a, 'right'));
      const y = T.apply(T.apply(doc, b), T.transform(a, b, 'left'));
      assert.equal(x, y, `seed ${seed}: convergence`);
    }
  });

  it('compose agrees', () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const g = makeGen(seed * 104729);
      const doc = g.str(16);
      const a = g.op(doc);
      const mid = R.apply(doc, a);
      const b = g.op(mid);
      const mine = T.compose(clone(a), clone(b));
      assert.deepEqual(mine, R.compose(clone(a), clone(b)), `seed ${seed}: compose(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
      assert.equal(T.apply(doc, mine), R.apply(mid, b), `seed ${seed}: compose applies`);
    }
  });

  it('transformPosition agrees (isOwn: inserts at the position push it)', () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const g = makeGen(seed * 31337);
      const doc = g.str(12);
      const op = g.op(doc);
      for (let p = 0; p <= cpLen(doc); p++) {
        assert.equal(T.transformPosition(p, op), R.transformPosition(p, op), `seed ${seed}: position ${p} through ${JSON.stringify(op)}`);
        const own = T.transformPosition(p, op, true);
        assert.ok(own >= T.transformPosition(p, op));
      }
    }
    assert.equal(T.transformPosition(2, [2, '😀x']), 2);
    assert.equal(T.transformPosition(2, [2, '😀x'], true), 4);
    assert.equal(T.transformPosition(3, [1, { d: 1 }, '😀']), 3);
  });

  it('code points, not UTF-16 units; invalid ops throw', () => {
    assert.equal(T.apply('a😀b', [1, { d: 1 }]), 'ab');
    assert.equal(T.apply('e\u0301x', [1, { d: 1 }]), 'ex');
    assert.equal(T.apply('😀😀', [1, '👍🏽']), '😀👍🏽😀');
    assert.throws(() => T.apply('ab', [3, 'x']));
    assert.throws(() => T.apply('ab', [1, { d: 2 }])); // past the end (the npm package allows it)
    assert.throws(() => T.apply('ab', [1, 1, 'x']));
    assert.throws(() => T.apply('ab', [1]));
    assert.throws(() => T.transform([1, 'x'], ['y'], 'middle'));
  });
});
