/**
 * Every name a request, a topology file or a command line can carry, in one
 * place: the router's character scan, the workers' schemas, the topology
 * parser and the CLI all check against these, so they can never disagree on
 * what a valid id is.
 */

/** User ids and worker ids: 1 to 64 characters, URL- and file-name-safe. */
export const MAX_ID_LENGTH = 64;
export const USER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const WORKER_ID_PATTERN = USER_ID_PATTERN;

/**
 * Whether the character code `c` may appear in a user or worker id: the
 * allocation-free form of the character class of USER_ID_PATTERN, for the
 * router's scan of the raw request target.
 */
export function isIdChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    (c >= 48 && c <= 57) || // 0-9
    c === 95 || // _
    c === 45 // -
  );
}

/** Collection names; a leading "_" is reserved for system endpoints. */
export const COLLECTION_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;

/** Object ids: URL-safe, no leading "." (so never "." or ".."), at most 128 characters. */
export const OBJECT_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._:-]{0,127}$/;
