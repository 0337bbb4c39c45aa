// upload.js: files in a room (docs/assets.md): drop a file on the room (or pick one) and it
// uploads with a progress bar (the SDK's room.upload, tus), shows in the room's Files list
// for everyone (room.assets, live from the asset events), and an image, video or glTF/GLB
// model is placed in the Cosmos as an entity of kind "asset" naming the asset id, which
// cosmos.js draws with assetBody() (an image or video on a surface, the model loaded by
// three.js's GLTFLoader) and everyone can move like an entry.
import { h, friendlyError } from './ui.js';

const MODEL_TYPES = { glb: 'model/gltf-binary', gltf: 'model/gltf+json' };
const KEEP_DONE = 4; // finished uploads' rows kept in the list (the newest)

/** The content type of a file: its own, else from a glTF extension (browsers leave those ''). */
export function fileType(file) {
  if (file.type) return file.type;
  return MODEL_TYPES[String(file.name).split('.').pop().toLowerCase()] ?? 'application/octet-stream';
}

/** How the Cosmos shows an asset of this type: 'image', 'video', 'model' or null (not placed). */
export function mediaKind(type) {
  if (/^image\//.test(type)) return 'image';
  if (/^video\//.test(type)) return 'video';
  if (type === MODEL_TYPES.glb || type === MODEL_TYPES.gltf) return 'model';
  return null;
}

const fmtSize = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

/**
 * Mounts the Files section in parent (the room's side panel) and the drop target on
 * dropOn (the room's area) for room (an SDK Room). opts: {me: userId, isHost() -> bool,
 * onError(err)}. Returns the function that takes it all down (uploads in flight are
 * aborted; what they stored stays on the server until it expires).
 */
export function mountUploads(room, parent, dropOn, opts = {}) {
  const onError = opts.onError ?? (() => {});
  const input = h('input', { type: 'file', multiple: true, hidden: true, 'data-testid': 'upload-input' });
  const pick = h('button', { class: 'btn btn-ghost btn-sm', type: 'button', 'data-testid': 'upload-pick' }, 'Add a file');
  const uploads = h('ul', { class: 'uploads', 'data-testid': 'uploads' });
  const list = h('ul', { class: 'assets-list', 'data-testid': 'assets', 'aria-live': 'polite' });
  const status = h('p', { class: 'muted small assets-status', 'data-testid': 'assets-status', role: 'status' });
  const box = h('section', { class: 'assets', 'aria-label': 'Files', 'data-testid': 'assets-panel' },
    h('div', { class: 'panel-head' }, h('h2', {}, 'Files'), pick, input), uploads, list, status);
  parent?.append(box);
  const ctls = new Set();
  let gone = false;

  function render() {
    list.replaceChildren(...room.assets.list().map((a) => {
      const open = h('a', { class: 'asset-name', href: '#', 'data-testid': 'asset-open', title: 'Open (a link valid for an hour)' }, a.name || 'file');
      open.addEventListener('click', async (ev) => {
        ev.preventDefault();
        try {
          window.open(await room.assetUrl(a), '_blank', 'noopener');
        } catch (err) {
          onError(err);
        }
      });
      const li = h('li', { class: 'asset-row', 'data-testid': 'asset', 'data-asset-id': a.id, 'data-sha256': a.sha256 },
        open, h('span', { class: 'muted small' }, fmtSize(a.size)));
      // Who the server lets delete it: its owner (its first version's uploader, not
      // necessarily the current version's) or whoever manages the room.
      if ((a.owner ?? a.uploadedBy) === opts.me || opts.isHost?.()) {
        const del = h('button', { class: 'btn btn-icon btn-sm', type: 'button', 'data-testid': 'asset-delete', 'aria-label': `Delete ${a.name}` }, '✕');
        del.addEventListener('click', () => removeAsset(a));
        li.append(del);
      }
      return li;
    }));
    status.textContent = list.children.length || uploads.children.length ? '' : 'No files yet: drop one here.';
  }

  /** Deletes the asset and the Cosmos objects that show it. */
  async function removeAsset(a) {
    try {
      await room.assets.delete(a.id);
      for (const e of [...room.entities.values()]) {
        if (e.kind === 'asset' && e.data?.asset === a.id) await room.entities.delete(e.id).catch(() => {});
      }
    } catch (err) {
      onError(err);
    }
  }

  /** Uploads one file: a row with a progress bar; the asset, placed in the Cosmos when it is media. */
  async function upload(file) {
    const type = fileType(file);
    const ctl = new AbortController();
    ctls.add(ctl);
    const bar = h('progress', { max: 1, value: 0, 'data-testid': 'upload-progress' });
    const cancel = h('button', { class: 'btn btn-icon btn-sm', type: 'button', 'aria-label': `Cancel ${file.name}` }, '✕');
    cancel.addEventListener('click', () => ctl.abort());
    const row = h('li', { class: 'upload-row', 'data-testid': 'upload', 'data-state': 'sending' },
      h('span', { class: 'upload-name' }, file.name), bar, cancel);
    uploads.prepend(row);
    render();
    try {
      const asset = await room.upload(file, {
        name: file.name, type, signal: ctl.signal,
        onProgress: (sent, total) => { bar.value = total ? sent / total : 1; },
      });
      row.dataset.state = 'done';
      row.dataset.assetId = asset.id;
      bar.value = 1;
      const kind = mediaKind(type);
      if (kind && !gone) await place(asset, kind);
    } catch (err) {
      row.dataset.state = err?.code === 'aborted' ? 'cancelled' : 'failed';
      row.title = friendlyError(err);
      if (err?.code !== 'aborted' && !gone) onError(err);
    } finally {
      ctls.delete(ctl);
      cancel.remove();
      const ended = uploads.querySelectorAll('[data-state]:not([data-state="sending"])'); // newest first
      for (let i = KEEP_DONE; i < ended.length; i++) ended[i].remove();
      render();
    }
  }

  /** Places an asset in the Cosmos: an entity naming it, near the center, facing the camera. */
  async function place(asset, kind) {
    const id = `asset-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const r = () => Math.round((Math.random() - 0.5) * 6000) / 1000;
    await room.entities.create({ id, kind: 'asset', data: {
      asset: asset.id, media: kind, name: asset.name, text: asset.name, pos: [r(), 1.2, r()], size: 1, stage: 'final', final: true,
    } });
  }

  const uploadAll = (files) => { for (const f of files) upload(f); };
  pick.addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    uploadAll([...input.files]);
    input.value = '';
  });
  const hasFiles = (ev) => [...(ev.dataTransfer?.types ?? [])].includes('Files');
  const over = (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    dropOn.classList.add('is-dropping');
  };
  const leave = (ev) => { if (!dropOn.contains(ev.relatedTarget)) dropOn.classList.remove('is-dropping'); };
  const drop = (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    dropOn.classList.remove('is-dropping');
    uploadAll([...ev.dataTransfer.files]);
  };
  dropOn?.addEventListener('dragover', over);
  dropOn?.addEventListener('dragleave', leave);
  dropOn?.addEventListener('drop', drop);
  const offs = ['asset_added', 'asset_removed', 'asset_updated'].map((ev) => room.on(ev, render));
  room.assets.load().then(render, (err) => { if (!gone) status.textContent = friendlyError(err); });
  render();
  return () => {
    gone = true;
    for (const c of ctls) c.abort();
    for (const off of offs) off();
    dropOn?.removeEventListener('dragover', over);
    dropOn?.removeEventListener('dragleave', leave);
    dropOn?.removeEventListener('drop', drop);
    dropOn?.classList.remove('is-dropping');
    box.remove();
  };
}

/**
 * The Cosmos body of an entity of kind "asset" (cosmos.js opts.bodies.asset): make(entity,
 * {THREE, requestFrame}) returns {hit, state, dispose()}: `hit` is the mesh cosmos.js
 * places, scales and raycasts (a surface showing the image or video, or an invisible box
 * holding the model), loaded from the asset's signed URL (a video streams with range
 * requests and plays while it downloads); `state` says how far it got, for tests:
 * {media, status: 'loading' | 'loaded' | 'error', width?, height?, meshes?}.
 */
export function assetBody(room) {
  return (entity, { THREE, requestFrame }) => {
    const data = entity.data ?? {};
    const state = { media: data.media ?? null, status: 'loading' };
    const mat = new THREE.MeshBasicMaterial({ color: 0x2a2f3d, side: THREE.DoubleSide });
    const hit = new THREE.Mesh(new THREE.PlaneGeometry(2, 1.5), mat);
    let gone = false;
    let tex = null;
    let video = null;
    let model = null;
    const fail = (err) => {
      if (gone) return;
      state.status = 'error';
      state.error = friendlyError(err);
      mat.color.set(0x5c2b33);
      requestFrame();
    };
    /** Fits the surface to w x h (2 units wide, or high when taller). */
    const surface = (w, hgt) => {
      state.width = w;
      state.height = hgt;
      const k = 2 / Math.max(w, hgt);
      hit.geometry.dispose();
      hit.geometry = new THREE.PlaneGeometry(w * k, hgt * k);
    };
    const show = (t) => {
      t.colorSpace = THREE.SRGBColorSpace;
      tex = t;
      mat.map = t;
      mat.color.set(0xffffff);
      mat.needsUpdate = true;
    };
    (async () => {
      const url = await room.assetUrl(data.asset);
      if (gone) return;
      if (data.media === 'image') {
        const t = await new THREE.TextureLoader().loadAsync(url);
        if (gone) return t.dispose();
        show(t);
        surface(t.image.width, t.image.height);
      } else if (data.media === 'video') {
        video = Object.assign(document.createElement('video'), { crossOrigin: 'anonymous', src: url, muted: true, loop: true, playsInline: true, preload: 'auto' });
        const frames = () => {
          if (gone) return;
          requestFrame();
          video.requestVideoFrameCallback?.(frames);
        };
        video.addEventListener('loadeddata', () => {
          if (gone) return;
          show(new THREE.VideoTexture(video));
          surface(video.videoWidth || 16, video.videoHeight || 9);
          state.status = 'loaded';
          frames();
        }, { once: true });
        video.addEventListener('error', () => fail(new Error('the video cannot be played')), { once: true });
        video.play().catch(() => {}); // muted, so autoplay is allowed; a refusal leaves the first frame
        return;
      } else if (data.media === 'model') {
        const { GLTFLoader } = await import('three/addons/loaders/GLTFLoader.js');
        const gltf = await new GLTFLoader().loadAsync(url);
        if (gone) return;
        model = gltf.scene;
        // Fit it in a 2-unit box, centered on the entity's place; the box is what a pointer hits.
        const box = new THREE.Box3().setFromObject(model);
        const size = box.getSize(new THREE.Vector3());
        const k = 2 / Math.max(size.x, size.y, size.z, 1e-6);
        model.scale.setScalar(k);
        model.position.copy(box.getCenter(new THREE.Vector3()).multiplyScalar(-k));
        hit.geometry.dispose();
        hit.geometry = new THREE.BoxGeometry(size.x * k, size.y * k, size.z * k);
        mat.visible = false;
        hit.add(model);
        let meshes = 0;
        model.traverse((o) => { if (o.isMesh) meshes++; });
        state.meshes = meshes;
      } else {
        throw new Error(`no view for ${data.media}`);
      }
      state.status = 'loaded';
      requestFrame();
    })().catch(fail);
    return {
      hit,
      state,
      dispose() {
        gone = true;
        tex?.dispose();
        if (video) {
          video.pause();
          video.removeAttribute('src');
          video.load();
        }
        model?.traverse((o) => {
          o.geometry?.dispose();
          for (const m of [].concat(o.material ?? [])) {
            for (const v of Object.values(m)) if (v?.isTexture) v.dispose();
            m.dispose();
          }
        });
        hit.geometry.dispose();
        mat.dispose();
      },
    };
  };
}
