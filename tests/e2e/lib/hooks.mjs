// hooks.mjs: a webhook receiver for the e2e tests (a real Node HTTP server on 127.0.0.1),
// the signature check a backend runs (docs/api.md, "Backends"), and what a deduplicating
// receiver accepts.
import crypto from 'node:crypto';
import http from 'node:http';

/** The receiver: answers `status(req)` (200 by default); keeps every request. */
export async function receiver() {
  const r = {
    requests: [], // {headers, raw, body}
    status: () => 200,
    waiters: new Set(),
  };
  r.server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const entry = { headers: req.headers, raw, body: JSON.parse(raw) };
      const code = r.status(entry);
      entry.status = code;
      r.requests.push(entry);
      res.writeHead(code, { 'Content-Type': 'text/plain' });
      res.end(code === 200 ? 'ok' : 'no');
      for (const w of [...r.waiters]) w();
    });
  });
  await new Promise((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${r.server.address().port}/hooks`;
  /** Resolves once pred() holds (checked at each request). */
  r.until = (pred, ms = 20000, label = 'receiver condition') =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (!pred()) return;
        r.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        r.waiters.delete(check);
        reject(new Error(`${label}: not met after ${ms} ms (${r.requests.length} requests)`));
      }, ms);
      r.waiters.add(check);
      check();
    });
  r.close = () => new Promise((resolve) => { r.server.closeAllConnections(); r.server.close(resolve); });
  return r;
}

/** The signature check a backend runs (docs/api.md, "Backends"). */
export function verify(headers, raw, secret) {
  const ts = headers['x-chorus-timestamp'];
  const sig = headers['x-chorus-signature'] || '';
  const want = 'v1=' + crypto.createHmac('sha256', secret).update(`${ts}.${raw}`).digest('hex');
  return sig.length === want.length && crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want));
}

/** Deliveries accepted (200) by a deduplicating receiver: the first of each id. */
export function accepted(r) {
  const seen = new Set();
  const out = [];
  for (const q of r.requests) {
    if (q.status !== 200 || seen.has(q.body.id)) continue;
    seen.add(q.body.id);
    out.push(q.body);
  }
  return out;
}

