/**
 * Debian's Chromium, headless, for the browser suites (driven by
 * playwright-core, which downloads nothing). PINBASE_CHROMIUM names another
 * executable; without one a suite is skipped, saying so (CI installs
 * Debian's package: .ci/run).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = process.env.PINBASE_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

/** A browser suite's title, which says when it is skipped (and a warning then, naming `file`). */
export function chromiumSuiteTitle(file: string, title: string): string {
  if (haveChromium) return title;
  console.warn(`${file}: SKIPPED, no Chromium at ${CHROMIUM} (apt-get install chromium, or set PINBASE_CHROMIUM)`);
  return `${title} (SKIPPED: no Chromium at ${CHROMIUM})`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/**
 * A page of another origin (about:blank) that puts `url` in an iframe; once
 * Chromium has said why it refused the frame (or after 10 s), that page
 * (close its context when done) and everything its console said.
 */
export async function frameFromElsewhere(browser: Browser, url: string): Promise<{ page: Page; console: string }> {
  const page = await (await browser.newContext()).newPage();
  const messages: string[] = [];
  page.on('console', (message) => messages.push(message.text()));
  await page.setContent(`<iframe src="${url}"></iframe>`);
  const deadline = Date.now() + 10_000;
  while (!messages.some((text) => text.includes('frame-ancestors')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return { page, console: messages.join('\n') };
}
