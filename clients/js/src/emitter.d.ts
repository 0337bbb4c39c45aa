/**
 * A tiny event emitter: on() returns the unsubscribe function. E maps each event name to
 * its payload; F is the payload of any other name (never: only E's names).
 * @template {object} E
 * @template [F=never]
 */
export declare class Emitter<E extends object, F = never> {
    /**
     * Subscribes handler to event; returns the function that unsubscribes it. The same
     * function subscribed twice is called twice and unsubscribed independently.
     * @template {[F] extends [never] ? keyof E & string : string} K
     * @param {K} event
     * @param {(payload: K extends keyof E ? E[K] : F) => void} handler
     * @returns {() => void}
     */
    on<K extends [F] extends [never] ? keyof E & string : string>(event: K, handler: (payload: K extends keyof E ? E[K] : F) => void): () => void;
}
