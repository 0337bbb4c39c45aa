// readme.test.mjs: README.md's tour runs as pasted. Its shell and JavaScript blocks run in
// order against a fresh server, the way the README tells a reader to run them: shell
// blocks with bash in the repository's directory (what one block exports, the next one
// sees), JavaScript with `node --input-type=module` there, with that environment. The only
// rewrites: the server's address (a free port instead of 127.0.0.1:8080), its data
// directory (instead of ./var) and the binary under test (instead of build/chorus).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH } from './lib/auth.mjs';
import { fetchOnce } from './lib/http.mjs';
import { BIN, REPO_ROOT, cleanEnv, makeTempDir, startServer } from './lib/server.mjs';

const T = { timeout: 60000 };
const README = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

/** The text of the section under `## title`, up to the next `## ` heading. */
function section(title) {
  const start = README.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README.md has a "## ${title}" section`);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** The fenced code blocks of text, in order: {lang, code}. */
function codeBlocks(text) {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], code: m[2] }));
}

/**
 * Outputs a block promises in its comments (`# {...}` or `// {...}`), when given in full
 * (an answer abbreviated with … is an illustration, not a promise).
 */
function promisedOutputs(code) {
  const out = [];
  for (const m of code.matchAll(/(?:^|\s)(?:#|\/\/) (\{.*\})\s*$/gm)) if (!m[1].includes('…')) out.push(m[1]);
  return out;
}

/** Runs a process to completion, input (if any) on its stdin; resolves {code, stdout, stderr}. */
function run(cmd, args, { input, env, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const stdin = input === undefined ? 'ignore' : 'pipe';
    const p = spawn(cmd, args, { cwd: REPO_ROOT, env, stdio: [stdin, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (p.stdin) {
      p.stdin.on('error', () => {}); // a child that exits early: its exit status tells
      p.stdin.end(input);
    }
  });
}

describe('README tour', () => {
  let srv;
  let dataDir;
  let state; // a bash file holding the exported variables, block to block
  before(async () => {
    srv = await startServer({ args: [...FAST_HASH, '--web', path.join(REPO_ROOT, 'web')], web: false });
    dataDir = path.join(srv.base, 'data');
    state = path.join(makeTempDir('chorus-readme-'), 'env.sh');
    fs.writeFileSync(state, '');
  });
  after(async () => {
    await srv?.stop();
    if (state) fs.rmSync(path.dirname(state), { recursive: true, force: true });
  });

  const rewrite = (code) =>
    code
      .replaceAll('127.0.0.1:8080', `127.0.0.1:${srv.port}`)
      .replaceAll('--data ./var', `--data ${dataDir}`)
      .replace(/^build\/chorus /gm, `${BIN} `);

  it('every shell and JavaScript block of "A short tour" runs, in order, as the README says', T, async () => {
    const blocks = codeBlocks(section('A short tour'));
    assert.ok(blocks.length >= 5, `tour blocks: ${blocks.length}`);
    assert.deepEqual(blocks[0], { lang: 'sh', code: 'make run\n' }, 'the tour starts the server with make run');
    const exported = new Set();
    for (const [i, { lang, code }] of blocks.entries()) {
      if (i === 0) continue; // make run: this test started the server
      const label = `block ${i} (${lang}):\n${code}`;
      const script = rewrite(code);
      let r;
      if (lang === 'sh') {
        r = await run('bash', ['-c', `set -eo pipefail\nsource ${state}\n${script}\nexport -p > ${state}\n`], { env: cleanEnv() });
        for (const m of code.matchAll(/^export (\w+)=/gm)) exported.add(m[1]);
      } else if (lang === 'js') {
        r = await run('bash', ['-c', `source ${state} && exec node --input-type=module`], { input: script, env: cleanEnv() });
      } else {
        assert.fail(`a tour block in ${JSON.stringify(lang)}: only sh and js run; ${label}`);
      }
      assert.equal(r.code, 0, `${label}\nexit ${r.code} ${r.signal ?? ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      for (const out of promisedOutputs(code)) assert.ok(r.stdout.includes(out), `${label}\nprints ${out}; stdout: ${r.stdout}`);
      // What a block exports is real: a token, a room code, never empty or "undefined".
      for (const name of exported) {
        const v = await run('bash', ['-c', `source ${state} && printf %s "$${name}"`], { env: cleanEnv() });
        assert.ok(v.stdout && v.stdout !== 'undefined', `${label}\n$${name} is ${JSON.stringify(v.stdout)}`);
      }
      if (lang === 'js') assert.equal(r.stderr, '', `${label}\nstderr: ${r.stderr}`);
    }
    assert.ok(exported.has('TOKEN') && exported.has('ROOM'), `the tour keeps TOKEN and ROOM: ${[...exported]}`);
  });

  it('the SDK path the README gives for a browser console is served', T, async () => {
    const m = /`(\/lib\/chorus\.js)`/.exec(section('A short tour'));
    assert.ok(m, 'the tour names the SDK path the web server serves');
    const res = await fetchOnce(srv.port, 'GET', m[1]);
    assert.equal(res.status, 200);
    // The SDK bundled into one file (scripts/sdk-bundle.sh): an ES module exporting Chorus.
    const mod = await import(`data:text/javascript;base64,${Buffer.from(res.text).toString('base64')}`);
    assert.equal(typeof mod.Chorus, 'function');
    assert.equal(mod.default, mod.Chorus);
  });
});

describe('README layout', () => {
  it('names every C source file of src/ in the row of its folder', () => {
    const layout = section('Layout');
    const rows = new Map();
    for (const line of layout.split('\n')) {
      const m = /^\| `(src\/[a-z]+\/)` \|/.exec(line);
      if (m) rows.set(m[1], line);
    }
    const missing = [];
    for (const ent of fs.readdirSync(path.join(REPO_ROOT, 'src'), { withFileTypes: true })) {
      if (!ent.isDirectory()) {
        if (ent.name.endsWith('.c')) missing.push(`src/${ent.name} (outside a layer folder)`);
        continue;
      }
      const row = rows.get(`src/${ent.name}/`) ?? '';
      for (const f of fs.readdirSync(path.join(REPO_ROOT, 'src', ent.name))) {
        if (!f.endsWith('.c')) continue;
        if (row.includes(`\`${f}\``) || (f.startsWith('conn') && row.includes('`conn*.c`'))) continue;
        missing.push(`src/${ent.name}/${f}`);
      }
    }
    assert.deepEqual(missing, [], 'src files missing from their folder\'s row of the README layout table');
  });
});

describe('setup: the Node.js version', () => {
  const check = path.join(REPO_ROOT, 'scripts', 'check-node.sh');
  it('scripts/check-node.sh (run by make deps) refuses Node 18 with a clear message', T, async () => {
    const dir = makeTempDir('chorus-node18-');
    try {
      fs.writeFileSync(path.join(dir, 'node'), '#!/bin/sh\necho 18.19.0\n', { mode: 0o755 });
      const env = cleanEnv({ PATH: `${dir}:${process.env.PATH}` });
      const r = await run('bash', [check], { env });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Node\.js 18\.19\.0 is too old: .*Node\.js 20 or later/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts the node that runs these tests', T, async () => {
    const r = await run('bash', [check], { env: cleanEnv() });
    assert.equal(r.code, 0, r.stderr);
  });
});
