// layers.test.mjs: the folders of src/ are layers (docs/architecture.md), and a file
// includes only headers of its own layer and of the layers below it. The few includes
// that go up are listed here with their reason; a new one fails until it is fixed or
// listed (and the list and docs/architecture.md say why).
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

// "file -> header": why it goes up.
const UP = new Map([
  // A local subscriber is a proto_client_t, reached through its transport; an event's
  // payload is proto_part_t parts. Both types will move down to the bus when the cluster
  // bus needs its own receiver type (issue 19).
  ['bus/bus.h -> proto/proto.h', 'the local subscriber and payload parts'],
  ['domain/rooms.h -> proto/proto.h', 'rooms_subscribe and client_gone take the local proto_client_t'],
  ['domain/docs.h -> proto/proto.h', 'docs_subscribe takes the local proto_client_t'],
  ['domain/entities.h -> proto/proto.h', 'entities_member_gone takes the local proto_client_t'],
  ['domain/home.c -> proto/proto.h', 'unknown_op is answered with the envelope\'s code'],
]);

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
