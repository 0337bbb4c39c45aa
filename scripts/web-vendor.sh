#!/usr/bin/env bash
# web-vendor.sh: copies the browser (ES module) builds of the web app's npm dependencies
# (CodeMirror 6 and what it imports, three.js and its GLTFLoader) from node_modules into
# web/lib/vendor/, one entry file per package or package subpath ("three/addons/loaders/
# GLTFLoader.js", found through the package's "exports", "*" patterns included). There is no bundler: the import map in web/index.html maps each
# bare specifier ("@codemirror/state") to its file here ("./lib/vendor/@codemirror/state.js"),
# and that import map is the list of what gets copied. A file the entry imports by a
# relative path inside its package (three.module.js imports ./three.core.js) is copied
# beside it at the same relative place, where the browser resolves it. The script checks
# that every bare import is in the map (so a new release with a new dependency fails here,
# not in a browser), and copies only files that changed, so a second run does nothing.
# Needs node_modules (npm ci). Usage: scripts/web-vendor.sh [out-dir]   (default web/lib/vendor)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-web/lib/vendor}"

if [ ! -d node_modules/@codemirror/view ]; then
    echo "web-vendor: node_modules/@codemirror is missing: run npm ci first" >&2
    exit 1
fi

exec node --input-type=module - "$out" <<'JS'
import fs from 'node:fs';
import path from 'node:path';

const out = process.argv[2];
const html = fs.readFileSync('web/index.html', 'utf8');
const m = html.match(/<script type="importmap">([\s\S]*?)<\/script>/);
if (!m) throw new Error('web/index.html has no <script type="importmap">');
const imports = JSON.parse(m[1]).imports;
const PREFIX = './lib/vendor/';

/** A specifier's package name and subpath: "three/addons/x.js" -> ["three", "./addons/x.js"]. */
function splitSpec(spec) {
  const parts = spec.split('/');
  const n = spec.startsWith('@') ? 2 : 1;
  return [parts.slice(0, n).join('/'), parts.length > n ? `./${parts.slice(n).join('/')}` : '.'];
}

/**
 * The ES module entry of an installed package: exports["."].import, else module; for a
 * subpath ("three/addons/loaders/GLTFLoader.js"), its exports entry, "*" patterns included.
 */
function esmEntry(spec) {
  const [pkg, sub] = splitSpec(spec);
  const pj = path.join('node_modules', pkg, 'package.json');
  if (!fs.existsSync(pj)) throw new Error(`${pkg} is not installed (no ${pj}): is it in package.json? run npm ci`);
  const j = JSON.parse(fs.readFileSync(pj, 'utf8'));
  if (sub !== '.') {
    const map = j.exports && typeof j.exports === 'object' ? j.exports : {};
    let e = map[sub];
    for (const [k, v] of Object.entries(map)) {
      if (e === undefined && k.endsWith('*') && sub.startsWith(k.slice(0, -1)) && typeof v === 'string') {
        e = v.replace('*', sub.slice(k.length - 1));
      }
    }
    while (e && typeof e === 'object') e = e.import ?? e.browser ?? e.default;
    if (!e) throw new Error(`${spec}: ${pkg}'s package.json exports no ${sub}`);
    return path.join(path.dirname(pj), e);
  }
  let e = j.exports && (typeof j.exports === 'string' ? j.exports : j.exports['.'] ?? j.exports);
  while (e && typeof e === 'object') e = e.import ?? e.browser ?? e.default;
  e = e || j.module;
  if (!e) throw new Error(`${pkg}: no ES module entry in its package.json`);
  return path.join(path.dirname(pj), e);
}

const bareImports = (src) => [...src.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm)]
  .map((x) => x[1] ?? x[2]);

let copied = 0;
const problems = [];
const written = new Map(); // dest -> the package that put it there (two must not clash)
for (const [spec, target] of Object.entries(imports)) {
  if (!target.startsWith(PREFIX)) continue;           // not a vendored package
  const entry = esmEntry(spec);
  const pkgDir = path.join('node_modules', splitSpec(spec)[0]);
  const entryDest = path.join(out, target.slice(PREFIX.length));
  // The entry, then every file it reaches by relative imports (kept inside the package).
  const queue = [[entry, entryDest]];
  const seen = new Set();
  while (queue.length) {
    const [src, dest] = queue.shift();
    if (seen.has(src)) continue;
    seen.add(src);
    const code = fs.readFileSync(src);
    for (const dep of bareImports(code.toString('utf8'))) {
      if (dep.startsWith('./') || dep.startsWith('../')) {
        const depSrc = path.join(path.dirname(src), dep);
        if (path.relative(pkgDir, depSrc).startsWith('..')) problems.push(`${spec} imports ${dep}, outside its package`);
        else if (!fs.existsSync(depSrc)) problems.push(`${spec} imports ${dep}, which is not in node_modules`);
        else queue.push([depSrc, path.join(path.dirname(dest), dep)]);
      } else if (dep.startsWith('/')) {
        problems.push(`${spec} imports an absolute path (${dep})`);
      } else if (!(dep in imports)) {
        problems.push(`${spec} imports "${dep}", which the import map in web/index.html lacks`);
      }
    }
    if (written.has(dest) && written.get(dest) !== spec) {
      problems.push(`${spec} and ${written.get(dest)} both need ${dest}: map one of them elsewhere`);
      continue;
    }
    written.set(dest, spec);
    const old = fs.existsSync(dest) ? fs.readFileSync(dest) : null;
    if (old && old.equals(code)) continue;
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, code);
    copied++;
  }
}
if (problems.length) {
  console.error(`web-vendor: ${problems.join('\nweb-vendor: ')}`);
  process.exit(1);
}
if (copied) console.log(`web-vendor: ${copied} file(s) copied into ${out}`);
JS
