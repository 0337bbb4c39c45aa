export type Asset = import('./types.js').Asset;
export type UploadOptions = import('./upload.js').UploadOptions;
/** @typedef {import('./types.js').Asset} Asset */
/** @typedef {import('./upload.js').UploadOptions} UploadOptions */
/** The asset ops the server sends to a room (docs/protocol.md "Other events"). */
export declare const ASSET_OPS: Set<string>;
/**
 * The assets of a room (room.assets): a live, read-only Map-like view id -> Asset. Empty
 * until load(); then kept current by the room's events 'asset_added', 'asset_removed' and
 * 'asset_updated' (each `{ asset }`), also after a reconnect (the list is read again and
 * the differences emitted).
 */
export declare class Assets {
    /** @returns {number} */
    get size(): number;
    /**
     * True once load() filled the list.
     * @returns {boolean}
     */
    get loaded(): boolean;
    /**
     * @param {string} id
     * @returns {Asset | undefined}
     */
    get(id: string): Asset | undefined;
    /**
     * @param {string} id
     * @returns {boolean}
     */
    has(id: string): boolean;
    /** @returns {IterableIterator<Asset>} */
    values(): IterableIterator<Asset>;
    /** @returns {IterableIterator<Asset>} */
    [Symbol.iterator](): IterableIterator<Asset>;
    /**
     * The assets, newest first.
     * @returns {Asset[]}
     */
    list(): Asset[];
    /**
     * One page of the room's assets, newest first (`GET /api/rooms/:roomId/assets`):
     * `limit` (1-200, default 50) older than the cursor `before` (a page's `next`; null on
     * a page that was not full). Its assets are merged into the list, without events.
     * @param {{ before?: string | null; limit?: number }} [opts]
     * @returns {Promise<{ assets: Asset[]; next: string | null }>}
     */
    page(opts?: {
        before?: string | null;
        limit?: number;
    }): Promise<{
        assets: Asset[];
        next: string | null;
    }>;
    /**
     * Reads every page (of `limit`, default 200) and makes the list exactly the server's:
     * emits 'asset_added' and 'asset_removed' for what changed since the last load (none
     * the first time). Resolves with the list, newest first.
     * @param {{ limit?: number }} [opts]
     * @returns {Promise<Asset[]>}
     */
    load(opts?: {
        limit?: number;
    }): Promise<Asset[]>;
    /**
     * Uploads a file into the room (tus, upload.js) and resolves with its asset, also
     * added to the list (and emitted as 'asset_added', once, whichever of the answer and
     * the event comes first). With dedup (the default) a content this room has already
     * resolves with that asset without uploading.
     * @param {Blob | Uint8Array | ArrayBuffer} data a File, Blob, Buffer, Uint8Array or ArrayBuffer; borrowed
     * @param {UploadOptions} [opts]
     * @returns {Promise<Asset>}
     */
    upload(data: Blob | Uint8Array | ArrayBuffer, opts?: UploadOptions): Promise<Asset>;
    /**
     * Deletes an asset (its uploader or the room's host; else ChorusError 'forbidden').
     * @param {string} id
     * @returns {Promise<Asset>} the asset as it was
     */
    delete(id: string): Promise<Asset>;
    /**
     * A signed URL of the asset's content, absolute, that works without a token (for
     * <img>, <video>, fetch, three.js loaders) until it expires (`--asset-url-ttl`); the same
     * URL while more than a minute of it is left.
     * @param {Asset | string} asset the asset or its id
     * @returns {Promise<string>}
     */
    url(asset: Asset | string): Promise<string>;
}
