/**
 * Node only: undici's WebSocket for Node 20, which has no global one. The
 * browser path never loads this module (change-feed.ts imports it with
 * import() on Node only). undici's constructor takes `{ headers }`, so the
 * token goes in the upgrade's Authorization header.
 */
import { WebSocket } from 'undici';
import type { WebSocketClass } from './websocket-connection.js';

export const NodeWebSocket = WebSocket as unknown as WebSocketClass;
