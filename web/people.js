// people.js: the people panel's counts, search and paging (issue 26): "N people, M online"
// from the room's counts, a "Load more" button while the SDK holds only some pages of a
// large room's participants, and a search box that asks the server in a large room
// (room.loadParticipants({query})) and filters what is loaded in a small one. app.js
// renders the list itself; filter() says which of its participants to show.
import { h, friendlyError, toast } from './ui.js';

const SEARCH_MS = 250; // typing pause before a large room's search goes to the server

const plural = (n, one, many) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/**
 * Mounts the controls around list (the <ul> of participants in panel) for room (an SDK
 * Room) of client; render() redraws the list. Returns {filter(list), update(), destroy()}.
 */
export function mountPeople(room, client, { panel, list, render }) {
  const summary = h('p', { class: 'people-summary muted small', 'data-testid': 'people-summary', role: 'status' });
  const search = h('input', {
    class: 'people-search', type: 'search', placeholder: 'Search people', 'aria-label': 'Search people',
    'data-testid': 'people-search', maxlength: '64', autocomplete: 'off',
  });
  const more = h('button', { class: 'btn btn-ghost btn-sm people-more', type: 'button', 'data-testid': 'people-more', hidden: true }, 'Load more');
  const tools = h('div', { class: 'people-tools' }, summary, search);
  panel.querySelector('.panel-head')?.after(tools);
  list.after(more);

  let query = '';
  let page = null; // the last page of the server search for query (large rooms), for more()
  let asked = 0; // the newest search sent: older answers are dropped
  let timer = null;
  let busy = false;

  const remote = () => query !== '' && !room.participantsComplete;
  const moreWanted = () => (query === '' ? !room.participantsComplete : remote() && page?.next != null);

  function update() {
    summary.textContent = `${plural(room.participantCount, 'person', 'people')}, ${room.onlineCount.toLocaleString('en-US')} online`;
    more.hidden = !moreWanted();
    more.disabled = busy;
  }

  async function load(fn) {
    busy = true;
    update();
    try {
      await fn();
    } catch (e) {
      if (e?.code !== 'closed') toast(friendlyError(e), 'error');
    } finally {
      busy = false;
      render();
    }
  }

  function ask() {
    const n = ++asked;
    const q = query;
    page = null;
    return load(async () => {
      const p = await room.loadParticipants({ query: q });
      if (n === asked) page = p;
    });
  }

  search.addEventListener('input', () => {
    query = search.value.trim();
    clearTimeout(timer);
    page = null;
    render(); // what is loaded, filtered at once
    if (remote()) timer = setTimeout(ask, SEARCH_MS);
  });
  more.addEventListener('click', () => {
    if (busy) return;
    if (query === '') load(() => room.loadParticipants());
    else if (page?.next != null) {
      const n = asked;
      load(async () => {
        const p = await page.more();
        if (n === asked) page = p;
      });
    }
  });
  const offs = [
    room.on('participants_count', () => render()),
    // A rejoin restarts the list from its first page: a search is asked again.
    client.on('connection', (s) => { if (s === 'open' && remote()) ask(); }),
  ];

  return {
    /** The participants of list (borrowed) that match the search, in its order. */
    filter(all) {
      if (query === '') return all;
      const q = query.toLowerCase();
      return all.filter((p) => (p.displayName || '').toLowerCase().includes(q));
    },
    update,
    destroy() {
      clearTimeout(timer);
      for (const off of offs) off();
      tools.remove();
      more.remove();
    },
  };
}
