// layers.test.mjs: the folders of src/ are layers (docs/architecture.md), and a file
// includes only headers of its own layer and of the layers below it. An include that
// goes up would have to be listed here with its reason (and docs/architecture.md say
// why); none is, and the list must stay empty: a new one fails until it is fixed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

// Lowest first. The application context (app/app.c) is built from everything below it and
// borrowed by the I/O layer; app/main.c, the program, builds both and may include anything.
const ORDER = ['util', 'store', 'auth', 'bus', 'domain', 'proto', 'app', 'io'];
const TOP = new Set(['app/main.c']);

// "file -> header": why it goes up. Empty: the bus knows a connection as its own
// bus_rcv_t and is given the protocol's framing (bus.h); the domain takes bus_rcv_t.
const UP = new Map([]);

function layerFiles() {
  const out = [];
  for (const dir of fs.readdirSync(SRC, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const f of fs.readdirSync(path.join(SRC, dir.name)))
      if (/\.[ch]$/.test(f)) out.push(`${dir.name}/${f}`);
  }
  return out;
}

describe('source layers', () => {
  it('no include is allowed to go up', () => {
    assert.deepEqual([...UP.keys()], []);
  });

  it('every folder of src/ is a known layer', () => {
    const dirs = fs.readdirSync(SRC, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    assert.deepEqual(dirs.filter((d) => !ORDER.includes(d)), []);
  });

  it('no file includes a header of a higher layer, except the ones listed', () => {
    const found = [];
    const used = new Set();
    for (const file of layerFiles()) {
      const from = TOP.has(file) ? ORDER.length : ORDER.indexOf(file.split('/')[0]);
      const text = fs.readFileSync(path.join(SRC, file), 'utf8');
      for (const m of text.matchAll(/^#include "([a-z]+)\/([a-z_]+\.h)"/gm)) {
        const to = ORDER.indexOf(m[1]);
        assert.ok(to >= 0, `${file} includes ${m[1]}/${m[2]}: not a layer`);
        if (to <= from) continue;
        const key = `${file} -> ${m[1]}/${m[2]}`;
        if (UP.has(key)) used.add(key);
        else found.push(key);
      }
      for (const m of text.matchAll(/^#include "([a-z_]+\.h)"/gm))
        found.push(`${file} -> ${m[1]} (a header of src/ named without its folder)`);
    }
    assert.deepEqual(found, [], 'includes that go up a layer');
    assert.deepEqual([...UP.keys()].filter((k) => !used.has(k)), [], 'listed exceptions that no longer exist');
  });
});
