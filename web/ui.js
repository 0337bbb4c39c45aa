// ui.js: small DOM helpers for the Chorus web app (no framework).

export const $ = (sel, root = document) => root.querySelector(sel);

/**
 * h('div', {class: 'x', onclick: fn, 'data-testid': 't'}, child, 'text', null, [more]) -> Element.
 * Attributes with undefined/null/false are left out; strings are always set as text.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'value') node.value = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  const add = (c) => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  };
  children.forEach(add);
  return node;
}

/** Copies text: the async Clipboard API, else a hidden textarea and execCommand. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* permission refused or no focus: try the fallback */
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.cssText = 'position:fixed;top:0;left:0;opacity:0;pointer-events:none';
  document.body.append(ta);
  const prev = document.activeElement;
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  if (prev && typeof prev.focus === 'function') prev.focus({ preventScroll: true });
  return ok;
}

/** A toast at the bottom of the screen. kind: '' | 'ok' | 'warn' | 'error'. */
export function toast(text, kind = '', ms = 3200) {
  const box = $('[data-testid="toasts"]');
  const t = h('div', { class: `toast${kind ? ` toast-${kind}` : ''}`, 'data-testid': 'toast', role: kind === 'error' ? 'alert' : 'status' }, text);
  box.append(t);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => {
    t.classList.add('is-leaving');
    setTimeout(() => t.remove(), 300);
  }, ms);
}

/**
 * A modal dialog of our own (tests drive it; window.confirm they cannot).
 * Resolves true on confirm, false on cancel / Escape / a click outside.
 */
export function openDialog({ title, body, confirmText = 'OK', cancelText = 'Cancel', danger = false, testid = 'dialog' }) {
  const backdrop = $('[data-testid="dialog-backdrop"]');
  if (!backdrop.hidden && backdrop._close) backdrop._close(false);
  const dialog = $('[data-testid="dialog"]', backdrop);
  const ok = $('[data-testid="dialog-confirm"]', backdrop);
  const cancel = $('[data-testid="dialog-cancel"]', backdrop);
  dialog.dataset.kind = testid;
  $('[data-testid="dialog-title"]', backdrop).textContent = title;
  const bodyEl = $('[data-testid="dialog-body"]', backdrop);
  bodyEl.replaceChildren(typeof body === 'string' ? h('p', {}, body) : body);
  ok.textContent = confirmText;
  ok.className = `btn ${danger ? 'btn-danger' : 'btn-primary'}`;
  cancel.hidden = cancelText === null;
  cancel.textContent = cancelText || '';
  const prevFocus = document.activeElement;
  backdrop.hidden = false;
  requestAnimationFrame(() => backdrop.classList.add('is-open'));
  return new Promise((resolve) => {
    const close = (result) => {
      backdrop._close = null;
      backdrop.classList.remove('is-open');
      backdrop.hidden = true;
      ok.removeEventListener('click', onOk);
      cancel.removeEventListener('click', onCancel);
      backdrop.removeEventListener('mousedown', onBackdrop);
      document.removeEventListener('keydown', onKey, true);
      if (prevFocus && typeof prevFocus.focus === 'function' && document.contains(prevFocus)) prevFocus.focus({ preventScroll: true });
      resolve(result);
    };
    const onOk = () => close(true);
    const onCancel = () => close(false);
    const onBackdrop = (e) => { if (e.target === backdrop) close(false); };
    const onKey = (e) => {
      if (e.key === 'Escape') { e.preventDefault(); close(false); }
      if (e.key === 'Tab') trapFocus(e, dialog);
    };
    backdrop._close = close;
    ok.addEventListener('click', onOk);
    cancel.addEventListener('click', onCancel);
    backdrop.addEventListener('mousedown', onBackdrop);
    document.addEventListener('keydown', onKey, true);
    const first = bodyEl.querySelector('select, input, textarea');
    (first || ok).focus({ preventScroll: true });
  });
}

function trapFocus(e, root) {
  const f = [...root.querySelectorAll('button, input, select, textarea, [tabindex]:not([tabindex="-1"])')]
    .filter((n) => !n.disabled && !n.hidden && n.offsetParent !== null);
  if (!f.length) return;
  const first = f[0];
  const last = f[f.length - 1];
  if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
  else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
}

const PALETTE = ['#f97316', '#22c55e', '#3b82f6', '#a855f7', '#ec4899', '#14b8a6', '#eab308', '#ef4444'];

/** A stable color for an id without one. */
export function colorFor(id = '') {
  let x = 0;
  for (const ch of String(id)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[x % PALETTE.length];
}

export function initials(name = '') {
  const parts = String(name).trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return '?';
  const first = [...parts[0]][0] || '';
  const second = parts.length > 1 ? [...parts[parts.length - 1]][0] || '' : '';
  return (first + second).toUpperCase();
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
export function fmtTime(ms) {
  try {
    return timeFmt.format(new Date(ms));
  } catch {
    return '';
  }
}

const MESSAGES = {
  room_full: 'This room is full.',
  banned: 'You are banned from this room.',
  not_found: 'No room with that code.',
  invalid_code: 'That isn’t a valid room code.',
  forbidden: 'You’re not allowed to do that.',
  email_taken: 'That email already has an account. Sign in instead.',
  invalid_credentials: 'Wrong email or password.',
  rate_limited: 'Too many requests. Wait a moment and try again.',
  room_limit: 'You already host the maximum number of rooms. Delete one of them first (✕ in My rooms).',
  host_cannot_leave: 'The host can’t leave; delete the room instead.',
  unauthorized: 'Your session has expired. Please sign in again.',
  network: 'Can’t reach the server. Check your connection.',
  timeout: 'The server took too long to answer.',
  closed: 'The connection is closed.',
  payload_too_large: 'That’s too long.',
  not_supported: 'This server doesn’t offer sign-up or sign-in.',
};

const FIELD = { email: 'Email', password: 'Password', username: 'Username', name: 'Room name', maxParticipants: 'Capacity', content: 'Message' };

/** A sentence for an error (ChorusError codes first, then its message). */
export function friendlyError(err) {
  if (!err) return 'Something went wrong.';
  if (err.code === 'validation_error') {
    const f = FIELD[err.field] || err.field;
    return f ? `${f}: ${err.message || 'invalid value'}` : err.message || 'Invalid input.';
  }
  if (MESSAGES[err.code]) return MESSAGES[err.code];
  if (err instanceof TypeError) return MESSAGES.network;
  return err.message || String(err);
}
