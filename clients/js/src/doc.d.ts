import { Emitter } from './emitter.js';
import { ChorusError } from './errors.js';
export type TextOp = import('./types.js').TextOp;
export type RemoteCursor = import('./types.js').RemoteCursor;
export type DocEvents = {
    change: {
        op: TextOp;
        source: 'local' | 'remote';
        author?: string;
    };
    cursors: Map<string, RemoteCursor>;
    synced: {
        version: number;
    };
    error: ChorusError;
};
/**
 * The events of a Doc. 'change': every local and remote edit (applying every change's op
 * in order to a copy of the text always gives `doc.text`). 'cursors': the remote cursors
 * changed. 'synced': nothing is pending any more. 'error': the server refused an op, or the
 * catch-up failed (`version_too_old`, `diverged`, …).
 * @typedef {{
 *   change: { op: TextOp; source: 'local' | 'remote'; author?: string };
 *   cursors: Map<string, RemoteCursor>;
 *   synced: { version: number };
 *   error: ChorusError;
 * }} DocEvents
 */
/**
 * A shared text document with the client side of OT: synchronized / awaiting confirm /
 * awaiting with buffer. Local edits apply at once; one op is in flight at a time (with an
 * opId), later ones are composed into a buffer; remote ops transform what is pending and
 * remote cursors. After a reconnect the document is reopened and pending ops are
 * resubmitted with their opIds (the server acknowledges an op it already applied as a
 * duplicate, never twice).
 *
 * Reopening (after a reconnect, a `version_too_old` reply or a gap in the op stream): the
 * ops since `version` are fetched with `doc_ops` and go through the state machine as
 * remote ops; our own in-flight op found among them (same author and opId) counts as
 * acknowledged; otherwise it is resubmitted with its opId at its original base version
 * (and, if that base is older than the server's log window, as transformed at the current
 * version). When the catch-up is impossible, or the server refuses an op (`invalid_op`,
 * `document_too_large`, …), pending edits are dropped, the text becomes the server's
 * snapshot (a 'change' with source 'remote' and a diff op) and 'error' is emitted.
 *
 * The local text is the server's text at `version` with the in-flight op and then the
 * buffer applied to it.
 * @extends {Emitter<DocEvents>}
 */
export declare class Doc extends Emitter<DocEvents> {
    /** @returns {string} */
    get id(): string;
    /** @returns {string} */
    get text(): string;
    /**
     * The server version the local text is based on.
     * @returns {number}
     */
    get version(): number;
    /** @returns {'synchronized' | 'awaiting_confirm' | 'awaiting_with_buffer'} */
    get state(): 'synchronized' | 'awaiting_confirm' | 'awaiting_with_buffer';
    /**
     * False after close(), or once the room is left or the client closed (SDK extension).
     * @returns {boolean}
     */
    get active(): boolean;
    /**
     * Remote users' cursors, in the current local text (a fresh Map each time). Reports are
     * positions at the sender's `version` (plus its pending ops): they are moved through the
     * later ops of other users and through this client's pending ops.
     * @returns {Map<string, RemoteCursor>}
     */
    get cursors(): Map<string, RemoteCursor>;
    /**
     * Applies op locally (throws ChorusError('invalid_op') if it does not fit) and sends it.
     * @param {TextOp} op
     * @returns {void}
     */
    submit(op: TextOp): void;
    /**
     * Inserts text at pos (code points).
     * @param {number} pos
     * @param {string} text
     * @returns {void}
     */
    insert(pos: number, text: string): void;
    /**
     * Deletes count code points at pos.
     * @param {number} pos
     * @param {number} count
     * @returns {void}
     */
    delete(pos: number, count: number): void;
    /**
     * Resolves when nothing is pending (every local op acknowledged, and the document not
     * being reopened after a reconnect or a room_reset); rejects with ChorusError('closed')
     * if the document is closed first.
     * @returns {Promise<void>}
     */
    whenSynced(): Promise<void>;
    /**
     * Shares this user's cursor/selection (code points in the local text); null hides it.
     * @param {{ cursor?: number; selection?: [number, number] } | null} p
     * @returns {Promise<void>}
     */
    setPresence(p: {
        cursor?: number;
        selection?: [number, number];
    } | null): Promise<void>;
    /**
     * Waits (at most requestTimeout, while connected) for pending edits, then doc_close.
     * @returns {Promise<void>}
     */
    close(): Promise<void>;
}
