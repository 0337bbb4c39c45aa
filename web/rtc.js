// rtc.js: the room's call in the web app (issue 22; seed 003's voice start/stop): the
// Voice, Camera, Share and Mute buttons, a tile per video (cameras and shared screens),
// and every remote voice played through Web Audio. In the Cosmos each voice is placed in
// 3D (a PannerNode) at its speaker's pointer, heard from the camera, and a shared screen
// is a video texture on a surface every one sees at the same place: an entity of kind
// "screen" ({pos, userId}) that the sharer creates and deletes. The call itself is the
// SDK's room.call (clients/js/src/call.js).

/** Where a shared screen stands in the cosmos: above the galaxy, one slot per user. */
function screenPos(userId) {
  let h = 0;
  for (const ch of userId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const slot = (h % 5) - 2;
  return [slot * 7, 6, -10];
}

function button(text, testid, title) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'btn btn-sm btn-secondary';
  b.textContent = text;
  b.title = title;
  b.dataset.testid = testid;
  return b;
}

/**
 * Mounts the call controls into bar (the room's actions) and the tiles before area (the
 * room's main area) for room (an SDK Room). opts: {me (our user id), nameOf(userId),
 * onError(err)}.
 * Returns {setCosmos(cosmos | null), destroy(), state} (state: what tests read).
 */
export function mountCall(bar, area, room, opts) {
  const { me, nameOf = (u) => u } = opts;
  const errors = []; // the last call errors, for tests and debugging
  const onError = (e) => {
    errors.push(String(e?.code ?? '') + ': ' + String(e?.message ?? e));
    if (errors.length > 20) errors.shift();
    opts.onError?.(e);
  };
  const call = room.call;
  const offs = [];
  const tiles = new Map(); // stream id -> {el, video, memberId, kind}
  const voices = new Map(); // track id -> {source, panner, el, member}
  const screens = new Map(); // entity id -> {mesh, texture, video}
  let audioCtx = null;
  let cosmos = null;
  let THREE = null;
  let timer = 0;
  let busy = false;

  const controls = document.createElement('div');
  controls.className = 'call-controls';
  controls.dataset.testid = 'call-controls';
  const voice = button('🎙 Voice', 'call-voice', 'Start or stop voice (join the room\'s call)');
  const camera = button('📷 Camera', 'call-camera', 'Join the call with your camera, or stop it');
  const share = button('🖥 Share', 'call-share', 'Share your screen with the call');
  const mute = button('Mute', 'call-mute', 'Mute or unmute your microphone');
  controls.append(voice, camera, share, mute);
  bar.prepend(controls);
  const grid = document.createElement('div');
  grid.className = 'call-tiles';
  grid.dataset.testid = 'call-tiles';
  grid.hidden = true;
  area.before(grid);

  function render() {
    voice.textContent = call.joined ? '⏹ Leave voice' : '🎙 Voice';
    voice.classList.toggle('btn-primary', call.joined);
    camera.hidden = call.joined && !!call.localStream?.getVideoTracks().length;
    share.textContent = call.screenStream ? '⏹ Stop sharing' : '🖥 Share';
    share.disabled = !call.joined;
    mute.hidden = !call.joined;
    mute.textContent = call.muted ? 'Unmute' : 'Mute';
    grid.hidden = tiles.size === 0;
  }

  async function run(fn) {
    if (busy) return;
    busy = true;
    try {
      await fn();
    } catch (e) {
      onError(e);
    } finally {
      busy = false;
      render();
    }
  }

  async function start(video, more = {}) {
    ensureAudio();
    await call.join({ audio: true, video, ...more });
    if (call.localStream?.getVideoTracks().length) addTile(call.localStream, 'me', 'video', true);
  }

  voice.addEventListener('click', () => run(async () => {
    if (call.joined) {
      if (call.screenStream) await stopShare();
      await call.leave();
    } else {
      await start(false);
    }
  }));
  camera.addEventListener('click', () => run(async () => {
    if (call.joined) {
      // Rejoin with the camera on: simplest and the same for every mode.
      await call.leave();
    }
    await start(true);
  }));
  share.addEventListener('click', () => run(async () => {
    if (call.screenStream) await stopShare();
    else await startShare();
  }));
  mute.addEventListener('click', () => run(() => call.setMuted(!call.muted)));

  /** Shares stream (or asks getDisplayMedia) and puts a screen surface in the cosmos. */
  async function startShare(stream) {
    const s = await call.shareScreen(stream);
    addTile(s, 'me', 'screen', true);
    const userId = me;
    const id = `screen-${userId}`.slice(0, 128);
    if (!room.entities.get(id)) {
      await room.entities.create({ id, kind: 'screen', data: { pos: screenPos(userId), userId } }).catch(onError);
    }
    s.getVideoTracks()[0]?.addEventListener('ended', () => run(stopShare), { once: true });
  }

  async function stopShare() {
    const s = call.screenStream;
    if (s) removeTile(s.id);
    await call.stopScreen();
    const id = `screen-${me}`.slice(0, 128);
    if (room.entities.get(id)) await room.entities.delete(id).catch(() => {});
  }

  // ----- tiles

  function addTile(stream, memberId, kind, local = false) {
    if (tiles.has(stream.id)) return;
    const el = document.createElement('figure');
    el.className = 'call-tile';
    el.dataset.testid = 'call-tile';
    el.dataset.kind = kind;
    el.dataset.member = memberId;
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // sound goes through Web Audio (positional in the cosmos)
    video.srcObject = stream;
    const cap = document.createElement('figcaption');
    const m = call.members.get(memberId);
    cap.textContent = local ? `You${kind === 'screen' ? ' (screen)' : ''}` : `${nameOf(m?.userId ?? '')}${kind === 'screen' ? ' (screen)' : ''}`;
    el.append(video, cap);
    grid.append(el);
    tiles.set(stream.id, { el, video, memberId, kind, stream });
    render();
  }

  function removeTile(streamId) {
    const t = tiles.get(streamId);
    if (!t) return;
    t.el.remove();
    tiles.delete(streamId);
    render();
  }

  // ----- voices through Web Audio

  function ensureAudio() {
    if (!audioCtx) audioCtx = new AudioContext();
    if (audioCtx.state === 'suspended') audioCtx.resume().catch(() => {});
    return audioCtx;
  }

  function addVoice({ member, track, stream }) {
    const ctx = ensureAudio();
    // Chromium pulls a remote WebRTC stream into Web Audio only while a media element
    // plays it: a muted one.
    const el = new Audio();
    el.muted = true;
    el.srcObject = stream;
    el.play().catch(() => {});
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const panner = new PannerNode(ctx, { panningModel: 'HRTF', distanceModel: 'inverse', refDistance: 4, rolloffFactor: 1 });
    source.connect(panner).connect(ctx.destination);
    voices.set(track.id, { source, panner, el, member });
    placeVoices();
  }

  function removeVoice(track) {
    const v = voices.get(track.id);
    if (!v) return;
    v.source.disconnect();
    v.panner.disconnect();
    v.el.srcObject = null;
    voices.delete(track.id);
  }

  /** Each voice at its speaker's pointer in the cosmos, heard from the camera; without
   * the cosmos (or a pointer) at the listener, so it sounds as a plain call. */
  function placeVoices() {
    if (!audioCtx) return;
    const l = audioCtx.listener;
    const cam = cosmos?.three?.camera;
    const at = cam ? [cam.position.x, cam.position.y, cam.position.z] : [0, 0, 0];
    if (cam && THREE) {
      const f = new THREE.Vector3(0, 0, -1).applyQuaternion(cam.quaternion);
      const u = new THREE.Vector3(0, 1, 0).applyQuaternion(cam.quaternion);
      setListener(l, at, [f.x, f.y, f.z], [u.x, u.y, u.z]);
    } else {
      setListener(l, at, [0, 0, -1], [0, 1, 0]);
    }
    const pointers = new Map((cosmos?.state.cursors() ?? []).filter((c) => c.visible).map((c) => [c.userId, c.pos]));
    for (const v of voices.values()) {
      const m = call.members.get(v.member.id) ?? v.member;
      const p = pointers.get(m.userId) ?? at;
      v.panner.positionX.value = p[0];
      v.panner.positionY.value = p[1];
      v.panner.positionZ.value = p[2];
    }
  }

  function setListener(l, p, f, u) {
    if (l.positionX) {
      l.positionX.value = p[0]; l.positionY.value = p[1]; l.positionZ.value = p[2];
      l.forwardX.value = f[0]; l.forwardY.value = f[1]; l.forwardZ.value = f[2];
      l.upX.value = u[0]; l.upY.value = u[1]; l.upZ.value = u[2];
    } else {
      l.setPosition(...p);
      l.setOrientation(...f, ...u);
    }
  }

  // ----- shared screens in the cosmos

  /** The stream shown on screen entity e: ours, or the sharer's remote screen track. */
  function screenStreamOf(e) {
    if (e.data?.userId === me) return call.screenStream;
    for (const t of tiles.values()) {
      const m = call.members.get(t.memberId);
      if (t.kind === 'screen' && m?.userId === e.data?.userId) return t.stream;
    }
    return null;
  }

  function syncScreens() {
    if (!cosmos?.three || !THREE) return;
    const want = new Map();
    for (const e of room.entities.values()) if (e.kind === 'screen' && Array.isArray(e.data?.pos)) want.set(e.id, e);
    for (const [id, s] of screens) {
      if (!want.has(id)) {
        cosmos.three.scene.remove(s.mesh);
        s.texture?.dispose();
        s.mesh.material.dispose();
        screens.delete(id);
      }
    }
    for (const [id, e] of want) {
      let s = screens.get(id);
      if (!s) {
        const geo = new THREE.PlaneGeometry(8, 4.5);
        const mesh = new THREE.Mesh(geo, new THREE.MeshBasicMaterial({ color: 0x222633, side: THREE.DoubleSide }));
        mesh.name = 'screen';
        cosmos.three.scene.add(mesh);
        s = { mesh, texture: null, video: null, stream: null };
        screens.set(id, s);
      }
      s.mesh.position.set(...e.data.pos);
      const stream = screenStreamOf(e);
      if (stream && stream !== s.stream) {
        s.stream = stream;
        s.video = document.createElement('video');
        s.video.muted = true;
        s.video.playsInline = true;
        s.video.srcObject = stream;
        s.video.play().catch(() => {});
        s.texture?.dispose();
        s.texture = new THREE.VideoTexture(s.video);
        s.mesh.material.map = s.texture;
        s.mesh.material.color.set(0xffffff);
        s.mesh.material.needsUpdate = true;
      }
    }
    if (screens.size) cosmos.three.requestFrame();
  }

  // ----- the call's events

  offs.push(call.on('track-added', (t) => {
    if (t.kind === 'audio') addVoice(t);
    else addTile(t.stream, t.member.id, t.kind);
    syncScreens();
  }));
  offs.push(call.on('track-removed', (t) => {
    if (t.kind === 'audio') removeVoice(t.track);
    else if (!t.stream.getVideoTracks().some((x) => x.readyState === 'live' && x !== t.track)) removeTile(t.stream.id);
    syncScreens();
  }));
  offs.push(call.on('member-left', ({ member }) => {
    for (const [id, t] of tiles) if (t.memberId === member.id) removeTile(id);
    for (const [id, v] of [...voices]) if (v.member.id === member.id) removeVoice({ id });
  }));
  offs.push(call.on('left', () => {
    for (const id of [...tiles.keys()]) removeTile(id);
    for (const id of [...voices.keys()]) removeVoice({ id });
    render();
  }));
  offs.push(call.on('member-updated', render));
  offs.push(call.on('error', onError));
  for (const ev of ['entity_created', 'entity_deleted', 'entity_updated']) offs.push(room.on(ev, syncScreens));
  timer = setInterval(() => {
    placeVoices();
    if (screens.size) cosmos?.three?.requestFrame();
  }, 100);
  render();

  const state = {
    get joined() { return call.joined; },
    get id() { return call.id; },
    errors() { return [...errors]; },
    /** Each peer connection's states: {member, signaling, ice, connection}. */
    peers() {
      return [...call.members.keys()].map((m) => {
        const pc = call.peerConnection(m);
        return { member: m, signaling: pc?.signalingState, ice: pc?.iceConnectionState, connection: pc?.connectionState,
          local: pc?.localDescription?.type ?? null, remote: pc?.remoteDescription?.type ?? null, transceivers: pc?.getTransceivers().length ?? 0, counts: call._peers.get(m)?.counts };
      });
    },
    tiles() { return [...tiles.values()].map((t) => ({ member: t.memberId, kind: t.kind })); },
    voices() { return [...voices.values()].map((v) => ({ member: v.member.id, pos: [v.panner.positionX.value, v.panner.positionY.value, v.panner.positionZ.value] })); },
    screens() { return [...screens.entries()].map(([id, s]) => ({ id, pos: s.mesh.position.toArray(), textured: !!s.texture })); },
    /** Leaves the call as the Voice button does. */
    leave() { return run(async () => { if (call.screenStream) await stopShare(); await call.leave(); }); },
    /** Joins as the Camera button does, with more of the SDK's join options (rtcConfig). */
    joinWith(o) { return run(() => start(!!o.video, o)); },
    /** Shares stream (a canvas's captureStream, where getDisplayMedia cannot run) through the Share path. */
    share(stream) { return run(() => startShare(stream)); },
    /** Bytes received and sent by kind over every peer connection (getStats). */
    async stats() {
      const out = { audioIn: 0, videoIn: 0, audioOut: 0, videoOut: 0, relay: false };
      for (const m of call.members.keys()) {
        const pc = call.peerConnection(m);
        if (!pc) continue;
        const report = await pc.getStats();
        const selected = [];
        report.forEach((s) => {
          if (s.type === 'inbound-rtp') out[s.kind === 'audio' ? 'audioIn' : 'videoIn'] += s.bytesReceived ?? 0;
          if (s.type === 'outbound-rtp') out[s.kind === 'audio' ? 'audioOut' : 'videoOut'] += s.bytesSent ?? 0;
          if (s.type === 'transport' && s.selectedCandidatePairId) selected.push(report.get(s.selectedCandidatePairId));
        });
        for (const p of selected) {
          if (report.get(p?.localCandidateId)?.candidateType === 'relay') out.relay = true;
        }
      }
      return out;
    },
  };

  return {
    state,
    /** The cosmos (its three.js scene and camera, its pointers), or null when it closes. */
    async setCosmos(c) {
      cosmos = c;
      if (c?.three && !THREE) THREE = await import('three');
      syncScreens();
    },
    destroy() {
      clearInterval(timer);
      for (const off of offs) off();
      if (call.joined) call.leave().catch(() => {});
      for (const id of [...voices.keys()]) removeVoice({ id });
      for (const [, s] of screens) cosmos?.three?.scene.remove(s.mesh);
      screens.clear();
      audioCtx?.close().catch(() => {});
      controls.remove();
      grid.remove();
    },
  };
}
