// large_common.mjs: what issue 26's large-room benchmarks share (large_room.mjs,
// large_presence.mjs): the servers' arguments for a load generator, a process's CPU and
// RSS from /proc, the load average.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

import { FAST_HASH, TEST_SECRET } from '../tests/e2e/lib/auth.mjs';

const TICK = 100; // clock ticks a second (/proc/PID/stat's utime and stime)

/** Every node's arguments: no limit a load generator would hit before the server does. */
export const LARGE_ARGS = [...FAST_HASH, '--max-connections', '1000000',
  '--max-connections-per-ip', '0', '--room-max-capacity', '1000000', '--ws-rate', '1000000',
  '--ws-burst', '1000000', '--rate-api-ip', '1000000/1m', '--rate-api-user', '1000000/1m',
  '--jwt-secret', TEST_SECRET];

/** { cpuS, rssKiB } of a process from /proc. */
export function proc(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS: (Number(f[11]) + Number(f[12])) / TICK, rssKiB: Number(rss?.[1] ?? 0) };
}

/** The load averages as "1m 5m 15m". */
export const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
