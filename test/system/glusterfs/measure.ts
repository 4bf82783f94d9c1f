/** Small helpers of the GlusterFS tests: users' Authorization headers, percentiles, formatting. */
import type { GlusterCluster } from '../../support/glusterfs/gluster-cluster.js';
import type { UserAuthorization } from '../../support/write-load.js';

/** Signs a token for every user first, so that the load can look them up synchronously. */
export async function authorizationFor(cluster: GlusterCluster, users: readonly string[]): Promise<UserAuthorization> {
  const headers = new Map<string, string>();
  for (const user of users) headers.set(user, `Bearer ${await cluster.tokenFor(user)}`);
  return (user) => {
    const header = headers.get(user);
    if (header === undefined) throw new Error(`no token for ${user}`);
    return header;
  };
}

/** The `p`th percentile (nearest rank) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}
