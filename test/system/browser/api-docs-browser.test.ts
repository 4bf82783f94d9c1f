/**
 * The API docs (Swagger UI at /docs, served by every worker and through
 * the router) in Debian's Chromium, headless: the page renders the OpenAPI
 * document under its Content-Security-Policy without a console error, asks
 * nothing of another origin, and refuses to be framed by another page.
 *
 * Set PINBASE_CHROMIUM to another Chromium executable; without one the
 * suite is skipped, saying so (CI installs Debian's package: .ci/run).
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealCluster } from '../../integration/router/real-cluster.js';
import { send } from '../../support/http-client.js';
import { chromiumSuiteTitle, frameFromElsewhere, haveChromium, launchChromium } from './headless-chromium.js';

describe.skipIf(!haveChromium)(chromiumSuiteTitle('api-docs-browser.test.ts', 'the API docs in headless Chromium'), () => {
  let cluster: RealCluster;
  let browser: Browser;

  beforeAll(async () => {
    [cluster, browser] = await Promise.all([RealCluster.start(1), launchChromium()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  for (const via of ['the worker', 'the router'] as const) {
    it(`renders every operation from ${via}, under its CSP, with no console error and no request elsewhere`, async () => {
      const base = via === 'the router' ? cluster.url : cluster.workerUrl('w1');
      const page = await (await browser.newContext()).newPage();
      const errors: string[] = [];
      const elsewhere: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error' || message.text().includes('Content Security Policy')) errors.push(message.text());
      });
      page.on('request', (request) => {
        if (!request.url().startsWith(base) && !request.url().startsWith('data:')) elsewhere.push(request.url());
      });
      const response = await page.goto(`${base}/docs`);
      expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
      await page.locator('.opblock').first().waitFor({ timeout: 15_000 });
      expect(await page.locator('.info .title').first().textContent()).toContain('Pinbase API');
      expect(await page.locator('.opblock').count()).toBeGreaterThan(10);
      expect(errors).toEqual([]);
      expect(elsewhere).toEqual([]);
      await page.context().close();
    }, 30_000);
  }

  it('will not be shown inside another page\'s frame', async () => {
    const framing = await frameFromElsewhere(browser, `${cluster.workerUrl('w1')}/docs/`);
    expect(framing.console).toMatch(/Framing '[^']*' violates .*frame-ancestors 'none'/);
    await framing.page.context().close();
  }, 20_000);

  it('sends the document itself (/docs/json) as JSON', async () => {
    const reply = await send(cluster.workerUrl('w1'), '/docs/json');
    expect(reply.status).toBe(200);
    expect((reply.json() as { info: { title: string } }).info.title).toBe('Pinbase API');
  });
});
