// reuse_port.test.mjs: --reuse-port (docs/operations.md "Scaling out"): two real servers
// listen on one port, the main and the --metrics-listen one, and the kernel hands
// connections to both; without the switch the second one cannot start. Each server's
// access log says which requests it answered.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { fetchOnce } from './lib/http.mjs';
import { runCli, startServer } from './lib/server.mjs';
import { delay, freePort } from './lib/util.mjs';

const T = { timeout: 30000 };
// Connections the kernel spreads by address hash: all of 40 on one of two servers has
// a chance of 2^-39.
const N = 40;

/** Waits until the two servers logged n access lines for path since from[i], in all. */
async function answered(srvs, from, path, n) {
  const re = new RegExp(`"GET ${path}" 200`);
  const count = () => srvs.map((s, i) => s.lines.slice(from[i]).filter((l) => re.test(l)).length);
  const deadline = Date.now() + 10000;
  for (;;) {
    const c = count();
    if (c[0] + c[1] >= n || Date.now() > deadline) return c;
    await delay(10);
  }
}

describe('--reuse-port', () => {
  it('two servers share --listen and --metrics-listen ports; connections reach both', T, async () => {
    const port = await freePort();
    const mport = await freePort();
    const common = { listen: `127.0.0.1:${port}`, args: ['--metrics-listen', `127.0.0.1:${mport}`] };
    const a = await startServer({ ...common, args: [...common.args, '--reuse-port', 'on'] });
    let b;
    try {
      b = await startServer({ ...common, env: { CHORUS_REUSE_PORT: 'on' } });
      assert.equal(a.port, port);
      assert.equal(b.port, port);
      // /livez, not /healthz: startServer's own /healthz probe of the second server may
      // reach the first one and its access line may be read after `from` is taken.
      for (const [path, p] of [['/livez', port], ['/metrics', mport]]) {
        const from = [a.lines.length, b.lines.length];
        for (let i = 0; i < N; i++) assert.equal((await fetchOnce(p, 'GET', path)).status, 200);
        const c = await answered([a, b], from, path, N);
        assert.equal(c[0] + c[1], N, `${path}: every request answered once (${c})`);
        assert.ok(c[0] > 0 && c[1] > 0, `${path}: connections on both processes (${c})`);
      }
    } finally {
      if (b) await b.stop();
      await a.stop();
    }
  });

  it('without it, a second server on the same port fails to start', T, async () => {
    const port = await freePort();
    const a = await startServer({ listen: `127.0.0.1:${port}`, args: ['--reuse-port', 'on'] });
    try {
      const r = await runCli(['serve', '--listen', `127.0.0.1:${port}`, '--data', './var'],
        { timeoutMs: 10000 });
      assert.notEqual(r.code, 0, `exit status; stderr:\n${r.stderr}`);
      assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+: address already in use/);
    } finally {
      await a.stop();
    }
  });
});
