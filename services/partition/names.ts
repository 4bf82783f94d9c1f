import { PinbaseError } from '../problem/pinbase-error.js';

/** Collection names; a leading "_" is reserved for system endpoints. */
export const COLLECTION_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
/** Object ids: URL-safe, no leading "." (so never "." or ".."), at most 128 characters. */
export const OBJECT_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._:-]{0,127}$/;

export function assertCollection(collection: string): void {
  if (!COLLECTION_PATTERN.test(collection)) {
    throw new PinbaseError('invalid_collection', `collection names match ${COLLECTION_PATTERN.source}`);
  }
}

export function assertObjectId(id: string): void {
  if (!OBJECT_ID_PATTERN.test(id)) {
    throw new PinbaseError('invalid_object_id', `object ids match ${OBJECT_ID_PATTERN.source}`);
  }
}
