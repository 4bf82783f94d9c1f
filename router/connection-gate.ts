/**
 * Caps on the client connections one router process holds: in total and
 * per client address (IPv6: per /64, client-address.ts).
 *
 * A connection beyond a cap is not served: its first request is answered
 * with a problem (503 `overloaded` beyond the total, 429
 * `too_many_connections` beyond the per-client cap, `Retry-After`,
 * `Connection: close`) and the connection is closed; one that sends no
 * request within REFUSAL_GRACE_MS is closed without an answer. Answering the
 * request, rather than writing before it, lets every HTTP client read the
 * refusal. Beyond the total cap plus REFUSAL_SLACK connections being refused,
 * Node closes new connections at once, before any JavaScript runs for them
 * (`server.maxConnections`): the cheapest refusal, for floods.
 *
 * Memory: one map entry per client address with a connection open, so at
 * most `maxConnections` entries.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorCode } from '../services/problem/error-table.js';
import { clientKey } from './client-address.js';

/** How long a refused connection may take to send its first request. */
export const REFUSAL_GRACE_MS = 1000;
/** Refused connections that may wait for their answer at once, beyond the total cap. */
export const REFUSAL_SLACK = 1024;

export interface ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
}

/** Why a connection is refused: the problem its first request gets. */
export interface ConnectionRefusal {
  readonly code: Extract<ErrorCode, 'overloaded' | 'too_many_connections'>;
  readonly detail: string;
}

const REFUSAL = Symbol('pinbase.connectionRefusal');
type GatedSocket = Socket & { [REFUSAL]?: ConnectionRefusal };

export class ConnectionGate {
  private open = 0;
  private readonly perClient = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimits) {}

  /** Counts every connection `server` accepts from now on, before the HTTP layer sees it. */
  install(server: Server): void {
    server.maxConnections = this.limits.maxConnections + REFUSAL_SLACK;
    server.prependListener('connection', (socket: Socket) => this.admit(socket));
  }

  /** Connections counted now (refused ones excluded). */
  get openConnections(): number {
    return this.open;
  }

  private admit(socket: GatedSocket): void {
    const key = clientKey(socket.remoteAddress);
    const count = this.perClient.get(key) ?? 0;
    if (this.open >= this.limits.maxConnections) {
      this.refuse(socket, { code: 'overloaded', detail: `the router holds ${this.open} connections, its limit` });
      return;
    }
    if (count >= this.limits.maxConnectionsPerClient) {
      this.refuse(socket, { code: 'too_many_connections', detail: `this client address holds ${count} connections, the limit per client` });
      return;
    }
    this.open++;
    this.perClient.set(key, count + 1);
    socket.once('close', () => {
      this.open--;
      const left = (this.perClient.get(key) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(key);
      else this.perClient.set(key, left);
    });
  }

  private refuse(socket: GatedSocket, refusal: ConnectionRefusal): void {
    socket[REFUSAL] = refusal;
    const timer = setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }
}

/** The refusal a connection is under, if the gate refused it: its requests get that problem. */
export function connectionRefusal(socket: Socket): ConnectionRefusal | undefined {
  return (socket as GatedSocket)[REFUSAL];
}
