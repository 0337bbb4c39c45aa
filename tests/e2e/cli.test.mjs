// cli.test.mjs: command line, option precedence (flag > env > config file) and logging.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { fetchOnce } from './lib/http.mjs';
import { echoOfSize } from './lib/rawws.mjs';
import { makeTempDir, runCli, startServer } from './lib/server.mjs';
import { freePort } from './lib/util.mjs';

const T = { timeout: 20000 };
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** Asserts exit 2 and a single stderr line that matches nameRe. */
function assertUsageError(r, nameRe) {
  assert.equal(r.timedOut, false, `chorus should exit at once, it was still running; stderr: ${r.stderr}`);
  assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one-line error expected, got: ${JSON.stringify(r.stderr)}`);
  assert.match(lines[0], nameRe);
}

describe('command line', () => {
  it('--help prints usage and exits 0', T, async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0, `stderr: ${r.stderr}`);
    assert.match(r.stdout, /usage/i);
    assert.match(r.stdout, /serve/);
    assert.match(r.stdout, /--listen/);
  });

  it('--version prints "chorus <version>" and exits 0', T, async () => {
    const r = await runCli(['--version']);
    assert.equal(r.code, 0, `stderr: ${r.stderr}`);
    assert.match(r.stdout, /^chorus \d+\.\d+\.\d+\S*\n?$/);
  });

  it('an unknown option exits 2 naming it', T, async () => {
    const d = makeTempDir();
    try {
      const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', d, '--no-such-option']);
      assertUsageError(r, /--no-such-option/);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  for (const [flag, value, re] of [
    ['--ws-max-message', 'abc', /ws-max-message/],
    ['--ws-max-message', '12XB', /ws-max-message/],
    ['--listen', 'nonsense', /listen/],
    ['--listen', '127.0.0.1:99999', /listen/],
    ['--log-level', 'verbose', /log-level/],
    ['--log-format', 'xml', /log-format/],
    ['--http-header-timeout', '10parsecs', /http-header-timeout/],
    ['--max-connections', '-1', /max-connections/],
  ]) {
    it(`a bad value (${flag} ${value}) exits 2 naming the option`, T, async () => {
      const d = makeTempDir();
      const args = ['serve', '--data', d];
      if (flag !== '--listen') args.push('--listen', '127.0.0.1:0');
      args.push(flag, value);
      try {
        assertUsageError(await runCli(args), re);
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    });
  }

  // --store: a URL may hold a password, which no message may show.
  for (const [how, value, re] of [
    ['not a PostgreSQL URL', 'mysql://u:hunter2@db/chorus', /--store: invalid value \(want a postgres:\/\/ or postgresql:\/\/ URL/],
    ['a URL libpq refuses', 'postgresql://u:hunter2@db/chorus?nosuch=1', /store postgresql:\/\/u:\*\*\*@db\/chorus\?nosuch=1: bad URL: .*nosuch/],
    // libpq's own message quotes the whole URI, or the password it could not decode.
    ['a URL whose message quotes it', 'postgresql://u:hunter2@[::1/chorus', /bad URL: .*IPv6.*"postgresql:\/\/u:\*\*\*@\[::1\/chorus"/],
    ['a password libpq cannot decode', 'postgresql://u:hun%zzter2@db/chorus', /bad URL: invalid percent-encoded token: "\*\*\*"/],
  ]) {
    it(`--store with ${how} exits 2, the password masked`, T, async () => {
      const d = makeTempDir();
      try {
        const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', d, '--store', value]);
        assertUsageError(r, re);
        assert.ok(!r.stderr.includes('hunter2') && !r.stderr.includes('hun%zz'), r.stderr);
        const e = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', d], { env: { CHORUS_STORE: value } });
        assert.equal(e.code, 2, e.stderr);
        assert.ok(!e.stderr.includes('hunter2') && !e.stderr.includes('hun%zz'), e.stderr);
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    });
  }

  it('--store naming a server that does not answer exits 1 at start with one error line', T, async () => {
    const d = makeTempDir();
    try {
      const url = `postgresql://u:hunter2@/chorus?host=${d}/no-server&port=1`;
      const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', d, '--store', url]);
      assert.equal(r.timedOut, false, r.stderr);
      assert.equal(r.code, 1, r.stderr);
      const errors = r.stderr.trimEnd().split('\n').filter((l) => / ERROR /.test(l));
      assert.equal(errors.length, 1, r.stderr);
      assert.match(errors[0], /cannot open the database: cannot connect to postgresql:\/\/u:\*\*\*@\/chorus/);
      assert.ok(!r.stderr.includes('hunter2'), r.stderr);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('a bad value in the environment exits 2 naming it', T, async () => {
    const d = makeTempDir();
    try {
      const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', d],
        { env: { CHORUS_WS_MAX_MESSAGE: 'abc' } });
      assertUsageError(r, /WS_MAX_MESSAGE|ws[-_]max[-_]message/i);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('a bad value in the config file exits 2 naming it', T, async () => {
    const d = makeTempDir();
    try {
      const cfg = path.join(d, 'chorus.json');
      fs.writeFileSync(cfg, JSON.stringify({ listen: '127.0.0.1:0', ws_max_message: 'abc' }));
      const r = await runCli(['serve', '--data', d, '--config', cfg]);
      assertUsageError(r, /ws[-_]max[-_]message/i);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('an unknown key in the config file exits 2 naming it', T, async () => {
    const d = makeTempDir();
    try {
      const cfg = path.join(d, 'chorus.json');
      fs.writeFileSync(cfg, JSON.stringify({ listen: '127.0.0.1:0', no_such_key: 1 }));
      const r = await runCli(['serve', '--data', d, '--config', cfg]);
      assertUsageError(r, /no_such_key/);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('command help and messages (issue 15)', () => {
  for (const cmd of ['serve', 'token']) {
    for (const flag of ['--help', '-h']) {
      it(`chorus ${cmd} ${flag} prints its usage on stdout and exits 0`, T, async () => {
        const r = await runCli([cmd, flag]);
        assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
        assert.equal(r.stderr, '');
        assert.match(r.stdout, new RegExp(`^usage: chorus ${cmd} `));
        for (const line of r.stdout.split('\n')) assert.ok(line.length < 100, `line of ${line.length} columns: ${line}`);
      });
    }
  }

  it('chorus serve --help: options grouped, each with its value form and default', T, async () => {
    const r = await runCli(['serve', '--help', '--listen', '127.0.0.1:0']);
    assert.equal(r.code, 0, r.stderr);
    const groups = [...r.stdout.matchAll(/^(\S[^:\n]*):$/gm)].map((m) => m[1]);
    for (const g of ['network', 'store and files', 'documents', 'entities']) assert.ok(groups.includes(g), `group ${g} in ${groups}`);
    assert.ok(groups.some((g) => g.startsWith('auth')), `an auth group in ${groups}`);
    assert.ok(groups.some((g) => g.startsWith('rooms')), `a rooms group in ${groups}`);
    assert.match(r.stdout, /^ {2}--ws-max-message SIZE +WebSocket message size .*\[1MiB\]$/m);
    assert.match(r.stdout, /^ {2}--rate-auth COUNT\/DURATION +.*\[100\/15m\]$/m);
    // The header names what every row shows: no column that is not there.
    assert.match(r.stdout, /CHORUS_WS_MAX_MESSAGE/);
    assert.match(r.stdout, /ws_max_message/);
  });

  it('chorus token --help explains where the key comes from', T, async () => {
    const r = await runCli(['token', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--user ID/);
    assert.match(r.stdout, /--ttl DURATION/);
    assert.match(r.stdout, /--data/);
    assert.match(r.stdout, /--jwt-secret/);
  });

  for (const [args, re] of [
    [['--ws-max-message', 'abc'], /^chorus serve: --ws-max-message: invalid value 'abc' \(want .*KiB.*\)$/],
    [['--rate-auth', '5'], /^chorus serve: --rate-auth: invalid value '5' \(want COUNT\/DURATION .*100\/15m/],
    [['--config', 'none.json'], /^chorus serve: config file none\.json: No such file or directory$/],
    [['--jwt-secret', 'short'], /^chorus serve: jwt-secret: 5 bytes is too short for HS256 \(want at least 32 bytes/],
  ]) {
    it(`serve ${args.join(' ')}: exit 2, one line that names the option once and says the form`, T, async () => {
      const d = makeTempDir();
      try {
        const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--data', d, ...args]);
        assertUsageError(r, re);
        const name = args[0].replace(/^--/, '');
        assert.equal(r.stderr.split(name).length - 1, 1, `"${name}" once in: ${r.stderr}`);
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    });
  }

  it('chorus token never creates a secret: a data directory without one exits 1 saying where it looked', T, async () => {
    const base = makeTempDir();
    try {
      for (const data of [path.join(base, 'missing'), base]) {
        const r = await runCli(['token', '--user', 'u1', '--data', data]);
        assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
        assert.equal(r.stdout, '', 'no token');
        assert.ok(r.stderr.includes(path.join(data, 'jwt_secret')), `names the file it looked for: ${r.stderr}`);
        assert.equal(fs.existsSync(path.join(data, 'jwt_secret')), false, 'no secret created');
      }
      assert.equal(fs.existsSync(path.join(base, 'missing')), false, 'no data directory created');
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it('chorus token uses the secret the server generated, and --ttl takes suffixes', T, async () => {
    const srv = await startServer();
    try {
      const data = path.join(srv.base, 'data');
      const r = await runCli(['token', '--user', 'u1', '--name', 'Ada', '--ttl', '10m', '--data', data]);
      assert.equal(r.code, 0, r.stderr);
      const tok = r.stdout.trim();
      const payload = JSON.parse(Buffer.from(tok.split('.')[1], 'base64url').toString());
      assert.equal(payload.exp - payload.iat, 600, '--ttl 10m');
      const res = await fetchOnce(srv.port, 'GET', '/api/auth/me', { headers: { authorization: `Bearer ${tok}` } });
      assert.equal(res.status, 200, res.text);
    } finally {
      await srv.stop();
    }
  });

  it('serve logs "ready on http://HOST:PORT" once it listens', T, async () => {
    const srv = await startServer();
    try {
      const line = await srv.waitForLine(/ready on /, 3000);
      assert.match(line, new RegExp(`^\\S+ INFO ready on http://127\\.0\\.0\\.1:${srv.port} `));
    } finally {
      await srv.stop();
    }
  });
});

describe('starting', () => {
  it('--opt=value syntax works', T, async () => {
    const srv = await startServer({ listen: null, args: ['--listen=127.0.0.1:0', '--ws-max-message=2KiB'] });
    try {
      assert.equal((await fetchOnce(srv.port, 'GET', '/healthz')).status, 200);
    } finally {
      await srv.stop();
    }
  });

  it('a missing --data directory is created with mode 0700', T, async () => {
    const base = makeTempDir();
    const dataDir = path.join(base, 'data');
    try {
      const srv = await startServer({ args: ['--data', dataDir], data: false });
      try {
        const st = fs.statSync(dataDir);
        assert.ok(st.isDirectory());
        assert.equal(st.mode & 0o777, 0o700);
      } finally {
        await srv.stop();
      }
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it('the database and its -wal/-shm files are mode 0600, new or existing', T, async () => {
    const base = makeTempDir();
    const dataDir = path.join(base, 'data');
    const files = ['chorus.db', 'chorus.db-wal', 'chorus.db-shm'];
    const modes = () => Object.fromEntries(files.map((f) => [f, fs.statSync(path.join(dataDir, f)).mode & 0o777]));
    const all600 = Object.fromEntries(files.map((f) => [f, 0o600]));
    try {
      // A new database (WAL mode: -wal and -shm exist while the server runs).
      const srv = await startServer({ args: ['--data', dataDir], data: false });
      try {
        assert.deepEqual(modes(), all600);
      } finally {
        // Killed, so the -wal and -shm files stay behind as after a crash.
        srv.kill();
        await srv.exited;
        srv.cleanup();
      }
      // An existing database and companions made world-readable are tightened at start.
      for (const f of files) fs.chmodSync(path.join(dataDir, f), 0o644);
      const again = await startServer({ args: ['--data', dataDir], data: false });
      try {
        assert.deepEqual(modes(), all600);
      } finally {
        await again.stop();
      }
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it('an address already in use exits 1', T, async () => {
    const srv = await startServer();
    try {
      const d = makeTempDir();
      // It fails at its listen, after opening its store: allow a slow (ASan, loaded) start.
      const r = await runCli(['serve', '--listen', `127.0.0.1:${srv.port}`, '--data', d], { timeoutMs: 15000 });
      fs.rmSync(d, { recursive: true, force: true });
      assert.equal(r.timedOut, false, 'the second server must not run');
      assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
      assert.ok(r.stderr.trim().length > 0, 'an error message on stderr');
    } finally {
      await srv.stop();
    }
  });
});

describe('option precedence: flag > env > config file', () => {
  async function listensOn(expected, { args = [], env = {} }) {
    const srv = await startServer({ listen: null, args, env });
    try {
      assert.equal(srv.port, expected, `listening port; stderr:\n${srv.stderrTail()}`);
      const res = await fetchOnce(srv.port, 'GET', '/healthz');
      assert.equal(res.status, 200);
    } finally {
      await srv.stop();
    }
  }

  it('config file port A, env port B, flag port C', T, async () => {
    const [a, b, c] = [await freePort(), await freePort(), await freePort()];
    assert.equal(new Set([a, b, c]).size, 3);
    const dir = makeTempDir();
    const cfg = path.join(dir, 'chorus.json');
    fs.writeFileSync(cfg, JSON.stringify({ listen: `127.0.0.1:${a}` }));
    try {
      const env = { CHORUS_LISTEN: `127.0.0.1:${b}` };
      await listensOn(c, { args: ['--config', cfg, '--listen', `127.0.0.1:${c}`], env });
      await listensOn(b, { args: ['--config', cfg], env });
      await listensOn(a, { args: ['--config', cfg] });
      // The config file can also be named by CHORUS_CONFIG.
      await listensOn(a, { env: { CHORUS_CONFIG: cfg } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a size option from env and from the config file takes effect, flag wins', T, async () => {
    // ws_max_message from the file is 150 bytes: the default 1 MiB would accept 200 bytes.
    const { JsonWs } = await import('./lib/wsclient.mjs');
    const dir = makeTempDir();
    const cfg = path.join(dir, 'chorus.json');
    fs.writeFileSync(cfg, JSON.stringify({ ws_max_message: 150 }));
    const big = echoOfSize(1, 200).text;
    const check = async (opts, expectClose) => {
      const srv = await startServer(opts);
      try {
        const c = await JsonWs.open(srv.port);
        c.send(big);
        if (expectClose) {
          assert.equal((await c.waitClose()).code, 1009);
        } else {
          const m = await c.next();
          assert.equal(m.ok, true, JSON.stringify(m).slice(0, 100));
          c.close();
        }
      } finally {
        await srv.stop();
      }
    };
    try {
      await check({ args: ['--config', cfg] }, true);
      await check({ env: { CHORUS_WS_MAX_MESSAGE: '160' } }, true);
      await check({ args: ['--config', cfg], env: { CHORUS_WS_MAX_MESSAGE: '1KiB' } }, false);
      await check({ args: ['--config', cfg, '--ws-max-message', '1KiB'], env: { CHORUS_WS_MAX_MESSAGE: '150' } }, false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('config file lists', () => {
  it('"origins" as a JSON array in the config file', T, async () => {
    const { JsonWs } = await import('./lib/wsclient.mjs');
    const dir = makeTempDir();
    const cfg = path.join(dir, 'chorus.json');
    fs.writeFileSync(cfg, JSON.stringify({ origins: ['http://one.example', 'http://two.example'] }));
    const srv = await startServer({ args: ['--config', cfg] });
    try {
      for (const origin of ['http://one.example', 'http://two.example']) {
        const c = await JsonWs.open(srv.port, { origin });
        c.close();
      }
      await assert.rejects(JsonWs.open(srv.port, { origin: 'http://three.example' }), (e) => e.statusCode === 403);
    } finally {
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('logging', () => {
  it('text format: ISO-8601 UTC time, level, listening line, access log per request', T, async () => {
    const srv = await startServer();
    try {
      const listening = srv.lines.find((l) => l.includes('listening on'));
      const m = /^(\S+) INFO listening on 127\.0\.0\.1:(\d+)$/.exec(listening);
      assert.ok(m, `listening line format: ${JSON.stringify(listening)}`);
      assert.match(m[1], ISO_UTC);
      assert.equal(Number(m[2]), srv.port);

      const from = srv.lines.length;
      assert.equal((await fetchOnce(srv.port, 'GET', '/healthz')).status, 200);
      assert.equal((await fetchOnce(srv.port, 'GET', '/no-such-page-xyz')).status, 404);
      const ok = await srv.waitForLine(/\/healthz/, 3000, from);
      assert.match(ok, /\b200\b/, `access line for /healthz: ${ok}`);
      assert.match(ok, /\bGET\b/, `access line for /healthz: ${ok}`);
      const nf = await srv.waitForLine(/\/no-such-page-xyz/, 3000, from);
      assert.match(nf, /\b404\b/, `access line for the 404: ${nf}`);
    } finally {
      await srv.stop();
    }
    for (const l of srv.lines.filter((x) => x.trim())) {
      assert.match(l, /^\d{4}-\d\d-\d\dT\S+Z (DEBUG|INFO|WARN|ERROR) \S/, `text log line: ${l}`);
    }
  });

  it('--log-format json: every stderr line is a JSON object with ts, level, msg', T, async () => {
    const srv = await startServer({ args: ['--log-format', 'json'] });
    try {
      const from = srv.lines.length;
      assert.equal((await fetchOnce(srv.port, 'GET', '/healthz?probe=json-log')).status, 200);
      const line = await srv.waitForLine(/json-log|\/healthz/, 3000, from);
      const o = JSON.parse(line);
      // docs/operations.md: access lines are msg "http" with remote, method, path, status, bytes, ms.
      assert.equal(o.msg, 'http', line);
      assert.equal(o.method, 'GET', line);
      assert.equal(o.path, '/healthz', `the path without its query string: ${line}`);
      assert.equal(o.status, 200, line);
      assert.equal(o.bytes, 15, `body bytes of {"status":"ok"}: ${line}`);
      assert.equal(typeof o.ms, 'number', line);
      assert.match(String(o.remote), /^127\.0\.0\.1:\d+$/, line);
    } finally {
      await srv.stop();
    }
    const lines = srv.lines.filter((l) => l.trim());
    assert.ok(lines.length >= 2, 'at least the listening and the access line');
    let listening = 0;
    for (const l of lines) {
      let o;
      assert.doesNotThrow(() => (o = JSON.parse(l)), `stderr line is not JSON: ${l}`);
      assert.equal(typeof o, 'object', l);
      assert.match(o.ts, ISO_UTC, `ts in ${l}`);
      assert.match(o.level, /^(debug|info|warn|error)$/i, `level in ${l}`);
      assert.equal(typeof o.msg, 'string', `msg in ${l}`);
      if (/^listening on 127\.0\.0\.1:\d+$/.test(o.msg)) listening++;
    }
    assert.equal(listening, 1, 'exactly one "listening on" msg');
  });

  it('--log-level warn hides info lines (listening, access log)', T, async () => {
    const port = await freePort();
    const srv = await startServer({ listen: `127.0.0.1:${port}`, args: ['--log-level', 'warn'], port });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await fetchOnce(port, 'GET', '/healthz')).status, 200);
    } finally {
      await srv.stop();
    }
    const info = srv.lines.filter((l) => / INFO /.test(l) || l.includes('listening on') || l.includes('/healthz'));
    assert.deepEqual(info, [], 'no info lines at --log-level warn');
  });

  it('the query string never reaches the log (tokens)', T, async () => {
    const srv = await startServer();
    try {
      const from = srv.lines.length;
      assert.equal((await fetchOnce(srv.port, 'GET', '/healthz?token=SECRET-TOKEN-123')).status, 200);
      assert.equal((await fetchOnce(srv.port, 'GET', '/missing?token=SECRET-TOKEN-123')).status, 404);
      await srv.waitForLine(/\/missing/, 3000, from);
    } finally {
      await srv.stop();
    }
    assert.deepEqual(srv.lines.filter((l) => l.includes('SECRET-TOKEN')), []);
  });

  it('CHORUS_LOG_FORMAT=json in the environment switches the format', T, async () => {
    const srv = await startServer({ env: { CHORUS_LOG_FORMAT: 'json' } });
    try {
      assert.equal((await fetchOnce(srv.port, 'GET', '/healthz')).status, 200);
    } finally {
      await srv.stop();
    }
    for (const l of srv.lines.filter((x) => x.trim())) assert.doesNotThrow(() => JSON.parse(l), l);
  });
});
