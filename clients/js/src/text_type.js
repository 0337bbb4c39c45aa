// text_type.js: textType, the ot-text-unicode operational transform type, dependency-free.
//
// An op is an array of components: a number skips (retains) that many code points, a
// string inserts, {d: N} (or {d: "text"}) deletes N code points. Every length counts
// Unicode code points (a surrogate pair is one), like the server and the npm package.
// The functions below follow ot-text-unicode 4 component for component (test/texttype.test.mjs
// checks them against it), except that apply() also refuses a delete past the end.

/** @typedef {import('./types.js').TextOp} TextOp */

const isSurrogate = (code) => code >= 0xd800 && code <= 0xdfff;

/**
 * Code points in s (a UTF-16 surrogate pair counts once).
 * @param {string} s
 * @returns {number}
 */
export function cpLen(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++, n++) if (isSurrogate(s.charCodeAt(i))) i++;
  return n;
}

/** The UTF-16 offset of code point cp in s (s.length when past the end). */
function cpToIndex(s, cp) {
  let i = 0;
  for (; cp > 0 && i < s.length; cp--) i += isSurrogate(s.charCodeAt(i)) ? 2 : 1;
  return Math.min(i, s.length);
}

function cpSlice(s, start, end) {
  const a = cpToIndex(s, start);
  return end == null ? s.slice(a) : s.slice(a, cpToIndex(s, end));
}

const dlen = (d) => (typeof d === 'number' ? d : cpLen(d));

const compLen = (c) => (typeof c === 'number' ? c : typeof c === 'string' ? cpLen(c) : dlen(c.d));

const dslice = (d, start, end) => (typeof d === 'number'
  ? (end == null ? d - start : Math.min(d, end) - start)
  : cpSlice(d, start, end));

/**
 * Throws unless op is a valid normalized op.
 * @param {TextOp} op
 * @returns {void}
 */
function checkOp(op) {
  if (!Array.isArray(op)) throw new Error('Op must be an array of components');
  let last = null;
  for (const c of op) {
    switch (typeof c) {
      case 'object':
        if (c === null || (typeof c.d !== 'number' && typeof c.d !== 'string')) throw new Error('Delete must be number or string');
        if (!(dlen(c.d) > 0)) throw new Error('Deletes must not be empty');
        if (typeof c.d === 'number' && !Number.isInteger(c.d)) throw new Error('Delete lengths must be integers');
        break;
      case 'string':
        if (!(c.length > 0)) throw new Error('Inserts cannot be empty');
        break;
      case 'number':
        if (!(c > 0) || !Number.isInteger(c)) throw new Error('Skip components must be integers > 0');
        if (typeof last === 'number') throw new Error('Adjacent skip components should be combined');
        break;
      default:
        throw new Error('Invalid op component');
    }
    last = c;
  }
  if (typeof last === 'number') throw new Error('Op has a trailing skip');
}

/** Returns a function appending a component to op, merging it with the last one. */
function makeAppend(op) {
  return (c) => {
    if (!c || c.d === 0 || c.d === '') return; // a no-op
    if (op.length === 0) {
      op.push(c);
      return;
    }
    const last = op[op.length - 1];
    if (typeof c !== typeof last) {
      op.push(c);
    } else if (typeof c === 'object') {
      // Merged deletes keep their text only when both have it.
      op[op.length - 1] = {
        d: typeof last.d === 'string' && typeof c.d === 'string' ? last.d + c.d : dlen(last.d) + dlen(c.d),
      };
    } else {
      op[op.length - 1] = last + c;
    }
  };
}

/** take(n, indivisible) hands out op's components, split to at most n code points. */
function makeTake(op) {
  let idx = 0;
  let offset = 0; // into op[idx]: UTF-16 units for inserts, code points otherwise
  const take = (n, indivisible) => {
    if (idx === op.length) return n === -1 ? null : n; // skips forever
    const c = op[idx];
    if (typeof c === 'number') {
      if (n === -1 || c - offset <= n) {
        const part = c - offset;
        idx++;
        offset = 0;
        return part;
      }
      offset += n;
      return n;
    }
    if (typeof c === 'string') {
      const rest = c.slice(offset);
      if (n === -1 || indivisible === 'i' || cpLen(rest) <= n) {
        idx++;
        offset = 0;
        return rest;
      }
      const end = offset + cpToIndex(rest, n);
      const part = c.slice(offset, end);
      offset = end;
      return part;
    }
    if (n === -1 || indivisible === 'd' || dlen(c.d) - offset <= n) {
      const part = { d: dslice(c.d, offset) };
      idx++;
      offset = 0;
      return part;
    }
    const part = { d: dslice(c.d, offset, offset + n) };
    offset += n;
    return part;
  };
  const peek = () => op[idx];
  return { take, peek };
}

function trim(op) {
  if (op.length > 0 && typeof op[op.length - 1] === 'number') op.pop();
  return op;
}

/**
 * The normalized form of op (merged components, no trailing skip).
 * @param {TextOp} op
 * @returns {TextOp}
 */
export function normalize(op) {
  const out = [];
  const append = makeAppend(out);
  for (const c of op) append(typeof c === 'object' && c !== null ? { d: c.d } : c);
  return trim(out);
}

/**
 * Applies op to text; throws if op is not a normalized op that fits text (also a delete
 * past the end, which the npm package lets through).
 * @param {string} text
 * @param {TextOp} op
 * @returns {string}
 */
export function apply(text, op) {
  checkOp(op);
  const parts = [];
  let i = 0; // UTF-16 offset into text
  for (const c of op) {
    if (typeof c === 'string') {
      parts.push(c);
      continue;
    }
    const n = compLen(c);
    let j = i;
    for (let k = 0; k < n; k++) {
      if (j >= text.length) throw new Error('The op is too long for this document');
      j += isSurrogate(text.charCodeAt(j)) ? 2 : 1;
    }
    if (typeof c === 'number') parts.push(text.slice(i, j));
    i = j;
  }
  parts.push(text.slice(i));
  return parts.join('');
}

/**
 * op transformed against other, applied concurrently; side says whose insert at the same
 * place goes first (left: op's).
 * @param {TextOp} op
 * @param {TextOp} other
 * @param {'left' | 'right'} side
 * @returns {TextOp}
 */
export function transform(op, other, side) {
  if (side !== 'left' && side !== 'right') throw new Error(`side (${side}) must be 'left' or 'right'`);
  checkOp(op);
  checkOp(other);
  const out = [];
  const append = makeAppend(out);
  const { take, peek } = makeTake(op);
  for (const c2 of other) {
    let length;
    let c1;
    switch (typeof c2) {
      case 'number':
        length = c2;
        while (length > 0) {
          c1 = take(length, 'i');
          append(c1);
          if (typeof c1 !== 'string') length -= compLen(c1);
        }
        break;
      case 'string':
        // The left side's insert at the same place goes first.
        if (side === 'left' && typeof peek() === 'string') append(take(-1));
        append(cpLen(c2));
        break;
      default:
        length = dlen(c2.d);
        while (length > 0) {
          c1 = take(length, 'i');
          if (typeof c1 === 'number') length -= c1;
          else if (typeof c1 === 'string') append(c1);
          else length -= dlen(c1.d); // deleted by both
        }
    }
  }
  let c;
  while ((c = take(-1))) append(c);
  return trim(out);
}

/**
 * One op with the effect of a, then b.
 * @param {TextOp} a
 * @param {TextOp} b
 * @returns {TextOp}
 */
export function compose(a, b) {
  checkOp(a);
  checkOp(b);
  const out = [];
  const append = makeAppend(out);
  const { take } = makeTake(a);
  for (const c of b) {
    let length;
    let chunk;
    switch (typeof c) {
      case 'number':
        length = c;
        while (length > 0) {
          chunk = take(length, 'd');
          append(chunk);
          if (typeof chunk !== 'object') length -= compLen(chunk);
        }
        break;
      case 'string':
        append(c);
        break;
      default: {
        length = dlen(c.d);
        let offset = 0;
        while (offset < length) {
          chunk = take(length - offset, 'd');
          if (typeof chunk === 'number') {
            append({ d: dslice(c.d, offset, offset + chunk) });
            offset += chunk;
          } else if (typeof chunk === 'string') {
            offset += cpLen(chunk);
          } else {
            append(chunk);
          }
        }
      }
    }
  }
  let c;
  while ((c = take(-1))) append(c);
  return trim(out);
}

/**
 * Moves a position (code points) through op. An insert exactly at the position leaves
 * it before the inserted text, unless isOwn (the position's owner typed it): then it
 * moves after it (SDK extension; the npm package has no isOwn).
 * @param {number} cursor
 * @param {TextOp} op
 * @param {boolean} [isOwn]
 * @returns {number}
 */
export function transformPosition(cursor, op, isOwn = false) {
  let pos = 0;
  for (let i = 0; i < op.length && (cursor > pos || (isOwn && cursor === pos)); i++) {
    const c = op[i];
    if (typeof c === 'number') {
      pos += c;
    } else if (typeof c === 'string') {
      const n = cpLen(c);
      pos += n;
      cursor += n;
    } else {
      cursor -= Math.min(dlen(c.d), cursor - pos);
    }
  }
  return cursor;
}

/**
 * The ot-text-unicode type's functions, with the semantics of the npm package.
 * @typedef {object} TextType
 * @property {string} name 'text-unicode' (SDK extension).
 * @property {(text?: string) => string} create A new snapshot (SDK extension).
 * @property {(text: string, op: TextOp) => string} apply Throws if op is not a normalized
 *   op that fits text (also a delete past the end, which the npm package lets through).
 * @property {(op: TextOp, other: TextOp, side: 'left' | 'right') => TextOp} transform
 * @property {(a: TextOp, b: TextOp) => TextOp} compose
 * @property {(pos: number, op: TextOp, isOwn?: boolean) => number} transformPosition As the
 *   npm package: an insert exactly at pos leaves pos before it; with isOwn (the position's
 *   owner made op) pos moves after it.
 * @property {(op: TextOp) => TextOp} normalize
 * @property {(op: TextOp) => void} checkOp Throws unless op is a valid normalized op (SDK extension).
 * @property {(text: string) => number} length Length of a string in code points (SDK extension).
 */

/**
 * Pure OT helpers with the semantics of the ot-text-unicode npm package.
 * @type {Readonly<TextType>}
 */
export const textType = Object.freeze({
  name: 'text-unicode',
  create: (text = '') => String(text),
  apply,
  transform,
  compose,
  transformPosition,
  normalize,
  checkOp,
  /** Code points in a string (SDK extension). */
  length: cpLen,
});

/**
 * A minimal op turning a into b (common prefix and suffix, in code points).
 * @param {string} a
 * @param {string} b
 * @returns {TextOp}
 */
export function diffOp(a, b) {
  const ca = Array.from(a);
  const cb = Array.from(b);
  let p = 0;
  while (p < ca.length && p < cb.length && ca[p] === cb[p]) p++;
  let s = 0;
  while (s < ca.length - p && s < cb.length - p && ca[ca.length - 1 - s] === cb[cb.length - 1 - s]) s++;
  const op = [];
  if (p) op.push(p);
  if (cb.length - p - s) op.push(cb.slice(p, cb.length - s).join(''));
  if (ca.length - p - s) op.push({ d: ca.length - p - s });
  return normalize(op);
}
