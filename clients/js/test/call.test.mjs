// call.test.mjs: room.call's op flow against the real server (docs/protocol.md "Calls"):
// join and the members on both sides, an offer and its answer relayed between the two
// peers (perfect negotiation, with offers crossing), mute as rtc_state, leave, and the
// rejoin after a reconnect. Node has no WebRTC: RTCPeerConnection here is a recorder of
// descriptions, so this proves the signaling only; media is proven in Chromium
// (tests/browser/rtc.test.mjs).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BASE_ARGS, connected, next, startServer, until } from '../testlib/helpers.mjs';

/** Records what the SDK asks of a peer connection; descriptions are text, no media. */
class RecordingPC {
  static all = [];
  constructor(config) {
    this.config = config;
    this.signalingState = 'stable';
    this.iceConnectionState = 'new';
    this.remote = [];
    this.localDescription = null;
    this.closed = false;
    RecordingPC.all.push(this);
  }

  async setLocalDescription() {
    const type = this.signalingState === 'have-remote-offer' ? 'answer' : 'offer';
    this.localDescription = { type, sdp: `fake ${type}` };
    this.signalingState = type === 'offer' ? 'have-local-offer' : 'stable';
  }

  async setRemoteDescription(d) {
    this.remote.push(d);
    if (d.type === 'offer') {
      if (this.signalingState === 'have-local-offer') this.signalingState = 'stable'; // rollback
      this.signalingState = 'have-remote-offer';
    } else {
      this.signalingState = 'stable';
    }
  }

  async addIceCandidate() {}
  addTrack() { return {}; }
  removeTrack() {}
  restartIce() {}
  close() { this.closed = true; }
}

describe('room.call', () => {
  let srv;
  before(async () => {
    globalThis.RTCPeerConnection = RecordingPC;
    srv = await startServer({ args: [...BASE_ARGS, '--turn-urls', 'turn:127.0.0.1:3478', '--turn-secret', 'sdk-turn-secret'] });
  });
  after(async () => {
    delete globalThis.RTCPeerConnection;
    await srv?.stop();
  });

  it('join, members, offer/answer relayed, mute, leave, rejoin after a reconnect', async () => {
    const a = await connected(srv.port, 'A', { reconnect: { base: 100, max: 500 } });
    const b = await connected(srv.port, 'B');
    try {
      const r = await a.createRoom({ name: 'call' });
      const ar = await a.join(r.roomCode);
      const br = await b.join(r.roomCode);
      const aId = await ar.call.join({ audio: false });
      assert.equal(ar.call.mode, 'mesh');
      assert.equal(ar.call.members.size, 0);

      const joinedAtA = next(ar.call, 'member-joined');
      const bId = await br.call.join({});
      assert.notEqual(aId, bId);
      assert.deepEqual([...br.call.members.keys()], [aId]);
      assert.equal((await joinedAtA).id, bId);
      // Each side has one peer connection, with the TURN server and a fresh credential.
      const pa = ar.call.peerConnection(bId);
      const pb = br.call.peerConnection(aId);
      assert.ok(pa && pb);
      assert.equal(pb.config.iceServers[0].urls[0], 'turn:127.0.0.1:3478');
      assert.match(pb.config.iceServers[0].username, /^\d+:/);

      // Both offer at once (glare): the polite side (B, the newcomer) takes A's offer and
      // answers; A ignores B's offer. Both end stable with one description from the other.
      await Promise.all([pa.onnegotiationneeded(), pb.onnegotiationneeded()]);
      await until(() => pa.remote.some((d) => d.type === 'answer'), 3000, 'A to get the answer');
      assert.equal(pa.signalingState, 'stable');
      assert.equal(pb.signalingState, 'stable');
      assert.deepEqual(pb.remote.map((d) => d.type), ['offer']);

      const upd = next(br.call, 'member-updated');
      await ar.call.setMuted(true);
      assert.equal((await upd).muted, true);

      const left = next(ar.call, 'member-left');
      await br.call.leave();
      assert.deepEqual((await left).member.id, bId);
      assert.equal(pa.closed, true);
      assert.equal(br.call.joined, false);

      // A reconnects: a new connection is a new call member; B, back in the call, sees A
      // leave (disconnected) and come back.
      await br.call.join({});
      const back = next(br.call, 'member-joined');
      const gone = next(br.call, 'member-left');
      a._ws.close(4000, 'test drop');
      assert.equal((await gone).reason, 'disconnected');
      const aNew = await back;
      assert.equal(aNew.userId, a.user.id);
      await until(() => ar.call.id === aNew.id, 3000, 'A to be in the call again');
      assert.notEqual(ar.call.id, aId);
    } finally {
      a.close();
      b.close();
    }
  });
});
