/**
 * The request target of a data-path request: `/api/users/<userId>/...`.
 * Parsed with a few string scans and no allocation beyond the id itself, and
 * strict on purpose: anything a path normalizer could read two ways (dot
 * segments, encoded slashes, backslashes, empty segments) is rejected before
 * any worker sees it, so the router and the worker can never disagree on
 * which user a request is for.
 */
import { isIdChar, MAX_ID_LENGTH, USER_ID_PATTERN } from '../services/ids/id-patterns.js';
import type { ErrorCode } from '../services/problem/error-table.js';

export const USER_PATH_PREFIX = '/api/users/';

/** Why a path was rejected: a constant, so rejecting allocates nothing. */
export interface PathRejection {
  readonly code: ErrorCode;
  readonly detail: string;
}

export const INVALID_USER_ID: PathRejection = {
  code: 'invalid_user_id',
  detail: `the user id must match ${USER_ID_PATTERN.source}`,
};
export const INVALID_PATH: PathRejection = {
  code: 'invalid_path',
  detail: 'the path must not contain empty or dot segments, backslashes, control characters or encoded /, \\, . or NUL',
};

/**
 * The user id of `url` (which starts with USER_PATH_PREFIX), or the reason
 * the path is refused. The query string is not inspected: it is the
 * worker's to validate.
 */
export function userIdOf(url: string): string | PathRejection {
  const start = USER_PATH_PREFIX.length;
  let end = start;
  const length = url.length;
  for (; end < length; end++) {
    const c = url.charCodeAt(end);
    if (c === 47 /* / */ || c === 63 /* ? */) break;
    if (!isIdChar(c) || end - start >= MAX_ID_LENGTH) return INVALID_USER_ID;
  }
  if (end === start) return INVALID_USER_ID;
  return restIsClean(url, end) ? url.slice(start, end) : INVALID_PATH;
}

/**
 * Whether `url` (whose user id, as userIdOf read it, is `userIdLength`
 * characters long) is the user's import: `/api/users/<id>/_import`, with or
 * without a query string. No allocation.
 */
export function isImportTarget(url: string, userIdLength: number): boolean {
  return isUserEndpoint(url, userIdLength, '/_import');
}

/**
 * Whether `url` (user id `userIdLength` characters long, as userIdOf read
 * it) is the user's change feed: `/api/users/<id>/_changes`, with or without
 * a query string. No allocation.
 */
export function isChangesTarget(url: string, userIdLength: number): boolean {
  return isUserEndpoint(url, userIdLength, '/_changes');
}

/** Whether the path after the user id is exactly `suffix`, a query string allowed after it. */
function isUserEndpoint(url: string, userIdLength: number, suffix: string): boolean {
  const at = USER_PATH_PREFIX.length + userIdLength;
  if (!url.startsWith(suffix, at)) return false;
  const end = at + suffix.length;
  return url.length === end || url.charCodeAt(end) === 63; /* ? */
}

/** Checks the path after the user id, up to the query string. */
function restIsClean(url: string, from: number): boolean {
  const length = url.length;
  for (let i = from; i < length; i++) {
    const c = url.charCodeAt(i);
    if (c === 63 /* ? */) return true;
    if (c <= 32 || c === 127 || c === 92 /* \ */ || c === 35 /* # */) return false;
    if (c === 47 /* / */) {
      if (!segmentIsClean(url, i + 1)) return false;
    } else if (c === 37 /* % */ && isForbiddenEscape(url, i)) {
      return false;
    }
  }
  return true;
}

/** False for an empty (but not trailing), "." or ".." segment starting at `i`, %2e-encoded dots included. */
function segmentIsClean(url: string, i: number): boolean {
  let j = i;
  let dots = 0;
  for (;;) {
    const c = url.charCodeAt(j);
    if (c === 46 /* . */) {
      dots++;
      j++;
    } else if (c === 37 /* % */ && url.charCodeAt(j + 1) === 50 && (url.charCodeAt(j + 2) | 0x20) === 101) {
      dots++;
      j += 3;
    } else {
      break;
    }
  }
  const next = url.charCodeAt(j);
  const segmentEnded = Number.isNaN(next) || next === 47 /* / */ || next === 63; /* ? */
  if (!segmentEnded) return true;
  if (dots === 0) return next !== 47; // "//" is refused; one trailing "/" is fine
  return dots > 2;
}

/** %2F, %5C, %00 (any case): escapes that would change the path's shape when decoded. */
function isForbiddenEscape(url: string, i: number): boolean {
  const hi = url.charCodeAt(i + 1);
  const lo = url.charCodeAt(i + 2) | 0x20;
  return (hi === 50 && lo === 102) || (hi === 53 && lo === 99) || (hi === 48 && lo === 48);
}
