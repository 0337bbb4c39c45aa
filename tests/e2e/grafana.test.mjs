// grafana.test.mjs: dist/grafana-chorus.json, the example dashboard of docs/operations.md,
// is valid JSON whose every query reads only metrics the server's /metrics page has.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { dashboardQueries, metricNames, readDashboard } from './lib/grafana.mjs';
import { scrape } from './lib/metrics.mjs';
import { startServer } from './lib/server.mjs';

describe('dist/grafana-chorus.json', () => {
  it('every query names only metrics that a scrape has', { timeout: 20000 }, async () => {
    const d = readDashboard();
    assert.equal(typeof d.title, 'string');
    assert.ok(Array.isArray(d.panels) && d.panels.length > 0);
    const ids = new Set(d.panels.map((p) => p.id));
    assert.equal(ids.size, d.panels.length, 'panel ids are unique');
    const srv = await startServer();
    try {
      const { samples } = await scrape(srv.port);
      const have = new Set([...samples.keys()].map((k) => k.replace(/\{.*$/, '')));
      const queries = dashboardQueries(d);
      assert.ok(queries.length >= 10);
      for (const q of queries) {
        const names = metricNames(q);
        assert.ok(names.length > 0, `a query reads a metric: ${q}`);
        for (const n of names) assert.ok(have.has(n), `${n} (in ${q}) is on /metrics`);
      }
    } finally {
      await srv.stop();
    }
  });

  it('the name check catches a metric that does not exist', () => {
    assert.deepEqual(metricNames('sum by (op) (rate(chorus_nope_total{job=~"$job"}[$__rate_interval]))'),
      ['chorus_nope_total']);
    assert.deepEqual(metricNames('time() - process_start_time_seconds'), ['process_start_time_seconds']);
    assert.deepEqual(metricNames('label_values(chorus_connections, job)'), ['chorus_connections']);
  });
});
