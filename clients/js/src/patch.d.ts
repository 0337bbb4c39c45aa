/**
 * RFC 7396 JSON merge patch (null removes a field); returns a new value (SDK extension).
 * @param {unknown} target
 * @param {unknown} patch
 * @returns {unknown}
 */
export declare function mergePatch(target: unknown, patch: unknown): unknown;
/** Composes two RFC 7396 merge patches: applying the result = applying a, then b. */
export declare function composePatch(a: any, b: any): any;
/** Whether a and b have the same JSON encoding. */
export declare const sameJson: (a: any, b: any) => boolean;
