/**
 * `GET /_router/users?after=<id>&limit=<n>`: the tenants on shared storage,
 * as one live worker lists them (`GET /_worker/users`, asked with the
 * cluster admin token), each with the worker that owns it now by the
 * router's placement (rendezvous over the routable workers; null when none
 * is). Keyset-paginated in user-id order: pass `next` as `after`.
 *
 * Each entry carries the tenant's last commit (lastSeq, lastWriteAt). The
 * listing worker reads it from its own open partitions or from the file; a
 * file another worker has open is locked to it, so for the entries left
 * null the router asks every other routable worker, in parallel, which of
 * them it has open (`POST /_worker/users/last-commits`, map lookups only).
 * An entry no worker could read (a WAL left by a crash, a broken file, a
 * worker that did not answer in time) stays null: the page still answers.
 *
 * Cost: one request to one worker per page (the next routable worker is
 * asked only when one cannot answer), plus at most one request to each
 * other routable worker when some entries are null, each bounded by
 * TENANT_LIST_TIMEOUT_MS and by the page bound (tenant-directory.ts:
 * ≤ 1000 entries, ids ≤ 64 bytes: a request body ≤ ~70 KB).
 */
import { request } from 'undici';
import { bearer } from '../services/auth/admin-token.js';
import type { LastCommit, TenantEntry, TenantPage } from '../services/partition/tenant-directory.js';
import { PinbaseError } from '../services/problem/pinbase-error.js';
import { Placement } from '../services/topology/placement.js';
import { isRoutable, type RouterState } from './router-state.js';

/** How long one worker has to answer a page. */
export const TENANT_LIST_TIMEOUT_MS = 10_000;

export interface RoutedTenant extends TenantEntry {
  /** The worker that serves this tenant now, or null if no worker is routable. */
  readonly owner: string | null;
}

export interface RoutedTenantPage {
  readonly users: RoutedTenant[];
  readonly next: string | null;
  readonly total: number;
}

/** One page of tenants with their owners. Throws no_worker_available (503) when no routable worker answers. */
export async function routedTenantPage(
  state: RouterState,
  adminToken: string | undefined,
  query: { after?: string | undefined; limit: number },
): Promise<RoutedTenantPage> {
  const routable = state.workers.filter(isRoutable);
  const search = new URLSearchParams({ limit: String(query.limit) });
  if (query.after !== undefined) search.set('after', query.after);
  let lastReason = 'no worker is up';
  for (const worker of routable) {
    try {
      const response = await request(`${worker.url}/_worker/users?${search.toString()}`, {
        headers: adminToken === undefined ? {} : { authorization: bearer(adminToken) },
        headersTimeout: TENANT_LIST_TIMEOUT_MS,
        bodyTimeout: TENANT_LIST_TIMEOUT_MS,
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        lastReason = `worker ${worker.id} answered ${response.statusCode} to GET /_worker/users`;
        continue;
      }
      const page = (await response.body.json()) as TenantPage;
      const unknown = page.users.filter((user) => user.lastSeq === null).map((user) => user.id);
      const others = routable.filter((other) => other !== worker);
      const found = unknown.length === 0 || others.length === 0 ? new Map<string, LastCommit>() : await openLastCommits(others, adminToken, unknown);
      const placement = new Placement(state.workers.map((w) => w.id));
      const eligible = (index: number): boolean => isRoutable(state.workers[index]!);
      return {
        users: page.users.map((user) => {
          const index = placement.ownerIndex(user.id, eligible);
          return { ...user, ...found.get(user.id), owner: index < 0 ? null : state.workers[index]!.id };
        }),
        next: page.next,
        total: page.total,
      };
    } catch (error) {
      lastReason = `worker ${worker.id}: ${(error as { code?: string }).code ?? (error as Error).message}`;
    }
  }
  throw new PinbaseError('no_worker_available', `no worker could list the tenants (${lastReason})`);
}

/** The last commits the `workers` have open among `ids`, merged; a worker that fails or is late contributes nothing. */
async function openLastCommits(workers: readonly { id: string; url: string }[], adminToken: string | undefined, ids: readonly string[]): Promise<Map<string, LastCommit>> {
  const found = new Map<string, LastCommit>();
  const body = JSON.stringify({ ids });
  await Promise.all(
    workers.map(async (worker) => {
      try {
        const response = await request(`${worker.url}/_worker/users/last-commits`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(adminToken === undefined ? {} : { authorization: bearer(adminToken) }) },
          body,
          headersTimeout: TENANT_LIST_TIMEOUT_MS,
          bodyTimeout: TENANT_LIST_TIMEOUT_MS,
        });
        if (response.statusCode !== 200) {
          await response.body.dump();
          return;
        }
        const answer = (await response.body.json()) as { users: (LastCommit & { id: string })[] };
        for (const { id, lastSeq, lastWriteAt } of answer.users) {
          // A partition open on two workers at once cannot commit on both (leases); the higher seq is the later state.
          const known = found.get(id);
          if (known === undefined || lastSeq > known.lastSeq) found.set(id, { lastSeq, lastWriteAt });
        }
      } catch {
        // Down or late: its partitions stay null on this page.
      }
    }),
  );
  return found;
}
