/**
 * The dashboard's script, run against a real router with a small stand-in
 * for the browser (the DOM calls it makes, fetch, sessionStorage, confirm):
 * it asks for the admin token once, sends it in the Authorization header,
 * and asks before draining the last routable worker.
 */
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_HTML } from '../../../router/dashboard-page.js';
import type { RouterStatus } from '../../../router/status-report.js';
import { NO_AUTH } from '../../../services/auth/auth-options.js';
import { send } from '../../support/http-client.js';
import { FakeCluster } from './fake-cluster.js';

const TOKEN = 'a-long-enough-admin-token';

class FakeElement {
  children: FakeElement[] = [];
  textContent = '';
  hidden = false;
  value = '';
  onclick: (() => Promise<void>) | undefined;
  readonly listeners = new Map<string, (event: { preventDefault(): void }) => void>();
  constructor(readonly tag: string) {}
  append(...children: FakeElement[]): void {
    this.children.push(...children);
  }
  replaceChildren(...children: FakeElement[]): void {
    this.children = children;
  }
  addEventListener(type: string, listener: (event: { preventDefault(): void }) => void): void {
    this.listeners.set(type, listener);
  }
  focus(): void {}
}

interface Page {
  byId: Map<string, FakeElement>;
  storage: Map<string, string>;
  requests: { method: string; path: string; authorization: string | undefined }[];
  confirmAnswers: boolean[];
  confirmations: string[];
  /** The script's top-level functions. */
  context: { refresh(): Promise<void> };
}

/** Runs the page's script (its first refresh starts at once), with `stored` already in sessionStorage. */
function openDashboard(base: string, stored: Record<string, string> = {}): Page {
  const script = /<script>([\s\S]*)<\/script>/.exec(DASHBOARD_HTML)![1]!;
  const page: Page = { byId: new Map(), storage: new Map(), requests: [], confirmAnswers: [], confirmations: [], context: undefined! };
  for (const id of ['meta', 'map', 'rows', 'error', 'signin', 'token']) page.byId.set(id, new FakeElement(id));
  for (const [key, value] of Object.entries(stored)) page.storage.set(key, value);
  page.byId.get('signin')!.hidden = true;
  const context = {
    document: { getElementById: (id: string) => page.byId.get(id), createElement: (tag: string) => new FakeElement(tag) },
    sessionStorage: {
      getItem: (key: string) => page.storage.get(key) ?? null,
      setItem: (key: string, value: string) => page.storage.set(key, value),
      removeItem: (key: string) => page.storage.delete(key),
    },
    fetch: (path: string, init: { method: string; headers: Record<string, string> }) => {
      page.requests.push({ method: init.method, path, authorization: init.headers.authorization });
      return fetch(new URL(path, base), init);
    },
    confirm: (text: string) => {
      page.confirmations.push(text);
      return page.confirmAnswers.shift() ?? false;
    },
    setInterval: () => 0,
    Math,
    String,
    encodeURIComponent,
  };
  runInNewContext(script, context);
  page.context = context as unknown as Page['context'];
  return page;
}

/** Waits for the script's pending fetches (it does not await its refreshes). */
async function settle(page: Page, check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(check(), JSON.stringify(page.requests)).toBe(true);
}

function drainButton(page: Page, row: number): FakeElement {
  return page.byId.get('rows')!.children[row]!.children.at(-1)!.children[0]!;
}

let cluster: FakeCluster;
beforeAll(async () => {
  cluster = await FakeCluster.start(2, { auth: { ...NO_AUTH, adminToken: TOKEN } });
});
afterAll(async () => {
  await cluster.stop();
});

describe('the dashboard with an admin token', () => {
  it('asks for the token once, sends it in the Authorization header, and asks before draining the last routable worker', async () => {
    const page = openDashboard(cluster.url);
    await settle(page, () => !page.byId.get('signin')!.hidden);
    expect(page.requests).toEqual([{ method: 'GET', path: '/_router/status', authorization: undefined }]);

    page.byId.get('token')!.value = TOKEN;
    page.byId.get('signin')!.listeners.get('submit')!({ preventDefault() {} });
    await settle(page, () => page.byId.get('rows')!.children.length === 2);
    expect(page.byId.get('signin')!.hidden).toBe(true);
    expect(page.requests.at(-1)).toEqual({ method: 'GET', path: '/_router/status', authorization: `Bearer ${TOKEN}` });

    await drainButton(page, 0).onclick!();
    expect(page.requests.filter((r) => r.method === 'POST')).toEqual([{ method: 'POST', path: '/_router/workers/w1/drain', authorization: `Bearer ${TOKEN}` }]);
    expect(page.confirmations).toEqual([]);

    page.confirmAnswers.push(false);
    await drainButton(page, 1).onclick!();
    expect(page.confirmations).toHaveLength(1);
    expect(page.confirmations[0]).toContain('w2 is the last worker');
    expect(page.requests.filter((r) => r.path.includes('force'))).toEqual([]);

    page.confirmAnswers.push(true);
    await drainButton(page, 1).onclick!();
    expect(page.requests.filter((r) => r.path.includes('force'))).toEqual([
      { method: 'POST', path: '/_router/workers/w2/drain?force=true', authorization: `Bearer ${TOKEN}` },
    ]);
    const status = (await send(cluster.url, '/_router/status', { headers: { authorization: `Bearer ${TOKEN}` } })).json() as RouterStatus;
    expect(status.workers.map((w) => w.drained)).toEqual([true, true]);
    expect(page.byId.get('error')!.textContent).toBe('');
  });

  it('asks again when the stored token is refused', async () => {
    const page = openDashboard(cluster.url, { pinbaseAdminToken: 'a-stale-token-from-before' });
    await settle(page, () => !page.byId.get('signin')!.hidden);
    expect(page.requests).toEqual([{ method: 'GET', path: '/_router/status', authorization: 'Bearer a-stale-token-from-before' }]);
    expect(page.storage.has('pinbaseAdminToken')).toBe(false);
    await page.context.refresh();
    expect(page.requests).toHaveLength(1);
  });
});
