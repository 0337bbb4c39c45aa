// call.js: a room's call (room.call): voice, video and screen sharing over WebRTC, with
// Chorus as the signaling server (docs/protocol.md "Calls", docs/webrtc.md). In mesh mode
// each remote call member is one RTCPeerConnection (class Peer), negotiated with
// "perfect negotiation" so offers that cross are harmless. The public API (join, leave,
// setMuted, shareScreen, the events) does not depend on the mode: an SFU mode is one more
// kind of connection (call_sfu.js: one connection to the SFU sending, one per member
// receiving, their offers and answers through the same rtc_signal to "sfu"), chosen by the
// mode the server answers or switches to (rtc_mode).

import { Emitter } from './emitter.js';
import { ChorusError } from './errors.js';
import { SFU, SfuSession } from './call_sfu.js';

/** The server ops that are call events (routed to room.call). */
export const CALL_EVENTS = new Set(['rtc_member_joined', 'rtc_member_left', 'rtc_member_updated', 'rtc_signal',
  'rtc_mode', 'rtc_sfu_error']);

/**
 * A call member as the server describes it.
 * @typedef {{ id: string; userId: string; audio: boolean; video: boolean; screen: boolean;
 *   muted: boolean; speaking: boolean; sharing: boolean; joinedAt: number }} CallMember
 */

/**
 * A remote track: `kind` is 'audio', 'video' or 'screen' (a shared screen's video).
 * @typedef {{ member: CallMember; track: MediaStreamTrack; stream: MediaStream;
 *   kind: 'audio' | 'video' | 'screen' }} CallTrack
 */

/**
 * The events of a Call: member-joined, member-left, member-updated, track-added,
 * track-removed, joined (this connection is in the call), left (it is not any more:
 * reason left, reconnecting, room_left or the server's), error.
 * @typedef {{ 'member-joined': CallMember, 'member-left': { member: CallMember, reason: string }, 'member-updated': CallMember, 'track-added': CallTrack, 'track-removed': CallTrack, joined: { id: string, mode: string }, left: { reason: string }, error: ChorusError }} CallEvents
 */

/**
 * What join() takes. `stream`: the camera/microphone stream to send instead of asking
 * getUserMedia; `screenStream`: a stream to share instead of asking getDisplayMedia (a
 * canvas's captureStream(), say); `rtcConfig`: more RTCConfiguration (iceTransportPolicy).
 * @typedef {{ audio?: boolean; video?: boolean | MediaTrackConstraints; screen?: boolean;
 *   muted?: boolean; stream?: MediaStream; screenStream?: MediaStream;
 *   rtcConfig?: RTCConfiguration }} CallJoinOptions
 */

/**
 * A room's call. Events: CallEvents. One per Room (room.call).
 * @extends {Emitter<CallEvents>}
 */
export class Call extends Emitter {
  /** @internal */ _room;
  /** @internal */ _id;
  /** @internal */ _mode;
  /** @internal */ _members;
  /** @internal */ _peers;
  /** @internal */ _opts;
  /** @internal */ _local;
  /** @internal */ _screen;
  /** @internal */ _iceServers;
  /** @internal */ _muted;

  /** @internal */
  constructor(room) {
    super();
    this._room = room;
    this._id = null;
    this._mode = null;
    this._members = new Map(); // call member id -> CallMember (the others)
    this._peers = new Map(); // call member id -> Peer
    this._opts = null;
    this._local = null; // MediaStream of camera and microphone
    this._screen = null; // MediaStream shared
    this._iceServers = [];
    this._muted = false;
    this._sfu = null; // SfuSession in SFU mode (call_sfu.js)
  }

  /** This connection's call member id, or null when not in the call. @returns {string | null} */
  get id() {
    return this._id;
  }

  /** 'mesh' or 'sfu' while in the call, else null. @returns {string | null} */
  get mode() {
    return this._mode;
  }

  /** @returns {boolean} */
  get joined() {
    return this._id !== null;
  }

  /** The other call members by call member id. @returns {Map<string, CallMember>} */
  get members() {
    return this._members;
  }

  /** The camera/microphone stream sent, or null. @returns {MediaStream | null} */
  get localStream() {
    return this._local;
  }

  /** The screen stream shared, or null. @returns {MediaStream | null} */
  get screenStream() {
    return this._screen;
  }

  /** @returns {boolean} */
  get muted() {
    return this._muted;
  }

  /**
   * Joins the room's call, sending audio, video and/or a screen as asked, and connects to
   * every member already in it. Resolves with this connection's call member id.
   * @param {CallJoinOptions} [opts]
   * @returns {Promise<string>}
   */
  async join(opts = {}) {
    if (this._id) throw new ChorusError('conflict', 'already in the call');
    this._opts = { ...opts };
    const audio = !!opts.audio;
    const video = !!opts.video;
    if (opts.stream) this._local = opts.stream;
    else if (audio || video) this._local = await mediaDevices().getUserMedia({ audio, video: opts.video ?? false });
    if (opts.screen) this._screen = opts.screenStream ?? (await mediaDevices().getDisplayMedia({ video: true }));
    this._muted = !!opts.muted;
    this._applyMute();
    await this._rtcJoin();
    return this._id;
  }

  /** @internal rtc_join, then a peer for every member already in the call (we offer). */
  async _rtcJoin() {
    const o = this._opts;
    const data = await this._room._req('rtc_join', {
      audio: !!o.audio, video: !!o.video, screen: !!this._screen, muted: this._muted,
    });
    this._id = data.id;
    this._mode = data.mode;
    this._iceServers = data.iceServers ?? [];
    this._members.clear();
    for (const m of data.members) if (m.id !== this._id) this._members.set(m.id, m);
    this._emit('joined', { id: this._id, mode: this._mode });
    if (this._mode === 'sfu') this._startSfu();
    else for (const m of this._members.values()) this._connect(m);
  }

  /**
   * Leaves the call: every peer connection closes, local tracks stop (those the SDK
   * asked for; a given stream is left alone).
   * @returns {Promise<void>}
   */
  async leave() {
    if (!this._id) return;
    try {
      await this._room._req('rtc_leave', {});
    } finally {
      this._end('left');
    }
  }

  /**
   * Mutes or unmutes the microphone (the audio tracks' `enabled`) and tells the room.
   * @param {boolean} muted
   * @returns {Promise<void>}
   */
  async setMuted(muted) {
    this._muted = !!muted;
    this._applyMute();
    if (this._id) await this._room._req('rtc_state', { muted: this._muted });
  }

  /**
   * Tells the room whether this member is speaking (an app's voice activity detection).
   * @param {boolean} speaking
   * @returns {Promise<void>}
   */
  async setSpeaking(speaking) {
    if (this._id) await this._room._req('rtc_state', { speaking: !!speaking });
  }

  /**
   * Shares a screen: `stream`, or one getDisplayMedia asks for. Every peer gets its
   * video track; the room sees `sharing`.
   * @param {MediaStream} [stream]
   * @returns {Promise<MediaStream>}
   */
  async shareScreen(stream) {
    if (this._screen) await this.stopScreen();
    this._screen = stream ?? (await mediaDevices().getDisplayMedia({ video: true }));
    for (const p of this._peers.values()) p.addStream(this._screen);
    this._sfu?.addStream(this._screen);
    const track = this._screen.getVideoTracks()[0];
    if (track) track.addEventListener('ended', () => this.stopScreen().catch(() => {}), { once: true });
    if (this._id) await this._room._req('rtc_state', { sharing: true });
    return this._screen;
  }

  /** Stops sharing the screen. @returns {Promise<void>} */
  async stopScreen() {
    const s = this._screen;
    if (!s) return;
    this._screen = null;
    for (const p of this._peers.values()) p.removeStream(s);
    this._sfu?.removeStream(s);
    if (!this._opts?.screenStream || this._opts.screenStream !== s) for (const t of s.getTracks()) t.stop();
    if (this._id) await this._room._req('rtc_state', { sharing: false });
  }

  /**
   * The peer connection that carries member id's media (mesh: the one to that member; SFU
   * mode: the one the SFU sends it on, or 'pub' for the one we send on), for getStats.
   * @param {string} id @returns {RTCPeerConnection | undefined}
   */
  peerConnection(id) {
    return this._peers.get(id)?.pc ?? this._sfu?.peerConnection(id);
  }

  /** @internal SFU mode: one connection to the SFU sends, one per member receives. */
  _startSfu() {
    for (const id of [...this._peers.keys()]) this._dropPeer(id);
    if (this._sfu) return;
    this._sfu = new SfuSession(this, { ...(this._opts?.rtcConfig ?? {}), iceServers: this._iceServers });
    this._sfu.start([this._local, this._screen]);
  }

  /** @internal */
  _applyMute() {
    for (const t of this._local?.getAudioTracks() ?? []) t.enabled = !this._muted;
  }

  /**
   * @internal A peer for member m; polite when our id is the higher (the newcomer). The
   * newcomer adds its tracks at once, so it offers first; a member already in the call
   * (wait) adds its own once the newcomer's offer arrived, so the two rarely offer at
   * once (perfect negotiation settles it when they do).
   */
  _connect(m, wait = false) {
    if (this._peers.has(m.id)) return this._peers.get(m.id);
    // THE MODE: mesh is one Peer per member; in SFU mode the SfuSession holds the
    // connections (to the SFU), none per member.
    if (this._mode === 'sfu') return null;
    const polite = idNumber(this._id) > idNumber(m.id);
    const cfg = { ...(this._opts?.rtcConfig ?? {}), iceServers: this._iceServers };
    const p = new Peer(this, m, polite, cfg);
    this._peers.set(m.id, p);
    if (wait) p.waiting = true;
    else p.addLocal();
    return p;
  }

  /** @internal */
  _dropPeer(id) {
    const p = this._peers.get(id);
    if (!p) return;
    this._peers.delete(id);
    p.close();
  }

  /** @internal The call is over for this connection (left, the room went, or reset). */
  _end(reason, { keepMedia = false } = {}) {
    for (const id of [...this._peers.keys()]) this._dropPeer(id);
    this._sfu?.close();
    this._sfu = null;
    this._members.clear();
    const was = this._id;
    this._id = null;
    this._mode = null;
    if (!keepMedia) {
      if (this._local && this._local !== this._opts?.stream) for (const t of this._local.getTracks()) t.stop();
      if (this._screen && this._screen !== this._opts?.screenStream) for (const t of this._screen.getTracks()) t.stop();
      this._local = null;
      this._screen = null;
    }
    if (was) this._emit('left', { reason });
  }

  /** @internal The room was rejoined after a reconnect: a new connection, so a new call member. */
  _onRejoin() {
    if (!this._id) return;
    this._end('reconnecting', { keepMedia: true });
    this._rtcJoin().catch((e) => this._emit('error', e instanceof ChorusError ? e : new ChorusError('rtc_rejoin_failed', String(e))));
  }

  /** @internal The room is gone for this client (left, kicked, deleted, closed). */
  _detach() {
    this._end('room_left');
  }

  /** @internal A call event of the room. */
  _onEvent(msg) {
    if (!this._id) return;
    switch (msg.op) {
      case 'rtc_member_joined':
        if (msg.member.id === this._id) return;
        this._members.set(msg.member.id, msg.member);
        this._emit('member-joined', msg.member);
        // The newcomer offers; our peer waits for its offer before adding our tracks.
        this._connect(msg.member, true);
        return;
      case 'rtc_member_updated': {
        if (msg.member.id === this._id) return;
        this._members.set(msg.member.id, msg.member);
        this._emit('member-updated', msg.member);
        return;
      }
      case 'rtc_member_left': {
        if (msg.member.id === this._id) {
          this._end(msg.reason);
          return;
        }
        const m = this._members.get(msg.member.id) ?? msg.member;
        this._members.delete(msg.member.id);
        this._dropPeer(msg.member.id);
        this._sfu?.drop(msg.member.id);
        this._emit('member-left', { member: m, reason: msg.reason });
        return;
      }
      case 'rtc_mode':
        if (msg.mode !== 'sfu' || this._mode === 'sfu') return;
        this._mode = 'sfu';
        this._startSfu();
        return;
      case 'rtc_sfu_error':
        // The SFU lost this connection: leave and join again after a pause.
        this._emit('error', new ChorusError(msg.code, msg.message ?? 'the SFU failed'));
        this._room._req('rtc_leave', {}).catch(() => {}).then(() => {
          this._end('reconnecting', { keepMedia: true });
          setTimeout(() => this._rtcJoin().catch((e) => this._emit('error', e)), 2000);
        });
        return;
      case 'rtc_signal': {
        if (msg.from === SFU) {
          this._sfu?.onSignal(msg.data).catch((e) => this._emit('error', new ChorusError('rtc_signal_failed', String(e?.message ?? e))));
          return;
        }
        let p = this._peers.get(msg.from);
        if (!p) {
          const m = this._members.get(msg.from);
          if (!m) return; // a member that left meanwhile
          p = this._connect(m);
        }
        p.onSignal(msg.data).catch((e) => this._emit('error', new ChorusError('rtc_signal_failed', String(e?.message ?? e))));
        return;
      }
      default:
    }
  }

  /** @internal */
  _signal(to, data) {
    if (!this._id) return;
    this._room._req('rtc_signal', { to, data }).catch((e) => this._emit('error', e));
  }
}

/** The numeric part of a call member id ("c12" -> 12). */
function idNumber(id) {
  return Number(String(id).slice(1)) || 0;
}

function mediaDevices() {
  const md = globalThis.navigator?.mediaDevices;
  if (!md) throw new ChorusError('not_supported', 'no navigator.mediaDevices here (pass stream / screenStream)');
  return md;
}

/**
 * One mesh peer connection to a remote call member, with perfect negotiation
 * (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example): the impolite side
 * ignores an offer that collides with its own, the polite side rolls its own back. Each
 * description carries what its streams are ('camera' or 'screen'), so the other side
 * can tell a shared screen from a camera.
 * @internal
 */
class Peer {
  constructor(call, member, polite, config) {
    const PC = globalThis.RTCPeerConnection;
    if (!PC) throw new ChorusError('not_supported', 'no RTCPeerConnection here');
    this.call = call;
    this.member = member;
    this.polite = polite;
    this.pc = new PC(config);
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.waiting = false; // our tracks wait for the other's first offer (Call._connect)
    this.senders = new Map(); // local stream id -> RTCRtpSender[]
    this.remoteKinds = {}; // remote stream id -> 'camera' | 'screen'
    this.remote = new Map(); // remote track id -> CallTrack
    this.counts = { candidatesSent: 0, candidatesAdded: 0, candidatesFailed: 0 }; // for debugging
    this.pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await this.pc.setLocalDescription();
        this.send({ description: this.pc.localDescription });
      } catch (e) {
        call._emit('error', new ChorusError('rtc_negotiation_failed', String(e?.message ?? e)));
      } finally {
        this.makingOffer = false;
      }
    };
    this.pc.onicecandidate = ({ candidate }) => {
      if (!candidate) return;
      this.counts.candidatesSent++;
      this.send({ candidate });
    };
    this.pc.oniceconnectionstatechange = () => {
      // A path that broke (network change): ask for new candidates on both sides.
      if (this.pc.iceConnectionState === 'failed') this.pc.restartIce();
    };
    this.pc.ontrack = ({ track, streams }) => this.onTrack(track, streams[0]);
  }

  send(data) {
    const streams = {};
    for (const [id, kind] of this.localKinds()) streams[id] = kind;
    this.call._signal(this.member.id, data.description ? { ...toJSON(data), streams } : toJSON(data));
  }

  *localKinds() {
    for (const id of this.senders.keys()) yield [id, this.call._screen?.id === id ? 'screen' : 'camera'];
  }

  /** Adds the call's local streams (camera and microphone, screen). */
  addLocal() {
    this.waiting = false;
    if (this.call._local) this.addStream(this.call._local);
    if (this.call._screen) this.addStream(this.call._screen);
  }

  addStream(stream) {
    if (this.waiting || this.senders.has(stream.id)) return;
    this.senders.set(stream.id, stream.getTracks().map((t) => this.pc.addTrack(t, stream)));
  }

  removeStream(stream) {
    const senders = this.senders.get(stream.id);
    if (!senders) return;
    this.senders.delete(stream.id);
    for (const s of senders) this.pc.removeTrack(s);
  }

  async onSignal(data) {
    if (data?.streams) Object.assign(this.remoteKinds, data.streams);
    if (data?.description) {
      const d = data.description;
      const collision = d.type === 'offer' && (this.makingOffer || this.pc.signalingState !== 'stable');
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      await this.pc.setRemoteDescription(d);
      if (d.type === 'offer') {
        await this.pc.setLocalDescription();
        this.send({ description: this.pc.localDescription });
        // Our tracks now: a renegotiation we offer (onnegotiationneeded).
        if (this.waiting) this.addLocal();
      }
    } else if (data?.candidate) {
      try {
        await this.pc.addIceCandidate(data.candidate);
        this.counts.candidatesAdded++;
      } catch (e) {
        this.counts.candidatesFailed++;
        if (!this.ignoreOffer) throw e;
      }
    }
  }

  onTrack(track, stream) {
    const kind = track.kind === 'audio' ? 'audio' : this.remoteKinds[stream?.id] === 'screen' ? 'screen' : 'video';
    const t = { member: this.call._members.get(this.member.id) ?? this.member, track, stream, kind };
    this.remote.set(track.id, t);
    this.call._emit('track-added', t);
    const gone = () => {
      if (!this.remote.delete(track.id)) return;
      this.call._emit('track-removed', t);
    };
    track.addEventListener?.('ended', gone, { once: true });
    stream?.addEventListener?.('removetrack', (e) => {
      if (e.track === track) gone();
    });
  }

  close() {
    for (const t of this.remote.values()) this.call._emit('track-removed', t);
    this.remote.clear();
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.close();
  }
}

/** A description or candidate as plain JSON (what rtc_signal carries). */
function toJSON(data) {
  const out = {};
  for (const [k, v] of Object.entries(data)) out[k] = v && typeof v.toJSON === 'function' ? v.toJSON() : v;
  return out;
}
