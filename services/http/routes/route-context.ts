import type { PartitionStore } from '../../partition/partition-store.js';

/** What the API routes need from the worker. */
export interface RouteContext {
  store: Pick<PartitionStore, 'read' | 'write' | 'subscribe'>;
  heartbeatMs: number;
}

export const USER_BASE = '/api/users/:userId';

export interface UserParams {
  userId: string;
}
export interface CollectionParams extends UserParams {
  collection: string;
}
export interface ObjectParams extends CollectionParams {
  id: string;
}
