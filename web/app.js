// Chorus web app: sign-in, the lobby (spaces) and a room with live presence.
// Vanilla ES module on top of the Chorus SDK (./lib/chorus.js, bundled there by `make web`).
import { Chorus } from './lib/chorus.js';
import { $, h, copyText, toast, openDialog, colorFor, initials, fmtTime, friendlyError } from './ui.js';
import { mountActivity } from './activity.js';
import { assetBody, mountUploads } from './upload.js';
import { mountHistory } from './history.js';
import { mountPeople } from './people.js';

const STORAGE_KEY = 'chorus.session';
const CODE_RE = /^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{6}$/;
const MODES = ['chill', 'focus', 'brainstorm', 'debate', 'playful'];
/** What each mode asks of the people in the room (a shared convention; the server only stores it). */
const MODE_HINTS = {
  chill: 'No agenda: hang out and talk about anything.',
  focus: 'Heads down: keep the chat short and on the task.',
  brainstorm: 'Every idea is welcome; judge them later.',
  debate: 'Take a side and argue it; disagree with ideas, not people.',
  playful: 'Games, jokes and tangents are the point.',
};
/** Colors to pick from in the profile: the server's palette (src/auth/user_valid.c). */
const PROFILE_COLORS = ['#d9534f', '#d9682a', '#b8800a', '#8a8c17', '#55962a', '#3a9b1f', '#2e9e57', '#1f9e8f',
  '#1b95b8', '#3b82f6', '#5b6ee8', '#8060e0', '#a855d6', '#bf4fd0', '#c94fb0', '#d94f86'];
const CURSOR_HIDE_MS = 5000;      // a remote cursor without movement fades out after this
const CURSOR_SEND_MS = 33;        // ~30 presence updates a second at most
const TYPING_REFRESH_MS = 3000;   // re-send typing:true while typing (the server expires it after 5 s)
const TYPING_STOP_MS = 4000;      // no keystroke for this long: typing:false
const MAX_MESSAGE_BYTES = 16384;  // the server's default --room-max-message (UTF-8 bytes)
const MAX_CAPACITY = 50;          // the server's default --room-max-capacity
const COUNT_FROM_BYTES = 4096;    // the composer shows its counter from this size on
const MAX_OUTBOX = 50;            // messages waiting for the connection, at most

// ---------------------------------------------------------------- session

let session = loadSession(); // {token, user} | null

function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
    return s && typeof s.token === 'string' && s.user && s.user.id ? s : null;
  } catch {
    return null;
  }
}

function saveSession(s) {
  session = s;
  if (s) localStorage.setItem(STORAGE_KEY, JSON.stringify(s));
  else localStorage.removeItem(STORAGE_KEY);
  renderTopbar();
}

/** A REST-only SDK instance (never connects). */
const api = () => new Chorus({ token: session?.token });

function displayNameOf(user) {
  return user?.username || (user?.email ? user.email.split('@')[0] : 'Guest');
}

/** Joins as name; when another participant has it (name_taken), as "name 2", "name 3"… */
async function joinWithFreeName(client, code, name) {
  const base = [...name].slice(0, 29).join('');
  for (let i = 1; ; i++) {
    try {
      return await client.join(code, { displayName: i === 1 ? name : `${base} ${i}` });
    } catch (err) {
      if (err?.code !== 'name_taken' || i >= 20) throw err;
    }
  }
}

// ---------------------------------------------------------------- views / routing

const views = {
  auth: $('[data-testid="auth-view"]'),
  lobby: $('[data-testid="lobby-view"]'),
  room: $('[data-testid="room-view"]'),
};

function showView(name) {
  for (const [k, el] of Object.entries(views)) el.hidden = k !== name;
  document.body.dataset.view = name;
  $('[data-testid="connection-status"]').hidden = name !== 'room';
}

function roomCodeFromUrl() {
  const code = new URLSearchParams(location.search).get('room');
  return code ? code.trim().toUpperCase() : null;
}

function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  route();
}

function lobbyUrl() {
  return location.pathname;
}

function roomUrl(code) {
  return `${location.pathname}?room=${encodeURIComponent(code)}`;
}

async function route() {
  const code = roomCodeFromUrl();
  if (!session) {
    leaveRoomSession();
    showAuth(code);
    return;
  }
  if (code) {
    if (current && current.code === code) return;
    await enterRoom(code);
  } else {
    leaveRoomSession();
    showLobby();
  }
}

window.addEventListener('popstate', () => route());

// ---------------------------------------------------------------- top bar

function renderTopbar() {
  const me = $('[data-testid="current-user"]');
  const out = $('[data-testid="signout"]');
  me.hidden = out.hidden = !session;
  showAdminLink();
  if (!session) return;
  const name = displayNameOf(session.user);
  const color = session.user.color || colorFor(session.user.id);
  const av = me.querySelector('[data-role="me-avatar"]');
  av.textContent = initials(name);
  av.style.setProperty('--c', color);
  me.querySelector('[data-role="me-name"]').textContent = name;
}

/**
 * The Admin link (the admin view, admin.html), for admins only: GET /api/admin/access
 * answers any signed-in user whether they are one.
 */
let adminFor = null; // the token the link was decided for
function showAdminLink()
{
    const link = $('[data-testid="admin-link"]');
    if (!session) {
        link.hidden = true;
        adminFor = null;
        return;
    }
    if (adminFor === session.token) return;
    const tok = (adminFor = session.token);
    link.hidden = true;
    fetch('/api/admin/access', {headers : {Authorization : `Bearer ${tok}`}})
        .then((r) => (r.ok ? r.json() : null))
        .then((j) => {
            if (session?.token === tok) link.hidden = !j?.admin;
        })
        .catch(() => {});
}

$('[data-testid="current-user"]').addEventListener('click', () => openProfile());

/** The profile dialog: name and color (PATCH /api/users/me; a fresh token carries them). */
async function openProfile() {
  if (!session) return;
  const curColor = (session.user.color || '').toLowerCase();
  const name = h('input', { value: displayNameOf(session.user), maxlength: '32', 'data-testid': 'profile-name', autocomplete: 'nickname' });
  let color = curColor;
  const swatches = PROFILE_COLORS.map((c) => h('button', {
    type: 'button', class: 'swatch', style: `--c:${c}`, title: c, 'aria-label': `Color ${c}`,
    'aria-pressed': String(c === curColor), 'data-testid': 'profile-color', 'data-color': c,
    onclick: (e) => {
      color = c;
      for (const b of e.currentTarget.parentNode.children) b.setAttribute('aria-pressed', String(b.dataset.color === c));
    },
  }));
  const err = h('p', { class: 'form-error', 'data-testid': 'profile-error', hidden: true });
  const body = h('div', { class: 'settings' },
    h('label', { class: 'field' }, h('span', {}, 'Name'), name),
    h('div', { class: 'field' }, h('span', {}, 'Color'), h('div', { class: 'swatches' }, swatches)),
    h('p', { class: 'muted small' }, 'Rooms you are in show the new name and color the next time you enter them.'),
    err);
  for (;;) {
    const ok = await openDialog({ title: 'Your profile', body, confirmText: 'Save', testid: 'profile' });
    if (!ok || !session) return;
    const patch = {};
    const newName = name.value.trim();
    if (!newName) { err.hidden = false; err.textContent = 'Enter a name.'; name.focus(); continue; }
    if ([...newName].length > 32) { err.hidden = false; err.textContent = 'Names have at most 32 characters.'; continue; }
    if (newName !== displayNameOf(session.user)) patch.username = newName;
    if (color && color !== curColor) patch.color = color;
    if (!Object.keys(patch).length) return;
    try {
      const sdk = api();
      const user = await sdk.updateMe(patch);
      saveSession({ token: sdk.token || session.token, user: { ...session.user, ...user } });
      toast('Profile saved', 'ok');
      return;
    } catch (e) {
      if (e?.code === 'unauthorized') return sessionExpired();
      err.hidden = false;
      err.textContent = friendlyError(e);
    }
  }
}

$('[data-testid="signout"]').addEventListener('click', () => {
  api().logout().catch(() => {}); // revokes the token on the server; signing out here does not wait
  leaveRoomSession();
  saveSession(null);
  setAuthMode('login'); // a returning user signs in; creating an account is one click away
  navigate(lobbyUrl());
  toast('Signed out');
});

$('[data-testid="brand"]').addEventListener('click', (e) => {
  e.preventDefault();
  backToLobby();
});

function setConnState(state) {
  const el = $('[data-testid="connection-status"]');
  el.dataset.state = state;
  el.querySelector('.conn-text').textContent = {
    connecting: 'Connecting…', open: 'Live', reconnecting: 'Reconnecting…', closed: 'Offline',
  }[state] || state;
  $('[data-testid="reconnect-banner"]').hidden = state !== 'reconnecting';
  document.body.dataset.conn = state;
}

// ---------------------------------------------------------------- auth

let authMode = 'register';
const authForm = $('[data-testid="auth-form"]');

function setAuthMode(mode) {
  authMode = mode;
  for (const t of authForm.querySelectorAll('.tab')) t.setAttribute('aria-selected', String(t.dataset.mode === mode));
  authForm.querySelector('[data-role="username-field"]').hidden = mode !== 'register';
  authForm.password.autocomplete = mode === 'register' ? 'new-password' : 'current-password';
  $('[data-testid="auth-submit"]').textContent = mode === 'register' ? 'Create account' : 'Sign in';
  formError('auth-error', null);
}

for (const t of authForm.querySelectorAll('.tab')) t.addEventListener('click', () => setAuthMode(t.dataset.mode));

function showAuth(pendingCode) {
  showView('auth');
  const p = $('[data-testid="auth-pending-room"]');
  p.hidden = !pendingCode;
  if (pendingCode) p.textContent = `Sign in to join room ${pendingCode}.`;
  setAuthMode(authMode);
}

function formError(testid, msg) {
  const el = $(`[data-testid="${testid}"]`);
  el.hidden = !msg;
  el.textContent = msg || '';
  if (!msg) for (const f of el.closest('form')?.querySelectorAll('[aria-invalid]') ?? []) f.removeAttribute('aria-invalid');
}

/** A form error about one field: the field is marked and focused. */
function fieldError(testid, field, msg) {
  formError(testid, msg);
  field.setAttribute('aria-invalid', 'true');
  field.focus();
}

authForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const email = authForm.email.value.trim();
  const password = authForm.password.value;
  const username = authForm.username.value.trim();
  // In the order of the fields, so the first one at fault is the one pointed at.
  formError('auth-error', null);
  if (authMode === 'register') {
    if (!username) return fieldError('auth-error', authForm.username, 'Choose a username.');
    if ([...username].length > 32) return fieldError('auth-error', authForm.username, 'Usernames have at most 32 characters.');
  }
  if (!email) return fieldError('auth-error', authForm.email, 'Enter your email address.');
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return fieldError('auth-error', authForm.email, 'Enter a valid email address.');
  if (authMode === 'register') {
    if (password.length < 8) return fieldError('auth-error', authForm.password, 'Passwords have at least 8 characters.');
  } else if (!password) {
    return fieldError('auth-error', authForm.password, 'Enter your password.');
  }
  formError('auth-error', null);
  const btn = $('[data-testid="auth-submit"]');
  btn.disabled = true;
  btn.classList.add('is-busy');
  try {
    const sdk = new Chorus();
    const s = authMode === 'register'
      ? await sdk.register(email, password, username)
      : await sdk.login(email, password);
    saveSession({ token: s.token, user: s.user });
    authForm.reset();
    await route();
  } catch (err) {
    formError('auth-error', friendlyError(err));
  } finally {
    btn.disabled = false;
    btn.classList.remove('is-busy');
  }
});

// ---------------------------------------------------------------- lobby

const createForm = $('[data-testid="create-form"]');
const joinForm = $('[data-testid="join-form"]');

function showLobby() {
  showView('lobby');
  formError('join-error', null); // an error belongs to the attempt that caused it
  document.title = 'Chorus: Spaces';
  loadRoomLists();
}

async function loadRoomLists() {
  const sdk = api();
  const [mine, pub] = await Promise.allSettled([sdk.myRooms(), sdk.publicRooms()]);
  if (mine.status === 'rejected' && mine.reason?.code === 'unauthorized') return sessionExpired();
  renderRoomList('my-rooms', mine.status === 'fulfilled' ? mine.value : [], mine.reason);
  renderRoomList('public-rooms', pub.status === 'fulfilled' ? pub.value : [], pub.reason);
}

function renderRoomList(testid, rooms, err) {
  const ul = $(`[data-testid="${testid}"]`);
  const empty = $(`[data-testid="${testid}-empty"]`);
  ul.replaceChildren();
  rooms = [...rooms].sort((a, b) => (b.lastActivity || 0) - (a.lastActivity || 0));
  for (const r of rooms) {
    const isHost = r.hostUserId === session?.user.id;
    const full = r.participantCount >= r.maxParticipants;
    ul.append(h('li', { class: 'room-item', 'data-testid': 'room-item', 'data-code': r.roomCode },
      h('button', {
        class: 'room-item-main', type: 'button', 'data-testid': 'room-open',
        onclick: () => navigate(roomUrl(r.roomCode)),
      },
      h('span', { class: 'room-item-name', title: r.name }, h('span', { class: 'room-item-title' }, r.name), isHost ? h('span', { class: 'crown', title: 'You host this room' }, crownSvg()) : null),
      h('span', { class: 'room-item-meta' },
        h('span', { class: 'mono' }, r.roomCode),
        h('span', { class: `count${full ? ' is-full' : ''}` }, `${r.participantCount}/${r.maxParticipants}`),
        r.onlineCount ? h('span', { class: 'online-count' }, h('i', { class: 'dot dot-on' }), `${r.onlineCount} online`) : null)),
      h('span', { class: 'room-item-actions' },
        h('button', { class: 'btn btn-icon', type: 'button', title: 'Copy code', 'aria-label': `Copy code ${r.roomCode}`, 'data-testid': 'room-copy-code', onclick: () => copyWithToast(r.roomCode, 'Room code copied') }, copySvg()),
        h('button', { class: 'btn btn-icon', type: 'button', title: 'Copy share link', 'aria-label': 'Copy share link', 'data-testid': 'room-share-link', onclick: () => copyWithToast(shareLink(r), 'Link copied') }, linkSvg()),
        isHost && testid === 'my-rooms' ? h('button', {
          class: 'btn btn-icon btn-danger-ghost', type: 'button', title: 'Delete room', 'aria-label': `Delete room ${r.name}`,
          'data-testid': 'room-delete', onclick: () => deleteFromLobby(r),
        }, '✕') : null)));
  }
  empty.hidden = rooms.length > 0;
  if (err && !rooms.length) {
    empty.hidden = false;
    empty.textContent = `Couldn’t load rooms: ${friendlyError(err)}`;
  }
}

async function deleteFromLobby(r) {
  const ok = await openDialog({
    title: `Delete “${r.name}”?`,
    body: 'Everyone is removed and the messages are deleted. This can’t be undone.',
    confirmText: 'Delete room', danger: true, testid: 'delete',
  });
  if (!ok) return;
  try {
    await api().deleteRoom(r.id);
    toast(`“${r.name}” was deleted.`);
    formError('create-error', null);
  } catch (err) {
    if (err?.code === 'unauthorized') return sessionExpired();
    toast(`Couldn’t delete the room: ${friendlyError(err)}`, 'error');
  }
  loadRoomLists();
}

createForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = createForm.name.value.trim();
  const capRaw = createForm.capacity.value.trim();
  const cap = Number(capRaw);
  if (!name) return fieldError('create-error', createForm.name, 'Give the room a name.');
  if ([...name].length > 100) return fieldError('create-error', createForm.name, 'Room names have at most 100 characters.');
  if (!capRaw || !Number.isInteger(cap)) return fieldError('create-error', createForm.capacity, 'Capacity must be a whole number.');
  if (cap < 1 || cap > 50) return fieldError('create-error', createForm.capacity, 'Capacity must be between 1 and 50.');
  formError('create-error', null);
  const btn = $('[data-testid="create-submit"]');
  btn.disabled = true;
  try {
    const room = await api().createRoom({ name, maxParticipants: cap, isPublic: createForm.isPublic.checked });
    createForm.reset();
    navigate(roomUrl(room.roomCode));
  } catch (err) {
    if (err?.code === 'unauthorized') return sessionExpired();
    formError('create-error', friendlyError(err));
  } finally {
    btn.disabled = false;
  }
});

joinForm.code.addEventListener('input', () => {
  const v = joinForm.code.value.toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (v !== joinForm.code.value) joinForm.code.value = v;
  formError('join-error', null);
});

joinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const code = joinForm.code.value.trim().toUpperCase();
  if (code.length !== 6) return fieldError('join-error', joinForm.code, 'Room codes have exactly 6 characters.');
  if (!CODE_RE.test(code)) return fieldError('join-error', joinForm.code, 'That isn’t a valid room code (codes never use 0, 1, I or O).');
  formError('join-error', null);
  navigate(roomUrl(code));
});

$('[data-testid="refresh-rooms"]').addEventListener('click', () => loadRoomLists());

function shareLink(r) {
  // The server builds joinLink from --public-url; without one, fall back to this page.
  return r.joinLink || new URL(roomUrl(r.roomCode), location.href).href;
}

async function copyWithToast(text, okText, button) {
  const ok = await copyText(text);
  if (ok) {
    toast(okText, 'ok');
    if (button) {
      const old = button.textContent;
      button.textContent = 'Copied ✓';
      button.classList.add('is-done');
      setTimeout(() => { button.textContent = old; button.classList.remove('is-done'); }, 1500);
    }
  } else {
    // No clipboard at all: show the text so it can be copied by hand.
    const input = h('input', { class: 'copy-manual', value: text, readonly: '', 'data-testid': 'copy-manual' });
    openDialog({ title: 'Copy this', body: input, confirmText: 'Done', cancelText: null });
    setTimeout(() => input.select(), 50);
  }
}

function sessionExpired() {
  leaveRoomSession();
  saveSession(null);
  navigate(location.pathname + location.search, { replace: true });
  formError('auth-error', 'Your session has expired. Please sign in again.');
}

// ---------------------------------------------------------------- room

/** The live room session: {client, room, code, offs, ...} or null. */
let current = null;

const el = {
  name: $('[data-testid="room-name"]'),
  mode: $('[data-testid="room-mode"]'),
  visibility: $('[data-testid="room-visibility"]'),
  code: $('[data-testid="room-code"]'),
  copyCode: $('[data-testid="copy-code"]'),
  share: $('[data-testid="share-link"]'),
  settings: $('[data-testid="settings-button"]'),
  leave: $('[data-testid="leave-button"]'),
  back: $('[data-testid="back-to-lobby"]'),
  full: $('[data-testid="room-full-warning"]'),
  area: $('[data-testid="room-area"]'),
  messages: $('[data-testid="messages"]'),
  typing: $('[data-testid="typing-indicator"]'),
  composer: $('[data-testid="composer"]'),
  input: $('[data-testid="message-input"]'),
  msgCount: $('[data-testid="message-count"]'),
  send: $('[data-testid="send-button"]'),
  participants: $('[data-testid="participants"]'),
  count: $('[data-testid="participant-count"]'),
  cursors: $('[data-testid="cursor-layer"]'),
  loading: $('[data-testid="room-loading"]'),
  tabs: [...document.querySelectorAll('.room-tabs [data-tab]')],
  chatPanel: $('[data-testid="chat-panel"]'),
  unread: $('[data-testid="chat-unread"]'),
  editorPanel: $('[data-testid="editor-panel"]'),
  editorHost: $('[data-testid="editor"]'),
  editorLoading: $('[data-testid="editor-loading"]'),
  editorStatus: $('[data-testid="editor-status"]'),
  editorPresence: $('[data-testid="editor-presence"]'),
  editorPeople: $('[data-testid="editor-people"]'),
  cosmosPanel: $('[data-testid="cosmos-panel"]'),
  cosmosHost: $('[data-testid="cosmos"]'),
  cosmosLoading: $('[data-testid="cosmos-loading"]'),
  cosmosForm: $('[data-testid="cosmos-form"]'),
  cosmosText: $('[data-testid="cosmos-text"]'),
  cosmosCreate: $('[data-testid="cosmos-create"]'),
  cosmosStatus: $('[data-testid="cosmos-status"]'),
  cosmosCount: $('[data-testid="cosmos-count"]'),
};

async function enterRoom(code) {
  leaveRoomSession();
  if (!CODE_RE.test(code)) return joinFailed(code, 'That isn’t a valid room code.');
  showView('room');
  document.title = `Chorus: ${code}`;
  el.loading.hidden = false;
  el.area.hidden = true;
  el.name.textContent = code;
  el.code.textContent = code;
  el.full.hidden = true;
  el.settings.hidden = true;
  el.mode.hidden = true;
  el.visibility.textContent = '';
  el.count.textContent = '';

  const client = new Chorus({ token: session.token, reconnect: { base: 250, max: 3000 } });
  const sess = {
    client, code, room: null, offs: [], cursors: new Map(), seen: new Set(), colors: new Map(),
    timers: [], lastCursorSent: 0, cursorTimer: null, pendingCursor: undefined, typingSentAt: 0,
    typingStopTimer: null, wasDown: false, tab: 'chat', unread: 0, editor: null, doc: null, editorOpening: null,
    cosmos: null, cosmosOpening: null, outbox: [], flushing: false,
  };
  current = sess;
  sess.offs.push(client.on('connection', (state) => onConnection(sess, state)));
  sess.offs.push(client.on('token_expired', () => toast('Your session is about to expire: sign in again to stay connected.', 'warn')));
  sess.offs.push(client.on('error', (err) => {
    // Most errors surface where the request was made; a token refused while
    // reconnecting (expired overnight, say) means signing in again.
    if (current === sess && (err?.code === 'unauthorized' || err?.code === 'token_expired')) sessionExpired();
  }));
  setConnState(client.state || 'connecting');

  let room;
  try {
    await client.connect();
    if (current !== sess) return;
    room = await joinWithFreeName(client, code, displayNameOf(session.user));
  } catch (err) {
    if (current !== sess) return;
    leaveRoomSession();
    if (err?.code === 'unauthorized') return sessionExpired();
    return joinFailed(code, friendlyError(err));
  }
  if (current !== sess) {
    return;
  }
  sess.room = room;
  el.loading.hidden = true;
  el.area.hidden = false;
  sess.people = mountPeople(room, client, { panel: $('.participants-panel'), list: el.participants, render: () => { if (current === sess) renderParticipants(sess); } });
  sess.offs.push(() => sess.people.destroy());
  wireRoom(sess);
  sess.offs.push(mountActivity(room));
  sess.offs.push(mountUploads(room, $('.participants-panel'), el.area, { me: session.user.id, isHost: () => room.role === 'host', onError: (e) => toast(friendlyError(e), 'error') }));
  sess.history = mountHistory(room, { docId: EDITOR_DOC, cosmos: () => sess.cosmos, editorPanel: el.editorPanel, actions: $('.room-actions'), main: $('.room-main') });
  sess.offs.push(() => sess.history.destroy());
  openCall(sess); // the call's controls and tiles (web/rtc.js)
  renderRoomAll(sess);
  setTab(sess, 'chat');
}

function joinFailed(code, message) {
  history.replaceState(null, '', lobbyUrl());
  showLobby();
  joinForm.code.value = code;
  formError('join-error', message);
}

function onConnection(sess, state) {
  if (current !== sess) return;
  setConnState(state);
  if (state === 'reconnecting') sess.wasDown = true;
  if (state === 'open' && sess.wasDown && sess.room) {
    sess.wasDown = false;
    // The SDK has re-joined (fresh participants) and catches up on missed messages itself.
    renderRoomAll(sess);
  }
  if (sess.room) renderParticipants(sess); // while we are away, no one is known to be online
  updateComposer(sess);
  renderEditorStatus(sess);
  if (state === 'open' && sess.room) {
    flushOutbox(sess);
    // An editor that could not open while the connection was down opens now.
    if (sess.tab === 'editor' && !sess.editor && !sess.editorOpening) openEditor(sess);
  }
}

function updateComposer(sess) {
  const open = sess.client.state === 'open';
  el.input.placeholder = open ? 'Write a message…' : 'Offline: messages are sent when the connection is back';
  updateCount();
}

const utf8Bytes = (s) => new TextEncoder().encode(s).length;

/** The composer's size counter (from COUNT_FROM_BYTES on); over the limit, sending is refused. */
function updateCount() {
  const n = utf8Bytes(el.input.value);
  const over = n > MAX_MESSAGE_BYTES;
  el.msgCount.hidden = n < COUNT_FROM_BYTES;
  el.msgCount.dataset.over = String(over);
  el.msgCount.textContent = over
    ? `${n.toLocaleString('en-US')} / ${MAX_MESSAGE_BYTES.toLocaleString('en-US')}: ${(n - MAX_MESSAGE_BYTES).toLocaleString('en-US')} too many to send`
    : `${n.toLocaleString('en-US')} / ${MAX_MESSAGE_BYTES.toLocaleString('en-US')}`;
  el.send.disabled = over;
}

// A large room sends a participant's presence (cursors, typing) only to the connections
// that watch them (presence_subscribe): watch the online participants this client holds,
// at most 256 (the server's default bound), again as people come.
function watchShown(sess) {
  if (sess.room.participantsComplete || sess.watchTimer) return;
  sess.watchTimer = setTimeout(() => {
    sess.watchTimer = null;
    if (current !== sess) return;
    const ids = [...sess.room.participants.values()]
      .filter((p) => p.online && p.userId !== session.user.id).slice(0, 256).map((p) => p.userId);
    // Only a changed set: every client here holds about the same first participants, so a
    // resend at each join would be a request per member per tick (the SDK resends the set
    // after a rejoin itself).
    const key = ids.join('\n');
    if (key === sess.watchKey) return;
    sess.watchKey = key;
    sess.room.watchPresence(ids).catch(() => { sess.watchKey = null; });
  }, 300);
}

function wireRoom(sess) {
  const { room } = sess;
  const on = (ev, fn) => sess.offs.push(room.on(ev, (p) => { if (current === sess) fn(p); }));
  on('message', (m) => addMessage(sess, m));
  on('participant_joined', () => { renderParticipants(sess); watchShown(sess); });
  on('participant_left', (p) => {
    renderParticipants(sess);
    if (p && p.reason !== 'disconnected') removeCursor(sess, p.userId);
    else if (p) hideCursor(sess, p.userId);
    renderTyping(sess);
  });
  on('participant_removed', (p) => { renderParticipants(sess); if (p) removeCursor(sess, p.userId); renderTyping(sess); });
  on('presence', (p) => onPresence(sess, p));
  on('state', (s) => renderMode(sess, s?.currentMode ?? s?.state?.mode));
  on('room_updated', () => { renderRoomInfo(sess); renderParticipants(sess); });
  for (const ev of ['entity_created', 'entity_deleted', 'synced']) on(ev, () => renderCosmosCount(sess));
  on('kicked', (p) => {
    leaveRoomSession();
    navigate(lobbyUrl(), { replace: true });
    toast(p?.ban ? 'The host removed you from the room and banned you.' : 'The host removed you from the room.', 'warn', 6000);
  });
  on('error', (err) => {
    // A rejoin after a reconnect failed for good (kicked, banned, deleted, full).
    if (room.active === false) {
      leaveRoomSession();
      navigate(lobbyUrl(), { replace: true });
      toast(`You’re no longer in this room: ${friendlyError(err)}`, 'warn', 6000);
    }
  });
  on('room_code', (p) => {
    // The host gave the room a new code: show it and keep the address bar's link working.
    sess.code = p.roomCode;
    el.code.textContent = p.roomCode;
    history.replaceState(null, '', roomUrl(p.roomCode));
  });
  on('room_deleted', (p) => {
      if (sess.deleting) return; // our own delete: requestDelete says it
      leaveRoomSession();
      navigate(lobbyUrl(), {replace : true});
      toast(p?.reason === 'closed' ? 'An admin closed this room.' : 'This room was deleted.',
            'warn', 6000);
  });
  sess.timers.push(setInterval(() => sweepCursors(sess), 500));
}

/** Tears down the room session (no leave: the seat is kept). */
function leaveRoomSession() {
  const sess = current;
  if (!sess) return;
  current = null;
  for (const off of sess.offs) { try { off(); } catch { /* ignore */ } }
  for (const t of sess.timers) clearInterval(t);
  clearTimeout(sess.cursorTimer);
  clearTimeout(sess.typingStopTimer);
  clearTimeout(sess.watchTimer);
  closeEditor(sess);
  closeCosmos(sess);
  sess.call?.destroy();
  try { sess.client.close(); } catch { /* ignore */ }
  el.messages.replaceChildren();
  el.participants.replaceChildren();
  el.cursors.replaceChildren();
  el.typing.textContent = '';
  el.input.value = '';
  updateCount();
  showTab('chat');
  el.unread.hidden = true;
  el.editorPeople.hidden = true;
  el.cosmosCount.hidden = true;
  $('[data-testid="reconnect-banner"]').hidden = true;
  closeDialogIfOpen();
}

/** The room's name, code and visibility in the header (also after room_updated). */
function renderRoomInfo(sess) {
  const { room } = sess;
  const info = room.info || {};
  el.name.textContent = info.name || sess.code;
  el.name.title = info.name || sess.code; // ellipsized when long: the full name on hover
  document.title = `${info.name || sess.code} · Chorus`;
  el.code.textContent = room.code || info.roomCode || sess.code;
  el.visibility.textContent = info.isPublic ? 'Public' : 'Private';
}

function renderRoomAll(sess) {
  const { room } = sess;
  const info = room.info || {};
  renderRoomInfo(sess);
  el.settings.hidden = !isHost(sess);
  renderMode(sess, room.state?.mode ?? info.currentMode);
  renderParticipants(sess);
  for (const m of room.messages || []) addMessage(sess, m, { batch: true });
  scrollMessages(true);
  for (const p of room.participants.values()) {
    if (p.userId !== session.user.id) applyPresence(sess, p.userId, p.presence || {}, { initial: true });
  }
  watchShown(sess);
  renderTyping(sess);
  updateComposer(sess);
  renderCosmosCount(sess);
}

function isHost(sess) {
  const me = sess.room?.participants.get(session.user.id);
  return sess.room?.role === 'host' || me?.role === 'host' || sess.room?.info?.hostUserId === session.user.id;
}

function renderMode(sess, mode) {
  el.mode.hidden = mode == null || mode === '';
  el.mode.textContent = mode == null ? '' : `Mode: ${typeof mode === 'string' ? mode : JSON.stringify(mode)}`;
  el.mode.title = (typeof mode === 'string' && MODE_HINTS[mode]) || '';
  el.mode.dataset.hint = el.mode.title;
  sess.mode = mode;
}

// ----- participants

function participantList(sess) {
  const list = [...sess.room.participants.values()];
  for (const p of list) sess.colors.set(p.userId, p.color);
  const rank = (p) => (p.role === 'host' ? 0 : 1);
  return list.sort((a, b) => rank(a) - rank(b) || Number(b.online) - Number(a.online) || (a.joinedAt || 0) - (b.joinedAt || 0));
}

function renderParticipants(sess) {
  const list = participantList(sess);
  const max = sess.room.info?.maxParticipants ?? 0;
  const host = isHost(sess);
  const seats = Math.max(sess.room.participantCount, list.length); // a large room's list is some pages
  el.count.textContent = max ? `${seats}/${max}` : String(seats);
  const full = max > 0 && seats >= max;
  sess.people?.update();
  el.count.classList.toggle('is-full', full);
  if (!full) sess.fullDismissed = false; // full again later: say it again
  el.full.hidden = !full || !!sess.fullDismissed;
  const editors = list.filter((p) => p.userId !== session.user.id && inEditor(p)).length;
  el.editorPeople.hidden = editors === 0;
  el.editorPeople.textContent = String(editors);
  el.editorPeople.title = `${editors} ${editors === 1 ? 'person' : 'people'} in the editor`;
  // Disconnected, we know nothing of who is online (ourselves included): all grey.
  const live = sess.client.state === 'open';
  el.participants.dataset.live = String(live);
  el.participants.replaceChildren(...(sess.people?.filter(list) ?? list).map((p) => {
    const you = p.userId === session.user.id;
    const online = live && !!p.online;
    const idle = online && p.presence?.idle === true;
    const typing = p.presence?.typing === true && online && !you;
    const editing = !you && live && inEditor(p);
    const status = !live ? (you ? 'offline' : 'unknown while you are offline')
      : !online ? 'offline' : typing ? 'typing…' : idle ? 'idle' : editing ? 'in the editor' : 'online';
    return h('li', {
      class: `participant${you ? ' is-you' : ''}${online ? ' is-online' : ' is-offline'}${idle ? ' is-idle' : ''}`,
      'data-testid': 'participant', 'data-user-id': p.userId, 'data-online': String(online),
      'data-role': p.role, 'data-you': String(you), style: `--c:${p.color || colorFor(p.userId)}`,
    },
    h('span', { class: 'avatar' }, initials(p.displayName),
      h('i', { class: `dot ${online ? (idle ? 'dot-idle' : 'dot-on') : 'dot-off'}`, 'data-testid': 'online-dot', title: status })),
    h('span', { class: 'participant-text' },
      h('span', { class: 'participant-name' },
        h('span', { 'data-testid': 'participant-name' }, p.displayName),
        p.role === 'host' ? h('span', { class: 'crown', title: 'Host', 'data-testid': 'host-badge' }, crownSvg()) : null,
        you ? h('span', { class: 'you', 'data-testid': 'you-badge' }, 'you') : null),
      h('span', { class: 'participant-status' }, status)),
    host && !you ? h('button', {
      class: 'btn btn-icon btn-kick', type: 'button', title: `Remove ${p.displayName}`,
      'aria-label': `Remove ${p.displayName}`, 'data-testid': 'kick-button', onclick: () => requestKick(sess, p),
    }, '✕') : null);
  }));
}

// ----- messages

const nearBottom = () => el.messages.scrollHeight - el.messages.scrollTop - el.messages.clientHeight < 80;
function scrollMessages(force) {
  if (force) el.messages.scrollTop = el.messages.scrollHeight;
}

function addMessage(sess, m, { batch = false } = {}) {
  if (!m || sess.seen.has(m.id)) return;
  sess.seen.add(m.id);
  const clientId = m.userId === session.user.id ? m.metadata?.clientId : undefined;
  if (clientId) {
    // Ours from the outbox, seen in a catch-up before its reply: no longer pending.
    const i = sess.outbox.findIndex((it) => it.id === clientId);
    if (i >= 0) sess.outbox.splice(i, 1)[0].node.remove();
  }
  const stick = nearBottom();
  const node = messageNode(sess, m);
  // Keep seq order even if a late one arrives (catch-up after a reconnect).
  let before = null;
  for (let n = el.messages.lastElementChild; n; n = n.previousElementSibling) {
    if (Number(n.dataset.seq) > m.seq) before = n;
    else break;
  }
  el.messages.insertBefore(node, before);
  if (node.classList.contains('msg-system') && !m.userId) collapseNotices(node);
  if (!batch) scrollMessages(stick || m.userId === session.user.id);
  if (!batch && sess.tab !== 'chat' && m.userId !== session.user.id) {
    sess.unread++;
    el.unread.textContent = sess.unread > 99 ? '99+' : String(sess.unread);
    el.unread.hidden = false;
  }
}

const NOTICE_RUN = 3; // this many server notices in a row collapse behind the newest

/**
 * Quieter joins and leaves: in a run of consecutive server notices (joins, leaves, mode
 * changes) only the newest shows, with "N more" to unfold the others.
 */
function collapseNotices(node) {
  const isNotice = (n) => n && n.classList.contains('msg-system') && !n.dataset.userId;
  let first = node;
  while (isNotice(first.previousElementSibling)) first = first.previousElementSibling;
  const run = [];
  for (let n = first; isNotice(n); n = n.nextElementSibling) run.push(n);
  for (const n of run) n.querySelector('.msg-more')?.remove();
  const open = run.some((n) => n.dataset.expanded === 'true');
  const newest = run[run.length - 1];
  for (const n of run) {
    n.dataset.collapsed = String(run.length >= NOTICE_RUN && n !== newest && !open);
    if (open) n.dataset.expanded = 'true';
  }
  if (run.length >= NOTICE_RUN && !open) {
    newest.append(h('button', {
      class: 'msg-more', type: 'button', 'data-testid': 'notices-more',
      onclick: () => { for (const n of run) { n.dataset.expanded = 'true'; n.dataset.collapsed = 'false'; } newest.querySelector('.msg-more')?.remove(); },
    }, `${run.length - 1} more`));
  }
}

// The server's own messages carry {event, userId, displayName} in metadata and never a
// name in their text: the name is rendered here as text, isolated (<bdi>) so it cannot
// reorder the sentence around it. Unknown events show the server's plain text.
const SYSTEM_EVENTS = { joined: 'joined', left: 'left', removed: 'was removed by the host', banned: 'was banned by the host', unbanned: 'may join again: the host lifted the ban' };

// A state change says who changed what in words: metadata {event: "state", change, mode?}.
function stateText(md) {
  if (md.change === 'mode' && typeof md.mode === 'string') return `set the room mode to ${md.mode}`;
  if (md.change === 'mode') return 'changed the room mode';
  if (md.change === 'mode_cleared') return 'cleared the room mode';
  if (md.change === 'settings') return 'changed the room settings';
  return null;
}

// A settings change (room_update) names what changed: metadata {event: "settings", name?,
// maxParticipants?, isPublic?}.
function settingsText(md) {
  const parts = [];
  if (typeof md.name === 'string') parts.push(`renamed the room to “${md.name}”`);
  if (Number.isInteger(md.maxParticipants)) parts.push(`set the capacity to ${md.maxParticipants}`);
  if (typeof md.isPublic === 'boolean') parts.push(`made the room ${md.isPublic ? 'public' : 'private'}`);
  if (!parts.length) return null;
  return parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

function systemText(sess, m) {
  const md = m.metadata;
  const ev = md?.event;
  const what = ev === 'state' ? stateText(md) : ev === 'settings' ? settingsText(md) : SYSTEM_EVENTS[ev];
  if (!what || typeof md.userId !== 'string') return m.content;
  const uid = md.userId;
  const name = uid === session.user.id ? 'You'
    : sess.room.participants.get(uid)?.displayName || md.displayName || 'Someone';
  return [h('bdi', { class: 'msg-name', 'data-testid': 'system-name' }, name), ` ${what}`];
}

function messageNode(sess, m) {
  const mine = m.userId && m.userId === session.user.id;
  // An app backend's message (the rpc op's effects, the server API) has no userId: its
  // own type (story_update, ...) is its label, its author the displayName.
  const kind = m.type === 'system' ? 'system' : m.type === 'ai_response' ? 'ai' : m.type === 'user_voice' ? 'voice' : m.type.startsWith('x-') ? 'custom' : !m.userId ? 'app' : 'user';
  const base = { 'data-testid': 'message', 'data-type': m.type, 'data-seq': String(m.seq), 'data-user-id': m.userId || '' };
  if (kind === 'system' && !m.userId) {
    return h('li', { ...base, class: 'msg msg-system' },
      h('span', { class: 'msg-type', 'data-testid': 'message-type' }, 'system'),
      m.displayName && m.displayName !== 'system' ? h('bdi', { class: 'msg-name', 'data-testid': 'message-author' }, `${m.displayName}: `) : null,
      h('span', { class: 'msg-content', 'data-testid': 'message-content' }, systemText(sess, m)),
      h('time', { class: 'msg-time', datetime: new Date(m.createdAt).toISOString() }, fmtTime(m.createdAt)));
  }
  const color = kind === 'ai' ? '#a78bfa' : (m.userId && (sess.room.participants.get(m.userId)?.color || sess.colors.get(m.userId))) || colorFor(m.userId || m.displayName);
  const label = { ai: 'AI', voice: 'voice', system: 'host', custom: m.type, app: m.type }[kind];
  return h('li', { ...base, class: `msg msg-${kind}${mine ? ' is-mine' : ''}`, style: `--c:${color}` },
    h('span', { class: 'avatar avatar-sm msg-avatar' }, kind === 'ai' ? '✦' : initials(m.displayName)),
    h('div', { class: 'msg-bubble' },
      h('div', { class: 'msg-head' },
        h('span', { class: 'msg-author', 'data-testid': 'message-author' }, mine ? 'You' : m.displayName),
        label ? h('span', { class: `msg-type msg-type-${kind}`, 'data-testid': 'message-type' }, label) : null,
        h('time', { class: 'msg-time', datetime: new Date(m.createdAt).toISOString() }, fmtTime(m.createdAt))),
      h('div', { class: 'msg-content', 'data-testid': 'message-content' }, linkify(m.content))));
}

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

/**
 * Text with its http(s) URLs as links: built as text nodes and <a> elements (never markup),
 * only http and https, opening in a new tab without access to this page.
 */
function linkify(text) {
  const out = [];
  let last = 0;
  for (const m of String(text).matchAll(URL_RE)) {
    let url = m[0].replace(/[.,;:!?)\]}]+$/, ''); // trailing punctuation belongs to the sentence
    let href;
    try {
      href = new URL(url);
    } catch {
      continue;
    }
    if (href.protocol !== 'http:' && href.protocol !== 'https:') continue;
    out.push(text.slice(last, m.index));
    out.push(h('a', { href: href.href, target: '_blank', rel: 'noopener noreferrer nofollow', 'data-testid': 'message-link' }, url));
    last = m.index + url.length;
  }
  out.push(text.slice(last));
  return out;
}

el.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  sendMessage();
});

el.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    sendMessage();
  }
});

el.input.addEventListener('input', () => {
  autosize();
  updateCount();
  const sess = current;
  if (!sess?.room) return;
  if (!el.input.value.trim()) return setTyping(sess, false);
  const now = Date.now();
  if (now - sess.typingSentAt > TYPING_REFRESH_MS) setTyping(sess, true);
  clearTimeout(sess.typingStopTimer);
  sess.typingStopTimer = setTimeout(() => setTyping(sess, false), TYPING_STOP_MS);
});

el.input.addEventListener('blur', () => { if (current?.room) setTyping(current, false); });

function autosize() {
  el.input.style.height = 'auto';
  el.input.style.height = `${Math.min(el.input.scrollHeight, 160)}px`;
}

function setTyping(sess, on) {
  if (on) {
    sess.typingSentAt = Date.now();
    sess.typing = true;
  } else {
    clearTimeout(sess.typingStopTimer);
    if (!sess.typing) return;
    sess.typing = false;
    sess.typingSentAt = 0;
  }
  presence(sess, { typing: on });
}

function presence(sess, patch) {
  if (sess.client.state !== 'open') return;
  sess.room.setPresence(patch).catch(() => { /* best effort: presence is ephemeral */ });
}

/**
 * Every message goes through the room session's outbox: shown at once as pending, sent in
 * order while connected, kept while offline and sent once the connection is back. Each
 * carries a client id (metadata.clientId) so a message whose reply was lost in a drop is
 * recognised in the catch-up instead of being sent twice.
 */
function sendMessage() {
  const sess = current;
  if (!sess?.room) return;
  const text = el.input.value;
  if (!text.trim()) return;
  const n = utf8Bytes(text);
  if (n > MAX_MESSAGE_BYTES) {
    toast(`Too long to send: ${(n - MAX_MESSAGE_BYTES).toLocaleString('en-US')} over the limit of ${MAX_MESSAGE_BYTES.toLocaleString('en-US')}.`, 'error');
    return;
  }
  if (sess.outbox.length >= MAX_OUTBOX) {
    toast(`${MAX_OUTBOX} messages are already waiting for the connection: wait for it before writing more.`, 'warn');
    return;
  }
  el.input.value = '';
  autosize();
  updateCount();
  setTyping(sess, false);
  const item = { id: `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`, text };
  item.node = pendingNode(item);
  el.messages.append(item.node);
  scrollMessages(true);
  sess.outbox.push(item);
  flushOutbox(sess);
}

function pendingNode(item) {
  return h('li', {
    class: 'msg msg-user is-mine is-pending', 'data-testid': 'message', 'data-type': 'user_text',
    'data-seq': 'Infinity', 'data-pending': 'true', 'data-client-id': item.id,
    style: `--c:${session.user.color || colorFor(session.user.id)}`,
  },
  h('span', { class: 'avatar avatar-sm msg-avatar' }, initials(displayNameOf(session.user))),
  h('div', { class: 'msg-bubble' },
    h('div', { class: 'msg-head' },
      h('span', { class: 'msg-author', 'data-testid': 'message-author' }, 'You'),
      h('span', { class: 'msg-pending-state', 'data-testid': 'message-status' }, 'Waiting for the connection…')),
    h('div', { class: 'msg-content', 'data-testid': 'message-content' }, item.text)));
}

function setPendingState(item, state, text) {
  item.node.dataset.state = state;
  item.node.querySelector('[data-testid="message-status"]').textContent = text;
}

function dropFromOutbox(sess, item) {
  const i = sess.outbox.indexOf(item);
  if (i >= 0) sess.outbox.splice(i, 1);
}

/** Sends the outbox in order while the connection is open (one flush at a time). */
async function flushOutbox(sess) {
  if (sess.flushing) return;
  sess.flushing = true;
  try {
    while (sess.outbox.length && current === sess && sess.client.state === 'open') {
      const item = sess.outbox[0];
      const stored = (sess.room.messages || []).find((m) => m?.metadata?.clientId === item.id);
      let m = stored;
      if (!m) {
        setPendingState(item, 'sending', 'Sending…');
        try {
          m = await sess.room.send('user_text', item.text, { clientId: item.id });
        } catch (err) {
          if (current !== sess) return;
          if (err?.code === 'closed' || err?.code === 'timeout') {
            setPendingState(item, 'queued', 'Waiting for the connection…');
            return; // the next 'open' flushes again
          }
          dropFromOutbox(sess, item);
          item.node.dataset.pending = 'false';
          setPendingState(item, 'failed', `Not sent: ${friendlyError(err)}`);
          continue;
        }
      }
      if (current !== sess) return;
      dropFromOutbox(sess, item); // (the message event of the reply may have done it)
      item.node.remove();
      addMessage(sess, m);
    }
    if (current === sess) for (const item of sess.outbox) setPendingState(item, 'queued', 'Waiting for the connection…');
  } finally {
    sess.flushing = false;
  }
}

// ----- presence: cursors and typing

function onPresence(sess, p) {
  if (!p || p.userId === session.user.id) return;
  const full = p.presence || p.state || {};
  applyPresence(sess, p.userId, full, { changed: p.state || full });
  const part = sess.room.participants.get(p.userId);
  if (part && !p.presence) part.presence = { ...(part.presence || {}), ...full };
  renderParticipants(sess);
  renderTyping(sess);
}

function applyPresence(sess, userId, pres, { changed = pres, initial = false } = {}) {
  const part = sess.room.participants.get(userId);
  if (pres.idle === true || (part && !part.online)) {
    hideCursor(sess, userId);
    return;
  }
  if ('cursor' in changed || initial) {
    const c = pres.cursor;
    if (c && Number.isFinite(c.x) && Number.isFinite(c.y)) {
      if (!initial) moveCursor(sess, userId, c.x, c.y);
    } else {
      hideCursor(sess, userId);
    }
  }
}

function moveCursor(sess, userId, x, y) {
  let c = sess.cursors.get(userId);
  const part = sess.room.participants.get(userId);
  const name = part?.displayName || 'Someone';
  const color = part?.color || sess.colors.get(userId) || colorFor(userId);
  if (!c) {
    const node = h('div', { class: 'cursor is-hidden', 'data-testid': 'cursor', 'data-user-id': userId },
      cursorSvg(),
      h('span', { class: 'cursor-label', 'data-testid': 'cursor-label' }, name));
    el.cursors.append(node);
    c = { node, last: 0 };
    sess.cursors.set(userId, c);
  }
  c.node.style.setProperty('--c', color);
  c.node.querySelector('.cursor-label').textContent = name;
  const fx = Math.min(1, Math.max(0, x));
  const fy = Math.min(1, Math.max(0, y));
  c.node.style.left = `${fx * 100}%`;
  c.node.style.top = `${fy * 100}%`;
  c.node.classList.toggle('flip', fx > 0.85);
  c.node.classList.toggle('flip-y', fy > 0.93);
  c.last = Date.now();
  c.node.classList.remove('is-hidden');
  c.node.dataset.hidden = 'false';
}

function hideCursor(sess, userId) {
  const c = sess.cursors.get(userId);
  if (!c) return;
  c.node.classList.add('is-hidden');
  c.node.dataset.hidden = 'true';
}

function removeCursor(sess, userId) {
  const c = sess.cursors.get(userId);
  if (!c) return;
  c.node.remove();
  sess.cursors.delete(userId);
}

function sweepCursors(sess) {
  const now = Date.now();
  for (const [userId, c] of sess.cursors) {
    if (c.node.dataset.hidden !== 'true' && now - c.last > CURSOR_HIDE_MS) hideCursor(sess, userId);
  }
}

function renderTyping(sess) {
  const live = sess.client.state === 'open';
  const names = participantList(sess)
    .filter((p) => p.userId !== session.user.id && live && p.online && p.presence?.typing === true)
    .map((p) => p.displayName);
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing`;
  else if (names.length > 2) text = `${names.length} people are typing`;
  el.typing.replaceChildren(...(text ? [h('span', { class: 'typing-dots' }, h('i'), h('i'), h('i')), h('span', { 'data-testid': 'typing-text' }, `${text}…`)] : []));
  el.typing.classList.toggle('is-active', !!text);
}

el.area.addEventListener('pointermove', (e) => {
  const sess = current;
  if (!sess?.room || sess.tab !== 'chat') return;
  const r = el.area.getBoundingClientRect();
  if (!r.width || !r.height) return;
  const x = Math.round(((e.clientX - r.left) / r.width) * 10000) / 10000;
  const y = Math.round(((e.clientY - r.top) / r.height) * 10000) / 10000;
  queueCursor(sess, { x: Math.min(1, Math.max(0, x)), y: Math.min(1, Math.max(0, y)) });
});

el.area.addEventListener('pointerleave', () => {
  if (current?.room) queueCursor(current, null);
});

function queueCursor(sess, cursor) {
  sess.pendingCursor = cursor;
  if (sess.cursorTimer) return;
  const wait = Math.max(0, sess.lastCursorSent + CURSOR_SEND_MS - Date.now());
  sess.cursorTimer = setTimeout(() => {
    sess.cursorTimer = null;
    sess.lastCursorSent = Date.now();
    if (current === sess && sess.pendingCursor !== undefined) presence(sess, { cursor: sess.pendingCursor });
    sess.pendingCursor = undefined;
  }, wait);
}

// ----- the shared editor (Chat | Editor tabs)

const EDITOR_DOC = 'main';

/** Someone with a cursor in the room's editor (room presence carries {docs: {main: …}}). */
function inEditor(p) {
  return !!(p.online && p.presence?.docs && p.presence.docs[EDITOR_DOC]);
}

function showTab(tab) {
  for (const t of el.tabs) {
    const on = t.dataset.tab === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
  }
  el.chatPanel.hidden = tab !== 'chat';
  el.editorPanel.hidden = tab !== 'editor';
  el.cosmosPanel.hidden = tab !== 'cosmos';
  el.area.dataset.tab = tab;
}

function setTab(sess, tab) {
  const was = sess.tab;
  sess.tab = tab;
  showTab(tab);
  // What the tab we leave shows of us to others: the chat's pointer arrow, the editor's
  // caret, the cosmos marker.
  if (was === 'chat') {
    queueCursor(sess, null);
    setTyping(sess, false);
  } else if (was === 'editor') {
    sess.editor?.hidePresence();
  } else if (was === 'cosmos') {
    sess.cosmos?.setActive(false);
  }
  if (tab === 'chat') {
    sess.unread = 0;
    el.unread.hidden = true;
    scrollMessages(true);
    el.input.focus({ preventScroll: true });
  } else if (tab === 'editor') {
    openEditor(sess);
  } else if (tab === 'cosmos') {
    openCosmos(sess);
  }
}

for (const t of el.tabs) {
  t.addEventListener('click', () => { if (current?.room && current.tab !== t.dataset.tab) setTab(current, t.dataset.tab); });
  t.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    const i = el.tabs.indexOf(t);
    const next = el.tabs[(i + (e.key === 'ArrowRight' ? 1 : el.tabs.length - 1)) % el.tabs.length];
    next.focus();
    next.click();
  });
}

/** Opens the room's document and the editor on it (once per room session). */
async function openEditor(sess) {
  if (sess.editor) {
    sess.editor.showPresence();
    sess.editor.focus();
    return;
  }
  if (sess.editorOpening) return;
  el.editorLoading.hidden = false;
  el.editorLoading.lastElementChild.textContent = 'Opening the shared document…';
  el.editorStatus.dataset.state = 'loading';
  el.editorStatus.textContent = 'Opening…';
  sess.editorOpening = (async () => {
    let mod;
    let doc;
    try {
      [mod, doc] = await Promise.all([import('./editor.js'), sess.room.doc(EDITOR_DOC)]);
    } catch (err) {
      if (current !== sess) return;
      sess.editorOpening = null;
      if (err?.code === 'closed' || err?.code === 'timeout') {
        // The connection is down: onConnection opens it when it is back.
        el.editorLoading.lastElementChild.textContent = 'Offline: the document opens when the connection is back…';
        el.editorStatus.dataset.state = 'offline';
        el.editorStatus.textContent = 'Offline';
        return;
      }
      const msg = err?.code ? friendlyError(err) : 'the editor could not be loaded (was `make web` run?)';
      el.editorLoading.lastElementChild.textContent = `Couldn’t open the editor: ${msg}`;
      el.editorStatus.dataset.state = 'error';
      el.editorStatus.textContent = 'Unavailable';
      el.editorLoading.querySelector('.spinner').hidden = true;
      return;
    }
    if (current !== sess) {
      doc.close().catch(() => {});
      return;
    }
    sess.doc = doc;
    el.editorLoading.hidden = true;
    el.editorHost.replaceChildren();
    sess.editor = mod.mountEditor(el.editorHost, doc, {
      onError: () => { if (current === sess) renderEditorStatus(sess); },
    });
    const status = () => { if (current === sess) renderEditorStatus(sess); };
    sess.offs.push(doc.on('change', status), doc.on('synced', status), doc.on('cursors', () => { if (current === sess) renderEditorPresence(sess); }));
    sess.offs.push(doc.on('error', (err) => {
      if (current === sess) toast(`Editor: ${friendlyError(err)}`, 'error');
    }));
    // For tests and debugging: the live CodeMirror view and the Doc.
    window.chorusEditor = { view: sess.editor.view, doc };
    renderEditorStatus(sess);
    renderEditorPresence(sess);
    if (sess.tab === 'editor') {
      sess.editor.showPresence();
      sess.editor.focus();
    } else {
      sess.editor.hidePresence();
    }
  })();
  await sess.editorOpening;
}

function closeEditor(sess) {
  if (sess.editor) {
    sess.editor.destroy();
    sess.editor = null;
  }
  if (sess.doc) {
    sess.doc.close().catch(() => {});
    sess.doc = null;
  }
  sess.editorOpening = null;
  if (window.chorusEditor) delete window.chorusEditor;
  el.editorHost.replaceChildren();
  el.editorPresence.replaceChildren();
  el.editorLoading.hidden = false;
  el.editorLoading.querySelector('.spinner').hidden = false;
}

function renderEditorStatus(sess) {
  const doc = sess.doc;
  if (!doc) return;
  let state;
  let text;
  if (sess.client.state !== 'open') {
    state = 'offline';
    text = doc.state === 'synchronized' ? 'Offline' : 'Offline: edits kept';
  } else if (doc.state === 'synchronized') {
    state = 'saved';
    text = 'Saved';
  } else {
    state = 'saving';
    text = 'Saving…';
  }
  el.editorStatus.dataset.state = state;
  el.editorStatus.textContent = text;
  el.editorStatus.title = `Version ${doc.version}`;
}

function renderEditorPresence(sess) {
  const doc = sess.doc;
  if (!doc) return;
  const people = [...doc.cursors.values()].filter((c) => c && c.userId !== session.user.id);
  el.editorPresence.replaceChildren(...people.slice(0, 6).map((c) => h('span', {
    class: 'avatar avatar-xs', style: `--c:${c.color || colorFor(c.userId)}`, title: `${c.name} is here`,
    'data-testid': 'editor-person', 'data-user-id': c.userId,
  }, initials(c.name))));
}

// ----- the shared cosmos (Cosmos tab): the room's entries as a 3D scene

function participantColor(sess, userId) {
  return sess.room?.participants.get(userId)?.color || sess.colors.get(userId) || colorFor(userId);
}

function participantName(sess, userId) {
  if (userId === session.user.id) return 'You';
  return sess.room?.participants.get(userId)?.displayName || 'Someone';
}

function renderCosmosCount(sess) {
  if (!sess.room) return;
  let n = 0;
  for (const e of sess.room.entities.values()) if (e.kind === 'entry') n++;
  el.cosmosCount.hidden = n === 0;
  el.cosmosCount.textContent = String(n);
  el.cosmosCount.title = `${n} ${n === 1 ? 'entry' : 'entries'} in the cosmos`;
}

function cosmosStatus(text, kind = '') {
  el.cosmosStatus.textContent = text || '';
  el.cosmosStatus.dataset.kind = kind;
}

/** Loads three.js and mounts the scene (once per room session); shows it. */
async function openCosmos(sess) {
  if (sess.cosmos) {
    sess.cosmos.setActive(true);
    return;
  }
  if (sess.cosmosOpening) return;
  el.cosmosLoading.hidden = false;
  el.cosmosLoading.querySelector('.spinner').hidden = false;
  el.cosmosLoading.lastElementChild.textContent = 'Opening the cosmos…';
  sess.cosmosOpening = (async () => {
    let mod;
    try {
      mod = await import('./cosmos.js');
    } catch {
      if (current !== sess) return;
      sess.cosmosOpening = null;
      el.cosmosLoading.lastElementChild.textContent = 'Couldn’t load the cosmos view (was `make web` run?)';
      el.cosmosLoading.querySelector('.spinner').hidden = true;
      return;
    }
    if (current !== sess) return;
    el.cosmosLoading.hidden = true;
    sess.cosmos = mod.mountCosmos(el.cosmosHost, sess.room, {
      me: session.user.id,
      colorOf: (userId) => participantColor(sess, userId),
      nameOf: (userId) => participantName(sess, userId),
      setPresence: (patch) => { if (current === sess) presence(sess, patch); },
      onStatus: (text, kind) => { if (current === sess) cosmosStatus(text, kind); },
      confirm: (title, body) => openDialog({ title, body, confirmText: 'Delete', danger: true, testid: 'cosmos-delete' }),
      describeError: friendlyError,
      bodies: { asset: assetBody(sess.room) }, // files placed in the cosmos (web/upload.js)
    });
    // For tests and debugging: the logical scene (works without WebGL too).
    window.__cosmos = sess.cosmos.state;
    sess.history?.cosmosReady(); // the history slider's moment, when it shows one
    sess.call?.setCosmos(sess.cosmos);
    sess.cosmos.setActive(sess.tab === 'cosmos');
  })();
  await sess.cosmosOpening;
}

// ----- the room's call (web/rtc.js): voice, video, screen sharing

async function openCall(sess) {
  const mod = await import('./rtc.js');
  if (current !== sess) return;
  sess.call = mod.mountCall($('.room-actions'), el.area, sess.room, {
    me: session.user.id,
    nameOf: (userId) => participantName(sess, userId),
    onError: (e) => toast(friendlyError(e), 'error'),
  });
  window.__call = sess.call.state; // for tests and debugging
  if (sess.cosmos) sess.call.setCosmos(sess.cosmos);
}

function closeCosmos(sess) {
  sess.call?.setCosmos(null);
  if (sess.cosmos) {
    sess.cosmos.destroy();
    sess.cosmos = null;
  }
  sess.cosmosOpening = null;
  if (window.__cosmos) delete window.__cosmos;
  el.cosmosHost.replaceChildren();
  el.cosmosLoading.hidden = false;
  el.cosmosText.value = '';
  cosmosStatus('');
}

el.cosmosForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const sess = current;
  if (!sess?.cosmos) return;
  const text = el.cosmosText.value.trim();
  if (!text) {
    cosmosStatus('Write something first.', 'error');
    return;
  }
  if (sess.client.state !== 'open') {
    cosmosStatus('Not connected: try again when the connection is back.', 'error');
    return;
  }
  el.cosmosText.value = '';
  el.cosmosCreate.disabled = true;
  try {
    await sess.cosmos.createEntry(text);
  } catch (err) {
    if (current === sess) {
      cosmosStatus(`Couldn’t add the entry: ${friendlyError(err)}`, 'error');
      if (!el.cosmosText.value) el.cosmosText.value = text;
    }
  } finally {
    el.cosmosCreate.disabled = false;
  }
});

// ----- room controls

el.copyCode.addEventListener('click', () => current?.room && copyWithToast(current.room.code || current.code, 'Room code copied', el.copyCode));
el.share.addEventListener('click', () => {
  if (!current?.room) return;
  const info = current.room.info || {};
  copyWithToast(shareLink({ joinLink: info.joinLink, roomCode: current.room.code || current.code }), 'Invite link copied', el.share);
});
el.leave.addEventListener('click', () => requestLeave());
el.back.addEventListener('click', () => backToLobby());
el.settings.addEventListener('click', () => openSettings());
// A long name is ellipsized; a tap (touch has no hover for its title) shows it whole.
el.name.addEventListener('click', () => el.name.classList.toggle('is-expanded'));
$('[data-testid="room-full-dismiss"]').addEventListener('click', () => {
  if (current) current.fullDismissed = true;
  el.full.hidden = true;
});

/** Back to the lobby, keeping the seat (members and hosts alike); leaving is requestLeave. */
function backToLobby() {
  leaveRoomSession();
  navigate(lobbyUrl());
}

async function requestLeave() {
  const sess = current;
  if (!sess) return navigate(lobbyUrl());
  if (!sess.room) {
    leaveRoomSession();
    return navigate(lobbyUrl());
  }
  const name = sess.room.info?.name || sess.code;
  if (isHost(sess)) {
    const ok = await openDialog({
      title: 'Exit the room?',
      body: `You host “${name}”. Hosts keep their seat: the room stays open and you can come back with the code. To close it for everyone, delete it from Settings.`,
      confirmText: 'Exit to lobby',
      testid: 'leave',
    });
    if (!ok || current !== sess) return;
    leaveRoomSession();
    navigate(lobbyUrl());
    return;
  }
  const ok = await openDialog({
    title: 'Leave this room?',
    body: `You’ll give up your seat in “${name}”. You can join again with the code while there’s room.`,
    confirmText: 'Leave room',
    danger: true,
    testid: 'leave',
  });
  if (!ok || current !== sess) return;
  try {
    await sess.room.leave();
  } catch (err) {
    if (err?.code !== 'closed' && err?.code !== 'not_found') {
      toast(`Couldn’t leave: ${friendlyError(err)}`, 'error');
      return;
    }
  }
  if (current !== sess) return;
  leaveRoomSession();
  navigate(lobbyUrl());
  toast(`You left “${name}”.`);
}

async function requestKick(sess, p) {
  const ban = h('input', { type: 'checkbox', 'data-testid': 'kick-ban' });
  const body = h('div', {},
    h('p', {}, `${p.displayName} will be removed from the room.`),
    h('label', { class: 'check' }, ban, h('span', {}, 'Also ban them (they can’t join again)')));
  const ok = await openDialog({ title: `Remove ${p.displayName}?`, body, confirmText: 'Remove', danger: true, testid: 'kick' });
  if (!ok || current !== sess) return;
  try {
    await sess.client.kick(sess.room.id, p.userId, ban.checked);
    toast(`${p.displayName} was removed${ban.checked ? ' and banned' : ''}.`);
  } catch (err) {
    toast(`Couldn’t remove ${p.displayName}: ${friendlyError(err)}`, 'error');
  }
}

async function openSettings() {
  const sess = current;
  if (!sess?.room || !isHost(sess)) return;
  const info = sess.room.info || {};
  const curMode = typeof sess.mode === 'string' ? sess.mode : '';
  const modes = curMode && !MODES.includes(curMode) ? [curMode, ...MODES] : MODES;
  const name = h('input', { value: info.name || '', maxlength: '100', 'data-testid': 'settings-name', autocomplete: 'off' });
  const capacity = h('input', {
    type: 'number', inputmode: 'numeric', min: '1', max: String(MAX_CAPACITY), value: String(info.maxParticipants ?? ''),
    'data-testid': 'settings-capacity',
  });
  const isPublic = h('input', { type: 'checkbox', 'data-testid': 'settings-public' });
  isPublic.checked = !!info.isPublic;
  const select = h('select', { 'data-testid': 'mode-select', class: 'select' },
    h('option', { value: '' }, 'No mode'),
    ...modes.map((m) => h('option', { value: m, selected: m === curMode ? '' : undefined }, m)));
  const modeHint = h('p', { class: 'muted small', 'data-testid': 'mode-hint' });
  const showHint = () => { modeHint.textContent = MODE_HINTS[select.value] || 'No mode: the room has no particular tone.'; };
  select.addEventListener('change', showHint);
  showHint();
  const err = h('p', { class: 'form-error', 'data-testid': 'settings-error', hidden: true });
  const bans = h('ul', { class: 'bans', 'data-testid': 'bans-list' }, h('li', { class: 'muted small' }, 'Loading…'));
  const del = h('button', { class: 'btn btn-danger-ghost btn-sm', type: 'button', 'data-testid': 'delete-room' }, 'Delete room…');
  const body = h('div', { class: 'settings' },
    h('label', { class: 'field' }, h('span', {}, 'Room name'), name),
    h('label', { class: 'field' }, h('span', {}, 'Capacity'), capacity),
    h('label', { class: 'check' }, isPublic, h('span', {}, 'Public (listed in the lobby for everyone)')),
    h('label', { class: 'field' }, h('span', {}, 'Room mode'), select),
    modeHint,
    h('p', { class: 'muted small' }, 'A mode tells everyone how the room is meant to be used; they see it change at once.'),
    err,
    h('div', { class: 'field' }, h('span', {}, 'Banned'), bans),
    h('div', { class: 'danger-zone' }, h('div', {}, h('strong', {}, 'Delete room'), h('p', { class: 'muted small' }, 'Removes the room, its people and its messages for everyone.')), del));
  loadBans(sess, bans);
  let wantDelete = false;
  del.addEventListener('click', () => { wantDelete = true; closeDialogIfOpen(false); });
  for (;;) {
    const ok = await openDialog({ title: 'Room settings', body, confirmText: 'Save', testid: 'settings' });
    if (current !== sess) return;
    if (wantDelete) return requestDelete(sess);
    if (!ok) return;
    const fail = (input, text) => { err.hidden = false; err.textContent = text; input?.focus(); };
    const newName = name.value.trim();
    const capRaw = capacity.value.trim();
    const cap = Number(capRaw);
    const seats = sess.room.participantCount;
    if (!newName) { fail(name, 'Give the room a name.'); continue; }
    if ([...newName].length > 100) { fail(name, 'Room names have at most 100 characters.'); continue; }
    if (!capRaw || !Number.isInteger(cap) || cap < 1 || cap > MAX_CAPACITY) {
      fail(capacity, `Capacity must be a whole number between 1 and ${MAX_CAPACITY}.`);
      continue;
    }
    if (cap < seats) { fail(capacity, capacityBelow(seats)); continue; }
    err.hidden = true;
    const now = sess.room.info || {};
    const patch = {};
    if (newName !== now.name) patch.name = newName;
    if (cap !== now.maxParticipants) patch.maxParticipants = cap;
    if (isPublic.checked !== !!now.isPublic) patch.isPublic = isPublic.checked;
    if (Object.keys(patch).length) {
      try {
        await sess.room.updateSettings(patch);
        if (current !== sess) return;
        renderRoomInfo(sess);
        renderParticipants(sess);
        toast('Room settings saved', 'ok');
      } catch (e) {
        if (current !== sess) return;
        if (e?.code === 'capacity_below_participants') fail(capacity, capacityBelow(sess.room.participantCount));
        else fail(null, `Couldn’t save the settings: ${friendlyError(e)}`);
        continue;
      }
    }
    const mode = select.value;
    if (mode === curMode) return;
    try {
      const res = await sess.room.updateState({ mode: mode || null });
      renderMode(sess, res?.state?.mode ?? (mode || null));
      toast(mode ? `Mode set to ${mode}` : 'Mode cleared', 'ok');
    } catch (e) {
      toast(`Couldn’t change the mode: ${friendlyError(e)}`, 'error');
    }
    return;
  }
}

const capacityBelow = (seats) =>
  `${seats} ${seats === 1 ? 'person holds a seat' : 'people hold a seat'}: the capacity can’t be lower. Remove someone first.`;

/** Fills list with the room's bans (host only), each with an Unban button. */
async function loadBans(sess, list) {
  let bans;
  try {
    bans = await sess.client.bans(sess.room.id);
  } catch (e) {
    list.replaceChildren(h('li', { class: 'form-error' }, `Couldn’t load the bans: ${friendlyError(e)}`));
    return;
  }
  const empty = () => h('li', { class: 'muted small', 'data-testid': 'bans-empty' }, 'Nobody is banned.');
  if (!bans.length) return list.replaceChildren(empty());
  list.replaceChildren(...bans.map((b) => {
    const btn = h('button', { class: 'btn btn-ghost btn-sm', type: 'button', 'data-testid': 'unban-button' }, 'Unban');
    const row = h('li', { class: 'ban', 'data-testid': 'ban-row', 'data-user-id': b.userId, style: `--c:${b.color || colorFor(b.userId)}` },
      h('span', { class: 'avatar avatar-sm' }, initials(b.displayName)),
      h('span', { class: 'ban-text' },
        h('span', { class: 'ban-name', 'data-testid': 'ban-name', title: b.displayName }, b.displayName),
        h('span', { class: 'muted small' }, `banned ${new Date(b.bannedAt).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })}`)),
      btn);
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        await sess.client.unban(sess.room.id, b.userId);
        row.remove();
        if (!list.children.length) list.replaceChildren(empty());
        toast(`${b.displayName} can join again.`, 'ok');
      } catch (e) {
        btn.disabled = false;
        toast(`Couldn’t unban ${b.displayName}: ${friendlyError(e)}`, 'error');
      }
    });
    return row;
  }));
}

async function requestDelete(sess) {
  const name = sess.room.info?.name || sess.code;
  const ok = await openDialog({
    title: `Delete “${name}”?`,
    body: 'Everyone is removed and the messages are deleted. This can’t be undone.',
    confirmText: 'Delete room', danger: true, testid: 'delete',
  });
  if (!ok || current !== sess) return;
  sess.deleting = true;
  try {
    await sess.client.deleteRoom(sess.room.id);
    leaveRoomSession();
    navigate(lobbyUrl());
    toast(`“${name}” was deleted.`);
  } catch (err) {
    sess.deleting = false;
    toast(`Couldn’t delete the room: ${friendlyError(err)}`, 'error');
  }
}

function closeDialogIfOpen(result = false) {
  const bd = $('[data-testid="dialog-backdrop"]');
  if (!bd.hidden && bd._close) bd._close(result);
}

// ----- icons

function svg(markup, cls) {
  const t = document.createElement('template');
  t.innerHTML = markup.trim();
  const node = t.content.firstChild;
  if (cls) node.classList.add(cls);
  return node;
}
const crownSvg = () => svg('<svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true"><path fill="currentColor" d="M3 7l4.5 4L12 4l4.5 7L21 7l-2 12H5L3 7z"/></svg>');
const copySvg = () => svg('<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"><rect x="8" y="8" width="12" height="12" rx="2" fill="none" stroke="currentColor" stroke-width="2"/><path d="M16 8V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h2" fill="none" stroke="currentColor" stroke-width="2"/></svg>');
const linkSvg = () => svg('<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"><path d="M10 14a4 4 0 0 0 5.66 0l3-3a4 4 0 0 0-5.66-5.66l-1 1M14 10a4 4 0 0 0-5.66 0l-3 3a4 4 0 0 0 5.66 5.66l1-1" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>');
const cursorSvg = () => svg('<svg class="cursor-arrow" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true"><path d="M4 2l16 9.5-7 1.6-3.6 6.9z" fill="var(--c)" stroke="#fff" stroke-width="1.5" stroke-linejoin="round"/></svg>');

// ---------------------------------------------------------------- start

renderTopbar();
setAuthMode(session ? 'login' : 'register');
route();
if (session) {
  // Check the stored token in the background; an expired one sends us to sign-in.
  api().me().then((user) => {
    if (session && user && user.id === session.user.id) saveSession({ ...session, user: { ...session.user, ...user } });
  }).catch((err) => {
    if (err?.code === 'unauthorized' && session) sessionExpired();
  });
}
