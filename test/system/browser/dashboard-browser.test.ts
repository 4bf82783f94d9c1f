/**
 * The router's dashboard in a real browser: Debian's Chromium, headless,
 * driven by playwright-core (downloads nothing), on a real local cluster
 * (router + 2 workers, authentication and the admin token on) with traffic:
 * reads, writes and 404s. It checks the DOM shows every worker with its
 * rates, latency and open partitions, the charts and the health banner;
 * every drain asks first, and the last routable worker needs a second,
 * explicit confirmation. Screenshots are kept in a temporary directory
 * whose path is printed, for people to look at.
 *
 * Set PINBASE_CHROMIUM to another Chromium executable; without one the
 * suite is skipped, saying so (CI installs Debian's package: .ci/run).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Dialog, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouterStatus } from '../../../router/status-report.js';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { signUserToken } from '../../../services/auth/token-signer.js';
import { RealCluster } from '../../integration/router/real-cluster.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { chromiumSuiteTitle, frameFromElsewhere, haveChromium, launchChromium } from './headless-chromium.js';

describe.skipIf(!haveChromium)(chromiumSuiteTitle('dashboard-browser.test.ts', "the router's dashboard in headless Chromium"), () => {
  let secrets: ReturnType<typeof makeTempDir>;
  /** Kept after the run: the screenshots are for people to look at. */
  const shots = mkdtempSync(join(tmpdir(), 'pinbase-dashboard-'));
  let cluster: RealCluster;
  let browser: Browser;
  let adminToken: string;
  let traffic: Promise<void> | undefined;
  let trafficOn = true;

  beforeAll(async () => {
    secrets = makeTempDir('pinbase-dashboard-secrets-');
    const secret = generateSecret();
    const authFile = join(secrets.path, 'auth-secret');
    const clusterFile = join(secrets.path, 'cluster-secret');
    const adminFile = join(secrets.path, 'admin-token');
    adminToken = generateSecret();
    writeFileSync(authFile, `${secret}\n`, { mode: 0o600 });
    writeFileSync(clusterFile, `${generateSecret()}\n`, { mode: 0o600 });
    writeFileSync(adminFile, `${adminToken}\n`, { mode: 0o600 });
    const shared = ['--cluster-secret-file', clusterFile, '--admin-token-file', adminFile];
    [cluster, browser] = await Promise.all([
      RealCluster.start(2, shared, ['--auth-secret-file', authFile, ...shared]),
      launchChromium(),
    ]);
    // Traffic on both workers until the suite ends: a write, a read and a 404 per user and round.
    const users = [...cluster.usersOwnedBy('w1', 2, 'dash'), ...cluster.usersOwnedBy('w2', 2, 'dash')];
    const tokens = await Promise.all(users.map((userId) => signUserToken(secret, { userId, scopes: [], ttlSeconds: 600 })));
    traffic = (async () => {
      for (let round = 0; trafficOn; round++) {
        await Promise.all(
          users.map(async (user, i) => {
            const headers = { authorization: `Bearer ${tokens[i]!}` };
            await send(cluster.url, `/api/users/${user}/notes/n${round % 5}`, { method: 'PUT', json: { round }, headers });
            await send(cluster.url, `/api/users/${user}/notes/n${round % 5}`, { headers });
            await send(cluster.url, `/api/users/${user}/notes/missing`, { headers });
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
  }, 60_000);
  afterAll(async () => {
    trafficOn = false;
    await traffic;
    await browser?.close();
    await cluster?.stop();
    secrets?.remove();
  });

  const adminHeaders = () => ({ authorization: `Bearer ${adminToken}` });
  async function routerStatus(): Promise<RouterStatus> {
    return (await send(cluster.url, '/_router/status', { headers: adminHeaders() })).json() as RouterStatus;
  }

  /**
   * Polls an in-page expression until it is true. Not waitForFunction: with
   * a string, that evaluates it with eval, which the page's CSP (no
   * 'unsafe-eval') refuses; page.evaluate runs it from outside the page.
   */
  async function waitInPage(page: Page, expression: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await page.evaluate<boolean>(expression))) {
      if (Date.now() > deadline) throw new Error(`not true in ${timeoutMs} ms: ${expression}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The dashboard, signed in: a stale token kept from before is refused, and the page asks for the token once. */
  async function openDashboard(): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      // Chromium logs every 401 answer ("Failed to load resource"): the sign-in provokes some.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource:')) errors.push(message.text());
    });
    await page.addInitScript(`if (sessionStorage.getItem('pinbaseAdminToken') === null) sessionStorage.setItem('pinbaseAdminToken', 'a-stale-token-from-before');`);
    const sent: (string | undefined)[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/_router/status')) sent.push(request.headers().authorization);
    });
    await page.goto(`${cluster.url}/_router/`);
    await page.locator('#signin').waitFor({ state: 'visible', timeout: 10_000 });
    expect(sent).toContain('Bearer a-stale-token-from-before');
    await page.fill('#token', adminToken);
    await page.click('#signin button');
    await page.locator('#signin').waitFor({ state: 'hidden', timeout: 5000 });
    await page.locator('.card[data-worker]').first().waitFor({ timeout: 10_000 });
    expect(sent.at(-1)).toBe(`Bearer ${adminToken}`);
    return { page, errors };
  }

  it('shows every worker with its request and error rates, latency, open partitions and charts, under an all-good banner', async () => {
    const { page, errors } = await openDashboard();
    // Charts drawn from at least two samples with traffic on every worker, 404s included.
    // (In-page code as text: the tests are compiled without the DOM's types.)
    await waitInPage(
      page,
      `[...document.querySelectorAll('.card[data-worker]')].length === 2 &&
       [...document.querySelectorAll('.card[data-worker]')].every((card) =>
         Number(card.querySelector('[data-metric=errorRate4xx]')?.textContent) > 0 &&
         (card.querySelector('svg[data-chart=latency] path[data-series=p99Ms]')?.getAttribute('d') ?? '').includes('L'))`,
      15_000,
    );
    type Card = { worker: string; requestRate: number; errorRate4xx: number; p50: string; p99: string; openPartitions: number; charts: string[] };
    const cards = await page.evaluate<Card[]>(`[...document.querySelectorAll('.card[data-worker]')].map((card) => {
      const metric = (name) => card.querySelector('[data-metric=' + name + ']')?.textContent ?? '';
      return {
        worker: card.dataset.worker,
        requestRate: Number(metric('requestRate')),
        errorRate4xx: Number(metric('errorRate4xx')),
        p50: metric('p50Ms'),
        p99: metric('p99Ms'),
        openPartitions: Number(metric('openPartitions')),
        charts: [...card.querySelectorAll('svg[data-chart]')].map((svg) => svg.getAttribute('data-chart')),
      };
    })`);
    expect(cards.map((c) => c.worker)).toEqual(['w1', 'w2']);
    for (const card of cards) {
      expect(card.requestRate, card.worker).toBeGreaterThan(card.errorRate4xx);
      expect(card.p50, card.worker).toMatch(/^\d+(\.\d+)? ms$/);
      expect(card.p99, card.worker).toMatch(/^\d+(\.\d+)? ms$/);
      expect(card.openPartitions, card.worker).toBeGreaterThan(0);
      expect(card.charts).toEqual(['requests', 'latency', 'load']);
    }
    expect(await page.textContent('#banner')).toBe('All good: 2 of 2 workers routable');
    expect(await page.getAttribute('a[href="/metrics"]', 'href')).toBe('/metrics');
    expect(await page.getAttribute('a[href="/docs"]', 'href')).toBe('/docs');
    const shot = join(shots, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot: ${shot}`);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 40_000);

  it('will not be shown inside another page\'s frame (no clickjacking of a drain)', async () => {
    const { page, console: said } = await frameFromElsewhere(browser, `${cluster.url}/_router/`);
    expect(said).toMatch(/Framing '[^']*' violates .*frame-ancestors 'none'/);
    const framed = page.frames().find((frame) => frame !== page.mainFrame());
    expect(await framed?.evaluate<boolean>(`document.getElementById('banner') !== null`).catch(() => false)).toBe(false);
    await page.context().close();
  }, 20_000);

  it('asks before every drain, naming the worker and its users, and drains the last routable worker only after a second, explicit yes', async () => {
    const { page, errors } = await openDashboard();
    const asked: string[] = [];
    const answers: boolean[] = [];
    page.on('dialog', (dialog: Dialog) => {
      asked.push(dialog.message());
      void (answers.shift() === true ? dialog.accept() : dialog.dismiss());
    });
    const drainButton = (id: string) => page.locator(`.card[data-worker=${id}] h2 button`);
    const drainedNow = async () => (await routerStatus()).workers.map((w) => w.drained);

    // Dismissed: nothing is drained.
    answers.push(false);
    await drainButton('w1').click();
    await expect.poll(() => asked.length).toBe(1);
    expect(asked[0]).toMatch(/^Drain worker w1\?/);
    expect(asked[0]).toMatch(/\d+ recently seen user\(s\) move from w1 to w2/);
    expect(await drainedNow()).toEqual([false, false]);

    // Accepted: drained, and the banner says so.
    answers.push(true);
    await drainButton('w1').click();
    await expect.poll(drainedNow).toEqual([true, false]);
    await expect.poll(() => page.textContent('#banner')).toMatch(/^Degraded: 1 of 2 workers down or drained \(w1 drained\)/);

    // The last routable worker: yes to the first question, no to the second: nothing changes.
    answers.push(true, false);
    await drainButton('w2').click();
    await expect.poll(() => asked.length).toBe(4);
    expect(asked[2]).toMatch(/^Drain worker w2\?/);
    expect(asked[3]).toContain('w2 is the last worker that receives users');
    expect(await drainedNow()).toEqual([true, false]);

    // Yes twice: forced.
    answers.push(true, true);
    await drainButton('w2').click();
    await expect.poll(drainedNow).toEqual([true, true]);
    await expect.poll(() => page.textContent('#banner')).toMatch(/^Down: no routable worker/);
    expect(await page.getAttribute('#banner', 'class')).toBe('down');
    await page.screenshot({ path: join(shots, 'dashboard-down.png'), fullPage: true });

    // Undrain asks nothing.
    await drainButton('w1').click();
    await expect.poll(drainedNow).toEqual([false, true]);
    expect(asked).toHaveLength(6);
    await drainButton('w2').click();
    await expect.poll(drainedNow).toEqual([false, false]);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 40_000);
});
