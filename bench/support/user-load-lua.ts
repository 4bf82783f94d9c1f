/**
 * wrk `request()` Lua for the peer and tenants benchmarks: GETs or durable
 * PUTs of one small JSON object per user (`/api/users/<prefix><i>/bench/o0`),
 * the user drawn uniformly or Zipf-skewed over `users` ids, each request
 * with a bearer token: the user's own (`tokens[i]`), or one token for every
 * user (a service-scope token: a backend acting for many users).
 *
 * Zipf(s): user i (0-based rank) is drawn with probability ∝ 1/(i+1)^s; the
 * cumulative table is built once per wrk thread (N doubles: 0.8 MB for 100k
 * users) and searched by bisection per request.
 */
export interface UserLoad {
  method: 'GET' | 'PUT';
  users: number;
  userPrefix: string;
  /** One token per user (index = user number), or a single token for all. */
  tokens: readonly string[] | string;
  /** Zipf exponent; undefined = uniform. */
  zipf?: number;
}

export const BENCH_OBJECT_PATH = '/bench/o0';

/** The PUT body (the GETs read what the seeding wrote: the same shape). */
export function benchBody(n: number): string {
  return `{"title":"benchmark","n":${n},"tags":["a","b"]}`;
}

export function userLoadLua(load: UserLoad): string {
  const lines: string[] = [`local users = ${load.users}`];
  if (typeof load.tokens === 'string') {
    lines.push(`local one_auth = "Bearer ${load.tokens}"`, 'local function auth(u) return one_auth end');
  } else {
    if (load.tokens.length < load.users) throw new Error('a token per user is needed');
    lines.push(
      'local auths = {',
      ...load.tokens.slice(0, load.users).map((t) => `"Bearer ${t}",`),
      '}',
      'local function auth(u) return auths[u + 1] end',
    );
  }
  if (load.zipf === undefined) {
    lines.push('local function pick() return math.random(0, users - 1) end');
  } else {
    lines.push(
      'local cdf = {}',
      'local total = 0',
      `for i = 1, users do total = total + 1 / (i ^ ${load.zipf}); cdf[i] = total end`,
      'for i = 1, users do cdf[i] = cdf[i] / total end',
      'local function pick()',
      '  local r = math.random()',
      '  local lo, hi = 1, users',
      '  while lo < hi do',
      '    local mid = math.floor((lo + hi) / 2)',
      '    if cdf[mid] < r then lo = mid + 1 else hi = mid end',
      '  end',
      '  return lo - 1',
      'end',
    );
  }
  const request =
    load.method === 'GET'
      ? 'wrk.format("GET", path, { ["Authorization"] = auth(u) })'
      : `wrk.format("PUT", path, { ["Authorization"] = auth(u), ["Content-Type"] = "application/json" }, '{"title":"benchmark","n":' .. math.random(0, 999999) .. ',"tags":["a","b"]}')`;
  lines.push(
    'request = function()',
    '  local u = pick()',
    `  local path = "/api/users/${load.userPrefix}" .. u .. "${BENCH_OBJECT_PATH}"`,
    `  return ${request}`,
    'end',
  );
  return lines.join('\n');
}
