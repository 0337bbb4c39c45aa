// ai_responder.test.mjs: examples/ai-responder/ (seed 003's AI in a room, issue 21) run as
// a user would run it, a child process, against the real server: Chorus delivers each
// stored message as a signed message.created webhook, the responder answers each member's
// user_text with one ai_response through the server API, and both members of the room see
// every answer once, after its question, in the questions' order; a question asked while
// the responder is not up yet is answered once it is; the responder refuses an unsigned
// delivery, answers a replayed delivery id once, and never answers an ai_response or a
// system message (its own answers come back to it as webhooks too).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { allMessages, createRoom, mkUser, RoomWs, until } from './lib/rooms.mjs';
import { pgDatabaseFor, ON_PG } from './lib/pg.mjs';
import { REPO_ROOT, runCli, startServer } from './lib/server.mjs';
import { freePort, withTimeout } from './lib/util.mjs';

const T = { timeout: 30000 };
const SECRET = 'whsec-ai-0123456789abcdef';
const EXAMPLE = `${REPO_ROOT}examples/ai-responder/ai-responder.mjs`;

/** Starts the example as a child process; resolves {proc, lines, url, stop}. */
async function startResponder(env) {
  const proc = spawn(process.execPath, [EXAMPLE], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r = { proc, lines: [], stderr: '' };
  r.exited = new Promise((resolve) => proc.on('close', resolve));
  proc.stderr.setEncoding('utf8').on('data', (s) => (r.stderr += s));
  let buf = '';
  const waiters = new Set();
  proc.stdout.setEncoding('utf8').on('data', (s) => {
    buf += s;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      r.lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    for (const w of [...waiters]) w();
  });
  const first = await withTimeout(new Promise((resolve, reject) => {
    const check = () => {
      if (r.lines.length) resolve(r.lines[0]);
    };
    waiters.add(check);
    proc.on('close', (code) => reject(new Error(`the responder exited (${code}): ${r.stderr}`)));
  }), 10000, 'the responder to start');
  r.url = /^ai responder on (http:\S+)$/.exec(first)?.[1];
  assert.ok(r.url, first);
  r.stop = async () => {
    proc.kill('SIGTERM');
    await withTimeout(r.exited, 5000, 'the responder to stop');
  };
  return r;
}

/** POSTs body (an object) to url as Chorus would, signed with secret; resolves the status. */
function deliver(url, id, body, secret = SECRET) {
  const raw = JSON.stringify(body);
  const ts = Math.floor(Date.now() / 1000);
  const sig = 'v1=' + crypto.createHmac('sha256', secret).update(`${ts}.${raw}`).digest('hex');
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: {
      'content-type': 'application/json', 'x-chorus-delivery': id, 'x-chorus-event': body.type,
      'x-chorus-timestamp': String(ts), 'x-chorus-signature': sig,
    } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(raw);
  });
}

const isAnswer = (e) => e.op === 'message' && e.message.type === 'ai_response';

describe('examples/ai-responder', () => {
  let srv;
  let aiPort;
  let key;
  let responder;
  const host = mkUser('Ada');
  const guest = mkUser('Bo');

  before(async () => {
    aiPort = await freePort();
    srv = await startServer({ args: ['--jwt-secret', TEST_SECRET, ...FAST_HASH,
      '--webhook-url', `http://127.0.0.1:${aiPort}/hooks`, '--webhook-secret', SECRET,
      '--webhook-events', 'message.created', '--webhook-retry-base', '50ms',
      '--webhook-retry-max', '200ms', '--webhook-poll', '50ms', '--webhook-max-attempts', '1000'] });
    const store = ON_PG ? ['--store', await pgDatabaseFor(srv.dataDir)] : [];
    const k = await runCli(['apikey', 'create', '--name', 'ai responder', '--data', srv.dataDir, ...store],
      { timeoutMs: 10000 });
    assert.equal(k.code, 0, k.stderr);
    key = k.stdout.trim();
  });
  after(async () => {
    await responder?.stop();
    await srv?.stop();
  });

  it('answers each user_text once with an ai_response both members see, in order; a question asked before it was up too', T, async () => {
    const room = await createRoom(srv.port, host, { name: 'Muse' });
    const a = await RoomWs.open(srv.port, host);
    const b = await RoomWs.open(srv.port, guest);
    try {
      await a.join(room.id);
      await b.join(room.id);
      // Asked while nothing listens at the webhook URL: Chorus keeps the delivery and retries.
      const q1 = (await a.ok('message', { room: room.id, type: 'user_text', content: 'are you there' })).message;
      responder = await startResponder({ CHORUS_URL: `http://127.0.0.1:${srv.port}`, CHORUS_API_KEY: key,
        CHORUS_WEBHOOK_SECRET: SECRET, AI_PORT: String(aiPort), AI_AUTHOR: 'Muse AI' });
      assert.equal(responder.url, `http://127.0.0.1:${aiPort}/hooks`);
      const q2 = (await b.ok('message', { room: room.id, type: 'user_text', content: 'hello muse' })).message;
      const q3 = (await a.ok('message', { room: room.id, type: 'user_text', content: 'one two three' })).message;
      const questions = [q1, q2, q3];
      for (const c of [a, b]) {
        const answers = [];
        for (let i = 0; i < 3; i++) answers.push((await c.waitEvent(isAnswer, 10000, `answer ${i + 1}`)).message);
        answers.forEach((m, i) => {
          const q = questions[i];
          assert.equal(m.userId, null);
          assert.equal(m.app, true);
          assert.equal(m.displayName, 'Muse AI');
          assert.equal(m.metadata.replyTo, q.id, 'the answers come in the questions\' order');
          assert.equal(m.metadata.replyToSeq, q.seq);
          assert.ok(m.seq > q.seq, 'after its question');
          assert.ok(m.content.includes(`"${[...q.content].reverse().join('')}"`), m.content);
        });
        assert.ok(answers[0].seq < answers[1].seq && answers[1].seq < answers[2].seq);
        assert.match(answers[2].content, /^Ada, you said 3 words; /);
      }
      // Each room's deliveries go one at a time in order, so once the last question is
      // answered every earlier delivery (and any retry of one) is done: no more answers come.
      const hist = await allMessages(srv.port, host, room.id);
      const ai = hist.filter((m) => m.type === 'ai_response');
      assert.deepEqual(ai.map((m) => m.metadata.replyTo), questions.map((q) => q.id), 'one answer per question');
      assert.ok(hist.some((m) => m.type === 'system'), 'the joins\' system messages were delivered and not answered');
      // The answers came back to the responder as message.created too, unanswered.
      const answered = () => responder.lines.filter((l) => l.startsWith('answered ')).length;
      await until(() => answered() >= 3, 5000, 'the responder\'s log');
      assert.equal(answered(), 3);
      assert.equal(a.kept(isAnswer).length + b.kept(isAnswer).length, 0);
    } finally {
      a.close();
      b.close();
    }
  });

  it('refuses an unsigned delivery, answers a replayed delivery once, ignores ai_response and system', T, async () => {
    assert.ok(responder, 'started by the test before');
    const room = await createRoom(srv.port, host, { name: 'Replay' });
    const msg = (type, extra = {}) => ({ id: crypto.randomUUID(), type: 'message.created', room: room.id,
      time: Date.now(), data: { id: 'm-1', roomId: room.id, seq: 7, userId: host.sub, displayName: 'Ada',
        type, content: 'replayed', metadata: {}, createdAt: Date.now(), ...extra } });
    const q = msg('user_text');
    assert.equal(await deliver(responder.url, q.id, q, 'another-secret-0123456789'), 401);
    const first = await Promise.all([deliver(responder.url, q.id, q), deliver(responder.url, q.id, q)]);
    assert.deepEqual(first, [200, 200], 'a retry while the first is answered waits for it');
    assert.equal(await deliver(responder.url, q.id, q), 200);
    // The signed body replayed under another (unsigned) delivery header is refused.
    assert.equal(await deliver(responder.url, 'forged-2', q), 400);
    const ai = msg('ai_response', { userId: null, app: true });
    const sys = msg('system', { userId: null });
    assert.equal(await deliver(responder.url, ai.id, ai), 200);
    assert.equal(await deliver(responder.url, sys.id, sys), 200);
    // The responder answers a delivery only after its answer is posted: all done by now.
    const hist = await allMessages(srv.port, host, room.id);
    const answers = hist.filter((m) => m.type === 'ai_response');
    assert.equal(answers.length, 1, JSON.stringify(answers));
    assert.equal(answers[0].metadata.replyTo, 'm-1');
    assert.ok(responder.lines.some((l) => l === `duplicate ${q.id}`));
  });
});
