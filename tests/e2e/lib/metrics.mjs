// metrics.mjs: GET /metrics read strictly as the Prometheus text format (0.0.4): every
// line is a HELP, a TYPE or a sample; HELP and TYPE once per family, before its samples;
// every sample of a declared family (a histogram's _bucket, _sum, _count); no series twice;
// a histogram's buckets cumulative with +Inf equal to _count.
import assert from 'node:assert/strict';

import { fetchOnce } from './http.mjs';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(`^(${NAME})(\\{(${LABEL}(?:,${LABEL})*)?\\})? (-?[0-9]+(?:\\.[0-9]+)?(?:e[+-]?[0-9]+)?|\\+Inf|-Inf|NaN)$`);

/** The family a sample name belongs to, given the declared types. */
function familyOf(name, types) {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && types.get(base) === 'histogram') return base;
  }
  return null;
}

/**
 * Parses text; returns { samples: Map(series -> number), types: Map(family -> type) } where
 * a series is `name` or `name{a="x",b="y"}` as written. Asserts the rules above.
 */
export function parseMetrics(text) {
  const samples = new Map();
  const types = new Map();
  const helps = new Set();
  const seenSamples = new Set(); // families whose samples started
  assert.ok(text.endsWith('\n'), 'the page ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    const h = new RegExp(`^# HELP (${NAME}) (.+)$`).exec(line);
    if (h) {
      assert.ok(!helps.has(h[1]), `HELP once for ${h[1]}`);
      helps.add(h[1]);
      continue;
    }
    const t = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram)$`).exec(line);
    if (t) {
      assert.ok(!types.has(t[1]), `TYPE once for ${t[1]}`);
      assert.ok(helps.has(t[1]), `HELP before TYPE for ${t[1]}`);
      types.set(t[1], t[2]);
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `a sample line: ${JSON.stringify(line)}`);
    const fam = familyOf(m[1], types);
    assert.ok(fam, `the sample's family has a TYPE before it: ${line}`);
    seenSamples.add(fam);
    const series = m[1] + (m[2] ?? '');
    assert.ok(!samples.has(series), `no series twice: ${series}`);
    samples.set(series, Number(m[4]));
  }
  for (const fam of types.keys()) assert.ok(seenSamples.has(fam), `family ${fam} has samples`);
  for (const [fam, type] of types) {
    if (type !== 'histogram') continue;
    const buckets = [...samples].filter(([k]) => k.startsWith(`${fam}_bucket{`));
    assert.ok(buckets.length > 0, `${fam} has buckets`);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1], `${fam} cumulative`);
    assert.equal(buckets.at(-1)[0], `${fam}_bucket{le="+Inf"}`);
    assert.equal(buckets.at(-1)[1], samples.get(`${fam}_count`), `${fam}: +Inf is the count`);
  }
  return { samples, types };
}

/** GET /metrics from 127.0.0.1, parsed. */
export async function scrape(port) {
  const res = await fetchOnce(port, 'GET', '/metrics');
  assert.equal(res.status, 200);
  return parseMetrics(res.text);
}

/** The sum of every series of family name (any labels). */
export function total(samples, name) {
  let n = 0;
  for (const [k, v] of samples) if (k === name || k.startsWith(`${name}{`)) n += v;
  return n;
}
