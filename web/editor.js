// editor.js: the room's shared code editor: CodeMirror 6 bound to a Chorus Doc.
//
// Loaded on demand (the first time someone opens the Editor tab), so the chat page never
// pays for CodeMirror. The modules come from web/lib/vendor through the import map in
// index.html (scripts/web-vendor.sh copies them from node_modules).
//
// Positions: CodeMirror counts UTF-16 code units, Chorus documents count Unicode code
// points (docs/protocol.md "Documents"), so every position crossing the boundary is
// converted, by walking the text and treating a surrogate pair as one code point.
import { EditorState, StateEffect, StateField, Annotation, Transaction } from '@codemirror/state';
import {
  EditorView, Decoration, WidgetType, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, highlightSpecialChars, placeholder,
} from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { syntaxHighlighting, HighlightStyle, bracketMatching, indentOnInput } from '@codemirror/language';
import { javascript } from '@codemirror/lang-javascript';
import { tags as t } from '@lezer/highlight';

const PRESENCE_SEND_MS = 60; // at most ~16 cursor updates a second

/** Marks transactions that apply remote ops (or a resync), so they are not sent back. */
const remote = Annotation.define();

// ---------------------------------------------------------------- code points <-> UTF-16

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/** Code points in s (a lone surrogate counts as one, as in [...s]). */
export function cpLength(s) {
  let n = s.length;
  for (let i = 0; i + 1 < s.length; i++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) { n--; i++; }
  }
  return n;
}

/** The UTF-16 offset n code points after u16 in s (clamped to s.length). */
function advance(s, u16, n) {
  while (n > 0 && u16 < s.length) {
    u16 += isHigh(s.charCodeAt(u16)) && u16 + 1 < s.length && isLow(s.charCodeAt(u16 + 1)) ? 2 : 1;
    n--;
  }
  return u16;
}

/** UTF-16 offsets for several code point positions in s (one pass over s). */
function toUtf16(s, positions) {
  const order = [...positions.keys()].sort((a, b) => positions[a] - positions[b]);
  const out = new Array(positions.length);
  let cp = 0;
  let u16 = 0;
  for (const i of order) {
    const want = Math.max(0, positions[i]);
    u16 = advance(s, u16, want - cp);
    cp = want;
    out[i] = u16;
  }
  return out;
}

/** Moves u16 off the middle of a surrogate pair (back to the pair's start). */
function cpStart(doc, u16) {
  if (u16 <= 0 || u16 >= doc.length) return u16;
  const two = doc.sliceString(u16 - 1, u16 + 1);
  return isHigh(two.charCodeAt(0)) && isLow(two.charCodeAt(1)) ? u16 - 1 : u16;
}
/** Moves u16 off the middle of a surrogate pair (forward to the pair's end). */
function cpEnd(doc, u16) {
  return cpStart(doc, u16) === u16 ? u16 : u16 + 1;
}

/**
 * A CodeMirror ChangeSet (over startDoc, giving newDoc) as an ot-text-unicode op in code
 * points: [skip, {d: n}, "insert", ...], normalized (no empty parts, no trailing skip).
 * A change that starts or ends inside a surrogate pair is widened to the whole pair.
 */
export function changesToOp(changes, startDoc, newDoc) {
  const op = [];
  const push = (c) => {
    const last = op[op.length - 1];
    if (typeof c === 'number') {
      if (c === 0) return;
      if (typeof last === 'number') op[op.length - 1] += c; else op.push(c);
    } else if (typeof c === 'string') {
      if (c === '') return;
      if (typeof last === 'string') op[op.length - 1] += c; else op.push(c);
    } else {
      if (c.d === 0) return;
      if (last && typeof last === 'object') last.d += c.d; else op.push(c);
    }
  };
  let pos = 0; // UTF-16 offset in startDoc up to which the op is written
  changes.iterChanges((fromA, toA, fromB, toB) => {
    const a = Math.max(pos, cpStart(startDoc, fromA));
    const b = cpEnd(startDoc, toA);
    const shift = fromA - a;
    const insert = newDoc.sliceString(fromB - shift, toB + (b - toA));
    push(cpLength(startDoc.sliceString(pos, a)));
    push({ d: cpLength(startDoc.sliceString(a, b)) });
    push(insert);
    pos = b;
  });
  return op;
}

/** An ot-text-unicode op (code points, over text) as CodeMirror change specs (UTF-16). */
export function opToChanges(op, text) {
  const changes = [];
  let u16 = 0;
  for (const c of op) {
    if (typeof c === 'number') {
      u16 = advance(text, u16, c);
    } else if (typeof c === 'string') {
      changes.push({ from: u16, insert: c });
    } else if (c && typeof c === 'object') {
      const n = typeof c.d === 'string' ? cpLength(c.d) : c.d;
      const end = advance(text, u16, n);
      changes.push({ from: u16, to: end });
      u16 = end;
    }
  }
  return changes;
}

// ---------------------------------------------------------------- remote cursors

class CaretWidget extends WidgetType {
  /** pos: where the caret is; a move makes a new element, so the name label shows again. */
  constructor(userId, name, color, pos) {
    super();
    this.userId = userId;
    this.name = name;
    this.color = color;
    this.pos = pos;
  }

  eq(other) {
    return other.userId === this.userId && other.name === this.name && other.color === this.color && other.pos === this.pos;
  }

  toDOM() {
    const caret = document.createElement('span');
    caret.className = 'cm-remote-caret';
    caret.dataset.testid = 'remote-caret';
    caret.dataset.userId = this.userId;
    caret.style.setProperty('--c', this.color);
    caret.setAttribute('aria-hidden', 'true');
    const label = document.createElement('span');
    label.className = 'cm-remote-caret-label';
    label.dataset.testid = 'remote-caret-label';
    label.textContent = this.name;
    caret.append(label);
    return caret;
  }

  ignoreEvent() {
    return true;
  }
}

const setRemoteCursors = StateEffect.define();

/** The decorations for the others' carets and selections, mapped through every change. */
const remoteCursorField = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    for (const e of tr.effects) if (e.is(setRemoteCursors)) return e.value;
    return tr.docChanged ? deco.map(tr.changes) : deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

/** RemoteCursor[] (code points in text) -> a DecorationSet (UTF-16). */
function cursorDecorations(cursors, text) {
  const pos = [];
  for (const c of cursors) {
    pos.push(c.cursor ?? c.selection?.[1] ?? 0);
    pos.push(c.selection ? Math.min(c.selection[0], c.selection[1]) : 0);
    pos.push(c.selection ? Math.max(c.selection[0], c.selection[1]) : 0);
  }
  const u = toUtf16(text, pos);
  const ranges = [];
  cursors.forEach((c, i) => {
    const color = c.color || '#8b5cf6';
    const [head, from, to] = [u[3 * i], u[3 * i + 1], u[3 * i + 2]];
    if (c.selection && to > from) {
      ranges.push({ from, to, deco: Decoration.mark({
        class: 'cm-remote-selection',
        attributes: { style: `--c:${color}`, 'data-user-id': c.userId },
      }) });
    }
    ranges.push({ from: head, to: head, deco: Decoration.widget({
      widget: new CaretWidget(c.userId, c.name || 'Someone', color, head),
      // In an empty document the placeholder (a side-1 widget at 0) would come first.
      side: text.length === 0 ? -1 : 1,
    }) });
  });
  return Decoration.set(ranges.map((r) => r.deco.range(r.from, r.to)), true); // true: sort them
}

// ---------------------------------------------------------------- theme

const theme = EditorView.theme({
  '&': { height: '100%', color: 'var(--text)', backgroundColor: 'transparent', fontSize: '14px' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.6' },
  '.cm-content': { caretColor: 'var(--accent-2)', padding: '14px 0' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--accent-2)', borderLeftWidth: '2px' },
  '&.cm-focused': { outline: 'none' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection':
    { backgroundColor: 'rgba(139, 92, 246, .32)' },
  '.cm-gutters': { backgroundColor: 'transparent', color: 'var(--faint)', border: 'none', borderRight: '1px solid var(--line)' },
  '.cm-lineNumbers .cm-gutterElement': { padding: '0 12px 0 14px' },
  '.cm-activeLine': { backgroundColor: 'rgba(255, 255, 255, .025)' },
  '.cm-activeLineGutter': { backgroundColor: 'transparent', color: 'var(--muted)' },
  '.cm-matchingBracket, &.cm-focused .cm-matchingBracket': { backgroundColor: 'rgba(34, 211, 238, .18)', outline: '1px solid rgba(34, 211, 238, .4)' },
  '.cm-placeholder': { color: 'var(--faint)' },
}, { dark: true });

const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.operatorKeyword, t.modifier, t.controlKeyword], color: '#c4b5fd' },
  { tag: [t.string, t.special(t.string), t.regexp], color: '#86efac' },
  { tag: [t.number, t.bool, t.null, t.atom], color: '#fcd34d' },
  { tag: [t.comment, t.lineComment, t.blockComment], color: '#5d657a', fontStyle: 'italic' },
  { tag: [t.function(t.variableName), t.function(t.propertyName)], color: '#67e8f9' },
  { tag: [t.definition(t.variableName), t.className, t.typeName], color: '#f9a8d4' },
  { tag: t.propertyName, color: '#a5b4fc' },
  { tag: [t.operator, t.punctuation, t.bracket], color: '#8d95aa' },
  { tag: t.invalid, color: '#fca5a5' },
]);

// ---------------------------------------------------------------- the binding

/**
 * Shows doc (a Chorus Doc) in a new CodeMirror view under parent and keeps them in step:
 * local edits become ops, remote ops become CodeMirror changes, and the others' cursors
 * and selections are drawn in their colors. Returns {view, destroy()}.
 */
export function mountEditor(parent, doc, { onError } = {}) {
  let destroyed = false;
  let presenceTimer = null;
  let lastPresenceSent = 0;
  let presenceDirty = false;
  let resyncTimer = null;
  // The Doc may report cursors (or, in theory, a change) while CodeMirror is still in
  // the update that submitted a local op; dispatching then is not allowed, so wait.
  let inUpdate = false;
  let cursorsQueued = false;
  const offs = [];

  const sendPresence = () => {
    presenceTimer = null;
    if (destroyed || !presenceDirty) return;
    presenceDirty = false;
    lastPresenceSent = Date.now();
    const { state } = view;
    const sel = state.selection.main;
    const text = state.doc;
    const cp = (u) => cpLength(text.sliceString(0, u));
    const anchor = cp(sel.anchor);
    const head = sel.anchor === sel.head ? anchor : cp(sel.head);
    const p = anchor === head ? { cursor: head } : { cursor: head, selection: [anchor, head] };
    doc.setPresence(p).catch(() => { /* presence is best effort */ });
  };
  const queuePresence = () => {
    presenceDirty = true;
    if (presenceTimer) return;
    presenceTimer = setTimeout(sendPresence, Math.max(0, lastPresenceSent + PRESENCE_SEND_MS - Date.now()));
  };

  const localEdits = EditorView.updateListener.of((update) => {
    let local = false;
    for (const tr of update.transactions) {
      if (tr.annotation(remote)) continue;
      if (tr.selection || tr.docChanged) local = true;
      if (!tr.docChanged) continue;
      const op = changesToOp(tr.changes, tr.startState.doc, tr.newDoc);
      if (!op.length) continue;
      try {
        inUpdate = true;
        doc.submit(op);
      } catch (err) {
        // The op did not fit the Doc's text: they have drifted apart. Take the Doc's.
        onError?.(err);
        scheduleResync(0);
      } finally {
        inUpdate = false;
      }
    }
    if (local && update.view.hasFocus) queuePresence();
    if (update.focusChanged && update.view.hasFocus) queuePresence();
  });

  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: doc.text,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        highlightActiveLine(),
        javascript(),
        syntaxHighlighting(highlight),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        EditorView.lineWrapping,
        placeholder('Start typing: everyone in the room edits this together.'),
        EditorView.contentAttributes.of({ 'aria-label': 'Shared code editor', 'data-testid': 'editor-content' }),
        theme,
        remoteCursorField,
        localEdits,
      ],
    }),
  });

  /** Replaces the editor's text by the Doc's when they differ (keeping the selection). */
  function resync() {
    resyncTimer = null;
    if (destroyed) return;
    const mine = view.state.doc.toString();
    const theirs = doc.text;
    if (mine === theirs) return;
    // Smallest differing middle, so the selection and undo history mostly survive.
    let a = 0;
    while (a < mine.length && a < theirs.length && mine.charCodeAt(a) === theirs.charCodeAt(a)) a++;
    let b = 0;
    while (b < mine.length - a && b < theirs.length - a
      && mine.charCodeAt(mine.length - 1 - b) === theirs.charCodeAt(theirs.length - 1 - b)) b++;
    view.dispatch({
      changes: { from: a, to: mine.length - b, insert: theirs.slice(a, theirs.length - b) },
      annotations: [remote.of(true), Transaction.addToHistory.of(false)],
    });
    drawCursors();
  }
  function scheduleResync(ms = 200) {
    if (!resyncTimer && !destroyed) resyncTimer = setTimeout(resync, ms);
  }

  function renderCursors() {
    if (destroyed || cursorsQueued) return;
    cursorsQueued = true;
    queueMicrotask(() => {
      cursorsQueued = false;
      if (!destroyed) drawCursors();
    });
  }
  function drawCursors() {
    const list = [...doc.cursors.values()].filter((c) => c && (Number.isFinite(c.cursor) || Array.isArray(c.selection)));
    view.dispatch({ effects: setRemoteCursors.of(cursorDecorations(list, view.state.doc.toString())) });
  }

  offs.push(doc.on('change', (ev) => {
    if (destroyed || !ev || ev.source === 'local') return;
    if (inUpdate) {
      queueMicrotask(() => applyRemote(ev));
      return;
    }
    applyRemote(ev);
  }));
  function applyRemote(ev) {
    if (destroyed) return;
    const text = view.state.doc.toString();
    let changes;
    try {
      changes = view.state.changes(opToChanges(ev.op, text));
    } catch (err) {
      onError?.(err);
      scheduleResync(0);
      return;
    }
    view.dispatch({
      changes,
      annotations: [remote.of(true), Transaction.addToHistory.of(false)],
      userEvent: 'remote',
    });
    // Cheap drift check: the Doc's text is the truth. A full compare waits a little, so a
    // burst of remote ops costs one.
    if (view.state.doc.length !== doc.text.length) scheduleResync(0);
    else scheduleResync();
    renderCursors();
  }
  offs.push(doc.on('cursors', () => renderCursors()));
  offs.push(doc.on('synced', () => scheduleResync(0)));

  renderCursors();

  return {
    view,
    /** Hides this user's cursor from the others (leaving the editor tab). */
    hidePresence() {
      clearTimeout(presenceTimer);
      presenceTimer = null;
      presenceDirty = false;
      doc.setPresence(null).catch(() => {});
    },
    showPresence() {
      queuePresence();
    },
    focus() {
      view.focus();
    },
    destroy() {
      destroyed = true;
      clearTimeout(presenceTimer);
      clearTimeout(resyncTimer);
      for (const off of offs) { try { off(); } catch { /* ignore */ } }
      view.destroy();
    },
  };
}

