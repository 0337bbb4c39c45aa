/**
 * A new client id: 16 random bytes (Web Crypto) in base64url, 22 characters.
 * @returns {string}
 */
export declare function newClientId(): string;
