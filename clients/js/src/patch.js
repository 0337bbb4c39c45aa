// patch.js: RFC 7396 JSON merge patches (presence, room state, entity data) and the JSON
// comparison of two values.

/**
 * RFC 7396 JSON merge patch (null removes a field); returns a new value (SDK extension).
 * @param {unknown} target
 * @param {unknown} patch
 * @returns {unknown}
 */
export function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const isObj = target !== null && typeof target === 'object' && !Array.isArray(target);
  const out = isObj ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Composes two RFC 7396 merge patches: applying the result = applying a, then b. */
export function composePatch(a, b) {
  const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObj(a) || !isObj(b)) return b;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObj(v) && isObj(out[k]) ? composePatch(out[k], v) : v;
  return out;
}

/**
 * The RFC 7396 merge patch that turns object a into object b (keys of a missing from b
 * become null; a value that differs is b's whole value); {} when they are the same.
 * @param {Record<string, unknown>} a
 * @param {Record<string, unknown>} b
 * @returns {Record<string, unknown>}
 */
export function diffPatch(a, b) {
  const out = {};
  for (const k of Object.keys(a)) if (!(k in b)) out[k] = null;
  for (const [k, v] of Object.entries(b)) if (!sameJson(a[k], v)) out[k] = v;
  return out;
}

/** Whether a and b have the same JSON encoding. */
export const sameJson = (a, b) => JSON.stringify(a) === JSON.stringify(b);
