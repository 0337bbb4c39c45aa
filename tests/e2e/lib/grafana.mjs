// grafana.mjs: the example Grafana dashboard (dist/grafana-chorus.json): its PromQL
// queries and the metric names they use.
import fs from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from './server.mjs';

export const DASHBOARD = path.join(REPO_ROOT, 'dist', 'grafana-chorus.json');

/** The dashboard, parsed (throws on invalid JSON). */
export const readDashboard = () => JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));

/** Every PromQL expression of the dashboard: panel targets and variable queries. */
export function dashboardQueries(d) {
  const out = [];
  for (const p of d.panels ?? []) for (const t of p.targets ?? []) out.push(t.expr);
  for (const v of d.templating?.list ?? []) if (v.type === 'query') out.push(v.definition);
  return out;
}

/** The query with Grafana's variables replaced by what Prometheus accepts. */
export const concrete = (q) => q.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*');

const WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool',
  'and', 'or', 'unless', 'offset']);

/**
 * The metric names a PromQL expression reads: identifiers that are not functions (followed
 * by "("), keywords, label names in by/without/on lists, or inside {…}, "…" or […].
 * label_values(metric, label) names its metric as the first argument.
 */
export function metricNames(q) {
  const lv = /^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(q);
  if (lv) return [lv[1]];
  const bare = q.replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1');
  const names = [];
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = bare.slice(m.index + m[0].length);
    // A function or aggregation: followed by "(", or by "by"/"without" and its list.
    if (/^\s*(\(|(by|without)\b)/.test(rest) || WORDS.has(m[0])) continue;
    names.push(m[0]);
  }
  return names;
}
