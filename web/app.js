// Chorus web app: sign-in, the lobby (spaces) and a room with live presence.
// Vanilla ES module on top of the Chorus SDK (./lib/chorus.js, copied there by `make web`).
import { Chorus } from './lib/chorus.js';
import { $, h, copyText, toast, openDialog, colorFor, initials, fmtTime, friendlyError } from './ui.js';

const STORAGE_KEY = 'chorus.session';
const CODE_RE = /^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{6}$/;
const MODES = ['chill', 'focus', 'brainstorm', 'debate', 'playful'];
const CURSOR_HIDE_MS = 5000;      // a remote cursor without movement fades out after this
const CURSOR_SEND_MS = 33;        // ~30 presence updates a second at most
const TYPING_REFRESH_MS = 3000;   // re-send typing:true while typing (the server expires it after 5 s)
const TYPING_STOP_MS = 4000;      // no keystroke for this long: typing:false

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
  if (!session) return;
  const name = displayNameOf(session.user);
  const color = session.user.color || colorFor(session.user.id);
  const av = me.querySelector('[data-role="me-avatar"]');
  av.textContent = initials(name);
  av.style.setProperty('--c', color);
  me.querySelector('[data-role="me-name"]').textContent = name;
}

$('[data-testid="signout"]').addEventListener('click', () => {
  api().logout().catch(() => {}); // revokes the token on the server; signing out here does not wait
  leaveRoomSession();
  saveSession(null);
  navigate(lobbyUrl());
  toast('Signed out');
});

$('[data-testid="brand"]').addEventListener('click', (e) => {
  e.preventDefault();
  if (current) requestLeave();
  else navigate(lobbyUrl());
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
}

authForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const email = authForm.email.value.trim();
  const password = authForm.password.value;
  const username = authForm.username.value.trim();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return formError('auth-error', 'Enter a valid email address.');
  if (authMode === 'register') {
    if (!username) return formError('auth-error', 'Choose a username.');
    if ([...username].length > 32) return formError('auth-error', 'Usernames have at most 32 characters.');
    if (password.length < 8) return formError('auth-error', 'Passwords have at least 8 characters.');
  } else if (!password) {
    return formError('auth-error', 'Enter your password.');
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
      h('span', { class: 'room-item-name' }, r.name, isHost ? h('span', { class: 'crown', title: 'You host this room' }, crownSvg()) : null),
      h('span', { class: 'room-item-meta' },
        h('span', { class: 'mono' }, r.roomCode),
        h('span', { class: `count${full ? ' is-full' : ''}` }, `${r.participantCount}/${r.maxParticipants}`),
        r.onlineCount ? h('span', { class: 'online-count' }, h('i', { class: 'dot dot-on' }), `${r.onlineCount} online`) : null)),
      h('span', { class: 'room-item-actions' },
        h('button', { class: 'btn btn-icon', type: 'button', title: 'Copy code', 'aria-label': `Copy code ${r.roomCode}`, 'data-testid': 'room-copy-code', onclick: () => copyWithToast(r.roomCode, 'Room code copied') }, copySvg()),
        h('button', { class: 'btn btn-icon', type: 'button', title: 'Copy share link', 'aria-label': 'Copy share link', 'data-testid': 'room-share-link', onclick: () => copyWithToast(shareLink(r), 'Link copied') }, linkSvg()))));
  }
  empty.hidden = rooms.length > 0;
  if (err && !rooms.length) {
    empty.hidden = false;
    empty.textContent = `Couldn’t load rooms: ${friendlyError(err)}`;
  }
}

createForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = createForm.name.value.trim();
  const capRaw = createForm.capacity.value.trim();
  const cap = Number(capRaw);
  if (!name) return formError('create-error', 'Give the room a name.');
  if ([...name].length > 100) return formError('create-error', 'Room names have at most 100 characters.');
  if (!capRaw || !Number.isInteger(cap)) return formError('create-error', 'Capacity must be a whole number.');
  if (cap < 1 || cap > 50) return formError('create-error', 'Capacity must be between 1 and 50.');
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
  if (code.length !== 6) return formError('join-error', 'Room codes have exactly 6 characters.');
  if (!CODE_RE.test(code)) return formError('join-error', 'That isn’t a valid room code (codes never use 0, 1, I or O).');
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
    cosmos: null, cosmosOpening: null,
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
    room = await client.join(code, { displayName: displayNameOf(session.user) });
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
  wireRoom(sess);
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
  updateComposer(sess);
  renderEditorStatus(sess);
}

function updateComposer(sess) {
  const open = sess.client.state === 'open';
  el.send.disabled = !open;
  el.input.placeholder = open ? 'Write a message…' : 'Waiting for the connection…';
}

function wireRoom(sess) {
  const { room } = sess;
  const on = (ev, fn) => sess.offs.push(room.on(ev, (p) => { if (current === sess) fn(p); }));
  on('message', (m) => addMessage(sess, m));
  on('participant_joined', () => renderParticipants(sess));
  on('participant_left', (p) => {
    renderParticipants(sess);
    if (p && p.reason !== 'disconnected') removeCursor(sess, p.userId);
    else if (p) hideCursor(sess, p.userId);
    renderTyping(sess);
  });
  on('participant_removed', (p) => { renderParticipants(sess); if (p) removeCursor(sess, p.userId); renderTyping(sess); });
  on('presence', (p) => onPresence(sess, p));
  on('state', (s) => renderMode(sess, s?.currentMode ?? s?.state?.mode));
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
  on('room_deleted', () => {
    leaveRoomSession();
    navigate(lobbyUrl(), { replace: true });
    toast('This room was deleted.', 'warn', 6000);
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
  closeEditor(sess);
  closeCosmos(sess);
  try { sess.client.close(); } catch { /* ignore */ }
  el.messages.replaceChildren();
  el.participants.replaceChildren();
  el.cursors.replaceChildren();
  el.typing.textContent = '';
  el.input.value = '';
  showTab('chat');
  el.unread.hidden = true;
  el.editorPeople.hidden = true;
  el.cosmosCount.hidden = true;
  $('[data-testid="reconnect-banner"]').hidden = true;
  closeDialogIfOpen();
}

function renderRoomAll(sess) {
  const { room } = sess;
  const info = room.info || {};
  el.name.textContent = info.name || sess.code;
  document.title = `${info.name || sess.code} · Chorus`;
  el.code.textContent = room.code || info.roomCode || sess.code;
  el.visibility.textContent = info.isPublic ? 'Public' : 'Private';
  el.settings.hidden = !isHost(sess);
  renderMode(sess, room.state?.mode ?? info.currentMode);
  renderParticipants(sess);
  for (const m of room.messages || []) addMessage(sess, m, { batch: true });
  scrollMessages(true);
  for (const p of room.participants.values()) {
    if (p.userId !== session.user.id) applyPresence(sess, p.userId, p.presence || {}, { initial: true });
  }
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
  el.count.textContent = max ? `${list.length}/${max}` : String(list.length);
  const full = max > 0 && list.length >= max;
  el.count.classList.toggle('is-full', full);
  el.full.hidden = !full;
  const editors = list.filter((p) => p.userId !== session.user.id && inEditor(p)).length;
  el.editorPeople.hidden = editors === 0;
  el.editorPeople.textContent = String(editors);
  el.editorPeople.title = `${editors} ${editors === 1 ? 'person' : 'people'} in the editor`;
  el.participants.replaceChildren(...list.map((p) => {
    const you = p.userId === session.user.id;
    const idle = p.presence?.idle === true;
    const typing = p.presence?.typing === true && p.online && !you;
    const editing = !you && inEditor(p);
    const status = !p.online ? 'offline' : typing ? 'typing…' : idle ? 'idle' : editing ? 'in the editor' : 'online';
    return h('li', {
      class: `participant${you ? ' is-you' : ''}${p.online ? ' is-online' : ' is-offline'}${idle ? ' is-idle' : ''}`,
      'data-testid': 'participant', 'data-user-id': p.userId, 'data-online': String(!!p.online),
      'data-role': p.role, 'data-you': String(you), style: `--c:${p.color || colorFor(p.userId)}`,
    },
    h('span', { class: 'avatar' }, initials(p.displayName),
      h('i', { class: `dot ${p.online ? (idle ? 'dot-idle' : 'dot-on') : 'dot-off'}`, 'data-testid': 'online-dot', title: status })),
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
  const stick = nearBottom();
  const node = messageNode(sess, m);
  // Keep seq order even if a late one arrives (catch-up after a reconnect).
  let before = null;
  for (let n = el.messages.lastElementChild; n; n = n.previousElementSibling) {
    if (Number(n.dataset.seq) > m.seq) before = n;
    else break;
  }
  el.messages.insertBefore(node, before);
  if (!batch) scrollMessages(stick || m.userId === session.user.id);
  if (!batch && sess.tab !== 'chat' && m.userId !== session.user.id) {
    sess.unread++;
    el.unread.textContent = sess.unread > 99 ? '99+' : String(sess.unread);
    el.unread.hidden = false;
  }
}

function messageNode(sess, m) {
  const mine = m.userId && m.userId === session.user.id;
  const kind = m.type === 'system' ? 'system' : m.type === 'ai_response' ? 'ai' : m.type === 'user_voice' ? 'voice' : m.type.startsWith('x-') ? 'custom' : 'user';
  const base = { 'data-testid': 'message', 'data-type': m.type, 'data-seq': String(m.seq), 'data-user-id': m.userId || '' };
  if (kind === 'system' && !m.userId) {
    return h('li', { ...base, class: 'msg msg-system' },
      h('span', { class: 'msg-type', 'data-testid': 'message-type' }, 'system'),
      h('span', { class: 'msg-content', 'data-testid': 'message-content' }, m.content),
      h('time', { class: 'msg-time', datetime: new Date(m.createdAt).toISOString() }, fmtTime(m.createdAt)));
  }
  const color = kind === 'ai' ? '#a78bfa' : (m.userId && (sess.room.participants.get(m.userId)?.color || sess.colors.get(m.userId))) || colorFor(m.userId || m.displayName);
  const label = { ai: 'AI', voice: 'voice', system: 'host', custom: m.type }[kind];
  return h('li', { ...base, class: `msg msg-${kind}${mine ? ' is-mine' : ''}`, style: `--c:${color}` },
    h('span', { class: 'avatar avatar-sm msg-avatar' }, kind === 'ai' ? '✦' : initials(m.displayName)),
    h('div', { class: 'msg-bubble' },
      h('div', { class: 'msg-head' },
        h('span', { class: 'msg-author', 'data-testid': 'message-author' }, mine ? 'You' : m.displayName),
        label ? h('span', { class: `msg-type msg-type-${kind}`, 'data-testid': 'message-type' }, label) : null,
        h('time', { class: 'msg-time', datetime: new Date(m.createdAt).toISOString() }, fmtTime(m.createdAt))),
      h('div', { class: 'msg-content', 'data-testid': 'message-content' }, m.content)));
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

async function sendMessage() {
  const sess = current;
  if (!sess?.room) return;
  const text = el.input.value;
  if (!text.trim() || sess.sending) return;
  if (sess.client.state !== 'open') {
    toast('Not connected: your message will be ready to send when the connection is back.', 'warn');
    return;
  }
  sess.sending = true;
  el.input.value = '';
  autosize();
  setTyping(sess, false);
  try {
    const m = await sess.room.send('user_text', text);
    if (current === sess) addMessage(sess, m);
  } catch (err) {
    if (current === sess && !el.input.value) {
      el.input.value = text;
      autosize();
    }
    toast(`Message not sent: ${friendlyError(err)}`, 'error');
  } finally {
    sess.sending = false;
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
  const names = participantList(sess)
    .filter((p) => p.userId !== session.user.id && p.online && p.presence?.typing === true)
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
    });
    // For tests and debugging: the logical scene (works without WebGL too).
    window.__cosmos = sess.cosmos.state;
    sess.cosmos.setActive(sess.tab === 'cosmos');
  })();
  await sess.cosmosOpening;
}

function closeCosmos(sess) {
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
el.back.addEventListener('click', () => requestLeave());
el.settings.addEventListener('click', () => openSettings());

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
  const curMode = typeof sess.mode === 'string' ? sess.mode : '';
  const modes = curMode && !MODES.includes(curMode) ? [curMode, ...MODES] : MODES;
  const select = h('select', { 'data-testid': 'mode-select', class: 'select' },
    h('option', { value: '' }, 'No mode'),
    ...modes.map((m) => h('option', { value: m, selected: m === curMode ? '' : undefined }, m)));
  const del = h('button', { class: 'btn btn-danger-ghost btn-sm', type: 'button', 'data-testid': 'delete-room' }, 'Delete room…');
  const body = h('div', { class: 'settings' },
    h('label', { class: 'field' }, h('span', {}, 'Room mode'), select),
    h('p', { class: 'muted small' }, 'Everyone in the room sees the mode change at once.'),
    h('div', { class: 'danger-zone' }, h('div', {}, h('strong', {}, 'Delete room'), h('p', { class: 'muted small' }, 'Removes the room, its people and its messages for everyone.')), del));
  let wantDelete = false;
  del.addEventListener('click', () => { wantDelete = true; closeDialogIfOpen(false); });
  const ok = await openDialog({ title: 'Room settings', body, confirmText: 'Save', testid: 'settings' });
  if (current !== sess) return;
  if (wantDelete) return requestDelete(sess);
  if (!ok) return;
  const mode = select.value;
  if (mode === curMode) return;
  try {
    const res = await sess.room.updateState({ mode: mode || null });
    renderMode(sess, res?.state?.mode ?? (mode || null));
    toast(mode ? `Mode set to ${mode}` : 'Mode cleared', 'ok');
  } catch (err) {
    toast(`Couldn’t change the mode: ${friendlyError(err)}`, 'error');
  }
}

async function requestDelete(sess) {
  const name = sess.room.info?.name || sess.code;
  const ok = await openDialog({
    title: `Delete “${name}”?`,
    body: 'Everyone is removed and the messages are deleted. This can’t be undone.',
    confirmText: 'Delete room', danger: true, testid: 'delete',
  });
  if (!ok || current !== sess) return;
  try {
    await sess.client.deleteRoom(sess.room.id);
    leaveRoomSession();
    navigate(lobbyUrl());
    toast(`“${name}” was deleted.`);
  } catch (err) {
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
