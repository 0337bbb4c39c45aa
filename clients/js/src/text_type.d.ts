export type TextOp = import('./types.js').TextOp;
/**
 * Code points in s (a UTF-16 surrogate pair counts once).
 * @param {string} s
 * @returns {number}
 */
export declare function cpLen(s: string): number;
/**
 * The normalized form of op (merged components, no trailing skip).
 * @param {TextOp} op
 * @returns {TextOp}
 */
export declare function normalize(op: TextOp): TextOp;
/**
 * Applies op to text; throws if op is not a normalized op that fits text (also a delete
 * past the end, which the npm package lets through).
 * @param {string} text
 * @param {TextOp} op
 * @returns {string}
 */
export declare function apply(text: string, op: TextOp): string;
/**
 * op transformed against other, applied concurrently; side says whose insert at the same
 * place goes first (left: op's).
 * @param {TextOp} op
 * @param {TextOp} other
 * @param {'left' | 'right'} side
 * @returns {TextOp}
 */
export declare function transform(op: TextOp, other: TextOp, side: 'left' | 'right'): TextOp;
/**
 * One op with the effect of a, then b.
 * @param {TextOp} a
 * @param {TextOp} b
 * @returns {TextOp}
 */
export declare function compose(a: TextOp, b: TextOp): TextOp;
/**
 * Moves a position (code points) through op. An insert exactly at the position leaves
 * it before the inserted text, unless isOwn (the position's owner typed it): then it
 * moves after it (SDK extension; the npm package has no isOwn).
 * @param {number} cursor
 * @param {TextOp} op
 * @param {boolean} [isOwn]
 * @returns {number}
 */
export declare function transformPosition(cursor: number, op: TextOp, isOwn?: boolean): number;
export type TextType = {
    /**
     * 'text-unicode' (SDK extension).
     */
    name: string;
    /**
     * A new snapshot (SDK extension).
     */
    create: (text?: string) => string;
    /**
     * Throws if op is not a normalized
     * op that fits text (also a delete past the end, which the npm package lets through).
     */
    apply: (text: string, op: TextOp) => string;
    transform: (op: TextOp, other: TextOp, side: 'left' | 'right') => TextOp;
    compose: (a: TextOp, b: TextOp) => TextOp;
    /**
     * As the
     * npm package: an insert exactly at pos leaves pos before it; with isOwn (the position's
     * owner made op) pos moves after it.
     */
    transformPosition: (pos: number, op: TextOp, isOwn?: boolean) => number;
    normalize: (op: TextOp) => TextOp;
    /**
     * Throws unless op is a valid normalized op (SDK extension).
     */
    checkOp: (op: TextOp) => void;
    /**
     * Length of a string in code points (SDK extension).
     */
    length: (text: string) => number;
};
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
export declare const textType: Readonly<TextType>;
/**
 * A minimal op turning a into b (common prefix and suffix, in code points).
 * @param {string} a
 * @param {string} b
 * @returns {TextOp}
 */
export declare function diffOp(a: string, b: string): TextOp;
