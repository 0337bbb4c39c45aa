/**
 * RFC 7396 JSON merge patch (null removes a field); returns a new value (SDK extension).
 * @param {unknown} target
 * @param {unknown} patch
 * @returns {unknown}
 */
export declare function mergePatch(target: unknown, patch: unknown): unknown;
/** Composes two RFC 7396 merge patches: applying the result = applying a, then b. */
export declare function composePatch(a: any, b: any): any;
/**
 * The RFC 7396 merge patch that turns object a into object b (keys of a missing from b
 * become null; a value that differs is b's whole value); {} when they are the same.
 * @param {Record<string, unknown>} a
 * @param {Record<string, unknown>} b
 * @returns {Record<string, unknown>}
 */
export declare function diffPatch(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown>;
/** Whether a and b have the same JSON encoding. */
export declare const sameJson: (a: any, b: any) => boolean;
