// gen_vectors.mjs: differential test vectors for src/domain/ot_text.c, computed by the reference
// ot-text-unicode package from a fixed seed. Each line of vectors.jsonl is one case:
//   doc, a, b (ops on doc), c (an op on apply(doc, a)),
//   tl / tr = transform(a, b, 'left' / 'right'), comp = compose(a, c),
//   da / db = apply(doc, a / b), dbl / dbr = apply(db, tl / tr), dc = apply(doc, comp),
//   cur = [[pos, transformPosition(pos, a)], ...].
// Results go through stripInvertible so deletes are {d: N}, as ot_op_to_json writes them;
// inputs sometimes use {d: "text"}. Usage: node tests/ot/gen_vectors.mjs [out] [count]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import otText from 'ot-text-unicode';

const { type } = otText;

export const SEED = 20240611;
export const COUNT = 2000;
export const VECTORS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'vectors.jsonl');

// mulberry32: a tiny seeded PRNG, so the vectors are the same on every run and machine.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Mostly ASCII, then a combining acute accent, e-acute, CJK, two emoji (astral, one code
// point each but two UTF-16 units) and a newline: the same alphabet as test_ot_props.c.
const ALPHABET = ['a', 'b', 'c', 'x', ' ', '\n', '\u0301', '\u00e9', '\u4e2d', '\u{1F600}',
  '\u{1F47B}', 'Z'];

export function generate(count = COUNT, seed = SEED) {
  const r = rng(seed);
  const below = (n) => Math.floor(r() * n);
  const text = (n) => {
    let s = '';
    for (let i = 0; i < n; i++) s += ALPHABET[below(ALPHABET.length)];
    return s;
  };
  const cps = (s) => [...s];

  // A random normalized op on doc (skips, inserts, deletes by count or by text).
  const randOp = (doc) => {
    const chars = cps(doc);
    const op = [];
    let pos = 0;
    const parts = below(5);
    for (let i = 0; i < parts; i++) {
      const left = chars.length - pos;
      const kind = below(3);
      if (kind === 0 && left) {
        const k = 1 + below(left);
        op.push(k);
        pos += k;
      } else if (kind === 1) {
        op.push(text(1 + below(4)));
      } else if (kind === 2 && left) {
        const k = 1 + below(Math.min(left, 6));
        op.push(below(2) ? { d: k } : { d: chars.slice(pos, pos + k).join('') });
        pos += k;
      }
    }
    return type.normalize(op);
  };
  const strip = (op) => type.stripInvertible(op);

  const lines = [];
  for (let i = 0; i < count; i++) {
    const doc = text(below(i % 16 === 0 ? 40 : 16));
    const a = randOp(doc);
    const b = randOp(doc);
    type.checkOp(a);
    type.checkOp(b);
    const da = type.apply(doc, a);
    const db = type.apply(doc, b);
    const c = randOp(da);
    const tl = type.transform(a, b, 'left');
    const tr = type.transform(a, b, 'right');
    const comp = type.compose(a, c);
    const len = cps(doc).length;
    const cur = [];
    for (const p of new Set([0, below(len + 1), below(len + 1), len])) {
      cur.push([p, type.transformPosition(p, a)]);
    }
    lines.push(JSON.stringify({
      doc, a, b, c,
      tl: strip(tl), tr: strip(tr), comp: strip(comp),
      da, db, dbl: type.apply(db, tl), dbr: type.apply(db, tr), dc: type.apply(doc, comp),
      cur,
    }));
  }
  return lines.join('\n') + '\n';
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const out = process.argv[2] || VECTORS;
  const count = process.argv[3] ? Number(process.argv[3]) : COUNT;
  fs.writeFileSync(out, generate(count));
  console.log(`wrote ${count} cases to ${out}`);
}
