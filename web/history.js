// history.js: the room's history slider (issue 25, time travel): scrubs the room from the
// start of the window the server keeps to now, showing the Cosmos (its entities) and the
// Editor (the open document's text) read-only as they were (room.snapshotAt), while live
// changes keep arriving underneath; "Back to live" shows them again.
import { h, friendlyError } from './ui.js';

const when = (ms) => new Date(ms).toLocaleString(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});

/**
 * Mounts the History button in actions and the slider bar at the top of main, for room (an
 * SDK Room). docId: the editor's document; cosmos(): the mounted cosmos or null;
 * editorPanel: where the read-only text covers the live editor. Returns {destroy(),
 * cosmosReady()} (call cosmosReady once the cosmos is mounted, so it shows the moment too).
 */
export function mountHistory(room, { docId, cosmos, editorPanel, actions, main }) {
  const toggle = h('button', { class: 'btn btn-sm btn-ghost', type: 'button', 'data-testid': 'history-toggle', 'aria-pressed': 'false',
    title: 'Rewind the room: see the cosmos and the editor as they were' }, '⏱ History');
  const slider = h('input', { type: 'range', class: 'history-slider', 'data-testid': 'history-slider', 'aria-label': 'Moment shown', step: 1 });
  const label = h('span', { class: 'history-when small', 'data-testid': 'history-when', role: 'status', 'aria-live': 'polite' });
  const live = h('button', { class: 'btn btn-sm btn-primary', type: 'button', 'data-testid': 'history-live' }, 'Back to live');
  const bar = h('div', { class: 'history-bar', 'data-testid': 'history-bar', hidden: true },
    h('strong', {}, 'History'), h('span', { class: 'muted small', 'data-testid': 'history-oldest' }), slider, label, live);
  const pane = h('div', { class: 'history-editor', 'data-testid': 'history-editor', hidden: true });
  actions.prepend(toggle);
  main.querySelector('.room-tabs')?.after(bar);
  editorPanel.append(pane);

  let on = false;
  let busy = false; // a snapshot request in flight: the slider's latest value waits for it
  let wanted = null;
  let shown = null; // the snapshot shown: {at, entities: Map, doc}
  let view = null; // the read-only CodeMirror view
  let cm = null;

  const entitiesOf = (snap) => new Map(snap.entities.map((e) => [e.id, e]));

  async function showText(doc) {
    const text = doc?.text ?? (doc?.tooLarge ? '(too large to show here)' : '');
    pane.dataset.version = String(doc?.version ?? 0);
    pane.hidden = false;
    // CodeMirror is loaded only now, as the editor itself is (on demand).
    cm ??= await Promise.all([import('@codemirror/state'), import('@codemirror/view')]);
    if (!on) return;
    const [{ EditorState }, { EditorView, lineNumbers }] = cm;
    if (!view) {
      view = new EditorView({
        parent: pane,
        state: EditorState.create({
          doc: text,
          extensions: [lineNumbers(), EditorState.readOnly.of(true), EditorView.editable.of(false), EditorView.lineWrapping,
            EditorView.contentAttributes.of({ 'aria-label': 'The document as it was', 'data-testid': 'history-editor-content' })],
        }),
      });
    } else {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    }
  }

  function apply(snap) {
    shown = { at: snap.at, entities: entitiesOf(snap), doc: snap.documents.find((d) => d.id === docId) };
    slider.min = String(Math.min(Number(slider.min), snap.oldest.time));
    label.textContent = `${when(snap.at.time)} · change ${snap.at.stateVersion}`;
    label.dataset.version = String(snap.at.stateVersion);
    bar.querySelector('[data-testid="history-oldest"]').textContent = `from ${when(snap.oldest.time)}`;
    cosmos()?.showEntities(shown.entities);
    showText(shown.doc);
  }

  /** Shows the room at time t; one request at a time, the slider's latest value wins. */
  async function scrub(t) {
    wanted = t;
    if (busy) return;
    busy = true;
    while (on && wanted !== null) {
      const at = wanted;
      wanted = null;
      try {
        const snap = await room.snapshotAt({ time: at });
        if (on && wanted === null) apply(snap);
      } catch (err) {
        if (!on) break;
        if (err.code === 'history_unavailable' && err.oldest) {
          // The window moved on (retention): start the slider at its new beginning.
          slider.min = String(err.oldest.time);
          if (wanted === null && at < err.oldest.time) wanted = err.oldest.time;
        } else {
          label.textContent = `Couldn’t rewind: ${friendlyError(err)}`;
        }
      }
    }
    busy = false;
  }

  async function open() {
    on = true;
    toggle.setAttribute('aria-pressed', 'true');
    bar.hidden = false;
    main.dataset.history = 'on';
    const now = Date.now();
    slider.max = String(now);
    slider.min = String(now);
    slider.value = String(now);
    label.textContent = 'Rewinding…';
    await scrub(now);
  }

  function close() {
    on = false;
    wanted = null;
    shown = null;
    toggle.setAttribute('aria-pressed', 'false');
    bar.hidden = true;
    pane.hidden = true;
    delete main.dataset.history;
    cosmos()?.showEntities(null);
  }

  const onToggle = () => (on ? close() : open());
  const onInput = () => scrub(Number(slider.value));
  toggle.addEventListener('click', onToggle);
  live.addEventListener('click', close);
  slider.addEventListener('input', onInput);

  return {
    cosmosReady() {
      if (on && shown) cosmos()?.showEntities(shown.entities);
    },
    destroy() {
      close();
      view?.destroy();
      toggle.remove();
      bar.remove();
      pane.remove();
    },
  };
}
