// call_sfu.js: a call in SFU mode (docs/protocol.md "Calls", "SFU mode"; docs/webrtc.md
// "SFU"): one sending connection to the SFU ("pub": the camera, microphone and shared
// screen tracks) and one receiving connection per other member the SFU offers ("pc": that
// member's id), all signalled through rtc_signal to and from the pseudo-member "sfu".
// Janus's VideoRoom (1.x) offers each publisher's media on its own subscriber handle, so a
// receiving connection per member is what it supports most simply. Call (call.js) keeps the
// public API; this class only carries the connections.

import { ChorusError } from './errors.js';

/** The pseudo-member the SFU's signals come from and go to. */
export const SFU = 'sfu';

/** The connections of a call in SFU mode (Call makes it; not for apps). */
export class SfuSession {
  constructor(call, config) {
    this.call = call;
    this.config = config;
    this.pub = null; // RTCPeerConnection sending our media
    this.senders = new Map(); // local stream id -> RTCRtpSender[]
    this.subs = new Map(); // member id -> { pc, remote: Map<track id, CallTrack> }
    this.negotiating = false;
    this.again = false;
  }

  /** Starts sending the streams (camera/microphone, screen) that exist. */
  start(streams) {
    for (const s of streams) if (s) this.addStream(s);
  }

  send(data) {
    this.call._signal(SFU, data);
  }

  /** The sending connection, made at the first track. */
  pubPc() {
    if (this.pub) return this.pub;
    const pc = new globalThis.RTCPeerConnection(this.config);
    this.pub = pc;
    pc.onicecandidate = ({ candidate }) =>
      this.send({ pc: 'pub', candidate: candidate ? candidate.toJSON() : null });
    pc.onnegotiationneeded = () => this.offer();
    return pc;
  }

  /** One offer at a time: Janus answers each configure in turn. */
  async offer() {
    if (this.negotiating) {
      this.again = true;
      return;
    }
    this.negotiating = true;
    try {
      await this.pub.setLocalDescription(await this.pub.createOffer());
      this.send({ pc: 'pub', type: 'offer', sdp: this.pub.localDescription.sdp });
    } catch (e) {
      this.negotiating = false;
      this.call._emit('error', new ChorusError('rtc_negotiation_failed', String(e?.message ?? e)));
    }
  }

  addStream(stream) {
    if (this.senders.has(stream.id)) return;
    const pc = this.pubPc();
    this.senders.set(stream.id, stream.getTracks().map((t) => pc.addTransceiver(t, { direction: 'sendonly', streams: [stream] }).sender));
  }

  removeStream(stream) {
    const senders = this.senders.get(stream.id);
    if (!senders || !this.pub) return;
    this.senders.delete(stream.id);
    for (const s of senders) this.pub.removeTrack(s);
  }

  async onSignal(d) {
    if (!d || typeof d.pc !== 'string') return;
    if (d.pc === 'pub') {
      if (d.type === 'answer' && this.pub) {
        await this.pub.setRemoteDescription({ type: 'answer', sdp: d.sdp });
        this.negotiating = false;
        if (this.again) {
          this.again = false;
          await this.offer();
        }
      }
      return;
    }
    if (d.type === 'offer') await this.subscribe(d.pc, d.sdp);
    else if (d.type === 'bye') this.drop(d.pc);
  }

  /** The SFU offers member id's media: answer on a receiving connection of its own. */
  async subscribe(id, sdp) {
    let s = this.subs.get(id);
    if (!s) {
      const pc = new globalThis.RTCPeerConnection(this.config);
      s = { pc, remote: new Map() };
      this.subs.set(id, s);
      pc.onicecandidate = ({ candidate }) => this.send({ pc: id, candidate: candidate ? candidate.toJSON() : null });
      pc.ontrack = ({ track, streams }) => this.onTrack(id, s, track, streams[0]);
    }
    await s.pc.setRemoteDescription({ type: 'offer', sdp });
    await s.pc.setLocalDescription(await s.pc.createAnswer());
    this.send({ pc: id, type: 'answer', sdp: s.pc.localDescription.sdp });
  }

  onTrack(id, s, track, stream) {
    const member = this.call._members.get(id) ?? { id };
    const kind = track.kind === 'audio' ? 'audio' : member.screen && !member.video ? 'screen' : 'video';
    const t = { member, track, stream: stream ?? new globalThis.MediaStream([track]), kind };
    s.remote.set(track.id, t);
    this.call._emit('track-added', t);
  }

  /** Member id's media ended (or they left): its receiving connection closes. */
  drop(id) {
    const s = this.subs.get(id);
    if (!s) return;
    this.subs.delete(id);
    for (const t of s.remote.values()) this.call._emit('track-removed', t);
    s.pc.onicecandidate = null;
    s.pc.ontrack = null;
    s.pc.close();
  }

  /** The connection that carries member id's media to us ('pub' for ours). */
  peerConnection(id) {
    return id === 'pub' ? this.pub ?? undefined : this.subs.get(id)?.pc;
  }

  close() {
    for (const id of [...this.subs.keys()]) this.drop(id);
    if (this.pub) {
      this.pub.onicecandidate = null;
      this.pub.onnegotiationneeded = null;
      this.pub.close();
      this.pub = null;
    }
    this.senders.clear();
  }
}
