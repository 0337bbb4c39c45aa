// assets.js: a room's assets (docs/assets.md "Assets in rooms"): the list, loaded page by
// page over REST and kept current from the room's asset events, uploads into the room
// (upload.js) and signed URLs for <img>, <video> and loaders.

import { ChorusError } from './errors.js';
import { tusUpload } from './upload.js';

/** @typedef {import('./types.js').Asset} Asset */
/** @typedef {import('./upload.js').UploadOptions} UploadOptions */

/** The asset ops the server sends to a room (docs/protocol.md "Other events"). */
export const ASSET_OPS = new Set(['asset_added', 'asset_removed', 'asset_updated']);

// A signed URL is reused until this close to its expiry (ms).
const URL_MARGIN = 60 * 1000;

/**
 * The assets of a room (room.assets): a live, read-only Map-like view id -> Asset. Empty
 * until load(); then kept current by the room's events 'asset_added', 'asset_removed' and
 * 'asset_updated' (each `{ asset }`), also after a reconnect (the list is read again and
 * the differences emitted).
 */
export class Assets {
  /** @internal */ _room;
  /** @internal */ _map;
  /** @internal */ _loaded;
  /** @internal */ _gone;
  /** @internal */ _urls;
  /** @internal */ _loading;

  /** @internal */
  constructor(room) {
    this._room = room;
    this._map = new Map();
    this._loaded = false;
    this._gone = new Set(); // ids removed while a load runs (its pages may still list them)
    this._urls = new Map(); // asset id -> { url, expiresAt }
    this._loading = null; // the load() in flight
  }

  /** @returns {number} */
  get size() {
    return this._map.size;
  }

  /**
   * True once load() filled the list.
   * @returns {boolean}
   */
  get loaded() {
    return this._loaded;
  }

  /**
   * @param {string} id
   * @returns {Asset | undefined}
   */
  get(id) {
    return this._map.get(id);
  }

  /**
   * @param {string} id
   * @returns {boolean}
   */
  has(id) {
    return this._map.has(id);
  }

  /** @returns {IterableIterator<Asset>} */
  values() {
    return this._map.values();
  }

  /** @returns {IterableIterator<Asset>} */
  [Symbol.iterator]() {
    return this._map.values();
  }

  /**
   * The assets, newest first.
   * @returns {Asset[]}
   */
  list() {
    return [...this._map.values()].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  }

  /**
   * One page of the room's assets, newest first (`GET /api/rooms/:roomId/assets`):
   * `limit` (1-200, default 50) older than the cursor `before` (a page's `next`; null on
   * a page that was not full). Its assets are merged into the list, without events.
   * @param {{ before?: string | null; limit?: number }} [opts]
   * @returns {Promise<{ assets: Asset[]; next: string | null }>}
   */
  async page(opts = {}) {
    const q = new URLSearchParams();
    if (opts.before != null) q.set('before', opts.before);
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    const qs = q.toString();
    const j = await this._room._client._rest('GET', `/api/rooms/${encodeURIComponent(this._room.id)}/assets${qs ? `?${qs}` : ''}`);
    const assets = j.assets ?? [];
    for (const a of assets) if (!this._gone.has(a.id)) this._map.set(a.id, a);
    return { assets, next: j.next ?? null };
  }

  /**
   * Reads every page (of `limit`, default 200) and makes the list exactly the server's:
   * emits 'asset_added' and 'asset_removed' for what changed since the last load (none
   * the first time). Resolves with the list, newest first.
   * @param {{ limit?: number }} [opts]
   * @returns {Promise<Asset[]>}
   */
  load(opts = {}) {
    const p = this._load(opts);
    this._loading = p;
    const clear = () => { if (this._loading === p) this._loading = null; };
    p.then(clear, clear);
    return p;
  }

  /** @internal */
  async _load(opts) {
    const first = !this._loaded;
    this._gone.clear();
    const seen = new Map();
    let before = null;
    do {
      const q = new URLSearchParams({ limit: String(opts.limit ?? 200) });
      if (before) q.set('before', before);
      const j = await this._room._client._rest('GET', `/api/rooms/${encodeURIComponent(this._room.id)}/assets?${q}`);
      for (const a of j.assets ?? []) seen.set(a.id, a);
      before = j.next ?? null;
    } while (before);
    if (!this._room.active) return this.list();
    for (const [id, a] of [...this._map]) {
      if (!seen.has(id)) {
        this._map.delete(id);
        if (!first) this._room._emit('asset_removed', { asset: a });
      }
    }
    for (const [id, a] of seen) {
      if (this._gone.has(id)) continue; // removed while we read
      const had = this._map.has(id);
      this._map.set(id, a);
      if (!had && !first) this._room._emit('asset_added', { asset: a });
    }
    this._loaded = true;
    return this.list();
  }

  /**
   * Uploads a file into the room (tus, upload.js) and resolves with its asset, also
   * added to the list (and emitted as 'asset_added', once, whichever of the answer and
   * the event comes first). With dedup (the default) a content this room has already
   * resolves with that asset without uploading.
   * @param {Blob | Uint8Array | ArrayBuffer} data a File, Blob, Buffer, Uint8Array or ArrayBuffer; borrowed
   * @param {UploadOptions} [opts]
   * @returns {Promise<Asset>}
   */
  async upload(data, opts = {}) {
    if (!this._room.active) throw new ChorusError('forbidden', 'not in this room');
    const c = this._room._client;
    const cfg = { url: c._url, fetch: c._fetch, token: c._token, timeout: c._requestTimeout };
    // The room's list says whether it has this content; when it is not read yet, the
    // server's by-hash HEAD first (a content it does not store is in no room).
    const lookup = async (sha256, stored) => {
      if (this._loading) await this._loading.catch(() => {});
      if (!this._loaded) {
        if (!(await stored())) return null;
        await this.load();
      }
      return this.list().find((a) => a.sha256 === sha256) ?? null;
    };
    const r = await tusUpload(cfg, this._room.id, data, opts, lookup);
    if ('asset' in r) return r.asset;
    const known = this._map.get(r.assetId);
    if (known) return known;
    const asset = (await c._rest('GET', `/api/assets/${encodeURIComponent(r.assetId)}`)).asset;
    this._add(asset);
    return asset;
  }

  /**
   * Deletes an asset (its uploader or the room's host; else ChorusError 'forbidden').
   * @param {string} id
   * @returns {Promise<Asset>} the asset as it was
   */
  async delete(id) {
    const asset = (await this._room._client._rest('DELETE', `/api/assets/${encodeURIComponent(id)}`)).asset;
    this._remove(asset);
    return asset;
  }

  /**
   * A signed URL of the asset's content, absolute, that works without a token (for
   * <img>, <video>, fetch, three.js loaders) until it expires (`--asset-url-ttl`); the same
   * URL while more than a minute of it is left.
   * @param {Asset | string} asset the asset or its id
   * @returns {Promise<string>}
   */
  async url(asset) {
    const id = typeof asset === 'string' ? asset : asset.id;
    const c = this._room._client;
    const have = this._urls.get(id);
    if (have && have.expiresAt - URL_MARGIN > Date.now()) return have.url;
    const j = await c._rest('GET', `/api/assets/${encodeURIComponent(id)}/url`);
    const url = new URL(j.url, `${c._url}/`).href;
    this._urls.set(id, { url, expiresAt: j.expiresAt });
    return url;
  }

  /** @internal */
  _add(asset) {
    if (!asset?.id || this._gone.has(asset.id)) return;
    const had = this._map.get(asset.id);
    this._map.set(asset.id, asset);
    if (!had) this._room._emit('asset_added', { asset });
  }

  /** @internal */
  _remove(asset) {
    if (!asset?.id) return;
    if (this._gone.size >= 1024) this._gone.clear(); // bounded: only recent removals matter
    this._gone.add(asset.id);
    this._urls.delete(asset.id);
    if (this._map.delete(asset.id)) this._room._emit('asset_removed', { asset });
  }

  /** @internal An asset event of the room. */
  _onEvent(msg) {
    const asset = msg.asset;
    if (!asset?.id) return;
    if (msg.op === 'asset_added') this._add(asset);
    else if (msg.op === 'asset_removed') this._remove(asset);
    else if (msg.op === 'asset_updated') {
      this._map.set(asset.id, asset);
      this._urls.delete(asset.id); // the content changed: a new URL
      this._room._emit('asset_updated', { asset });
    }
  }

  /** @internal After a rejoin: what happened meanwhile comes from the list. */
  _onRejoin() {
    if (this._loaded) this.load().catch((e) => this._room._emit('error', e));
  }
}
