// store_pg.test.mjs: `chorus serve --store postgresql://…` against a real PostgreSQL, a
// throwaway cluster this file starts itself (scripts/pg-test.sh) and stops at the end: a
// room, its messages and state survive a restart of the server, and the password in the
// URL never reaches a log line. The larger suites on PostgreSQL are the e2e harness's.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { allMessages, createRoom, expectJson, getOk, joinRest, mkUser, patch, RoomWs } from './lib/rooms.mjs';
import { makeTempDir, REPO_ROOT, startServer } from './lib/server.mjs';

const T = { timeout: 60000 };
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'pg-test.sh');
const BASE_ARGS = ['--jwt-secret', TEST_SECRET, ...FAST_HASH];

describe('the PostgreSQL store (--store)', () => {
  let dir;
  let url; // of this file's database, with a password PostgreSQL does not ask for (trust)

  before(() => {
    // Short: the Unix socket's path must fit in 107 bytes.
    dir = makeTempDir('chorus-pg-');
    const base = execFileSync(SCRIPT, ['start', dir], { encoding: 'utf8' }).trim();
    execFileSync('psql', [base, '-qc', 'CREATE DATABASE chorus_e2e']);
    url = base.replace('postgresql://postgres@/postgres?', 'postgresql://postgres:s3cret-pw@/chorus_e2e?');
  });

  after(() => {
    if (dir) execFileSync(SCRIPT, ['stop', dir]);
  });

  it('stores rooms and messages there, across a restart, never logging the password', T, async () => {
    const start = () => startServer({ args: ['--store', url, ...BASE_ARGS] });
    const host = mkUser('Host');
    const guest = mkUser('Guest');
    let srv = await start();
    let room;
    const lines = [];
    try {
      room = await createRoom(srv.port, host, { name: 'on pg', state: { mode: 'a' } });
      await joinRest(srv.port, guest, room.id, { displayName: 'Guesty' });
      const c = await RoomWs.open(srv.port, guest);
      try {
        await c.join(room.id);
        for (const content of ['one', 'two', 'ünï ✓']) await c.ok('message', { room: room.id, type: 'user_text', content });
      } finally {
        c.close();
      }
      expectJson(await patch(srv.port, host, `/api/rooms/${room.id}/state`, { mode: 'b' }), 200);
    } finally {
      await srv.stop();
      lines.push(...srv.lines);
    }
    srv = await start();
    try {
      const got = (await getOk(srv.port, host, `/api/rooms/code/${room.roomCode}`)).room;
      assert.deepEqual(got.state, { mode: 'b' });
      const msgs = await allMessages(srv.port, guest, room.id);
      const mine = msgs.filter((m) => m.userId === guest.sub).map((m) => m.content);
      assert.deepEqual(mine, ['one', 'two', 'ünï ✓']);
      assert.deepEqual(msgs.map((m) => m.seq), msgs.map((_, i) => i + 1));
    } finally {
      await srv.stop();
      lines.push(...srv.lines);
    }
    assert.ok(lines.some((l) => /store: PostgreSQL at postgresql:\/\/postgres:\*\*\*@\/chorus_e2e/.test(l)),
      `the store line:\n${lines.join('\n')}`);
    assert.ok(!lines.some((l) => l.includes('s3cret-pw')), `a line shows the password:\n${lines.join('\n')}`);
  });

  it('a database of a newer schema is refused at start, saying why', T, async () => {
    execFileSync('psql', [url, '-qc', 'UPDATE schema_version SET version = 999']);
    try {
      const d = makeTempDir();
      try {
        await assert.rejects(startServer({ data: false, args: ['--data', d, '--store', url, ...BASE_ARGS] }),
          /schema version 999 is newer than this chorus supports/);
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    } finally {
      execFileSync('psql', [url, '-qc', 'UPDATE schema_version SET version = 8']);
    }
  });
});
