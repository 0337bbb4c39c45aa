// prometheus.test.mjs: a real Prometheus (Debian's `prometheus`, started by the test on
// 127.0.0.1 with a temporary storage folder) scrapes /metrics every second, on the
// separate --metrics-listen listener with the --metrics-token bearer token; its query API
// then shows the WebSocket clients the test holds and the messages it sent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TEST_SECRET } from './lib/auth.mjs';
import { concrete, dashboardQueries, readDashboard } from './lib/grafana.mjs';
import { startPrometheus } from './lib/prometheus.mjs';
import { createRoom, mkUsers } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';
import { JsonWs } from './lib/wsclient.mjs';

const N = 3; // clients held
const K = 2; // messages sent
const TOKEN = 'prometheus-scrape-token-42';

/** Sends op and resolves with its reply, passing over the room's events. */
async function reply(ws, op, fields) {
  const ref = ws.nextRef++;
  ws.send({ op, ref, ...fields });
  for (;;) {
    const m = await ws.next();
    if (m.ref === ref) return m;
  }
}

describe('Prometheus scrapes /metrics', () => {
  it('its API shows the connections held and the messages sent', { timeout: 60000 }, async () => {
    const srv = await startServer({ args: ['--jwt-secret', TEST_SECRET,
      '--metrics-listen', '127.0.0.1:0', '--metrics-token', TOKEN] });
    const clients = [];
    let prom;
    try {
      const line = await srv.waitForLine(/serving \/metrics on 127\.0\.0\.1:(\d+)/);
      const mport = Number(/:(\d+) \(plain/.exec(line)[1]);
      prom = await startPrometheus(mport, { scrapeHeaders: { authorization: TOKEN } });
      const users = mkUsers(N);
      const room = await createRoom(srv.port, users[0]);
      for (const u of users) {
        const ws = await JsonWs.open(srv.port, { path: `/ws?token=${u.token}` });
        clients.push(ws);
        assert.equal((await reply(ws, 'join', { room: room.id })).ok, true);
      }
      await prom.waitFor('up{job="chorus"}', (v) => v === 1);
      const q = 'chorus_ops_total{job="chorus",op="message"}';
      const start = await prom.waitFor(q, (v) => v !== undefined);
      for (let i = 0; i < K; i++) {
        assert.equal((await reply(clients[0], 'message',
          { room: room.id, type: 'user_text', content: `m${i}` })).ok, true);
      }
      assert.equal(await prom.waitFor('chorus_connections{job="chorus",state="websocket"}', (v) => v === N), N);
      assert.equal(await prom.waitFor(q, (v) => v === start + K), start + K);
      assert.equal(await prom.waitFor('chorus_room_members_online{job="chorus"}', (v) => v === N), N);
      // A histogram query over the store's figures works too.
      const p99 = await prom.query(
        'histogram_quantile(0.99, sum by (le) (chorus_store_request_duration_seconds_bucket))');
      assert.equal(p99.length, 1);
      // The example dashboard's queries (dist/grafana-chorus.json) are PromQL Prometheus
      // accepts, and each panel's first one has data.
      for (const p of readDashboard().panels) {
        for (const [i, t] of p.targets.entries()) {
          const r = await prom.query(concrete(t.expr));
          if (i === 0) assert.ok(r.length > 0, `${p.title}: ${t.expr} has data`);
        }
      }
    } finally {
      for (const c of clients) c.close();
      if (prom) await prom.stop();
      await srv.stop();
    }
  });
});
