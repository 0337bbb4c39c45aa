// ai-responder.mjs: a small app backend for Chorus (docs/api.md, "Backends"): seed 003's
// "synchronized AI conversations" without the AI. Chorus POSTs every stored message to this
// server as a signed `message.created` webhook; for each `user_text` a member wrote, this
// answers with an `ai_response` posted into the same room through the server API, so every
// member sees it after the question. The "AI" is canned (answer() below): it never calls a
// network service, so put your model call there.
//
// Run it (Node 20 or later; Node's built-ins only):
//   CHORUS_URL=http://127.0.0.1:8080 CHORUS_API_KEY=chk_... CHORUS_WEBHOOK_SECRET=... \
//     node examples/ai-responder/ai-responder.mjs          (listens on 127.0.0.1:8091)
// and start Chorus with --webhook-url http://127.0.0.1:8091/hooks, the same
// --webhook-secret and --webhook-events message.created. AI_PORT=0 picks a free port; the
// first line on stdout names the URL either way.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const MAX_BODY = 256 * 1024; // a delivery carries one message: far below this
const MAX_SKEW_S = 300; // a signature older than this is a replay
const SEEN_MAX = 10000; // delivery ids remembered for deduplication (oldest forgotten first)

/** Checks X-Chorus-Signature: v1=hex(HMAC-SHA-256(secret, `${timestamp}.${body}`)). */
export function verifySignature(secret, headers, body, nowS = Date.now() / 1000) {
  const ts = headers['x-chorus-timestamp'];
  const sig = headers['x-chorus-signature'] ?? '';
  if (!ts || !sig.startsWith('v1=')) return false;
  if (!(Math.abs(nowS - Number(ts)) <= MAX_SKEW_S)) return false;
  const want = createHmac('sha256', secret).update(`${ts}.`).update(body).digest();
  const got = Buffer.from(sig.slice(3), 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * The canned "AI": a short answer to a member's text (no network). It names who asked,
 * counts the words and says the text backwards.
 */
export function answer(msg) {
  const text = String(msg.content ?? '').trim();
  const words = text ? text.split(/\s+/).length : 0;
  const backwards = [...text].reverse().join('');
  return `${msg.displayName ?? 'You'}, you said ${words} word${words === 1 ? '' : 's'}; backwards: "${backwards}"`;
}

/**
 * Whether a stored message gets an answer: only a member's user_text (a userId, not the
 * app's own messages: userId null), never an ai_response, a system notice or anything else,
 * so the responder never answers itself.
 */
export function wantsAnswer(event) {
  const m = event?.data;
  return event?.type === 'message.created' && m && m.type === 'user_text' && typeof m.userId === 'string' &&
    m.userId !== '' && m.app !== true && typeof event.room === 'string';
}

/**
 * An http.Server receiving Chorus's webhooks. chorusUrl: the server's base URL; apiKey: a
 * key from `chorus apikey create`; secret: --webhook-secret; author: the label the answers
 * carry. log(line) is called once per answer posted and per duplicate skipped.
 */
export function createResponder({ chorusUrl, apiKey, secret, author = 'Assistant', log = () => {} }) {
  if (!secret) throw new Error('the webhook secret is required: unsigned deliveries are refused');
  if (!apiKey) throw new Error('an API key is required to post the answers');
  // Deliveries are at least once: a retry carries the same id. done: ids answered (2xx
  // sent, or nothing to answer); working: ids being answered now (a retry that comes
  // meanwhile waits for the first and answers as it does).
  const done = new Set();
  const working = new Map();
  const remember = (id) => {
    done.add(id);
    if (done.size > SEEN_MAX) done.delete(done.values().next().value);
  };

  async function post(event) {
    const m = event.data;
    const res = await fetch(`${chorusUrl}/api/server/rooms/${encodeURIComponent(event.room)}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'ai_response',
        content: answer(m),
        author,
        metadata: { replyTo: m.id, replyToSeq: m.seq, model: 'canned' },
      }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`posting the answer: HTTP ${res.status} ${text.slice(0, 200)}`);
    return JSON.parse(text).message;
  }

  /** Handles one verified delivery; resolves the HTTP status to answer Chorus with. */
  async function handle(id, event) {
    if (done.has(id)) {
      log(`duplicate ${id}`);
      return 200;
    }
    if (working.has(id)) return working.get(id);
    const p = (async () => {
      if (!wantsAnswer(event)) return 200;
      try {
        const posted = await post(event);
        log(`answered ${id} room ${event.room} seq ${event.data.seq} with seq ${posted.seq}`);
        return 200;
      } catch (e) {
        log(`failed ${id}: ${e.message}`);
        return 503; // Chorus tries again later, with the same id
      }
    })();
    working.set(id, p);
    const status = await p;
    working.delete(id);
    if (status === 200) remember(id);
    return status;
  }

  return http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', async () => {
      const send = (status, text) => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(text);
      };
      if (req.method !== 'POST') return send(405, 'POST only');
      const body = Buffer.concat(chunks);
      if (!verifySignature(secret, req.headers, body)) return send(401, 'bad signature');
      let event;
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch {
        return send(400, 'not JSON');
      }
      // The body's id is signed; the X-Chorus-Delivery header is not, so a replayed body
      // with a new header must not pass as a new delivery.
      const id = event?.id;
      if (typeof id !== 'string' || !id) return send(400, 'no delivery id');
      if ((req.headers['x-chorus-delivery'] ?? id) !== id) return send(400, 'delivery id mismatch');
      const status = await handle(id, event);
      send(status, status === 200 ? 'ok' : 'try again');
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.env.AI_PORT ?? 8091);
  const server = createResponder({
    chorusUrl: (process.env.CHORUS_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
    apiKey: process.env.CHORUS_API_KEY ?? '',
    secret: process.env.CHORUS_WEBHOOK_SECRET ?? '',
    author: process.env.AI_AUTHOR ?? 'Assistant',
    log: (line) => console.log(line),
  });
  server.listen(port, '127.0.0.1', () => {
    console.log(`ai responder on http://127.0.0.1:${server.address().port}/hooks`);
  });
  const stop = () => {
    server.closeAllConnections(); // Chorus keeps its connection open between deliveries
    server.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
