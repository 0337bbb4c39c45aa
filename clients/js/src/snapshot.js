// snapshot.js: time travel (issue 25): a room as it was at an earlier moment, read with the
// snapshot_at op (docs/protocol.md "snapshot_at"), its entity pages gathered.

/**
 * A moment of a room: its state version and the time of that change (unix ms).
 * @typedef {{ stateVersion: number; time: number }} Moment
 */

/**
 * A document as it was: its own version then and its text (no text when `tooLarge`, or
 * `unavailable` when a stored op could not be applied).
 * @typedef {{ id: string; version?: number; text?: string; tooLarge?: boolean; unavailable?: boolean }} SnapshotDocument
 */

/**
 * The room at a moment: `at` the moment answered, `oldest` the oldest one the server keeps,
 * the room's state and every entity then (without locks), its documents' texts then.
 * @typedef {{
 *   at: Moment;
 *   oldest: Moment;
 *   state: object;
 *   entities: import('./types.js').Entity[];
 *   documents: SnapshotDocument[];
 *   documentsMore?: boolean;
 * }} Snapshot
 */

/**
 * The `at` of snapshot_at for what a caller names: a state version (a number), a time (a
 * Date, or a string Date.parse reads), or the protocol's own {stateVersion} / {time}.
 * @param {number | Date | string | { stateVersion: number } | { time: number }} at
 * @returns {{ stateVersion: number } | { time: number }}
 */
export function snapshotMoment(at) {
  if (typeof at === 'number') return { stateVersion: at };
  if (at instanceof Date) return { time: at.getTime() };
  if (typeof at === 'string') {
    const t = Date.parse(at);
    if (Number.isNaN(t)) throw new TypeError(`snapshotAt: not a time: ${at}`);
    return { time: t };
  }
  return at;
}

/**
 * The room at that moment, every entity page fetched (the server pages them by id; each
 * page is of the same moment).
 * @param {(op: string, fields: object) => Promise<any>} req the room's request function
 * @param {number | Date | string | { stateVersion: number } | { time: number }} at
 * @returns {Promise<Snapshot>}
 */
export async function snapshotAt(req, at) {
  const moment = snapshotMoment(at);
  const first = await req('snapshot_at', { at: moment });
  const entities = [...first.entities];
  for (let page = first; page.more && page.after;) {
    page = await req('snapshot_at', { at: moment, after: page.after });
    entities.push(...page.entities);
  }
  /** @type {Snapshot} */
  const snap = { at: first.at, oldest: first.oldest, state: first.state, entities, documents: first.documents };
  if (first.documentsMore) snap.documentsMore = true;
  return snap;
}
