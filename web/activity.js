// activity.js: the room's activity panel (seed 001's ActivityStream: recent actions log):
// the room's activity stream (docs/protocol.md "Activity") as sentences, newest first,
// live from the room's 'activity' events, with "Load older" paging back by cursor.
import { h, fmtTime, friendlyError } from './ui.js';

const PAGE = 20;
const KEEP = 500; // rows shown at most; older ones drop off (Load older brings them back)

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "3 min", "40 s", or '' for under a second. */
function span(ms) {
  if (!(ms >= 1000)) return '';
  if (ms < 60000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3600000) return `${Math.round(ms / 60000)} min`;
  return `${Math.round(ms / 360000) / 10} h`;
}

/** A row in words: "Ana edited main for 3 min, +120/−40 characters". */
export function activityText(row) {
  const who = row.displayName || (row.userId ? 'Someone' : 'The app');
  const d = row.data || {};
  const dur = span(d.ms);
  const forDur = dur ? ` for ${dur}` : '';
  switch (row.kind) {
    case 'joined': return `${who} joined`;
    case 'left': return d.reason === 'disconnected' ? `${who} went offline` : `${who} left`;
    case 'kicked': return `${who} was removed`;
    case 'banned': return `${who} was banned`;
    case 'room_updated':
      return d.name !== undefined ? `${who} renamed the room to “${d.name}”` : `${who} changed the room settings`;
    case 'state_changed': return `${who} changed the room state${d.keys?.length ? ` (${d.keys.join(', ')})` : ''}`;
    case 'entity_created': return `${who} added ${d.kind ? `${/^[aeiou]/i.test(d.kind) ? 'an' : 'a'} ${d.kind}` : 'an entity'}`;
    case 'entity_deleted': return `${who} deleted an entity`;
    case 'entity_locked': return `${who} locked an entity`;
    case 'entity_moved': return `${who} moved entities${forDur} (${plural(d.count ?? 1, 'change')})`;
    case 'doc_opened': return `${who} opened ${d.doc}`;
    case 'doc_edited':
      return `${who} edited ${d.doc}${forDur}, +${d.inserted ?? 0}/−${d.deleted ?? 0} characters`;
    case 'messages': return `${who} sent ${plural(d.count ?? 1, 'message')}${forDur}`;
    case 'asset_added': return `${who} added ${d.name || 'a file'}`;
    case 'asset_removed': return `${who} removed ${d.name || 'a file'}`;
    case 'call_started': return `${who} started a call`;
    case 'call_ended': return `${who} ended a call${forDur}`;
    default: return `${who}: ${row.kind}`;
  }
}

/**
 * Mounts the panel in parent (the room's side panel) for room (an SDK Room); returns the
 * function that takes it down again.
 */
export function mountActivity(room, parent = document.querySelector('.participants-panel')) {
  const list = h('ol', { class: 'activity-list', 'data-testid': 'activity', 'aria-live': 'polite' });
  const older = h('button', { class: 'btn btn-ghost btn-sm', type: 'button', 'data-testid': 'activity-older', hidden: true }, 'Load older');
  const status = h('p', { class: 'muted small activity-status', 'data-testid': 'activity-status', role: 'status' });
  const box = h('section', { class: 'activity', 'aria-label': 'Activity', 'data-testid': 'activity-panel' },
    h('div', { class: 'panel-head' }, h('h2', {}, 'Activity')), list, status, older);
  parent?.append(box);
  const seen = new Set();
  let cursor = null;
  let gone = false;

  const item = (row) => h('li', { class: 'activity-row', 'data-kind': row.kind, 'data-seq': row.seq },
    h('span', { class: 'activity-text' }, activityText(row)),
    h('time', { class: 'activity-time muted', datetime: new Date(row.at).toISOString() }, fmtTime(row.at)));

  const add = (row, atTop) => {
    if (seen.has(row.seq)) return;
    seen.add(row.seq);
    if (atTop) list.prepend(item(row));
    else list.append(item(row));
    while (list.children.length > KEEP) {
      seen.delete(Number(list.lastElementChild.dataset.seq));
      list.lastElementChild.remove();
      cursor = list.lastElementChild?.dataset.seq ?? cursor;
      older.hidden = false;
    }
    status.textContent = '';
  };

  async function load() {
    older.disabled = true;
    try {
      const page = await room.activity({ before: cursor, limit: PAGE });
      if (gone) return;
      for (const row of page.activity) add(row, false);
      cursor = page.nextCursor;
      older.hidden = !cursor;
      if (!list.children.length) status.textContent = 'Nothing yet.';
    } catch (err) {
      if (!gone) status.textContent = friendlyError(err);
    } finally {
      older.disabled = false;
    }
  }

  older.addEventListener('click', load);
  const off = room.on('activity', (row) => add(row, true));
  load();
  return () => {
    gone = true;
    off();
    box.remove();
  };
}
