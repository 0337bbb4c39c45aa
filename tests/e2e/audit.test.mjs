// audit.test.mjs: refused tokens and failed logins cannot flood the audit table
// (docs/operations.md "Audit"): repeats of one source fold into one row per window,
// failed WebSocket token checks are limited per IP, old rows are pruned.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { api, FAST_HASH, mintJwt, TEST_SECRET } from './lib/auth.mjs';
import { assertJsonError, buildRequest, HttpConn } from './lib/http.mjs';
import { until } from './lib/rooms.mjs';
import { makeTempDir, startServer } from './lib/server.mjs';
import { assertErrorReply, JsonWs } from './lib/wsclient.mjs';

const T = { timeout: 30000 };

const rowsOf = (db, sql = 'select * from audit order by id') =>
  JSON.parse(execFileSync('sqlite3', ['-json', db, sql], { encoding: 'utf8' }) || '[]');

describe('audit flooding', () => {
  it('800 refused tokens from 4 connections: at most 2 rows, whose counts add up to 800', T, async () => {
    const d = makeTempDir('chorus-e2e-data-');
    let srv;
    try {
      srv = await startServer({ data: false, args: ['--data', d, ...FAST_HASH, '--rate-api-ip', '100000/1m'] });
      const conns = await Promise.all([0, 1, 2, 3].map(() => HttpConn.open(srv.port)));
      const req = buildRequest('GET', '/api/auth/me', { headers: { Authorization: 'Bearer not.a.token' } });
      await Promise.all(conns.map(async (c) => {
        for (let round = 0; round < 4; round++) {
          c.write(Buffer.concat(Array(50).fill(req)));
          for (let i = 0; i < 50; i++) assert.equal((await c.response()).status, 401);
        }
      }));
      for (const c of conns) c.close();
      await srv.stop();
      srv = null;
      const rows = rowsOf(path.join(d, 'chorus.db'));
      const rejected = rows.filter((r) => r.event === 'token_rejected');
      assert.ok(rejected.length >= 1 && rejected.length <= 2, `rows: ${JSON.stringify(rows)}`);
      assert.equal(rejected.reduce((n, r) => n + r.count, 0), 800, JSON.stringify(rejected));
      for (const r of rejected) assert.equal(r.ip, '127.0.0.1');
    } finally {
      if (srv) await srv.stop().catch(() => {});
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('--rate-ws-auth 3/1m: the 4th failed WebSocket auth from an address is rate_limited, unchecked; so is a handshake token', T, async () => {
    const srv = await startServer({ args: [...FAST_HASH, '--jwt-secret', TEST_SECRET, '--rate-ws-auth', '3/1m'] });
    try {
      const good = mintJwt(TEST_SECRET, { sub: 'u-1' });
      // Successes do not count.
      for (let i = 0; i < 5; i++) {
        const ws = await JsonWs.open(srv.port, { path: `/ws?token=${good}` });
        ws.close();
      }
      const ws = await JsonWs.open(srv.port);
      for (let i = 0; i < 3; i++) {
        const m = await ws.call('auth', { token: `bad.token.${i}` });
        assertErrorReply(m, i + 1, 'unauthorized');
      }
      const m = await ws.call('auth', { token: good });
      assert.equal(m.error?.code, 'rate_limited', JSON.stringify(m));
      assert.ok(m.error.retryAfterMs > 0 && m.error.retryAfterMs <= 20000, JSON.stringify(m));
      ws.close();
      const err = await JsonWs.open(srv.port, { path: '/ws?token=bad.token.x' }).then(() => null, (e) => e);
      assert.equal(err?.statusCode, 429);
      assert.match(err.headers['retry-after'] ?? '', /^[1-9]\d*$/);
    } finally {
      await srv.stop();
    }
  });

  it('--audit-retention 1s: old rows are deleted while the server runs', T, async () => {
    const d = makeTempDir('chorus-e2e-data-');
    let srv;
    try {
      srv = await startServer({ data: false, args: ['--data', d, ...FAST_HASH, '--audit-retention', '1s', '--audit-window', '100ms'] });
      assertJsonError(await api(srv.port, 'GET', '/api/auth/me', { token: 'not.a.token' }), 401, 'unauthorized');
      const db = path.join(d, 'chorus.db');
      await until(() => rowsOf(db).length === 1, 5000, 'the row is written');
      await until(() => rowsOf(db).length === 0, 10000, 'the row is pruned');
    } finally {
      if (srv) await srv.stop().catch(() => {});
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
