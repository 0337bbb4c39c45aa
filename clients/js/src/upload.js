// upload.js: a small tus 1.0 client (docs/assets.md "Uploads"): creation, PATCH in chunks
// with a sha256 Upload-Checksum, HEAD to resume after a dropped connection or a restarted
// server, progress, and the asset the finished upload became. No dependencies: fetch, and
// XMLHttpRequest in a browser for progress within a chunk.

import { ChorusError, errorFromReply } from './errors.js';

/**
 * The options of room.upload().
 * @typedef {object} UploadOptions
 * @property {string} [name] The asset's name (Upload-Metadata `filename`). Default: the File's name.
 * @property {string} [type] Its content type (`filetype`). Default: the Blob's type.
 * @property {(sent: number, total: number) => void} [onProgress] Bytes the server has
 *   taken (within a chunk, bytes sent so far, in a browser) and the total.
 * @property {AbortSignal} [signal] Aborts the upload (rejects with ChorusError('aborted');
 *   what was stored stays, resumable with `uploadUrl` until it expires).
 * @property {number} [chunkSize] Bytes per PATCH. Default 4 MiB: each must reach the
 *   server within its --http-request-timeout, and a PATCH cut off is sent again whole.
 * @property {number[]} [retryDelays] Milliseconds to wait before each retry after a
 *   network error, a 5xx or a 408/409/423/429; reset once a chunk is stored. Default
 *   [0, 1000, 3000, 5000, 10000]; exhausted: rejects with the last error.
 * @property {boolean} [dedup] When the file is small enough to hash (`hashLimit`) and the
 *   server stores that content already, an asset of this room with the same sha256 is
 *   returned instead of uploading again. Default true.
 * @property {number} [hashLimit] Largest file hashed before uploading. Default 64 MiB.
 * @property {string} [uploadUrl] Resume this upload (an earlier upload's `onCreated` URL)
 *   instead of creating one.
 * @property {(url: string) => void} [onCreated] Called with the upload's URL once created.
 */

/**
 * What the uploader needs from the client: base URL, fetch, token and the timeout of the
 * small requests (POST, HEAD, GET) in ms.
 * @typedef {{ url: string | undefined; fetch: any; token: string | undefined; timeout: number }} UploadConfig
 */

/** The bytes of an upload: a Blob (File) or a Uint8Array (Buffer, ArrayBuffer). */
function toSource(data) {
  if (typeof Blob === 'function' && data instanceof Blob) {
    return { size: data.size, slice: (a, b) => data.slice(a, b), all: async () => new Uint8Array(await data.arrayBuffer()) };
  }
  let u8;
  if (data instanceof Uint8Array) u8 = data;
  else if (data instanceof ArrayBuffer) u8 = new Uint8Array(data);
  else if (ArrayBuffer.isView(data)) u8 = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  else throw new ChorusError('validation_error', 'upload: a File, Blob, Buffer, Uint8Array or ArrayBuffer');
  return { size: u8.byteLength, slice: (a, b) => u8.subarray(a, b), all: async () => u8 };
}

const subtle = () => globalThis.crypto?.subtle;
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
function b64(buf) {
  let s = '';
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s);
}
/** tus Upload-Metadata: `key base64(utf-8 value)` pairs. */
const meta = (o) => Object.entries(o)
  .filter(([, v]) => v !== undefined && v !== '')
  .map(([k, v]) => `${k} ${b64(new TextEncoder().encode(String(v)))}`)
  .join(',');

/**
 * The SHA-256 of bytes as 64 lower-case hex digits, or null where WebCrypto is missing (a
 * page served over plain HTTP from another host than localhost).
 * @param {Uint8Array} u8
 * @returns {Promise<string | null>}
 */
export async function sha256Hex(u8) {
  const s = subtle();
  return s ? hex(await s.digest('SHA-256', u8)) : null;
}

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  if (signal?.aborted) return reject(new ChorusError('aborted', 'upload aborted'));
  const t = setTimeout(() => {
    signal?.removeEventListener('abort', onAbort);
    resolve();
  }, ms);
  const onAbort = () => {
    clearTimeout(t);
    reject(new ChorusError('aborted', 'upload aborted'));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
});

/**
 * One HTTP request of the upload. Resolves {status, header(name), json} for any answer;
 * rejects with ChorusError('network') when none came, 'aborted' on signal, 'timeout'
 * after `timeout` ms (0: none). onSent(bytes) reports a body's progress where the
 * platform can (XMLHttpRequest).
 */
async function send(cfg, method, url, headers, body, { signal, timeout = 0, onSent } = {}) {
  if (signal?.aborted) throw new ChorusError('aborted', 'upload aborted');
  const h = { 'Tus-Resumable': '1.0.0', ...headers };
  if (cfg.token) h.Authorization = `Bearer ${cfg.token}`;
  if (onSent && typeof XMLHttpRequest === 'function') {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open(method, url);
      for (const [k, v] of Object.entries(h)) x.setRequestHeader(k, v);
      x.upload.onprogress = (e) => onSent(e.loaded);
      const onAbort = () => x.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (fn) => {
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      x.onload = () => done(() => {
        let json = null;
        try {
          json = x.responseText ? JSON.parse(x.responseText) : null;
        } catch { /* not JSON */ }
        resolve({ status: x.status, header: (n) => x.getResponseHeader(n), json });
      });
      x.onerror = () => done(() => reject(new ChorusError('network', `${method} ${url}: connection failed`)));
      x.onabort = () => done(() => reject(new ChorusError('aborted', 'upload aborted')));
      x.send(body ?? null);
    });
  }
  const ctl = new AbortController();
  const onAbort = () => ctl.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = timeout ? setTimeout(() => ctl.abort(), timeout) : null;
  try {
    const res = await cfg.fetch(url, { method, headers: h, body, signal: ctl.signal });
    const text = method === 'HEAD' ? '' : await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch { /* not JSON */ }
    return { status: res.status, header: (n) => res.headers.get(n), json };
  } catch (e) {
    if (signal?.aborted) throw new ChorusError('aborted', 'upload aborted');
    if (ctl.signal.aborted) throw new ChorusError('timeout', `${method} ${url}: no answer within ${timeout} ms`);
    throw new ChorusError('network', `${method} ${url}: ${e?.message ?? e}`);
  } finally {
    if (timer) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The ChorusError of a refused request (the server's JSON error, else http_error). */
function refused(r, what) {
  const extra = { status: r.status };
  const ra = r.header('retry-after');
  if (ra) extra.retryAfter = Number(ra);
  if (r.json?.error) return errorFromReply(r.json.error, extra);
  return new ChorusError('http_error', `${what}: HTTP ${r.status}`, extra);
}
/** Worth a retry: the server or the path to it may be back later. */
// 460: the bytes were damaged on the way (Upload-Checksum), send them again.
const transient = (status) => status >= 500 || [408, 409, 423, 429, 460].includes(status);
/** A numeric header, or a ChorusError (a proxy or CORS hiding it). */
function offsetOf(r, what) {
  const v = Number(r.header('upload-offset') ?? NaN);
  if (!Number.isSafeInteger(v) || v < 0) throw new ChorusError('http_error', `${what}: no Upload-Offset in the answer`);
  return v;
}

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
export async function tusUpload(cfg, roomId, data, opts, lookup) {
  if (!cfg.url) throw new ChorusError('network', 'no url: pass options.url');
  const src = toSource(data);
  const { signal, onProgress } = opts;
  const chunkSize = Math.max(1, opts.chunkSize ?? 4 * 1024 * 1024);
  const delays = opts.retryDelays ?? [0, 1000, 3000, 5000, 10000];
  const small = { signal, timeout: cfg.timeout };
  const name = opts.name ?? (typeof data?.name === 'string' ? data.name : '');
  const type = opts.type ?? (typeof data?.type === 'string' ? data.type : '');

  if (opts.dedup !== false && !opts.uploadUrl && src.size <= (opts.hashLimit ?? 64 * 1024 * 1024)) {
    const sum = await sha256Hex(await src.all());
    const stored = async () => (await send(cfg, 'HEAD', `${cfg.url}/api/assets/by-hash/${sum}`, {}, undefined, small)).status === 200;
    const asset = sum ? await lookup(sum, stored) : null;
    if (asset) {
      onProgress?.(src.size, src.size);
      return { asset };
    }
  }

  let url = opts.uploadUrl;
  let offset = -1; // unknown: ask with HEAD (a resumed upload, or after a failure)
  if (!url) {
    const r = await send(cfg, 'POST', `${cfg.url}/api/uploads/`, {
      'Upload-Length': String(src.size),
      'Upload-Metadata': meta({ filename: name, filetype: type, room: roomId }),
    }, undefined, small);
    if (r.status !== 201) throw refused(r, 'POST /api/uploads/');
    url = new URL(r.header('location'), `${cfg.url}/`).href;
    offset = offsetOf(r, 'POST /api/uploads/');
    opts.onCreated?.(url);
    const done = r.header('asset-id'); // an empty file is complete at creation
    if (done) {
      onProgress?.(src.size, src.size);
      return { assetId: done };
    }
  }
  let tries = 0;
  for (;;) {
    try {
      if (offset < 0) {
        const r = await send(cfg, 'HEAD', url, {}, undefined, small);
        if (r.status !== 200) throw refused(r, `HEAD ${url}`);
        offset = offsetOf(r, `HEAD ${url}`);
        const id = r.header('asset-id');
        if (offset === src.size && r.header('upload-sha256')) {
          onProgress?.(offset, src.size);
          if (id) return { assetId: id };
          // Finished before: its id is the upload's own (docs/assets.md).
          return { assetId: url.split('/').pop() };
        }
        onProgress?.(offset, src.size);
      }
      const end = Math.min(src.size, offset + chunkSize);
      let chunk = src.slice(offset, end);
      const headers = { 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' };
      if (subtle()) {
        const bytes = chunk instanceof Uint8Array ? chunk : new Uint8Array(await chunk.arrayBuffer());
        headers['Upload-Checksum'] = `sha256 ${b64(await subtle().digest('SHA-256', bytes))}`;
        chunk = bytes;
      }
      const at = offset;
      const r = await send(cfg, 'PATCH', url, headers, chunk, {
        signal,
        onSent: onProgress ? (n) => onProgress(Math.min(at + n, end), src.size) : undefined,
      });
      if (r.status !== 204) throw refused(r, `PATCH ${url}`);
      offset = offsetOf(r, `PATCH ${url}`);
      tries = 0;
      onProgress?.(offset, src.size);
      if (offset >= src.size) return { assetId: r.header('asset-id') ?? url.split('/').pop() };
    } catch (e) {
      if (e.code === 'aborted') throw e;
      const retry = e.code === 'network' || e.code === 'timeout' || (e.status !== undefined && transient(e.status));
      if (!retry || tries >= delays.length) throw e;
      await sleep(e.retryAfter ? e.retryAfter * 1000 : delays[tries++], signal);
      offset = -1;
    }
  }
}
