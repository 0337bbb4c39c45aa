// pg_migrate.test.mjs: moving an installation from SQLite to PostgreSQL and back with
// chorus export / import (docs/operations.md "Moving and backing up data"). A SQLite
// database filled through the API is exported and imported into a new PostgreSQL
// database; a server on PostgreSQL serves the same accounts, rooms, history, documents
// and entities, and takes new writes where the old one left off; exported from
// PostgreSQL the dump is the same file, and imported back into SQLite it exports the same
// again.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { POPULATE_ARGS, populate, view } from './lib/populate.mjs';
import { pgDatabase, psql } from './lib/pg.mjs';
import { RoomWs } from './lib/rooms.mjs';
import { makeTempDir, runCli, startServer } from './lib/server.mjs';

const T = { timeout: 90000 };

describe('SQLite -> PostgreSQL -> SQLite with export and import', () => {
  it('serves the same data on PostgreSQL, and every export is the same file', T, async () => {
    const d = makeTempDir();
    const a = await startServer({ args: POPULATE_ARGS, store: 'sqlite' });
    let b;
    try {
      const fx = await populate(a.port);
      const before = await view(a.port, fx);
      const dump = path.join(d, 'sqlite.jsonl');
      let r = await runCli(['export', '--data', a.dataDir, '-o', dump], { timeoutMs: 20000 });
      assert.equal(r.code, 0, r.stderr);
      const files = path.join(d, 'files'); // the data folder keeps jwt_secret
      fs.cpSync(a.dataDir, files, { recursive: true });
      await a.stop();
      const text = fs.readFileSync(dump, 'utf8');

      const url = await pgDatabase();
      r = await runCli(['import', '--store', url, dump], { timeoutMs: 20000 });
      assert.equal(r.code, 0, r.stderr);
      // Importing again is refused: the database is not empty any more.
      r = await runCli(['import', '--store', url, dump], { timeoutMs: 20000 });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the database is not empty/);
      r = await runCli(['export', '--store', url], { timeoutMs: 20000 });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout === text, 'PostgreSQL exports the same file');
      const count = Number((await psql(url, 'SELECT count(*) FROM room_messages')).trim());
      assert.equal(count, text.split('\n').filter((l) => l.startsWith('{"t":"room_messages"')).length);

      // A server on PostgreSQL (the same data folder: its jwt_secret is the same too).
      b = await startServer({ args: [...POPULATE_ARGS, '--store', url], data: false, setup: (base) =>
        fs.cpSync(files, path.join(base, 'data'), { recursive: true }) });
      assert.deepEqual(await view(b.port, fx), before);
      // New writes go on from the imported seqs and versions.
      const { room, host } = fx.rooms[0];
      const c = await RoomWs.open(b.port, host);
      try {
        await c.join(room.id);
        const last = before.rooms[0].messages.at(-1).seq;
        const m = await c.ok('message', { room: room.id, type: 'user_text', content: 'after the move' });
        assert.equal(m.message.seq, last + 1);
        const v = (await c.ok('doc_open', { room: room.id, doc: 'main' })).version;
        assert.equal(v, before.rooms[0].doc.version);
        assert.deepEqual(await c.ok('doc_op', { room: room.id, doc: 'main', version: v, delta: ['>'] }), { version: v + 1 });
      } finally {
        c.close();
      }
      await b.stop();
      b = null;

      // Back to SQLite: the PostgreSQL export imported into a new SQLite database.
      const back = path.join(d, 'pg.jsonl');
      r = await runCli(['export', '--store', url, '-o', back], { timeoutMs: 20000 });
      assert.equal(r.code, 0, r.stderr);
      const data2 = path.join(d, 'data2');
      r = await runCli(['import', '--data', data2, back], { timeoutMs: 20000 });
      assert.equal(r.code, 0, r.stderr);
      r = await runCli(['export', '--data', data2], { timeoutMs: 20000 });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout === fs.readFileSync(back, 'utf8'), 'SQLite exports what PostgreSQL exported');
      assert.ok(r.stdout.includes('"content":"after the move"'));
    } finally {
      a.kill();
      if (b) await b.stop();
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
