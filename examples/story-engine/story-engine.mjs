// story-engine.mjs: a small app backend for Chorus's rpc op (docs/api.md, "Backends"): the
// Novel Engine's "AI agents process actions" step, without the AI. A client calls
// room.rpc('agent_action', {action}); Chorus POSTs the call here with the caller's verified
// identity and room; this answers with the turn's result as the rpc's reply and, as side
// effects Chorus applies in the room's order before replying, a state update (the turn
// and the last action) and two messages every member sees: the story_update and a system
// "turn complete".
//
// Run it:   node examples/story-engine/story-engine.mjs            (port 8090)
//           STORY_PORT=9000 CHORUS_RPC_SECRET=... node examples/story-engine/story-engine.mjs
// and start Chorus with --rpc-url http://127.0.0.1:8090/rpc (and the same --rpc-secret).
// Node's built-ins only.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const MAX_BODY = 256 * 1024;
const MAX_SKEW_S = 300;

/** Checks X-Chorus-Signature: v1=hex(HMAC-SHA-256(secret, `${timestamp}.${body}`)). */
export function verifySignature(secret, headers, body) {
  const ts = headers['x-chorus-timestamp'];
  const sig = headers['x-chorus-signature'] ?? '';
  if (!ts || !sig.startsWith('v1=')) return false;
  if (Math.abs(Date.now() / 1000 - Number(ts)) > MAX_SKEW_S) return false;
  const want = createHmac('sha256', secret).update(`${ts}.`).update(body).digest();
  const got = Buffer.from(sig.slice(3), 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * The story's logic: one call in, the answer out ({data, effects} or {error}). turns keeps
 * each room's turn number (a real engine would keep its story in its own database).
 */
export function handleCall(call, turns = new Map()) {
  if (call.type === 'join') return { allow: true }; // the join hook, if pointed here
  if (call.method !== 'agent_action') {
    return { error: { code: 'unknown_method', message: `no method ${call.method}` } };
  }
  if (!call.room) return { error: { code: 'room_required', message: 'agent_action needs a room' } };
  const action = typeof call.data?.action === 'string' ? call.data.action.slice(0, 200) : '';
  if (!action) return { error: { code: 'bad_action', message: 'data.action must be a string' } };
  const turn = (turns.get(call.room.id) ?? 0) + 1;
  turns.set(call.room.id, turn);
  const story = `${call.user.name} ${action}. The story moves on.`;
  return {
    data: { turn, story },
    effects: {
      state: { turn, lastAction: { by: call.user.id, action } },
      messages: [
        { type: 'story_update', content: story, author: 'Narrator', metadata: { turn } },
        { type: 'system', content: `Turn ${turn} complete`, author: 'Narrator',
          metadata: { event: 'turn_complete', turn } },
      ],
    },
  };
}

/** An http.Server answering Chorus's calls (POST, any path); secret '' = unsigned. */
export function createStoryEngine({ secret = '', handle = handleCall } = {}) {
  const turns = new Map();
  return http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const send = (status, obj) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      if (req.method !== 'POST') return send(405, { error: { code: 'method_not_allowed' } });
      if (secret && !verifySignature(secret, req.headers, body)) {
        return send(401, { error: { code: 'bad_signature', message: 'signature check failed' } });
      }
      let call;
      try {
        call = JSON.parse(body.toString('utf8'));
      } catch {
        return send(400, { error: { code: 'bad_json', message: 'not JSON' } });
      }
      const answer = await handle(call, turns);
      if (answer !== undefined) send(200, answer);
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.env.STORY_PORT ?? 8090);
  createStoryEngine({ secret: process.env.CHORUS_RPC_SECRET ?? '' }).listen(port, '127.0.0.1', () => {
    console.log(`story engine on http://127.0.0.1:${port}/rpc`);
  });
}
