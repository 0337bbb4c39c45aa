// cosmos.js: the room's "cosmos": its entities of kind "entry" as glowing spheres in a
// shared 3D scene (three.js), the others' pointers as colored markers with names, and the
// making of an entry (placeholder -> enriched chunk by chunk -> glides to its final place).
//
// Loaded on demand (the first time someone opens the Cosmos tab): three.js comes from
// web/lib/vendor through the import map in index.html (scripts/web-vendor.sh).
//
// The scene has two halves. The logical scene (items and cursors: positions, targets,
// scales, colors) is plain data driven by the room's entities and presence; it is what
// window.__cosmos shows and what the tests check, and it works without WebGL. The three.js
// scene graph mirrors it (meshes, halos, markers; raycasting for hover works on it without
// a renderer); a WebGLRenderer draws it only when WebGL is available.
//
// Where an entry is: data.pos [x, y, z], as stored in the entity, so every client places it
// at the same numbers. Its author computes the final position from a hash of the text (a
// three-armed spiral galaxy) and stores it; the others only follow.
import * as THREE from 'three';

const GLIDE_MS = 1500;      // a change of data.pos glides this long (ease in-out)
const GROW_MS = 500;        // a change of size eases this long
const CURSOR_SEND_MS = 50;  // at most 20 pointer updates a second (the server's presence rate)
const CURSOR_HIDE_MS = 8000; // a marker without movement fades out after this
const CHUNK_MS = 450;       // the pause between enrichment chunks of a new entry
const PLACEHOLDER_SIZE = 0.35;
const DRAG_START_PX = 5;     // a press that moves less than this is a click (select), not a drag
const DRAG_SEND_MS = 50;     // transient moves while dragging: at most 20 a second
const LOCK_TTL_MS = 30000;   // the lock held while dragging, renewed while the drag lasts
const LOCK_RENEW_MS = 10000;
const MAX_TEXT = 500;        // an entry's text, at most (the form's maxlength)
const MOODS = ['calm', 'bright', 'wistful', 'curious', 'restless', 'tender'];

// ---------------------------------------------------------------- pure helpers

/** FNV-1a, 32 bits, over the UTF-16 units of s. */
export function hash32(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const round3 = (v) => Math.round(v * 1000) / 1000;

/**
 * The final place of an entry: a three-armed spiral galaxy, deterministic from the text
 * (and the id, so that two equal texts do not hide each other). Rounded to 1e-3.
 */
export function finalPosition(text, id = '') {
  const h = hash32(text);
  const j = hash32(`${id}|${text}`);
  const arm = h % 3;
  const t = ((h >>> 2) % 1000) / 1000;          // how far out along the arm
  const radius = 2 + t * 8;
  const angle = arm * ((2 * Math.PI) / 3) + t * 3.2 + ((j % 1000) / 1000 - 0.5) * 0.35;
  const y = (((j >>> 10) % 1000) / 1000 - 0.5) * (1.6 - t);
  return [round3(radius * Math.cos(angle)), round3(y), round3(radius * Math.sin(angle))];
}

/** The enrichment of a text, in chunks (each a merge patch growing the sphere). */
export function enrichmentChunks(text) {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const keywords = [...new Set(words.map((w) => w.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '')).filter((w) => w.length > 3))]
    .sort((a, b) => b.length - a.length).slice(0, 3);
  return [
    { stage: 'enriching', words: words.length, size: 0.55 },
    { mood: MOODS[hash32(text) % MOODS.length], size: 0.75 },
    { keywords, size: 0.9 },
  ];
}

const isVec3 = (p) => Array.isArray(p) && p.length === 3 && p.every((v) => typeof v === 'number' && Number.isFinite(v));
const easeInOut = (t) => (t < 0.5 ? 4 * t * t * t : 1 - (-2 * t + 2) ** 3 / 2);
const lerp3 = (a, b, k) => [a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k, a[2] + (b[2] - a[2]) * k];

function sizeOf(data) {
  if (typeof data.size === 'number' && Number.isFinite(data.size)) return Math.min(3, Math.max(0.1, data.size));
  return data.final ? 1 : PLACEHOLDER_SIZE;
}

function webglAvailable() {
  try {
    const c = document.createElement('canvas');
    return !!(c.getContext('webgl2') || c.getContext('webgl'));
  } catch {
    return false;
  }
}

/** A soft radial glow (white; tinted by the sprite's color). */
function glowTexture() {
  const c = document.createElement('canvas');
  c.width = c.height = 64;
  const g = c.getContext('2d');
  if (g) {
    const grad = g.createRadialGradient(32, 32, 0, 32, 32, 32);
    grad.addColorStop(0, 'rgba(255,255,255,1)');
    grad.addColorStop(0.25, 'rgba(255,255,255,.55)');
    grad.addColorStop(1, 'rgba(255,255,255,0)');
    g.fillStyle = grad;
    g.fillRect(0, 0, 64, 64);
  }
  const tex = new THREE.CanvasTexture(c);
  tex.colorSpace = THREE.SRGBColorSpace;
  return tex;
}

/** Deterministic background stars (a small LCG, so every client has the same sky). */
function starfield() {
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pts = new Float32Array(700 * 3);
  for (let i = 0; i < 700; i++) {
    const r = 40 + rnd() * 40;
    const th = rnd() * Math.PI * 2;
    const ph = Math.acos(2 * rnd() - 1);
    pts.set([r * Math.sin(ph) * Math.cos(th), r * Math.cos(ph), r * Math.sin(ph) * Math.sin(th)], i * 3);
  }
  const geo = new THREE.BufferGeometry();
  geo.setAttribute('position', new THREE.BufferAttribute(pts, 3));
  return new THREE.Points(geo, new THREE.PointsMaterial({ color: 0x9aa4c7, size: 0.18, sizeAttenuation: true, transparent: true, opacity: 0.7 }));
}

// ---------------------------------------------------------------- the view

/** A DOM element with a class and text (text set as text, never as markup). */
function el(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

/**
 * Mounts the cosmos of `room` into `host` (an empty element).
 * opts: {me: userId, colorOf(userId) -> css color, nameOf(userId) -> string,
 *        setPresence(patch) (best effort), onStatus(text, kind),
 *        confirm(title, text) -> Promise<boolean> (asked before a delete),
 *        describeError(err) -> string,
 *        bodies: {kind: make(entity, {THREE, requestFrame}) -> {hit, state, dispose()}}: entities
 *        of other kinds drawn by another view (upload.js: "asset"), moved like entries}.
 * Returns {createEntry(text) -> Promise<entity>, setActive(on), destroy(), state}.
 *
 * Entries can be selected (click or tap: a card with author, text, Edit and Delete),
 * dragged (the entry is locked, moved by transient updates everyone sees live, stored on
 * drop, unlocked), edited and deleted. Whoever holds an entry's lock is named next to it.
 */
export function mountCosmos(host, room, opts) {
  const { me, colorOf, nameOf, setPresence, onStatus = () => {} } = opts;
  const confirmDelete = opts.confirm ?? (async () => true);
  const describeError = opts.describeError ?? ((err) => err?.message || String(err));
  const bodies = opts.bodies ?? {};
  const reduceMotion = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches ?? false;
  const items = new Map(); // entity id -> item (logical + its meshes)
  const cursors = new Map(); // userId -> {pos, at, mesh, label}
  const offs = [];
  let alive = true;
  let active = false;
  let frame = 0;
  let shown = null; // an earlier moment's entities (history.js), read-only; null: live
  const ents = () => shown ?? room.entities;

  // ----- DOM: canvas host, labels layer, tooltip, no-WebGL message
  const stage = document.createElement('div');
  stage.className = 'cosmos-stage';
  stage.dataset.testid = 'cosmos-stage';
  const labels = document.createElement('div');
  labels.className = 'cosmos-labels';
  const tooltip = document.createElement('div');
  tooltip.className = 'cosmos-tooltip';
  tooltip.dataset.testid = 'cosmos-tooltip';
  tooltip.hidden = true;
  const hint = el('p', 'cosmos-hint', 'Drag to orbit · wheel or pinch to zoom · click or tap an entry for details · drag an entry to move it');
  hint.dataset.testid = 'cosmos-hint';
  const empty = el('div', 'cosmos-empty');
  empty.dataset.testid = 'cosmos-empty';
  empty.append(el('strong', '', 'The cosmos is empty'),
    el('span', '', 'Write an entry above: it appears as a glowing sphere in your color, finds its place in the galaxy, and everyone here sees it live.'));
  const card = el('div', 'cosmos-card');
  card.dataset.testid = 'cosmos-detail';
  card.hidden = true;
  stage.append(labels, tooltip, hint, empty, card);
  host.replaceChildren(stage);

  // ----- three.js scene graph (a renderer only with WebGL)
  const scene = new THREE.Scene();
  scene.fog = new THREE.FogExp2(0x0b0d13, 0.012);
  const camera = new THREE.PerspectiveCamera(55, 1, 0.1, 300);
  const orbit = { az: 0.7, el: 0.55, dist: 18, target: new THREE.Vector3(0, 0, 0) };
  scene.add(new THREE.HemisphereLight(0xbfc8ff, 0x101018, 0.9));
  const sun = new THREE.DirectionalLight(0xffffff, 1.6); // shading, so spheres read as spheres
  sun.position.set(4, 10, 6);
  scene.add(sun);
  scene.add(starfield());
  const core = new THREE.Mesh(new THREE.SphereGeometry(0.18, 16, 12), new THREE.MeshBasicMaterial({ color: 0xfff3d6 }));
  scene.add(core); // the galaxy's center
  const sphereGeo = new THREE.SphereGeometry(1, 32, 20);
  const markerGeo = new THREE.OctahedronGeometry(0.16, 0);
  const glow = glowTexture();
  const plane = new THREE.Plane(new THREE.Vector3(0, 1, 0), 0); // where pointers live
  const raycaster = new THREE.Raycaster();

  let renderer = null;
  if (webglAvailable()) {
    try {
      renderer = new THREE.WebGLRenderer({ antialias: true, alpha: true, preserveDrawingBuffer: true });
      renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
      renderer.domElement.className = 'cosmos-canvas';
      renderer.domElement.dataset.testid = 'cosmos-canvas';
      stage.prepend(renderer.domElement);
    } catch {
      renderer = null;
    }
  }
  let surface = renderer?.domElement;
  let list = null; // without WebGL: the entries as a list
  if (!renderer) {
    // No WebGL: say so, keep the logical scene (and hover, cursors) on a plain surface.
    surface = document.createElement('div');
    surface.className = 'cosmos-canvas cosmos-nogl';
    surface.dataset.testid = 'cosmos-canvas';
    list = document.createElement('ul');
    list.className = 'cosmos-list';
    list.dataset.testid = 'cosmos-list';
    surface.append(list, Object.assign(document.createElement('p'), {
      className: 'cosmos-nogl-text', textContent: 'This browser cannot draw 3D (no WebGL): the cosmos is listed, not drawn.',
    }));
    stage.prepend(surface);
  }

  function renderList() {
    if (!list) return;
    list.replaceChildren(...[...items.values()].map((it) => {
      const li = document.createElement('li');
      li.dataset.testid = 'cosmos-list-item';
      li.dataset.entityId = it.id;
      li.tabIndex = 0;
      li.classList.toggle('is-selected', selected === it.id);
      li.addEventListener('click', () => select(it.id));
      li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') select(it.id); });
      li.style.setProperty('--c', it.color);
      li.append(
        Object.assign(document.createElement('strong'), { textContent: nameOf(it.owner) }),
        Object.assign(document.createElement('span'), { textContent: it.text || '(an entry)' }),
        Object.assign(document.createElement('em'), { textContent: it.final ? '' : it.stage }),
      );
      return li;
    }));
  }
  stage.dataset.webgl = String(!!renderer);

  function size() {
    const w = Math.max(1, stage.clientWidth);
    const h = Math.max(1, stage.clientHeight);
    return { w, h };
  }

  function placeCamera() {
    const { w, h } = size();
    camera.aspect = w / h;
    const ce = Math.cos(orbit.el);
    camera.position.set(
      orbit.target.x + orbit.dist * ce * Math.sin(orbit.az),
      orbit.target.y + orbit.dist * Math.sin(orbit.el),
      orbit.target.z + orbit.dist * ce * Math.cos(orbit.az),
    );
    camera.lookAt(orbit.target);
    camera.updateProjectionMatrix();
    camera.updateMatrixWorld();
    if (renderer) renderer.setSize(w, h, false);
  }
  placeCamera();
  const ro = new ResizeObserver(() => { placeCamera(); requestFrame(); });
  ro.observe(stage);

  /** Client pixel -> normalized device coordinates of the stage. */
  function ndc(clientX, clientY) {
    const r = stage.getBoundingClientRect();
    return new THREE.Vector2(((clientX - r.left) / r.width) * 2 - 1, -((clientY - r.top) / r.height) * 2 + 1);
  }

  /** World point -> client pixel (or null behind the camera). */
  function toScreen(p) {
    const v = new THREE.Vector3(p[0], p[1], p[2]).project(camera);
    if (v.z > 1) return null;
    const r = stage.getBoundingClientRect();
    return { x: r.left + ((v.x + 1) / 2) * r.width, y: r.top + ((1 - v.y) / 2) * r.height };
  }

  // ----- items (entries)

  function makeItem(e) {
    const color = colorOf(e.owner);
    const body = bodies[e.kind]?.(e, { THREE, requestFrame });
    const mesh = body ? body.hit : new THREE.Mesh(sphereGeo,
      new THREE.MeshStandardMaterial({ color, emissive: color, emissiveIntensity: 0.55, roughness: 0.35, metalness: 0, transparent: true }));
    mesh.userData.id = e.id;
    const halo = new THREE.Sprite(new THREE.SpriteMaterial({ map: glow, color, blending: THREE.AdditiveBlending, transparent: true, depthWrite: false }));
    halo.visible = !body;
    const group = new THREE.Group();
    group.add(halo, mesh);
    scene.add(group);
    const pos = isVec3(e.data?.pos) ? [...e.data.pos] : [0, 0, 0];
    return {
      id: e.id, kind: e.kind, body, owner: e.owner, color, mesh, halo, group,
      pos, from: pos, target: pos, t0: 0,
      scale: reduceMotion ? sizeOf(e.data ?? {}) : 0.01, scaleFrom: 0.01, scaleTarget: sizeOf(e.data ?? {}), s0: performance.now(),
      text: '', stage: '', final: false, lock: null, lockLabel: null,
      changes: [], // the stages and sizes it went through, oldest first (at most 32; for tests)
    };
  }

  /**
   * Brings the item of entity id in line with room.entities (creates, moves, removes).
   * instant: a move jumps (a drag, live) instead of gliding.
   */
  function reconcile(id, { instant = false } = {}) {
    const e = ents().get(id);
    let it = items.get(id);
    if (!e || (e.kind !== 'entry' && !bodies[e.kind])) {
      if (it) removeItem(it);
      return;
    }
    const now = performance.now();
    if (!it) {
      it = makeItem(e);
      items.set(id, it);
    }
    const data = e.data ?? {};
    it.text = typeof data.text === 'string' ? data.text : '';
    it.stage = typeof data.stage === 'string' ? data.stage : '';
    it.final = data.final === true;
    const color = colorOf(e.owner);
    if (color !== it.color && !it.body) {
      it.color = color;
      it.mesh.material.color.set(color);
      it.mesh.material.emissive.set(color);
      it.halo.material.color.set(color);
    }
    const target = isVec3(data.pos) ? [...data.pos] : it.target;
    if (target.some((v, k) => v !== it.target[k])) {
      it.from = [...it.pos];
      it.target = target;
      it.t0 = now;
      if (reduceMotion || instant) it.pos = target;
    }
    setLock(it, e.lock && e.lock.userId ? e.lock : null);
    const s = sizeOf(data);
    if (s !== it.scaleTarget) {
      it.scaleFrom = it.scale;
      it.scaleTarget = s;
      it.s0 = now;
      if (reduceMotion) it.scale = s;
    }
    const last = it.changes.at(-1);
    if ((!last || last.stage !== it.stage || last.size !== it.scaleTarget) && it.changes.length < 32) {
      it.changes.push({ stage: it.stage, size: it.scaleTarget, pos: [...it.target] });
    }
    renderList();
    renderEmpty();
    if (selected === id) renderCard();
    requestFrame();
  }

  function removeItem(it) {
    scene.remove(it.group);
    it.body?.dispose();
    it.mesh.material.dispose();
    it.halo.material.dispose();
    it.lockLabel?.remove();
    items.delete(it.id);
    if (hovered === it.id) setHover(null);
    if (selected === it.id) select(null);
    if (drag?.id === it.id) drag = null;
    renderList();
    renderEmpty();
    requestFrame();
  }

  function renderEmpty() {
    empty.hidden = items.size > 0;
  }

  /** Shows who holds the entry's lock next to it ("Ada is moving this"). */
  function setLock(it, lock) {
    it.lock = lock;
    if (!lock) {
      it.lockLabel?.remove();
      it.lockLabel = null;
      return;
    }
    if (!it.lockLabel) {
      it.lockLabel = el('span', 'cosmos-label cosmos-lock');
      it.lockLabel.dataset.testid = 'cosmos-lock';
      it.lockLabel.dataset.entityId = it.id;
      labels.append(it.lockLabel);
    }
    const who = lock.userId === me ? 'You' : (lock.displayName || nameOf(lock.userId));
    it.lockLabel.textContent = `${who} ${lock.userId === me ? 'are' : 'is'} moving this`;
    it.lockLabel.dataset.userId = lock.userId;
    it.lockLabel.style.setProperty('--c', colorOf(lock.userId));
    placeLabels();
  }

  function reconcileAll() {
    for (const id of [...items.keys()]) if (!ents().has(id)) removeItem(items.get(id));
    for (const id of ents().keys()) reconcile(id);
  }

  /** Advances every animation to `now`; true while something still moves. */
  function step(now = performance.now()) {
    let moving = false;
    for (const it of items.values()) {
      if (it.pos !== it.target) {
        const k = reduceMotion ? 1 : Math.min(1, (now - it.t0) / GLIDE_MS);
        if (k >= 1) it.pos = it.target; // exactly the stored numbers at the end
        else {
          it.pos = lerp3(it.from, it.target, easeInOut(k));
          moving = true;
        }
      }
      if (it.scale !== it.scaleTarget) {
        const k = reduceMotion ? 1 : Math.min(1, (now - it.s0) / GROW_MS);
        it.scale = k >= 1 ? it.scaleTarget : it.scaleFrom + (it.scaleTarget - it.scaleFrom) * easeInOut(k);
        if (k < 1) moving = true;
      }
      const pulse = !it.final && !reduceMotion ? 1 + 0.12 * Math.sin(now / 260) : 1;
      if (!it.final && !reduceMotion) moving = true;
      it.group.position.set(it.pos[0], it.pos[1], it.pos[2]);
      it.mesh.scale.setScalar(Math.max(0.01, it.scale));
      it.halo.scale.setScalar(Math.max(0.01, it.scale) * 4.2 * pulse);
      it.mesh.material.opacity = it.stage === 'placeholder' ? 0.55 : 1;
      it.halo.material.opacity = it.final ? 0.9 : 0.6;
    }
    return moving;
  }

  // ----- others' pointers

  function setCursor(userId, c) {
    if (userId === me) return;
    let cur = cursors.get(userId);
    if (!c || !isVec3([c.x, c.y, c.z])) {
      if (cur) {
        scene.remove(cur.mesh);
        cur.mesh.material.dispose();
        cur.label.remove();
        cursors.delete(userId);
      }
      requestFrame();
      return;
    }
    const color = colorOf(userId);
    if (!cur) {
      const mesh = new THREE.Mesh(markerGeo, new THREE.MeshBasicMaterial({ color }));
      const label = document.createElement('span');
      label.className = 'cosmos-label';
      label.dataset.testid = 'cosmos-cursor';
      label.dataset.userId = userId;
      scene.add(mesh);
      labels.append(label);
      cur = { mesh, label };
      cursors.set(userId, cur);
    }
    cur.pos = [c.x, c.y, c.z];
    cur.at = Date.now();
    cur.color = color;
    cur.name = nameOf(userId);
    cur.mesh.material.color.set(color);
    cur.mesh.position.set(c.x, c.y + 0.05, c.z);
    cur.label.textContent = cur.name;
    cur.label.style.setProperty('--c', color);
    requestFrame();
  }

  function cursorHidden(cur) {
    return Date.now() - cur.at > CURSOR_HIDE_MS;
  }

  function placeLabels() {
    const r = stage.getBoundingClientRect();
    for (const cur of cursors.values()) {
      const s = toScreen(cur.pos);
      const hidden = !s || cursorHidden(cur);
      cur.mesh.visible = !hidden;
      cur.label.hidden = hidden;
      if (s) cur.label.style.transform = `translate(${Math.round(s.x - r.left)}px, ${Math.round(s.y - r.top)}px)`;
    }
    for (const it of items.values()) {
      if (!it.lockLabel) continue;
      const s = renderer ? toScreen(it.pos) : null;
      it.lockLabel.hidden = renderer ? !s : false;
      if (s) it.lockLabel.style.transform = `translate(${Math.round(s.x - r.left)}px, ${Math.round(s.y - r.top - 56)}px)`;
      else if (!renderer) it.lockLabel.style.transform = 'translate(8px, 8px)';
    }
  }

  function onPresence({ userId, presence }) {
    const p = room.participants.get(userId);
    if (presence?.idle === true || (p && p.online === false)) setCursor(userId, null);
    else if (presence && 'cosmos' in presence) setCursor(userId, presence.cosmos);
    else setCursor(userId, null);
  }

  // ----- pointer: orbit (drag), zoom (wheel), hover, publishing our pointer

  let hovered = null;
  let selected = null; // the entry whose card shows
  let editing = false; // the card's text is being edited
  let drag = null; // {kind: 'orbit'|'entry', x, y, ...}
  let lastPoint = null; // our pointer on the plane (where new entries start)
  let sendTimer = null;
  let pending;
  let lastSent = 0;

  function queuePresence(p) {
    pending = p;
    if (sendTimer) return;
    sendTimer = setTimeout(() => {
      sendTimer = null;
      lastSent = Date.now();
      if (alive && pending !== undefined) setPresence({ cosmos: pending });
      pending = undefined;
    }, Math.max(0, lastSent + CURSOR_SEND_MS - Date.now()));
  }

  function setHover(id, clientX, clientY) {
    hovered = id;
    const it = id && items.get(id);
    if (!it) {
      tooltip.hidden = true;
      stage.style.cursor = '';
      return;
    }
    tooltip.replaceChildren(
      Object.assign(document.createElement('strong'), { textContent: nameOf(it.owner) }),
      Object.assign(document.createElement('span'), { textContent: it.text || '(an entry)' }),
    );
    tooltip.dataset.entityId = id;
    tooltip.style.setProperty('--c', it.color);
    const r = stage.getBoundingClientRect();
    tooltip.style.transform = `translate(${Math.round(clientX - r.left + 14)}px, ${Math.round(clientY - r.top + 14)}px)`;
    tooltip.hidden = false;
    stage.style.cursor = 'grab';
  }

  /** The entry under a client point, or null. */
  function hitAt(clientX, clientY) {
    raycaster.setFromCamera(ndc(clientX, clientY), camera);
    const hit = raycaster.intersectObjects([...items.values()].map((it) => it.mesh), false)[0];
    return hit ? hit.object.userData.id : null;
  }

  /** Where a client point meets the horizontal plane at height y, or null. */
  function pointOnPlane(clientX, clientY, y) {
    raycaster.setFromCamera(ndc(clientX, clientY), camera);
    const p = raycaster.ray.intersectPlane(new THREE.Plane(new THREE.Vector3(0, 1, 0), -y), new THREE.Vector3());
    return p && Math.abs(p.x) < 60 && Math.abs(p.z) < 60 ? [round3(p.x), round3(y), round3(p.z)] : null;
  }

  // Touch: two fingers pinch to zoom (the wheel's job on a desktop).
  const touches = new Map(); // pointerId -> {x, y}
  let pinch = null; // {d0, dist0}

  function touchSpread() {
    const [a, b] = [...touches.values()];
    return Math.hypot(a.x - b.x, a.y - b.y);
  }

  function capture(id, on) {
    try {
      if (on) surface.setPointerCapture?.(id);
      else surface.releasePointerCapture?.(id);
    } catch {
      /* a pointer that is already gone */
    }
  }

  function onPointerMove(ev) {
    if (touches.has(ev.pointerId)) touches.set(ev.pointerId, { x: ev.clientX, y: ev.clientY });
    if (pinch) {
      const d = touchSpread();
      if (d > 0) {
        orbit.dist = Math.min(45, Math.max(6, pinch.dist0 * (pinch.d0 / d)));
        placeCamera();
        requestFrame();
      }
      return;
    }
    if (drag && !drag.moved && Math.hypot(ev.clientX - drag.x, ev.clientY - drag.y) >= DRAG_START_PX) {
      drag.moved = true;
      if (drag.kind === 'entry') startEntryDrag(drag);
    }
    if (drag?.kind === 'orbit' && drag.moved) {
      orbit.az = drag.az - (ev.clientX - drag.x) * 0.006;
      orbit.el = Math.min(1.35, Math.max(0.05, drag.el + (ev.clientY - drag.y) * 0.005));
      placeCamera();
      requestFrame();
    }
    if (drag?.kind === 'entry' && drag.moved && drag.locked) {
      const p = pointOnPlane(ev.clientX, ev.clientY, drag.y0);
      if (p) moveDragged(drag, p);
    }
    step();
    const over = drag?.kind === 'entry' ? drag.id : hitAt(ev.clientX, ev.clientY);
    setHover(over, ev.clientX, ev.clientY);
    raycaster.setFromCamera(ndc(ev.clientX, ev.clientY), camera);
    const p = raycaster.ray.intersectPlane(plane, new THREE.Vector3());
    if (p && Math.abs(p.x) < 60 && Math.abs(p.z) < 60) {
      lastPoint = [round3(p.x), 0, round3(p.z)];
      queuePresence({ x: lastPoint[0], y: 0, z: lastPoint[2] });
    }
  }

  function onPointerDown(ev) {
    if (ev.button !== 0) return;
    if (ev.pointerType === 'touch') touches.set(ev.pointerId, { x: ev.clientX, y: ev.clientY });
    if (touches.size === 2) {
      // A second finger: pinch, not a drag (an entry drag that had begun is stored where it is).
      if (drag?.kind === 'entry' && drag.moved) endEntryDrag(drag);
      drag = null;
      pinch = { d0: Math.max(1, touchSpread()), dist0: orbit.dist };
      return;
    }
    step();
    const id = hitAt(ev.clientX, ev.clientY);
    drag = id
      ? { kind: 'entry', id, x: ev.clientX, y: ev.clientY, moved: false, locked: false }
      : { kind: 'orbit', x: ev.clientX, y: ev.clientY, az: orbit.az, el: orbit.el, moved: false };
    capture(ev.pointerId, true);
  }

  function onPointerUp(ev) {
    touches.delete(ev.pointerId);
    if (pinch) {
      if (touches.size < 2) pinch = null;
      capture(ev.pointerId, false);
      return;
    }
    const d = drag;
    drag = null;
    capture(ev.pointerId, false);
    if (!d) return;
    if (!d.moved) {
      select(d.kind === 'entry' ? d.id : null); // a click or a tap
      return;
    }
    if (d.kind === 'entry') endEntryDrag(d);
  }

  // ----- moving an entry: lock, transient moves (everyone sees them live), store, unlock

  async function startEntryDrag(d) {
    const it = items.get(d.id);
    if (!it || shown) return;
    if (it.lock && it.lock.userId !== me) {
      onStatus(`${it.lock.displayName || nameOf(it.lock.userId)} is moving this entry.`, 'error');
      d.refused = true;
      return;
    }
    d.y0 = it.pos[1];
    d.pos = [...it.pos];
    try {
      await room.entities.lock(d.id, LOCK_TTL_MS);
    } catch (err) {
      d.refused = true;
      onStatus(`Couldn’t move it: ${describeError(err)}`, 'error');
      return;
    }
    d.locked = true;
    d.renew = setInterval(() => room.entities.lock(d.id, LOCK_TTL_MS).catch(() => {}), LOCK_RENEW_MS);
    onStatus('Moving the entry: others see it move.', 'busy');
    if (drag !== d) endEntryDrag(d); // released while the lock was on its way
  }

  function moveDragged(d, p) {
    d.pos = p;
    d.pendingMove = p;
    if (d.sendTimer) return;
    d.sendTimer = setTimeout(() => {
      d.sendTimer = null;
      const pos = d.pendingMove;
      d.pendingMove = null;
      if (!pos || !alive || !d.locked || d.ended) return;
      room.entities.update(d.id, { pos }, { transient: true }).catch(() => {});
    }, DRAG_SEND_MS);
  }

  async function endEntryDrag(d) {
    if (!d.locked || d.ended) return;
    d.ended = true;
    clearTimeout(d.sendTimer);
    clearInterval(d.renew);
    try {
      if (room.entities.has(d.id)) await room.entities.update(d.id, { pos: d.pos });
      onStatus('Entry moved.', 'ok');
    } catch (err) {
      onStatus(`Couldn’t move it: ${describeError(err)}`, 'error');
    }
    if (room.entities.has(d.id)) room.entities.unlock(d.id).catch(() => {});
  }

  // ----- the selected entry's card: author, text, Edit, Delete

  function select(id) {
    if (selected !== id) editing = false;
    selected = id && items.has(id) ? id : null;
    renderCard();
    renderList();
  }

  function button(text, testid, onClick, cls = 'btn btn-sm btn-secondary') {
    const b = el('button', cls, text);
    b.type = 'button';
    b.dataset.testid = testid;
    b.addEventListener('click', onClick);
    return b;
  }

  function renderCard() {
    const it = selected && items.get(selected);
    if (!it) {
      card.hidden = true;
      card.replaceChildren();
      return;
    }
    card.hidden = false;
    card.dataset.entityId = it.id;
    card.style.setProperty('--c', it.color);
    const lockedByOther = !!(it.lock && it.lock.userId !== me);
    const head = el('div', 'cosmos-card-head');
    head.append(el('strong', '', nameOf(it.owner)), button('✕', 'cosmos-detail-close', () => select(null), 'btn btn-icon btn-sm'));
    head.lastChild.setAttribute('aria-label', 'Close');
    const parts = [head];
    if (editing) {
      const input = el('textarea', 'cosmos-edit');
      input.value = it.text;
      input.maxLength = MAX_TEXT;
      input.rows = 3;
      input.dataset.testid = 'cosmos-edit-text';
      const save = button('Save', 'cosmos-edit-save', () => saveEdit(it.id, input.value), 'btn btn-sm btn-primary');
      const actions = el('div', 'cosmos-card-actions');
      actions.append(save, button('Cancel', 'cosmos-edit-cancel', () => { editing = false; renderCard(); }));
      parts.push(input, actions);
      queueMicrotask(() => input.focus());
    } else {
      const text = el('p', 'cosmos-card-text', it.text || '(an entry)');
      text.dataset.testid = 'cosmos-detail-text';
      parts.push(text);
      if (it.lock) {
        const l = el('p', 'cosmos-card-lock', lockedByOther ? `${it.lock.displayName || nameOf(it.lock.userId)} is moving this` : 'You are moving this');
        l.dataset.testid = 'cosmos-detail-lock';
        parts.push(l);
      }
      const actions = el('div', 'cosmos-card-actions');
      const edit = button('Edit', 'cosmos-edit', () => { editing = true; renderCard(); });
      const del = button('Delete', 'cosmos-delete', () => deleteEntry(it.id), 'btn btn-sm btn-danger-ghost');
      edit.disabled = del.disabled = lockedByOther || !it.final;
      if (!it.final) edit.title = del.title = 'Still taking shape: wait a moment';
      actions.append(edit, del);
      if (!shown) parts.push(actions, el('p', 'cosmos-card-hint', 'Drag the sphere to move it.'));
    }
    card.replaceChildren(...parts);
  }

  async function saveEdit(id, value) {
    const text = String(value).trim();
    if (!text) {
      onStatus('An entry needs some text.', 'error');
      return;
    }
    try {
      await room.entities.update(id, { text: text.slice(0, MAX_TEXT) });
      editing = false;
      renderCard();
      onStatus('Entry saved.', 'ok');
    } catch (err) {
      onStatus(`Couldn’t save it: ${describeError(err)}`, 'error');
    }
  }

  async function deleteEntry(id) {
    const it = items.get(id);
    if (!it) return;
    const ok = await confirmDelete('Delete this entry?', `“${it.text || 'This entry'}” leaves the cosmos for everyone.`);
    if (!ok || !alive) return;
    try {
      await room.entities.delete(id);
      onStatus('Entry deleted.', 'ok');
    } catch (err) {
      onStatus(`Couldn’t delete it: ${describeError(err)}`, 'error');
    }
  }

  function onLeave() {
    if (!drag) setHover(null);
    queuePresence(null);
  }

  function onKey(ev) {
    if (ev.key === 'Escape' && selected && !editing) select(null);
  }

  function onWheel(ev) {
    ev.preventDefault();
    orbit.dist = Math.min(45, Math.max(6, orbit.dist * (1 + Math.sign(ev.deltaY) * 0.08)));
    placeCamera();
    requestFrame();
  }

  surface.addEventListener('pointermove', onPointerMove);
  surface.addEventListener('pointerdown', onPointerDown);
  surface.addEventListener('pointerup', onPointerUp);
  surface.addEventListener('pointerleave', onLeave);
  surface.addEventListener('wheel', onWheel, { passive: false });
  surface.addEventListener('pointercancel', onPointerUp);
  stage.addEventListener('keydown', onKey);

  // ----- the frame loop (only while the tab shows, and only while something changes)

  let idleFrames = 0;
  function requestFrame() {
    idleFrames = 0;
    if (!frame && active && alive) frame = requestAnimationFrame(render);
  }

  function render(now) {
    frame = 0;
    if (!alive || !active) return;
    const moving = step(now);
    core.scale.setScalar(reduceMotion ? 1 : 1 + 0.08 * Math.sin(now / 700));
    placeLabels();
    if (renderer) renderer.render(scene, camera);
    // Keep drawing while things move, then a few more frames, then sleep until a change.
    if (moving || ++idleFrames < 30) frame = requestAnimationFrame(render);
  }

  // ----- room events

  const on = (ev, fn) => offs.push(room.on(ev, (p) => { if (alive) fn(p); }));
  on('entity_created', (p) => reconcile(p.entity.id));
  on('entity_updated', (p) => reconcile(p.entity.id, { instant: !!p.transient || drag?.id === p.entity.id }));
  on('entity_locked', (p) => reconcile(p.id));
  on('entity_unlocked', (p) => reconcile(p.id));
  on('entity_deleted', (p) => reconcile(p.id));
  on('synced', () => reconcileAll());
  on('presence', onPresence);
  on('participant_left', (p) => setCursor(p.userId, null));
  on('participant_removed', (p) => setCursor(p.userId, null));
  on('participant_joined', () => { for (const it of items.values()) reconcile(it.id); });

  reconcileAll();
  renderEmpty();
  for (const p of room.participants.values()) {
    if (p.userId !== me && p.online && p.presence?.cosmos && p.presence.idle !== true) setCursor(p.userId, p.presence.cosmos);
  }
  const sweep = setInterval(() => { if (active) placeLabels(); }, 1000);

  // ----- making an entry

  /**
   * Creates an entry as its author: at once a placeholder near our pointer (or the center),
   * then enrichment chunks growing it, then its final place from the text's hash (stored,
   * so everyone glides to the same numbers). Resolves with the final entity.
   */
  async function createEntry(text) {
    const clean = String(text).trim().slice(0, 500);
    if (!clean) throw new Error('Write something first.');
    const id = `entry-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const near = lastPoint ?? [orbit.target.x, 0, orbit.target.z];
    const j = hash32(id);
    const pos = [round3(near[0] + ((j % 100) / 100 - 0.5) * 0.6), 0.4, round3(near[2] + (((j >>> 8) % 100) / 100 - 0.5) * 0.6)];
    const pause = () => new Promise((r) => setTimeout(r, reduceMotion ? 60 : CHUNK_MS));
    onStatus('Placing your entry…', 'busy');
    await room.entities.create({ id, kind: 'entry', data: { pos, text: clean, stage: 'placeholder', size: PLACEHOLDER_SIZE } });
    const chunks = enrichmentChunks(clean);
    for (let i = 0; i < chunks.length; i++) {
      await pause();
      if (!room.active) throw new Error('left the room');
      onStatus(`Enriching (${i + 1}/${chunks.length})…`, 'busy');
      await room.entities.update(id, chunks[i]);
    }
    await pause();
    const e = await room.entities.update(id, { stage: 'final', final: true, pos: finalPosition(clean, id), size: 1 });
    onStatus('Your entry found its place.', 'ok');
    return e;
  }

  // ----- the state tests and debugging read

  const state = {
    get ready() { return alive; },
    get webgl() { return !!renderer; },
    /** Every entry as drawn now: {id, pos, target, scale, color, owner, text, stage, final}. */
    entities() {
      step();
      return [...items.values()].map((it) => ({
        id: it.id, pos: [...it.pos], target: [...it.target], scale: it.scale, scaleTarget: it.scaleTarget,
        color: it.color, owner: it.owner, text: it.text, stage: it.stage, final: it.final,
        kind: it.kind, body: it.body ? { ...it.body.state } : undefined,
      }));
    },
    /** The stages an entry went through here, as applied: [{stage, size, pos}] (at most 32). */
    changes(id) {
      return (items.get(id)?.changes ?? []).map((c) => ({ ...c, pos: [...c.pos] }));
    },
    /** The others' pointers: {userId, name, color, pos, visible}. */
    cursors() {
      return [...cursors.entries()].map(([userId, c]) => ({ userId, name: c.name, color: c.color, pos: [...c.pos], visible: !cursorHidden(c) }));
    },
    /** Where entity id is on the screen now (client pixels), for pointing at it. */
    screenPosition(id) {
      step();
      const it = items.get(id);
      return it ? toScreen(it.pos) : null;
    },
    get hovered() { return hovered; },
    get selected() { return selected; },
    /** The camera's distance from the center (the zoom). */
    get distance() { return orbit.dist; },
    /** The entries' locks as shown: {id: {userId, displayName}}. */
    locks() {
      const out = {};
      for (const it of items.values()) if (it.lock) out[it.id] = { userId: it.lock.userId, displayName: it.lock.displayName };
      return out;
    },
    /** The SDK's entity (a JSON copy): what the server has. */
    entity(id) {
      const e = room.entities.get(id);
      return e ? JSON.parse(JSON.stringify(e)) : null;
    },
  };

  return {
    state,
    createEntry,
    /** The scene, its camera and the redraw, for what other views place in it (rtc.js). */
    three: { scene, camera, requestFrame },
    /** Shows entities (a Map id -> entity: an earlier moment, read-only), or the room's again (null). */
    showEntities(map) {
      shown = map;
      stage.dataset.history = String(!!map);
      reconcileAll();
    },
    /** Showing (draw, publish the pointer) or hidden (stop drawing, withdraw the pointer). */
    setActive(on) {
      if (on === active) return;
      active = on;
      if (on) {
        placeCamera();
        requestFrame();
      } else {
        if (frame) cancelAnimationFrame(frame);
        frame = 0;
        setHover(null);
        queuePresence(null);
      }
    },
    destroy() {
      if (!alive) return;
      alive = false;
      active = false;
      if (drag?.renew) clearInterval(drag.renew);
      if (drag?.sendTimer) clearTimeout(drag.sendTimer);
      drag = null;
      if (frame) cancelAnimationFrame(frame);
      clearTimeout(sendTimer);
      clearInterval(sweep);
      ro.disconnect();
      for (const off of offs) off();
      for (const it of [...items.values()]) removeItem(it);
      for (const userId of [...cursors.keys()]) setCursor(userId, null);
      sphereGeo.dispose();
      markerGeo.dispose();
      glow.dispose();
      renderer?.dispose();
      host.replaceChildren();
    },
  };
}
