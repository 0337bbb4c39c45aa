export type Moment = {
    stateVersion: number;
    time: number;
};
export type SnapshotDocument = {
    id: string;
    version?: number;
    text?: string;
    tooLarge?: boolean;
    unavailable?: boolean;
};
export type Snapshot = {
    at: Moment;
    oldest: Moment;
    state: object;
    entities: import('./types.js').Entity[];
    documents: SnapshotDocument[];
    documentsMore?: boolean;
};
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
export declare function snapshotMoment(at: number | Date | string | {
    stateVersion: number;
} | {
    time: number;
}): {
    stateVersion: number;
} | {
    time: number;
};
/**
 * The room at that moment, every entity page fetched (the server pages them by id; each
 * page is of the same moment).
 * @param {(op: string, fields: object) => Promise<any>} req the room's request function
 * @param {number | Date | string | { stateVersion: number } | { time: number }} at
 * @returns {Promise<Snapshot>}
 */
export declare function snapshotAt(req: (op: string, fields: object) => Promise<any>, at: number | Date | string | {
    stateVersion: number;
} | {
    time: number;
}): Promise<Snapshot>;
