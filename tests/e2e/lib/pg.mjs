// pg.mjs: the e2e harness's PostgreSQL backend. With CHORUS_TEST_STORE=postgres every
// server startServer() starts gets --store with a database of its own in one throwaway
// PostgreSQL cluster (scripts/pg-test.sh), started at the first server of the test file
// (node --test runs each file in its own process) and removed when the process exits. A
// server restarted on the same --data directory gets the same database, as it would get
// the same SQLite file.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../../scripts/pg-test.sh', import.meta.url));

/** True when the e2e servers run on PostgreSQL (CHORUS_TEST_STORE=postgres). */
export const ON_PG = process.env.CHORUS_TEST_STORE === 'postgres';
if (process.env.CHORUS_TEST_STORE && !ON_PG && process.env.CHORUS_TEST_STORE !== 'sqlite')
  throw new Error(`CHORUS_TEST_STORE=${process.env.CHORUS_TEST_STORE}: want sqlite or postgres`);

let cluster = null; // Promise of {dir, url}
const byData = new Map(); // data dir -> database URL
let nextDb = 0;

function stopCluster(dir) {
  spawnSync(SCRIPT, ['stop', dir], { stdio: 'ignore' });
}

/**
 * Starts the file's cluster once (later calls share it); resolves {dir, url} (url: its
 * "postgres" database). The cluster is stopped and its folder removed at exit.
 */
export function pgCluster() {
  if (!cluster) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-pg-'));
    process.on('exit', () => stopCluster(dir));
    for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(130));
    cluster = run(SCRIPT, ['start', dir], { timeout: 120000 })
      .then(({ stdout }) => ({ dir, url: stdout.trim() }))
      .catch((e) => {
        throw new Error(`scripts/pg-test.sh start failed: ${e.stderr || e.message}`);
      });
  }
  return cluster;
}

/** The URL of database name in the cluster whose "postgres" URL is url. */
export const dbUrl = (url, name) => url.replace(/\/postgres\?/, `/${name}?`);

/** Runs SQL with psql on url; resolves its unaligned, tuples-only output. */
export async function psql(url, sql) {
  const { stdout } = await run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql],
    { timeout: 30000 });
  return stdout;
}

/** A new, empty database in the file's cluster; resolves its URL. */
export async function pgDatabase() {
  const { url } = await pgCluster();
  const name = `chorus_${process.pid}_${nextDb++}`;
  await psql(url, `CREATE DATABASE ${name}`);
  return dbUrl(url, name);
}

/** The database of the server whose data directory is dataDir (made at its first use). */
export async function pgDatabaseFor(dataDir) {
  const key = path.resolve(dataDir);
  if (!byData.has(key)) byData.set(key, pgDatabase());
  return byData.get(key);
}

/** The folder of PostgreSQL's programs (as scripts/pg-test.sh finds them). */
function pgBin() {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const vs = fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b));
  return path.join('/usr/lib/postgresql', vs[vs.length - 1], 'bin');
}

/** Stops the file's cluster as a crash would (pg_ctl stop -m immediate): no shutdown checkpoint. */
export const pgCrash = () => pgStop('immediate');

/** Stops the file's cluster with pg_ctl stop -m mode (fast: sessions are ended, then a checkpoint). */
export async function pgStop(mode = 'fast') {
  const { dir } = await pgCluster();
  const argv = [path.join(pgBin(), 'pg_ctl'), '-D', path.join(dir, 'data'), '-m', mode, '-w', 'stop'];
  if (process.getuid?.() === 0) await run('runuser', ['-u', 'postgres', '--', ...argv], { timeout: 60000 });
  else await run(argv[0], argv.slice(1), { timeout: 60000 });
}

/** Starts the file's cluster again after pgCrash (its data kept; recovery runs). */
export async function pgRestart() {
  const { dir } = await pgCluster();
  await run(SCRIPT, ['start', dir], { timeout: 120000 });
}
