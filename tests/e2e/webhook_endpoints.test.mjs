// webhook_endpoints.test.mjs: webhook endpoints registered through the server API
// (/api/server/webhooks) beside the configuration's, each with its own URL, secret and
// event filter: a delivery goes to every endpoint whose filter takes it, signed with that
// endpoint's secret; the delivery log (filtered by state, paged); a dead letter retried;
// deleting an endpoint; endpoints kept across a restart; every route needs an API key
// (a user's token is refused).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { api, FAST_HASH, register, TEST_SECRET } from './lib/auth.mjs';
import { accepted, receiver, verify } from './lib/hooks.mjs';
import { assertJsonError } from './lib/http.mjs';
import { ON_PG, pgDatabaseFor } from './lib/pg.mjs';
import { createRoom, mkUser, RoomWs, until } from './lib/rooms.mjs';
import { makeTempDir, runCli, startServer } from './lib/server.mjs';

const T = { timeout: 60000, skip: ON_PG && 'the store requests are covered on PostgreSQL by the unit conformance suite' };
const SECRET = 'whsec-config-0123456789';

async function newKey(dir) {
  const store = ON_PG ? ['--store', await pgDatabaseFor(dir)] : [];
  const r = await runCli(['apikey', 'create', '--name', 'hooks', '--data', dir, ...store], { timeoutMs: 10000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

describe('webhook endpoints (server API)', () => {
  it('registered endpoints, filters, secrets, the log, a retried dead letter, keys only', T, async () => {
    const [r0, r1, r2, r3] = await Promise.all([receiver(), receiver(), receiver(), receiver()]);
    r3.status = () => 500;
    const dir = makeTempDir('chorus-hook-eps-');
    const start = () => startServer({ data: false, args: ['--data', dir, '--jwt-secret', TEST_SECRET, ...FAST_HASH,
      '--webhook-url', r0.url, '--webhook-secret', SECRET, '--webhook-events', 'message.created',
      '--webhook-max-attempts', '2', '--webhook-retry-base', '20ms', '--webhook-retry-max', '50ms',
      '--webhook-poll', '50ms', '--webhook-max-endpoints', '4'] });
    let srv = await start();
    try {
      const key = await newKey(dir);
      const user = await register(srv.port);
      const call = (method, path, body, token = key) => api(srv.port, method, path, { body, token: token ?? undefined });

      // Every route: an API key; none, or a user's token, is refused.
      const routes = [['POST', '/api/server/webhooks', { url: r1.url, events: ['*'] }], ['GET', '/api/server/webhooks'],
        ['DELETE', '/api/server/webhooks/default'], ['GET', '/api/server/webhooks/default/deliveries'],
        ['POST', '/api/server/webhooks/deliveries/x/retry']];
      for (const [m, p, b] of routes) {
        assertJsonError(await call(m, p, b, null), 401, 'invalid_api_key');
        assertJsonError(await call(m, p, b, user.token), 401, 'invalid_api_key');
      }

      // Register: bad input refused, each with its field.
      const bad = [[{ url: 'ftp://127.0.0.1/x', events: ['*'] }, 'url'], [{ url: 'http://u:p@127.0.0.1/', events: ['*'] }, 'url'],
        [{ events: ['*'] }, 'url'], [{ url: r1.url, events: ['nope'] }, 'events'], [{ url: r1.url, events: [] }, 'events'],
        [{ url: r1.url, events: 'message.created' }, 'events'], [{ url: r1.url, events: ['*'], secret: 'short' }, 'secret']];
      for (const [body, field] of bad) {
        const res = await call('POST', '/api/server/webhooks', body);
        assertJsonError(res, 400, 'validation_error');
        assert.equal(res.json().error.field, field, JSON.stringify(body));
      }
      let res = await call('POST', '/api/server/webhooks', { url: r1.url, events: ['message.created', 'room.created'] });
      assert.equal(res.status, 201);
      const e1 = res.json();
      assert.match(e1.webhook.id, /^wh_[0-9a-f]{16}$/);
      assert.match(e1.secret, /^whsec_[0-9a-f]{64}$/);
      assert.deepEqual(e1.webhook.events, ['message.created', 'room.created']);
      assert.equal(e1.webhook.source, 'api');
      const own = 'my-own-secret-0123456789';
      res = await call('POST', '/api/server/webhooks', { url: r2.url, events: ['participant.joined'], secret: own });
      assert.equal(res.status, 201);
      const e2 = res.json();
      assert.equal(e2.secret, own);
      res = await call('POST', '/api/server/webhooks', { url: r3.url, events: ['message.created'] });
      const e3 = res.json();
      // --webhook-max-endpoints 4: the configuration's and three.
      assertJsonError(await call('POST', '/api/server/webhooks', { url: r3.url, events: ['*'] }), 409, 'endpoint_limit');
      res = await call('GET', '/api/server/webhooks');
      assert.equal(res.status, 200);
      const list = res.json().webhooks;
      assert.deepEqual(list.map((e) => e.id), ['default', e1.webhook.id, e2.webhook.id, e3.webhook.id]);
      assert.deepEqual(list[0], { id: 'default', url: r0.url, events: ['message.created'], createdAt: 0, source: 'config' });
      assert.ok(!JSON.stringify(list).includes('secret'), 'no secret is listed');

      // One change, each endpoint whose filter takes it, each signed with its own secret.
      const host = mkUser('Host');
      const room = await createRoom(srv.port, host);
      const c = await RoomWs.open(srv.port, host);
      await c.join(room.id);
      await c.ok('message', { room: room.id, type: 'user_text', content: 'hello' });
      c.close();
      await r0.until(() => accepted(r0).length === 1);
      await r1.until(() => accepted(r1).length === 2);
      await r2.until(() => accepted(r2).length === 1);
      assert.deepEqual(accepted(r0).map((b) => b.type), ['message.created']);
      assert.deepEqual(accepted(r1).map((b) => b.type), ['room.created', 'message.created']);
      assert.deepEqual(accepted(r2).map((b) => b.type), ['participant.joined']);
      for (const [r, secret] of [[r0, SECRET], [r1, e1.secret], [r2, own]]) {
        for (const q of r.requests) {
          assert.ok(verify(q.headers, q.raw, secret), 'signed with its endpoint\'s secret');
          assert.ok(!verify(q.headers, q.raw, secret === SECRET ? own : SECRET), 'not with another\'s');
        }
      }
      assert.notEqual(accepted(r0)[0].id, accepted(r1)[1].id, 'a delivery per endpoint');

      // The failing endpoint's delivery is dead-lettered after 2 attempts; the log shows it.
      const log = (id, q = '') => call('GET', `/api/server/webhooks/${id}/deliveries${q}`);
      await r3.until(() => r3.requests.length === 2);
      // The write-back of the last attempt is a store round trip behind its answer.
      const dead = await until(async () => {
        const d = (await log(e3.webhook.id, '?status=dead')).json().deliveries;
        return d.length ? d : null;
      }, 20000, 'the dead letter in the log');
      assert.equal(dead.length, 1);
      assert.equal(dead[0].state, 'dead');
      assert.equal(dead[0].attempts, 2);
      assert.equal(dead[0].lastStatus, 500);
      assert.equal(dead[0].lastError, 'HTTP 500');
      assert.equal(dead[0].endpoint, e3.webhook.id);
      assert.equal(dead[0].body.data.content, 'hello');
      assert.equal(dead[0].room, room.id);
      assert.deepEqual((await log(e3.webhook.id, '?status=pending')).json().deliveries, []);
      assertJsonError(await log(e3.webhook.id, '?status=lost'), 400, 'validation_error');
      assertJsonError(await log(e3.webhook.id, '?limit=0'), 400, 'validation_error');
      assertJsonError(await log('wh_0000000000000000'), 404, 'not_found');
      // Paged, newest first.
      res = await log(e1.webhook.id, '?limit=1');
      const p1 = res.json();
      assert.equal(p1.deliveries[0].type, 'message.created');
      assert.equal(p1.deliveries[0].state, 'delivered');
      res = await log(e1.webhook.id, `?limit=1&before=${p1.nextBefore}`);
      assert.deepEqual(res.json().deliveries.map((d) => d.type), ['room.created']);

      // Retry: the receiver is back; the dead letter goes again, once; then it is not dead.
      r3.status = () => 200;
      const retry = (id) => call('POST', `/api/server/webhooks/deliveries/${id}/retry`);
      res = await retry(dead[0].id);
      assert.equal(res.status, 200);
      assert.equal(res.json().delivery.state, 'pending');
      assert.equal(res.json().delivery.attempts, 0);
      await r3.until(() => accepted(r3).length === 1);
      assert.equal(accepted(r3)[0].id, dead[0].id, 'the same delivery id');
      assertJsonError(await retry(dead[0].id), 409, 'not_dead');
      assertJsonError(await retry('no-such-delivery'), 404, 'not_found');

      // Delete: the API's endpoints only; gone from the list and from the filter.
      assertJsonError(await call('DELETE', '/api/server/webhooks/default'), 409, 'configured_endpoint');
      res = await call('DELETE', `/api/server/webhooks/${e2.webhook.id}`);
      assert.equal(res.status, 200);
      assert.equal(res.json().deadLettered, 0);
      assertJsonError(await call('DELETE', `/api/server/webhooks/${e2.webhook.id}`), 404, 'not_found');
      await srv.stop();

      // Kept in the store: the same endpoints after a restart.
      srv = await start();
      res = await call('GET', '/api/server/webhooks');
      assert.deepEqual(res.json().webhooks.map((e) => e.id), ['default', e1.webhook.id, e3.webhook.id]);
    } finally {
      await srv.stop();
      await Promise.all([r0, r1, r2, r3].map((r) => r.close()));
    }
  });
});
