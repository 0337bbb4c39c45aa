// requests.test.mjs: the table of requests in flight (src/requests.js), without a server:
// each request is settled exactly once, by its reply, its timeout or the connection's end.
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';

import { ChorusError } from '../chorus.js';
import { Requests } from '../src/requests.js';

/** A request whose outcome is recorded: {ref, calls: [['resolve', data] | ['reject', err]]}. */
function track(reqs, op, ms = 1000) {
  const calls = [];
  const ref = reqs.add(op, (d) => calls.push(['resolve', d]), (e) => calls.push(['reject', e]), ms,
    () => new ChorusError('timeout', `no reply to ${op}`));
  return { ref, calls };
}

describe('Requests', () => {
  it('refs count up from 1; a reply settles its own request once, a late one nothing', () => {
    const reqs = new Requests();
    const a = track(reqs, 'echo');
    const b = track(reqs, 'join');
    assert.deepEqual([a.ref, b.ref], [1, 2]);
    assert.equal(reqs.settle(b.ref, true, { x: 1 }, () => assert.fail('ok')), true);
    assert.deepEqual(b.calls, [['resolve', { x: 1 }]]);
    assert.deepEqual(a.calls, []);
    assert.equal(reqs.settle(b.ref, true, {}, () => assert.fail('ok')), false, 'a second reply is ignored');
    assert.equal(reqs.settle(99, true, {}, () => assert.fail('ok')), false, 'an unknown ref is ignored');
    assert.equal(reqs.settle(a.ref, false, null, () => new ChorusError('forbidden', 'no')), true);
    assert.equal(a.calls.length, 1);
    assert.equal(a.calls[0][0], 'reject');
    assert.equal(a.calls[0][1].code, 'forbidden');
    reqs.rejectAll(new ChorusError('closed', 'gone'));
    assert.equal(a.calls.length + b.calls.length, 2, 'nothing settled twice');
  });

  it('a request without a reply times out once; its reply after that is ignored', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const reqs = new Requests();
      const a = track(reqs, 'history', 500);
      const b = track(reqs, 'echo', 2000);
      mock.timers.tick(499);
      assert.deepEqual(a.calls, []);
      mock.timers.tick(1);
      assert.equal(a.calls.length, 1);
      assert.equal(a.calls[0][1].code, 'timeout');
      assert.equal(reqs.settle(a.ref, true, {}, () => assert.fail('ok')), false);
      assert.equal(reqs.settle(b.ref, true, 'late enough', () => assert.fail('ok')), true);
      mock.timers.tick(5000);
      assert.deepEqual(b.calls, [['resolve', 'late enough']], 'a settled request does not time out');
    } finally {
      mock.timers.reset();
    }
  });

  it('rejectAll rejects every request in flight once; cancel forgets one unsettled', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const reqs = new Requests();
      const a = track(reqs, 'a');
      const b = track(reqs, 'b');
      const c = track(reqs, 'c');
      assert.equal(reqs.cancel(c.ref), true);
      assert.equal(reqs.cancel(c.ref), false);
      const err = new ChorusError('closed', 'the connection closed');
      reqs.rejectAll(err);
      assert.deepEqual(a.calls, [['reject', err]]);
      assert.deepEqual(b.calls, [['reject', err]]);
      assert.deepEqual(c.calls, [], 'a cancelled request is not settled');
      mock.timers.tick(5000);
      assert.equal(a.calls.length + b.calls.length + c.calls.length, 2, 'no timeout after that');
      assert.equal(track(reqs, 'd').ref, 4, 'refs are never reused');
    } finally {
      mock.timers.reset();
    }
  });
});
