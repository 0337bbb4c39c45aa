// ot_vectors.test.mjs: the committed OT differential vectors (tests/ot/vectors.jsonl, checked
// by the C unit test test_ot_vectors) are exactly what the installed ot-text-unicode
// computes today, so a change in the package or in the generator cannot go unnoticed.
// Regenerate with: node tests/ot/gen_vectors.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';

import { COUNT, generate, VECTORS } from '../ot/gen_vectors.mjs';

describe('ot-text-unicode vectors', () => {
  it('the committed vectors match the installed package', () => {
    const committed = fs.readFileSync(VECTORS, 'utf8');
    const fresh = generate();
    assert.equal(committed.split('\n').length - 1, COUNT);
    if (fresh !== committed) {
      const a = committed.split('\n'), b = fresh.split('\n');
      const i = a.findIndex((line, k) => line !== b[k]);
      assert.fail(`vectors differ first at line ${i + 1}:\n  committed ${a[i]}\n  fresh     ${b[i]}`);
    }
  });
});
