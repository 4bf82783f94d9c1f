import { PinbaseError } from '../problem/pinbase-error.js';
import type { Precondition } from '../partition/write-request.js';

const ENTITY_TAG = /^(W\/)?"(0|[1-9][0-9]{0,15})"$/;

/**
 * Parses If-Match / If-None-Match: "*" or a comma-separated list of entity
 * tags ("12", W/"12"). If-Match compares strongly (RFC 9110 §13.1.1), so a
 * weak tag there never matches; If-None-Match compares weakly. A malformed
 * header is 400 `invalid_precondition`.
 */
export function parseEntityTags(header: string | undefined, name: 'If-Match' | 'If-None-Match'): '*' | number[] | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '*') return '*';
  const revs: number[] = [];
  for (const part of value.split(',')) {
    const match = ENTITY_TAG.exec(part.trim());
    if (!match) throw new PinbaseError('invalid_precondition', `${name} must be "*" or a list of entity tags like "12"`);
    if (match[1] && name === 'If-Match') continue;
    revs.push(Number(match[2]));
  }
  return revs;
}

export function parsePrecondition(headers: Record<string, string | string[] | undefined>): Precondition {
  const precondition: Precondition = {};
  const ifMatch = parseEntityTags(single(headers['if-match']), 'If-Match');
  const ifNoneMatch = parseEntityTags(single(headers['if-none-match']), 'If-None-Match');
  if (ifMatch !== undefined) precondition.ifMatch = ifMatch;
  if (ifNoneMatch !== undefined) precondition.ifNoneMatch = ifNoneMatch;
  return precondition;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

export function entityTag(rev: number): string {
  return `"${rev}"`;
}
