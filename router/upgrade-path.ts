/**
 * WebSocket upgrades at the router (node:http's 'upgrade' event). The
 * plain HTTP data path stays on undici (data-path.ts); an upgrade is the one
 * thing undici does not forward, so it goes through http-proxy-3, which
 * sends the handshake to the worker and then pipes the two sockets.
 *
 * Only `GET /api/users/<id>/_changes` with `Upgrade: websocket` is proxied:
 * the user id is read by request-target.ts (the same refusals of ambiguous
 * paths), the owner is the route table's (the same rendezvous placement),
 * the headers are forward-headers.ts's (client `X-Pinbase-*` and hop-by-hop
 * headers dropped, `X-Forwarded-*` set, the down list signed), and the
 * socket takes a stream slot like an SSE stream (per user, per client
 * address, per worker) for its whole life. Any other upgrade (another path,
 * another protocol, h2c) is 400 `upgrade_not_supported`. Every refusal is
 * problem+json written as a raw HTTP/1.1 response before any upgrade, and
 * the socket is closed.
 *
 * Bounds: the worker must switch protocols (or answer) within
 * `headersTimeoutMs` (504 `upstream_timeout` beyond; the client's
 * handshake itself was bounded by the listening server's headers timeout;
 * a client that leaves during the worker's handshake is noticed when the
 * worker answers, or at that timeout);
 * an unreachable worker is 503 `no_worker_available` (nothing was sent;
 * the worker is reported down) or 502 `upstream_failed`, never a hang. An
 * upgraded socket then lives until either side closes it, and costs the
 * router two sockets and their stream buffers: it holds no per-message
 * state. Open upgrades are capped by the stream caps, and a socket whose
 * worker is no longer the user's owner (removed from the topology, down,
 * drained) is closed CUT_GRACE_MS after the router learns it, so no client
 * stays attached to a gone worker (the worker itself closes them first
 * with 4421 when it knows the partition moved).
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyServer } from 'http-proxy-3';
import { DOWN_HEADER, HINT_HEADER } from '../services/auth/hint-signature.js';
import type { ErrorCode } from '../services/problem/error-table.js';
import { clientKey } from './client-address.js';
import { connectionRefusal } from './connection-gate.js';
import type { DataPath } from './data-path.js';
import { upgradeRequestHeaders, type RequestFacts } from './forward-headers.js';
import { hostHeaderProblem } from './host-header.js';
import { replyRawProblem } from './problem-reply.js';
import { isChangesTarget, USER_PATH_PREFIX, userIdOf } from './request-target.js';
import type { RouterErrorKind } from './router-metrics.js';
import type { RouterControl } from './router-state.js';
import type { WorkerRoute } from './route-table.js';

/** How long a socket may stay on a worker that is no longer its user's owner before the router closes it. */
export const CUT_GRACE_MS = 2000;

/** Connection errors after which nothing reached the worker. */
const NOTHING_SENT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** What the upgrade path uses of the data path: its table, limits, hint signer and stream slots. */
export type UpgradeHost = Pick<DataPath, 'table' | 'options' | 'metrics' | 'hintSigner' | 'takeStreamSlot' | 'releaseStreamSlot'>;

const UPGRADE = Symbol('pinbase.upgrade');
type UpgradeSocket = Socket & { [UPGRADE]?: ProxiedUpgrade };

export class UpgradePath {
  private readonly proxy = createProxyServer({ ws: true, xfwd: false });
  /** Every upgrade admitted and not closed yet: at most the stream caps allow. */
  private readonly open = new Set<ProxiedUpgrade>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private readonly facts: RequestFacts = { contentLength: -1, chunked: false, hasIdempotencyKey: false, wantsEventStream: false, hosts: 0 };

  constructor(
    private readonly host: UpgradeHost,
    private readonly control: Pick<RouterControl, 'subscribe' | 'reportRefused' | 'reportBroken' | 'refreshTopology'>,
  ) {
    this.proxy.on('proxyReqWs', (proxyReq, req, socket) => (socket as UpgradeSocket)[UPGRADE]?.sent(proxyReq, req));
    // Errors of a client socket: it closes, and its 'close' releases the upgrade.
    this.proxy.on('error', () => {});
    // Subscribed after the data path, so its table is already the new one here.
    this.unsubscribe = control.subscribe(() => this.sweep());
  }

  /** Handles one 'upgrade' event: proxies it or answers it with a problem. Never throws. */
  handle(req: IncomingMessage, socket: Socket, head: Buffer): void {
    // Node's server no longer listens to the socket once it emitted 'upgrade'.
    socket.on('error', noop);
    const connectionProblem = connectionRefusal(socket);
    if (connectionProblem !== undefined) {
      this.refuse(socket, connectionProblem.code, connectionProblem.detail, undefined);
      return;
    }
    const url = req.url ?? '';
    const userId = url.startsWith(USER_PATH_PREFIX) ? userIdOf(url) : undefined;
    if (typeof userId === 'object') {
      this.refuse(socket, userId.code, userId.detail, userId.code === 'invalid_user_id' ? 'invalid_user_id' : 'invalid_path');
      return;
    }
    if (userId === undefined || !isChangesTarget(url, userId.length) || req.method !== 'GET' || !wantsWebSocket(req)) {
      const detail = 'only a WebSocket upgrade (GET, Upgrade: websocket) of /api/users/<id>/_changes is proxied; send this request without Upgrade';
      this.refuse(socket, 'upgrade_not_supported', detail, 'upgrade_not_supported');
      return;
    }
    const headers = upgradeRequestHeaders(req.rawHeaders, socket.remoteAddress ?? '', this.facts);
    const hostProblem = hostHeaderProblem(this.facts.hosts, req);
    if (hostProblem !== undefined) {
      this.refuse(socket, 'invalid_header', hostProblem, 'invalid_header');
      return;
    }
    const table = this.host.table;
    const route = table.owner(userId);
    if (route === undefined) {
      this.refuse(socket, 'no_worker_available', 'no live worker can serve this user now', 'no_worker');
      return;
    }
    const client = clientKey(socket.remoteAddress);
    const capped = this.host.takeStreamSlot(route, userId, client);
    if (capped !== undefined) {
      this.refuse(socket, capped.code, capped.detail, capped.code);
      return;
    }
    const down = table.downHeader;
    if (down !== undefined) {
      headers[DOWN_HEADER] = down;
      const signer = this.host.hintSigner;
      if (signer !== undefined) headers[HINT_HEADER] = signer.sign('GET', url, down);
    }
    req.headers = headers;
    const upgrade = new ProxiedUpgrade(this.host, this.control, socket, userId, client, route, (closed) => this.closed(closed));
    this.open.add(upgrade);
    (socket as UpgradeSocket)[UPGRADE] = upgrade;
    this.proxy.ws(req, socket, head, { target: route.url }, (error) => upgrade.failed(error));
  }

  /** Closes every proxied socket (the router is shutting down) and stops watching the control state. */
  close(): void {
    this.unsubscribe();
    clearTimeout(this.sweepTimer);
    for (const upgrade of [...this.open]) upgrade.socket.destroy();
    this.proxy.removeAllListeners();
  }

  /** Upgrades open now (handshakes included). */
  get openCount(): number {
    return this.open.size;
  }

  private closed(upgrade: ProxiedUpgrade): void {
    if (!this.open.delete(upgrade)) return;
    this.host.releaseStreamSlot(upgrade.userId, upgrade.clientKey);
  }

  /**
   * Checks every open socket against the table in use: one whose worker is
   * no longer its user's owner is marked, and closed once marked for
   * CUT_GRACE_MS (unless the worker owns the user again by then). Runs at
   * every control-state change and again while some socket is marked.
   * Cost: one placement per open socket.
   */
  private sweep(): void {
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    const table = this.host.table;
    const now = Date.now();
    let marked = false;
    for (const upgrade of [...this.open]) {
      if (table.owner(upgrade.userId) === upgrade.route) {
        upgrade.movedAt = 0;
      } else if (upgrade.movedAt === 0) {
        upgrade.movedAt = now;
        marked = true;
      } else if (now - upgrade.movedAt >= CUT_GRACE_MS) {
        upgrade.cut();
      } else {
        marked = true;
      }
    }
    if (marked) {
      this.sweepTimer = setTimeout(() => this.sweep(), CUT_GRACE_MS);
      this.sweepTimer.unref();
    }
  }

  private refuse(socket: Socket, code: ErrorCode, detail: string, kind: RouterErrorKind | undefined): void {
    if (kind !== undefined) this.host.metrics.errors.inc({ kind });
    this.host.metrics.upgrades.inc({ outcome: 'refused' });
    // Whatever the client sends after its headers is read and dropped, so closing does not reset the connection.
    socket.resume();
    replyRawProblem(socket, code, detail);
  }
}

/** Whether the request asks for a WebSocket (`Upgrade: websocket`, any case; no other protocol listed). */
function wantsWebSocket(req: IncomingMessage): boolean {
  return req.headers.upgrade?.trim().toLowerCase() === 'websocket';
}

/** handshake → open (switched) | answered (a refusal, passed on or the router's) | closed (the client left first). */
type UpgradePhase = 'handshake' | 'open' | 'answered' | 'closed';

/**
 * One admitted upgrade, from admission until its client socket closes: it
 * holds a stream slot and counts in its worker's open streams all along.
 */
class ProxiedUpgrade {
  phase: UpgradePhase = 'handshake';
  /** When the router first saw that its worker no longer owns the user (0: it does). */
  movedAt = 0;
  private proxyReq: ClientRequest | undefined;
  /** The socket to the worker, once it switched protocols. */
  private upstream: Socket | undefined;
  private timedOut = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly host: UpgradeHost,
    private readonly control: Pick<RouterControl, 'reportRefused' | 'reportBroken' | 'refreshTopology'>,
    readonly socket: Socket,
    readonly userId: string,
    readonly clientKey: string,
    readonly route: WorkerRoute,
    onClose: (upgrade: ProxiedUpgrade) => void,
  ) {
    route.streams++;
    this.timer = setTimeout(() => this.timeout(), host.options.headersTimeoutMs);
    this.timer.unref();
    socket.once('close', () => {
      clearTimeout(this.timer);
      route.streams--;
      if (this.phase === 'handshake') {
        // The client left during the handshake: end the request to the worker rather than let it finish unseen.
        this.phase = 'closed';
        this.host.metrics.errors.inc({ kind: 'client_aborted' });
        this.proxyReq?.destroy();
      }
      this.upstream?.destroy();
      onClose(this);
    });
  }

  /**
   * The handshake request to the worker was created (not sent yet): it is
   * sent with the request target exactly as the client sent it (as the
   * HTTP path does, and as the hint was signed over), not as http-proxy-3
   * re-serialises it through URL.
   */
  sent(proxyReq: ClientRequest, req: IncomingMessage): void {
    this.proxyReq = proxyReq;
    proxyReq.path = req.url!;
    const metrics = this.host.metrics;
    proxyReq.once('upgrade', (_response: IncomingMessage, upstream: Socket) => {
      clearTimeout(this.timer);
      this.upstream = upstream;
      if (this.phase === 'closed') {
        upstream.destroy();
        return;
      }
      this.phase = 'open';
      metrics.upgrades.inc({ outcome: 'proxied' });
    });
    proxyReq.once('response', (response: IncomingMessage) => {
      // The worker refused to upgrade (problem+json); http-proxy-3 passes it on, then closes.
      clearTimeout(this.timer);
      if (this.phase === 'closed') return;
      this.phase = 'answered';
      metrics.upgrades.inc({ outcome: 'answered' });
      // The worker knows a newer topology than this router: re-read it, so the client's retry goes right.
      if (response.statusCode === 421) this.control.refreshTopology().catch(noop);
    });
  }

  /**
   * The connection to the worker failed (http-proxy-3 closes the client
   * socket right after). During the handshake the client gets a problem:
   * 504 after the timeout, 503 when nothing was sent (the worker is
   * reported down, so a retry goes to the next-ranked one), else 502.
   */
  failed(error: Error): void {
    const { control } = this;
    const metrics = this.host.metrics;
    if (this.phase !== 'handshake') {
      if (this.phase === 'open') control.reportBroken(this.route.id);
      return;
    }
    clearTimeout(this.timer);
    this.phase = 'answered';
    metrics.upgrades.inc({ outcome: 'failed' });
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (this.timedOut) {
      metrics.errors.inc({ kind: 'timeout' });
      replyRawProblem(this.socket, 'upstream_timeout', `worker ${this.route.id} did not answer the WebSocket handshake in time`);
    } else if (NOTHING_SENT.has(code)) {
      metrics.errors.inc({ kind: 'refused' });
      control.reportRefused(this.route.id, `connection refused (${code})`);
      replyRawProblem(this.socket, 'no_worker_available', `worker ${this.route.id} refused the connection; nothing was sent, retry`);
    } else {
      metrics.errors.inc({ kind: 'connection' });
      control.reportBroken(this.route.id);
      replyRawProblem(this.socket, 'upstream_failed', `the connection to worker ${this.route.id} failed (${code || error.message})`);
    }
  }

  /** The worker no longer owns the user: close both sockets; the client reconnects through the router. */
  cut(): void {
    this.host.metrics.upgrades.inc({ outcome: 'cut' });
    this.upstream?.destroy();
    this.proxyReq?.destroy();
    this.socket.destroy();
  }

  private timeout(): void {
    this.timedOut = true;
    this.proxyReq?.destroy(new Error('the worker did not answer the handshake in time'));
  }
}

function noop(): void {}
