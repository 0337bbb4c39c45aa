export type UploadOptions = {
    /**
     * The asset's name (Upload-Metadata `filename`). Default: the File's name.
     */
    name?: string;
    /**
     * Its content type (`filetype`). Default: the Blob's type.
     */
    type?: string;
    /**
     * Bytes the server has
     * taken (within a chunk, bytes sent so far, in a browser) and the total.
     */
    onProgress?: (sent: number, total: number) => void;
    /**
     * Aborts the upload (rejects with ChorusError('aborted');
     * what was stored stays, resumable with `uploadUrl` until it expires).
     */
    signal?: AbortSignal;
    /**
     * Bytes per PATCH. Default 4 MiB: each must reach the
     * server within its --http-request-timeout, and a PATCH cut off is sent again whole.
     */
    chunkSize?: number;
    /**
     * Milliseconds to wait before each retry after a
     * network error, a 5xx or a 408/409/423/429; reset once a chunk is stored. Default
     * [0, 1000, 3000, 5000, 10000]; exhausted: rejects with the last error.
     */
    retryDelays?: number[];
    /**
     * When the file is small enough to hash (`hashLimit`) and the
     * server stores that content already, an asset of this room with the same sha256 is
     * returned instead of uploading again. Default true.
     */
    dedup?: boolean;
    /**
     * Largest file hashed before uploading. Default 64 MiB.
     */
    hashLimit?: number;
    /**
     * Resume this upload (an earlier upload's `onCreated` URL)
     * instead of creating one.
     */
    uploadUrl?: string;
    /**
     * Called with the upload's URL once created.
     */
    onCreated?: (url: string) => void;
};
export type UploadConfig = {
    url: string | undefined;
    fetch: any;
    token: string | undefined;
    timeout: number;
};
/**
 * The SHA-256 of bytes as 64 lower-case hex digits, or null where WebCrypto is missing (a
 * page served over plain HTTP from another host than localhost).
 * @param {Uint8Array} u8
 * @returns {Promise<string | null>}
 */
export declare function sha256Hex(u8: Uint8Array): Promise<string | null>;
/**
 * Uploads data into a room with tus and resolves with the asset id (the final answer's
 * Asset-Id), or the existing asset when dedup found one (`lookup(sha256)`). Borrows
 * cfg and data; data must not change while it uploads.
 * @param {UploadConfig} cfg
 * @param {string} roomId
 * @param {Blob | Uint8Array | ArrayBuffer} data
 * @param {UploadOptions} opts
 * @param {(sha256: string, stored: () => Promise<boolean>) => Promise<object | null>} lookup the
 *   room's asset with that content, if any; stored() asks the server whether it has the content
 * @returns {Promise<{ assetId: string } | { asset: object }>}
 */
export declare function tusUpload(cfg: UploadConfig, roomId: string, data: Blob | Uint8Array | ArrayBuffer, opts: UploadOptions, lookup: (sha256: string, stored: () => Promise<boolean>) => Promise<object | null>): Promise<{
    assetId: string;
} | {
    asset: object;
}>;
