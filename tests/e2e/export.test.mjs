// export.test.mjs: chorus export, import and migrate (docs/operations.md, "Moving and
// backing up data"): usage and errors, and a round trip on a database filled through the
// API: export (while the server runs) -> import into a new database -> export gives the
// same file, and a server started on the imported data serves the same accounts, rooms,
// history, documents and entities.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { api } from './lib/auth.mjs';
import { POPULATE_ARGS, populate, view } from './lib/populate.mjs';
import { makeTempDir, runCli, startServer } from './lib/server.mjs';

const T = { timeout: 60000 };

function usageError(r, re) {
  assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${JSON.stringify(r.stderr)}`);
  assert.match(lines[0], re);
}

function failure(r, re) {
  assert.equal(r.code, 1, `exit code; stdout ${r.stdout} stderr: ${r.stderr}`);
  assert.match(r.stderr, re);
}

describe('chorus export / import / migrate', () => {
  it('--help of each command, and bad usage exits 2 naming the option', T, async () => {
    for (const cmd of ['export', 'import', 'migrate']) {
      for (const h of ['-h', '--help']) {
        const r = await runCli([cmd, h]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^usage: chorus ${cmd}`));
        assert.match(r.stdout, /--data DIR/);
      }
      usageError(await runCli([cmd, '--no-such', 'x']), /unknown option '--no-such'/);
    }
    usageError(await runCli(['export', '-o']), /^chorus export: -o needs a value$/);
    usageError(await runCli(['import']), /^chorus import: FILE is missing/);
    usageError(await runCli(['import', '--data']), /^chorus import: FILE is missing/);
    usageError(await runCli(['import', '--data', 'dump.jsonl']), /--data/);
    const r = await runCli(['--help']);
    for (const cmd of ['export', 'import', 'migrate']) assert.match(r.stdout, new RegExp(`chorus ${cmd}`));
  });

  it('migrate says which version it found and left; export of no database fails', T, async () => {
    const d = makeTempDir();
    try {
      const data = path.join(d, 'data');
      let r = await runCli(['export', '--data', data]);
      failure(r, /^chorus export: --data: no database at '.*chorus\.db'/);
      assert.equal(fs.existsSync(path.join(data, 'chorus.db')), false, 'export creates no database');
      r = await runCli(['migrate', '--data', data]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^chorus migrate: sqlite .*chorus\.db: schema version 0 found, (\d+) now \(\1 migrations applied\)\n$/);
      r = await runCli(['migrate', '--data', data]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /schema version (\d+) found, \1 now \(0 migrations applied\)/);
      r = await runCli(['export', '--data', data]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\{"chorus_dump":1,"schema":\d+\}\n\{"chorus_dump_end":0\}\n$/, 'an empty database: the header and the end line only');
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('import refuses a bad file with the line, and leaves nothing behind', T, async () => {
    const d = makeTempDir();
    try {
      const data = path.join(d, 'data');
      const head = (await runCli(['migrate', '--data', data])) && (await runCli(['export', '--data', data])).stdout;
      const room = { capacity: 10, code: 'AAAAAA', created_at: 1, host_id: 'h', id: 'r1', is_public: 0, last_activity: 1, name: 'n', state: '{}', state_version: 0 };
      const part = { banned: 0, color: '#000000', display_name: 'A', joined_at: 1, role: 1, room_id: 'r1', user_id: 'h' };
      const line = (t, r) => JSON.stringify({ t, r });
      const hdr = head.slice(0, head.indexOf('\n') + 1);
      const end = (n) => `{"chorus_dump_end":${n}}\n`;
      const cases = [
        ['', /the file is empty/],
        ['hello\n', /line 1: not a chorus dump/],
        ['{"chorus_dump":2,"schema":8}\n', /line 1: dump format version 2; this chorus reads version 1/],
        ['{"chorus_dump":1,"schema":999}\n', /line 1: the dump holds schema version 999/],
        [hdr + line('rooms', room) + '\n{"t":"rooms"\n', /line 3: invalid JSON/],
        [hdr + line('tables', room) + '\n', /line 2: unknown table "tables"/],
        [hdr + line('rooms', { ...room, capacity: 'ten' }) + '\n', /line 2: the row of rooms was refused/],
        [hdr + line('rooms', room) + '\n' + line('rooms', room) + '\n', /line 3: a row of rooms with the same key came before/],
        [hdr + line('rooms', room) + '\n' + line('room_participants', { ...part, room_id: 'r2' }) + '\n', /line 3: this row of room_participants needs a room/],
        // Cut short (an export that failed midway into a pipe): no end line, nothing kept.
        [hdr + line('rooms', room) + '\n', /no end line after line 2: it was cut short/],
        [hdr + line('rooms', room) + '\n' + end(2), /line 3: the end line counts 2 rows, the dump holds 1/],
        [hdr + end(0) + line('rooms', room) + '\n', /line 3: a line after the dump's end line/],
      ];
      for (const [text, re] of cases) {
        fs.writeFileSync(path.join(d, 'bad.jsonl'), text);
        const r = await runCli(['import', '--data', data, path.join(d, 'bad.jsonl')]);
        failure(r, re);
        const after = await runCli(['export', '--data', data]);
        assert.equal(after.stdout, head, `nothing imported by ${JSON.stringify(text).slice(0, 80)}`);
      }
      // Not empty: refused, naming a table.
      fs.writeFileSync(path.join(d, 'one.jsonl'), hdr + line('rooms', room) + '\n' + end(1));
      assert.equal((await runCli(['import', '--data', data, path.join(d, 'one.jsonl')])).code, 0);
      failure(await runCli(['import', '--data', data, path.join(d, 'one.jsonl')]), /the database is not empty \(table rooms has rows\)/);
      failure(await runCli(['import', '--data', data, path.join(d, 'missing.jsonl')]), /FILE: cannot read/);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('round trip: export a running server, import into a new database, export again: the same file and the same data served', T, async () => {
    const d = makeTempDir();
    const a = await startServer({ args: POPULATE_ARGS });
    let b;
    try {
      const fx = await populate(a.port);
      const before = await view(a.port, fx);
      const made = await runCli(['apikey', 'create', '--name', 'exported', '--data', a.dataDir]);
      assert.equal(made.code, 0, made.stderr);
      const key = made.stdout.trim();
      const dump = path.join(d, 'a.jsonl');
      let r = await runCli(['export', '--data', a.dataDir, '-o', dump]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(fs.statSync(dump).mode & 0o777, 0o600, 'the dump holds password hashes: mode 0600');
      const text = fs.readFileSync(dump, 'utf8');
      const tables = new Set(text.trimEnd().split('\n').slice(1).map((l) => JSON.parse(l).t));
      for (const t of ['users', 'revocations', 'audit', 'rooms', 'room_participants', 'room_messages', 'documents', 'doc_ops', 'entities', 'api_keys'])
        assert.ok(tables.has(t), `the dump holds rows of ${t}`);
      await a.stop();

      const data2 = path.join(d, 'data2');
      r = await runCli(['import', '--data', data2, dump]);
      assert.equal(r.code, 0, r.stderr);
      r = await runCli(['export', '--data', data2]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout === text, 'export of the imported database is the same file');

      b = await startServer({ args: POPULATE_ARGS, setup: (base) => fs.cpSync(data2, path.join(base, 'data'), { recursive: true }) });
      assert.deepEqual(await view(b.port, fx), before);
      const who = await api(b.port, 'GET', '/api/server/whoami', { token: key });
      assert.equal(who.status, 200, 'the imported API key works');
    } finally {
      a.kill();
      if (b) await b.stop();
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
