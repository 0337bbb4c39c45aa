// backup.test.mjs: chorus backup (SQLite's online backup API: a consistent copy while the
// server writes), the restore procedure of docs/operations.md, chorus check-config, and
// the systemd unit in dist/ (systemd-analyze verify, when the tool exists).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

import { TEST_SECRET } from './lib/auth.mjs';
import { REPO_ROOT, makeTempDir, runCli, startServer } from './lib/server.mjs';
import { RoomWs, allMessages, createRoom, mkUser } from './lib/rooms.mjs';

const T = { timeout: 60000 };
const run = promisify(execFile);
const sql = async (db, q) => (await run('sqlite3', [db, q])).stdout.trim();
const which = async (cmd) => run('sh', ['-c', `command -v ${cmd}`]).then(() => true, () => false);

describe('chorus backup', () => {
  it('usage: --help, --to missing, PostgreSQL, no database', T, async () => {
    let r = await runCli(['backup', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^usage: chorus backup --to FILE/);
    r = await runCli(['backup']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'chorus backup: --to FILE is missing (where the copy goes)\n');
    r = await runCli(['backup', '--to', 'x.db', '--store', 'postgres://u:secret@127.0.0.1/chorus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^chorus backup: the store is PostgreSQL .*pg_dump, or with chorus export/);
    assert.doesNotMatch(r.stderr, /secret/, 'the password is masked');
    const d = makeTempDir();
    try {
      r = await runCli(['backup', '--data', d, '--to', path.join(d, 'b.db')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^chorus backup: --data: no database at '.*chorus\.db'/);
      assert.deepEqual(fs.readdirSync(d), [], 'nothing created');
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('a backup taken during a write burst is whole and a prefix; restoring it serves that data', T, async () => {
    const args = ['--jwt-secret', TEST_SECRET];
    const srv = await startServer({ args, store: 'sqlite' });
    const out = makeTempDir();
    let srv2;
    try {
      const u = mkUser('Writer');
      const room = await createRoom(srv.port, u, { name: 'Burst' });
      const c = await RoomWs.open(srv.port, u);
      await c.join(room.id);
      // The burst: 400 messages in flight; the backup starts once the first 50 are stored.
      const N = 400;
      const replies = [];
      for (let i = 1; i <= N; i++) replies.push(c.call('message', { room: room.id, type: 'user_text', content: `m${i}` }, 30000));
      await replies[49];
      const dst = path.join(out, 'backup.db');
      const r = await runCli(['backup', '--data', srv.dataDir, '--to', dst], { timeoutMs: 20000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^chorus backup: .*chorus\.db -> .*backup\.db \(\d+ pages of \d+ bytes, integrity ok\)\n$/);
      for (const p of await Promise.all(replies)) assert.equal(p.ok, true);
      c.close();
      assert.equal(fs.statSync(dst).mode & 0o777, 0o600, 'mode 0600');
      assert.deepEqual(fs.readdirSync(out), ['backup.db'], 'one self-contained file, no -wal or .partial');
      assert.equal(await sql(dst, 'PRAGMA integrity_check'), 'ok');
      const seqs = (await sql(dst, `SELECT seq FROM room_messages WHERE room_id = '${room.id}' ORDER BY seq`))
        .split('\n').filter(Boolean).map(Number);
      assert.ok(seqs.length >= 50, `at least the 50 stored before it: ${seqs.length}`);
      assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'seq 1..k with no gap: a prefix');
      const contents = (await sql(dst, `SELECT content FROM room_messages WHERE room_id = '${room.id}' ORDER BY seq`)).split('\n');
      assert.deepEqual(contents, seqs.map((s) => `m${s}`));
      const data = srv.dataDir;
      // Restore: stop, replace the file (and drop the old WAL), start: the backup's data is there.
      await srv.stop().catch(() => {});
      srv2 = await startServer({
        args, store: 'sqlite',
        setup: (base) => {
          fs.copyFileSync(dst, path.join(base, 'data', 'chorus.db'));
        },
      });
      assert.notEqual(srv2.dataDir, data);
      const msgs = await allMessages(srv2.port, u, room.id);
      assert.deepEqual(msgs.map((m) => m.content), contents);
    } finally {
      srv.kill();
      if (srv2) await srv2.stop();
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses to copy the database onto itself', T, async () => {
    const d = makeTempDir();
    try {
      assert.equal((await runCli(['migrate', '--data', d])).code, 0);
      const r = await runCli(['backup', '--data', d, '--to', path.join(d, 'chorus.db')]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^chorus backup: --to: '.*chorus\.db' is the database itself\n$/);
      assert.equal(await sql(path.join(d, 'chorus.db'), 'PRAGMA integrity_check'), 'ok');
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('chorus check-config', () => {
  it('exits 0 on what serve accepts, creating nothing', T, async () => {
    const d = makeTempDir();
    try {
      const data = path.join(d, 'data');
      const r = await runCli(['check-config', '--data', data, '--listen', '127.0.0.1:0']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^chorus check-config: ok: listen 127\.0\.0\.1:0, store sqlite .*chorus\.db \(created at start\), tokens HS256 \(secret generated at first start\)\n$/);
      assert.equal(fs.existsSync(data), false, 'no data directory created');
      assert.equal((await runCli(['migrate', '--data', data])).code, 0);
      const before = fs.readdirSync(data).sort();
      const r2 = await runCli(['check-config', '--data', data, '--jwt-secret', TEST_SECRET]);
      assert.equal(r2.code, 0, r2.stderr);
      assert.match(r2.stdout, /store sqlite .*chorus\.db \(schema version \d+\), tokens HS256\n$/);
      assert.deepEqual(fs.readdirSync(data).sort(), before, 'nothing written');
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('exits 2 with the message serve gives', T, async () => {
    const d = makeTempDir();
    try {
      fs.writeFileSync(path.join(d, 'c.json'), JSON.stringify({ jwt_secret: TEST_SECRET, listen: '127.0.0.1:0' }));
      fs.writeFileSync(path.join(d, 'cert.pem'), 'not a certificate\n');
      const cases = [
        [['--no-such', 'x'], /unknown option '--no-such'/],
        [['--ws-rate', 'lots'], /--ws-rate/],
        [['--store', 'mysql://x'], /--store/],
        [['--jwt-secret', 'short'], /too short for HS256/],
        [['--jwt-alg', 'RS256', '--jwt-public-key', path.join(d, 'missing.pem')], /cannot read '.*missing\.pem'/],
        [['--listen', 'localhost:80'], /listen address 'localhost' is not a numeric/],
        [['--tls-cert', path.join(d, 'cert.pem'), '--tls-key', path.join(d, 'cert.pem')], /tls: .*cert\.pem/],
        [['--config', path.join(d, 'nope.json')], /nope\.json/],
        [['--data', path.join(d, 'c.json', 'data')], /cannot create data directory '.*c\.json\/data': Not a directory/],
      ];
      for (const [args, re] of cases) {
        const chk = await runCli(['check-config', '--data', path.join(d, 'data'), ...args]);
        assert.equal(chk.code, 2, `${args}: ${chk.stderr}`);
        assert.match(chk.stderr, re, String(args));
        assert.equal(chk.stdout, '');
        // serve gives the same reason (it exits 2 for options, 1 for what it finds at start).
        const srv = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', path.join(d, 'data'), ...args], { timeoutMs: 5000 });
        assert.notEqual(srv.code, 0, `serve ${args}`);
        assert.match(srv.stderr, re, `serve ${args}`);
      }
      const ok = await runCli(['check-config', '--data', path.join(d, 'data'), '--config', path.join(d, 'c.json')]);
      assert.equal(ok.code, 0, ok.stderr);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('a database newer than this chorus is refused as serve refuses it', T, async () => {
    const d = makeTempDir();
    try {
      assert.equal((await runCli(['migrate', '--data', d])).code, 0);
      await sql(path.join(d, 'chorus.db'), 'UPDATE schema_version SET version = 999');
      const r = await runCli(['check-config', '--data', d, '--jwt-secret', TEST_SECRET]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /database schema version 999 is newer than this chorus supports/);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('dist/chorus.service', () => {
  it('passes systemd-analyze verify', T, async (t) => {
    const unit = path.join(REPO_ROOT, 'dist', 'chorus.service');
    const text = fs.readFileSync(unit, 'utf8');
    for (const k of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ReadWritePaths=', 'PrivateTmp=yes',
      'ProtectHome=yes', 'RestrictAddressFamilies=', 'CapabilityBoundingSet=\n', 'SystemCallFilter=@system-service',
      'LimitNOFILE=', 'ExecReload=/bin/kill -HUP $MAINPID']) assert.ok(text.includes(k), k);
    if (!(await which('systemd-analyze'))) return t.skip('systemd-analyze is not installed');
    // verify checks that ExecStart's binary exists: point it at this build.
    const d = makeTempDir();
    try {
      const bin = process.env.CHORUS_BIN ? path.resolve(process.env.CHORUS_BIN) : path.join(REPO_ROOT, 'build', 'chorus');
      const copy = path.join(d, 'chorus.service');
      fs.writeFileSync(copy, text.replaceAll('/usr/local/bin/chorus', bin));
      const r = await run('systemd-analyze', ['verify', '--man=no', copy]).catch((e) => e);
      const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
      assert.equal(r.code ?? 0, 0, out);
      assert.doesNotMatch(out, /chorus\.service:\d+: /, `no warning about the unit: ${out}`);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
