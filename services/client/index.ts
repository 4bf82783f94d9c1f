/**
 * `pinbase/client`: the typed TypeScript client. Browser-safe: nothing
 * reached from here by a static import uses a Node builtin or a package
 * (test/unit/client/browser-safe-imports.test.ts); direct routing and
 * Node 20's WebSocket are loaded with import() on Node only.
 */
export { createClient, PinbaseClient } from './client.js';
export { CollectionHandle, CollectionReads } from './collection-handle.js';
export { PinbaseError, type ClientErrorCode, type Problem } from './pinbase-error.js';
export { SnapshotView, UserHandle, type IndexDefinition, type IndexInfo } from './user-handle.js';
export type * from './types.js';
