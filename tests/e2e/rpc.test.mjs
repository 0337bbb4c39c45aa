// rpc.test.mjs: the rpc op (docs/protocol.md "rpc", docs/api.md "Backends") against real app
// backends started here: seed 004's story engine (examples/story-engine/) handling
// agent_action with a state update and story messages that every member sees in order;
// the signature; errors passed on; effects refused whole; the rpc's refusals (no backend,
// not a member, bad method, too many calls); a backend that times out or is not there.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { createStoryEngine, handleCall } from '../../examples/story-engine/story-engine.mjs';
import { api, FAST_HASH, TEST_SECRET } from './lib/auth.mjs';
import { allMessages, closeAll, createRoom, mkUser, openAll, RoomWs } from './lib/rooms.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 20000 };
const BASE_ARGS = [...FAST_HASH, '--jwt-secret', TEST_SECRET];
const RPC_SECRET = 'rpc-test-secret-0123456789';

/** Listens on 127.0.0.1:0; resolves the port. */
const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
const shut = (server) => new Promise((resolve) => {
  server.closeAllConnections?.();
  server.close(() => resolve());
});

/** The story engine, plus methods only this test needs: `hang` never answers, `big`
 * answers with a message over the room's limit, `echo` answers the call itself. */
const hookRoles = new Map(); // user id -> the role the join hook answers

function testHandle(call, turns) {
  if (call.type === 'join') {
    if (hookRoles.has(call.user.id)) return { allow: true, role: hookRoles.get(call.user.id) };
    if (call.user.name === 'BadName') return { allow: true, displayName: 'bell\u0007' };
    if (call.user.name === 'Mallory') return { allow: false, code: 'not_invited', message: 'ask the narrator' };
    if (call.user.name === 'Rename') return { allow: true, displayName: `Captain of ${call.room.code}` };
    if (call.user.name === 'Garbled') return { allow: 'maybe' };
    return { allow: true };
  }
  if (call.method === 'hang') return new Promise(() => {});
  if (call.method === 'echo') return { data: call };
  if (call.method === 'big') {
    return { data: 1, effects: { state: { big: true },
      messages: [{ type: 'story_update', content: 'ok' }, { type: 'story_update', content: 'x'.repeat(2000) }] } };
  }
  if (call.method === 'roomless_effects') return { data: 1, effects: { messages: [] } };
  return handleCall(call, turns);
}

describe('rpc to the app backend', () => {
  let engine;
  let srv;
  let port;
  before(async () => {
    engine = createStoryEngine({ secret: RPC_SECRET, handle: testHandle });
    const enginePort = await listen(engine);
    srv = await startServer({
      args: [...BASE_ARGS, '--rpc-url', `http://127.0.0.1:${enginePort}/rpc`, '--rpc-secret', RPC_SECRET,
        '--join-hook-url', `http://127.0.0.1:${enginePort}/join`,
        '--room-max-message', '1KiB', '--rpc-timeout', '1s', '--rpc-max-calls-conn', '2'],
    });
    port = srv.port;
  });
  after(async () => {
    await srv?.stop();
    if (engine) await shut(engine);
  });

  it('signed calls: no warning about unsigned calls at start', T, async () => {
    assert.ok(!srv.lines.some((l) => /not signed/.test(l)), srv.stderrTail());
  });

  it('agent_action: the story engine answers; every member sees the state update then the story messages, in order, before the reply', T, async () => {
    const host = mkUser('Host');
    const ada = mkUser('Ada');
    const r = await createRoom(port, host, { name: 'story' });
    const [ch, ca] = await openAll(port, [host, ada]);
    try {
      await ch.join(r.roomCode);
      await ca.join(r.roomCode);
      const reply = await ca.ok('rpc', { room: r.roomCode, method: 'agent_action', data: { action: 'opens the door' } });
      assert.deepEqual(reply, { turn: 1, story: 'Ada opens the door. The story moves on.' });
      for (const c of [ch, ca]) {
        const st = await c.waitEvent('state');
        assert.deepEqual(st.state, { turn: 1, lastAction: { by: ada.sub, action: 'opens the door' } });
        const m1 = await c.waitEvent((e) => e.op === 'message' && e.message.type === 'story_update');
        const m2 = await c.waitEvent((e) => e.op === 'message' && e.message.metadata.event === 'turn_complete');
        assert.equal(m1.message.type, 'story_update');
        assert.equal(m1.message.content, 'Ada opens the door. The story moves on.');
        assert.equal(m1.message.displayName, 'Narrator');
        assert.equal(m1.message.userId, null);
        assert.deepEqual(m1.message.metadata, { turn: 1 });
        assert.equal(m2.message.type, 'system');
        assert.deepEqual(m2.message.metadata, { event: 'turn_complete', turn: 1 });
        assert.equal(m2.message.seq, m1.message.seq + 1);
        // In order: the state event, then the messages (all before the caller's reply).
        const ops = c.all.filter((e) => e.op === 'state' || e.message?.userId === null).map((e) => e.op);
        assert.deepEqual(ops.slice(-3), ['state', 'message', 'message']);
        assert.equal(c.all.at(-1), m2);
      }
      const second = await ch.ok('rpc', { room: r.id, method: 'agent_action', data: { action: 'lights a lamp' } });
      assert.equal(second.turn, 2);
      const msgs = await allMessages(port, host, r.id);
      assert.deepEqual(msgs.filter((m) => m.type === 'story_update').map((m) => m.metadata.turn), [1, 2]);
      const room = await ch.ok('join', { room: r.id });
      assert.equal(room.state.turn, 2);
    } finally {
      closeAll([ch, ca]);
    }
  });

  it('the backend gets the verified identity and room, signed; errors and refusals', T, async () => {
    const host = mkUser('Host');
    const eve = mkUser('Eve');
    const r = await createRoom(port, host, { name: 'ids' });
    const [ch, ce] = await openAll(port, [host, eve]);
    try {
      await ch.join(r.roomCode);
      const call = await ch.ok('rpc', { room: r.roomCode, method: 'echo', data: [1, 'two'] });
      assert.deepEqual(call.user, { id: host.sub, name: 'Host', role: 'host' });
      assert.deepEqual(call.room, { id: r.id, code: r.roomCode });
      assert.deepEqual(call.data, [1, 'two']);
      assert.equal(call.type, 'rpc');
      assert.equal(call.method, 'echo');
      const none = await ce.ok('rpc', { method: 'echo' });
      assert.equal(none.room, null);
      assert.deepEqual(none.user, { id: eve.sub, name: 'Eve' });
      assert.equal(none.data, null);
      // The backend's own error, passed on.
      const e1 = await ch.err('rpc', { room: r.id, method: 'nope' }, 'unknown_method');
      assert.equal(e1.error.message, 'no method nope');
      await ce.err('rpc', { method: 'agent_action', data: { action: 'x' } }, 'room_required');
      // Only members call about a room; the rpc's own checks.
      await ce.err('rpc', { room: r.id, method: 'echo' }, 'not_found');
      const bad = await ch.err('rpc', { room: r.id, method: 'no spaces' }, 'validation_error');
      assert.equal(bad.error.field, 'method');
      await ch.err('rpc', { room: r.id }, 'validation_error');
      await ch.err('rpc', { method: 'echo', data: 'x'.repeat(70 * 1024) }, 'payload_too_large');
      await ce.err('rpc', { method: 'roomless_effects' }, 'effects_refused');
    } finally {
      closeAll([ch, ce]);
    }
  });

  it('effects are refused whole: one message over the limit stores nothing', T, async () => {
    const host = mkUser('Host');
    const r = await createRoom(port, host, { name: 'big' });
    const ch = await RoomWs.open(port, host);
    try {
      const j = await ch.join(r.roomCode);
      const e = await ch.err('rpc', { room: r.id, method: 'big' }, 'payload_too_large');
      assert.equal(e.error.field, 'effects.messages[1].content');
      const again = await ch.ok('join', { room: r.id });
      assert.equal(again.lastSeq, j.lastSeq);
      assert.equal(again.stateVersion, j.stateVersion);
      assert.deepEqual(again.state, {});
    } finally {
      ch.close();
    }
  });

  it('join hook: the app allows, refuses with its code, or renames; a garbled verdict refuses', T, async () => {
    const host = mkUser('Host');
    const mal = mkUser('Mallory');
    const ren = mkUser('Rename');
    const gar = mkUser('Garbled');
    const r = await createRoom(port, host, { name: 'hooked' });
    const [ch, cm, cr, cg] = await openAll(port, [host, mal, ren, gar]);
    try {
      await ch.join(r.roomCode);
      const no = await cm.err('join', { room: r.roomCode }, 'not_invited');
      assert.equal(no.error.message, 'ask the narrator');
      await cg.err('join', { room: r.roomCode }, 'backend_error');
      const j = await cr.join(r.roomCode, { displayName: 'Whoever' });
      assert.equal(j.participant.displayName, `Captain of ${r.roomCode}`);
      const ev = await ch.waitEvent((e) => e.op === 'participant_joined' && e.participant.userId === ren.sub);
      assert.equal(ev.participant.displayName, `Captain of ${r.roomCode}`);
      const parts = (await ch.ok('join', { room: r.id })).participants.map((p) => p.userId).sort();
      assert.deepEqual(parts, [host.sub, ren.sub].sort());
    } finally {
      closeAll([ch, cm, cr, cg]);
    }
  });

  it('join hook: the app makes a member host (the host\'s rights, not deleting the room) and a member again; a bad role or name refuses', T, async () => {
    const host = mkUser('Host');
    const dep = mkUser('Deputy');
    const plain = mkUser('Plain');
    const badRole = mkUser('BadRole');
    const badName = mkUser('BadName');
    const r = await createRoom(port, host, { name: 'roles' });
    hookRoles.set(dep.sub, 'host');
    hookRoles.set(host.sub, 'member'); // the room's own host stays host
    hookRoles.set(badRole.sub, 'admin');
    const [ch, cd, cp, cb, cn] = await openAll(port, [host, dep, plain, badRole, badName]);
    try {
      assert.equal((await ch.join(r.id)).role, 'host');
      const j = await cd.join(r.roomCode);
      assert.equal(j.role, 'host');
      assert.equal(j.participant.role, 'host');
      const ev = await ch.waitEvent((e) => e.op === 'participant_joined' && e.participant.userId === dep.sub);
      assert.equal(ev.participant.role, 'host');
      assert.equal((await cp.join(r.id)).role, 'member');
      // The host's rights: state, a system message, a kick; not deleting the room.
      await cd.ok('state', { room: r.id, patch: { mode: 'deputy' } });
      await cd.ok('message', { room: r.id, type: 'system', content: 'the deputy speaks' });
      await cp.err('state', { room: r.id, patch: { mode: 'plain' } }, 'forbidden');
      const del = await api(port, 'DELETE', `/api/rooms/${r.id}`, { token: dep.token });
      assert.equal(del.status, 403, del.text);
      // The app's word on a later join: a member again.
      hookRoles.set(dep.sub, 'member');
      assert.equal((await cd.join(r.id)).role, 'member');
      await cd.err('state', { room: r.id, patch: { mode: 'again' } }, 'forbidden');
      const parts = (await api(port, 'GET', `/api/rooms/${r.id}/participants`, { token: host.token })).json();
      const roles = Object.fromEntries(parts.participants.map((p) => [p.userId, p.role]));
      assert.deepEqual(roles, { [host.sub]: 'host', [dep.sub]: 'member', [plain.sub]: 'member' });
      // A verdict that is not one: refused with backend_error saying what is wrong.
      const e1 = await cb.err('join', { room: r.id }, 'backend_error');
      assert.match(e1.error.message, /role must be "host" or "member"/);
      const e2 = await cn.err('join', { room: r.id }, 'backend_error');
      assert.match(e2.error.message, /displayName must be 1 to 32 characters/);
    } finally {
      closeAll([ch, cd, cp, cb, cn]);
    }
  });

  it('a backend that does not answer: backend_timeout; calls per connection bounded', T, async () => {
    const u = mkUser('Slow');
    const c = await RoomWs.open(port, u);
    try {
      const p1 = c.call('rpc', { method: 'hang' });
      const p2 = c.call('rpc', { method: 'hang' });
      await c.err('rpc', { method: 'echo' }, 'too_many_calls');
      // the join hook's calls count per connection too
      const r = await createRoom(port, mkUser('SlowHost'), { name: 'slow' });
      await c.err('join', { room: r.roomCode }, 'too_many_calls');
      for (const p of [p1, p2]) {
        const m = await p;
        assert.equal(m.error?.code, 'backend_timeout', JSON.stringify(m));
      }
      await c.ok('rpc', { method: 'echo' }); // the calls were given back
    } finally {
      c.close();
    }
  });
});

describe('rpc and join hook without a backend', () => {
  let srvNone;
  let srvDown;
  before(async () => {
    const probe = http.createServer();
    const closedPort = await listen(probe);
    await shut(probe);
    [srvNone, srvDown] = await Promise.all([
      startServer({ args: [...BASE_ARGS, '--join-hook-url', `http://127.0.0.1:${closedPort}/join`, '--join-hook-fail-open', 'on'] }),
      startServer({ args: [...BASE_ARGS, '--rpc-url', `http://127.0.0.1:${closedPort}/rpc`,
        '--join-hook-url', `http://127.0.0.1:${closedPort}/join`] }),
    ]);
  });
  after(async () => {
    await srvNone?.stop();
    await srvDown?.stop();
  });

  it('not_configured without --rpc-url; backend_unavailable when nothing listens', T, async () => {
    const u = mkUser('U');
    const [a, b] = [await RoomWs.open(srvNone.port, u), await RoomWs.open(srvDown.port, u)];
    try {
      await a.err('rpc', { method: 'agent_action' }, 'not_configured');
      await b.err('rpc', { method: 'agent_action' }, 'backend_unavailable');
    } finally {
      closeAll([a, b]);
    }
  });

  it('an empty --rpc-secret with a backend: a warning at start that the calls are not signed', T, async () => {
    assert.ok(srvDown.lines.some((l) => /not signed/.test(l)), srvDown.stderrTail());
  });

  it('join hook down: refused by default (backend_unavailable), let through with --join-hook-fail-open', T, async () => {
    const host = mkUser('Host');
    const guest = mkUser('Guest');
    const open = await createRoom(srvNone.port, host, { name: 'open' });
    const shut_ = await createRoom(srvDown.port, host, { name: 'shut' });
    const [a, b] = [await RoomWs.open(srvNone.port, guest), await RoomWs.open(srvDown.port, guest)];
    try {
      const j = await a.join(open.roomCode);
      assert.equal(j.room.id, open.id);
      await b.err('join', { room: shut_.roomCode }, 'backend_unavailable');
    } finally {
      closeAll([a, b]);
    }
  });
});

describe('join hook fail-open and the call budget', () => {
  let engine;
  let srv;
  before(async () => {
    engine = createStoryEngine({ secret: RPC_SECRET, handle: testHandle });
    const enginePort = await listen(engine);
    srv = await startServer({
      args: [...BASE_ARGS, '--rpc-url', `http://127.0.0.1:${enginePort}/rpc`, '--rpc-secret', RPC_SECRET,
        '--join-hook-url', `http://127.0.0.1:${enginePort}/join`, '--join-hook-fail-open', 'on',
        '--rpc-timeout', '1s', '--rpc-max-calls', '1'],
    });
  });
  after(async () => {
    await srv?.stop();
    if (engine) await shut(engine);
  });

  it('a full call budget refuses the join (too_many_calls), fail-open or not', T, async () => {
    const host = mkUser('Host');
    const mallory = mkUser('Mallory'); // the hook refuses her
    const r = await createRoom(srv.port, host, { name: 'budget' });
    const [a, b] = await openAll(srv.port, [host, mallory]);
    try {
      const p = a.call('rpc', { method: 'hang' }); // takes the only call
      await b.err('join', { room: r.roomCode }, 'too_many_calls');
      assert.equal((await p).error?.code, 'backend_timeout');
      await b.err('join', { room: r.roomCode }, 'not_invited'); // the hook asked again
    } finally {
      closeAll([a, b]);
    }
  });
});
