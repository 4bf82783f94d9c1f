import { COLLECTION_PATTERN, OBJECT_ID_PATTERN } from '../ids/id-patterns.js';
import { PinbaseError } from '../problem/pinbase-error.js';

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
