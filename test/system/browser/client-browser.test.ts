/**
 * The client in a real browser: Debian's Chromium, headless, driven by
 * playwright-core (which downloads nothing: it runs the executable it is
 * given). A small page (page/index.html), served from its own origin on
 * 127.0.0.1, loads the client's compiled ES modules (dist/services/client/,
 * through an import map, no bundler) and talks to a real router and two
 * real workers with authentication on. The page's origin is allowed the way
 * a user allows theirs: `--cors-origin <origin>` on the workers.
 *
 * Set PINBASE_CHROMIUM to another Chromium executable; without one the
 * suite is skipped, saying so (CI installs Debian's package: .ci/run).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../../services/auth/secret-file.js';
import { signUserToken } from '../../../services/auth/token-signer.js';
import { RealCluster } from '../../integration/router/real-cluster.js';
import { freePort } from '../../support/free-port.js';
import { send } from '../../support/http-client.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { chromiumSuiteTitle, haveChromium, launchChromium } from './headless-chromium.js';
import { PageServer } from './page-server.js';

/** What the page's window.app answers (see page/index.html). */
interface PageApp {
  connect(url: string, token: string, userId: string, options: { deadlineMs: number }): void;
  writeAndRead(): Promise<WriteAndRead>;
  follow(since: number): void;
  received(): { commits: { seq: number; changes: { seq: number; collection: string; id: string; deleted: boolean }[] }[]; error: unknown };
  oversize(): Promise<unknown>;
  directRouting(url: string): string;
  close(): Promise<void>;
}
interface WriteAndRead {
  created: { id: string; rev: number; seq: number };
  got: unknown;
  updated: { rev: number; data: unknown };
  stale: unknown;
  missing: unknown;
  ids: string[];
}
declare global {
  // The page's globals, for the functions page.evaluate() runs in the page.
  var notesApp: PageApp;
  var notesAppLoaded: boolean | undefined;
}

describe.skipIf(!haveChromium)(chromiumSuiteTitle('client-browser.test.ts', 'the client in headless Chromium'), () => {
  let dir: ReturnType<typeof makeTempDir>;
  let secret: string;
  let cluster: RealCluster;
  let pages: PageServer;
  let browser: Browser;

  beforeAll(async () => {
    dir = makeTempDir('pinbase-browser-');
    secret = generateSecret();
    const authFile = join(dir.path, 'auth-secret');
    const clusterFile = join(dir.path, 'cluster-secret');
    const adminFile = join(dir.path, 'admin-token');
    writeFileSync(authFile, `${secret}\n`, { mode: 0o600 });
    writeFileSync(clusterFile, `${generateSecret()}\n`, { mode: 0o600 });
    writeFileSync(adminFile, `${generateSecret()}\n`, { mode: 0o600 });
    pages = await PageServer.start(await freePort());
    const shared = ['--cluster-secret-file', clusterFile, '--admin-token-file', adminFile, '--cors-origin', pages.origin];
    [cluster, browser] = await Promise.all([
      RealCluster.start(2, shared, ['--auth-secret-file', authFile, ...shared]),
      launchChromium(),
    ]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
    await pages?.close();
    dir?.remove();
  });

  const tokenFor = (userId: string) => signUserToken(secret, { userId, scopes: [], ttlSeconds: 600 });

  /** A fresh page of the app (its own browser context) at `origin`, connected as `userId`; page errors fail the test. */
  async function openApp(userId: string, options: { origin?: string; withoutWebSocket?: boolean; deadlineMs?: number } = {}): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      // Chromium logs every 4xx answer ("Failed to load resource"): the test provokes some (412, 404). CORS refusals and script errors stay.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource:')) errors.push(message.text());
    });
    // What a browser without WebSocket looks like to the page's scripts.
    if (options.withoutWebSocket === true) await page.addInitScript('delete globalThis.WebSocket;');
    await page.goto(`${options.origin ?? pages.origin}/`);
    await page.waitForFunction(() => globalThis.notesAppLoaded === true, undefined, { timeout: 10_000 });
    const args = [cluster.url, await tokenFor(userId), userId, options.deadlineMs ?? 10_000] as const;
    await page.evaluate(([url, token, user, deadlineMs]) => globalThis.notesApp.connect(url, token, user, { deadlineMs }), args);
    return { page, errors };
  }

  async function readThroughRouter(userId: string, path: string) {
    return send(cluster.url, `/api/users/${userId}/${path}`, { headers: { authorization: `Bearer ${await tokenFor(userId)}` } });
  }

  async function writeThroughRouter(userId: string, path: string, data: unknown) {
    const reply = await send(cluster.url, `/api/users/${userId}/${path}`, {
      method: 'PUT',
      json: data,
      headers: { authorization: `Bearer ${await tokenFor(userId)}` },
    });
    expect(reply.status, reply.body).toBe(201);
    return reply;
  }

  it('reads and writes through the router from an origin --cors-origin allows, and gets a live change over a WebSocket', async () => {
    const userId = 'browser-ws';
    const { page, errors } = await openApp(userId);
    try {
      const result = await page.evaluate(() => globalThis.notesApp.writeAndRead());
      expect(result.got).toEqual({ title: 'written by the browser' });
      expect(result.updated).toEqual({ rev: expect.any(Number), data: { title: 'edited in the browser' } });
      expect(result.updated.rev).toBeGreaterThan(result.created.rev);
      // Typed errors from the problem+json the page could read (CORS).
      expect(result.stale).toEqual({ status: 412, code: 'precondition_failed', retryable: false });
      expect(result.missing).toEqual({ status: 404, code: 'object_not_found', retryable: false });
      expect(result.ids).toEqual([result.created.id]);
      // The router's own refusal carries CORS headers (its --cors-origin): the page reads the 413, not a network error.
      expect(await page.evaluate(() => globalThis.notesApp.oversize())).toEqual({ status: 413, code: 'body_too_large', retryable: false });
      expect(await page.evaluate((url) => globalThis.notesApp.directRouting(url), cluster.url)).toMatch(/^TypeError: .*'direct' runs on Node only/);
      const stored = await readThroughRouter(userId, `notes/${result.created.id}`);
      expect(stored.json()).toEqual({ title: 'edited in the browser' });

      // The feed: a WebSocket through the router, the token in the first message, never in the URL.
      const sent: string[] = [];
      page.on('websocket', (socket) => socket.on('framesent', (frame) => sent.push(String(frame.payload))));
      const opened = page.waitForEvent('websocket', { timeout: 10_000 });
      await page.evaluate((since) => globalThis.notesApp.follow(since), result.created.seq);
      const socket = await opened;
      await socket.waitForEvent('framereceived', { predicate: (frame) => String(frame.payload).includes('"type":"ready"'), timeout: 10_000 });
      const socketUrl = socket.url();
      // The first message authenticated it (a browser cannot set the upgrade's headers).
      expect(sent.map((m): unknown => JSON.parse(m))).toEqual([{ type: 'auth', token: expect.any(String) }]);
      expect(socketUrl).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:\\d+/api/users/${userId}/_changes\\?`));
      expect(new URL(socketUrl).port).toBe(new URL(cluster.url).port);
      expect(socketUrl).not.toContain('access_token');

      const live = await writeThroughRouter(userId, 'notes/live', { title: 'written elsewhere' });
      const liveSeq = Number(live.header('x-pinbase-seq'));
      await expect.poll(async () => (await page.evaluate(() => globalThis.notesApp.received())).commits.at(-1)?.seq, { timeout: 10_000 }).toBe(liveSeq);
      // Every commit after `since`, in order, once: the browser's own update, then the live write.
      const { commits, error } = await page.evaluate(() => globalThis.notesApp.received());
      expect(error).toBeUndefined();
      expect(commits).toEqual([
        { seq: result.updated.rev, changes: [{ seq: result.updated.rev, collection: 'notes', id: result.created.id, deleted: false }] },
        { seq: liveSeq, changes: [{ seq: liveSeq, collection: 'notes', id: 'live', deleted: false }] },
      ]);
      expect(errors).toEqual([]);
    } finally {
      await page.evaluate(() => globalThis.notesApp.close());
      await page.context().close();
    }
  });

  it('falls back to the SSE feed on a page without WebSocket, and still gets the live change', async () => {
    const userId = 'browser-sse';
    const { page, errors } = await openApp(userId, { withoutWebSocket: true });
    const sockets: string[] = [];
    page.on('websocket', (socket) => sockets.push(socket.url()));
    try {
      const first = await writeThroughRouter(userId, 'notes/first', { title: 'before' });
      const since = Number(first.header('x-pinbase-seq'));
      const streaming = page.waitForResponse((response) => response.url().includes(`/api/users/${userId}/_changes`) && response.status() === 200);
      await page.evaluate((s) => globalThis.notesApp.follow(s), since);
      await streaming;

      const live = await writeThroughRouter(userId, 'notes/live', { title: 'written elsewhere' });
      const liveSeq = Number(live.header('x-pinbase-seq'));
      await expect.poll(async () => (await page.evaluate(() => globalThis.notesApp.received())).commits.at(-1)?.seq, { timeout: 10_000 }).toBe(liveSeq);
      const { commits, error } = await page.evaluate(() => globalThis.notesApp.received());
      expect(error).toBeUndefined();
      expect(commits).toEqual([{ seq: liveSeq, changes: [{ seq: liveSeq, collection: 'notes', id: 'live', deleted: false }] }]);
      expect(sockets).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.evaluate(() => globalThis.notesApp.close());
      await page.context().close();
    }
  });

  it('cannot write from an origin --cors-origin does not list: the preflight is refused and nothing is applied', async () => {
    const userId = 'browser-other-origin';
    // The same page from http://localhost:<port>: another origin than http://127.0.0.1:<port>.
    // The client retries what looks like a broken connection until its deadline: keep it short here.
    const { page } = await openApp(userId, { origin: pages.origin.replace('127.0.0.1', 'localhost'), deadlineMs: 1500 });
    try {
      const outcome = await page.evaluate(() =>
        globalThis.notesApp
          .writeAndRead()
          .then(
            () => 'applied',
            (error: unknown) => String(error),
          ),
      );
      expect(outcome).not.toBe('applied');
      const listed = await readThroughRouter(userId, 'notes');
      expect(listed.json().items).toEqual([]);
    } finally {
      await page.context().close();
    }
  });
});
