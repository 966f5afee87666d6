import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Debian's Chromium, headless, driven by playwright-core; undefined (and a message) where it is not installed.
 * The flags keep it off the network: this machine refuses everything but 127.0.0.1.
 */
export async function launchChromium(): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    console.warn(`SKIPPED: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
    if (process.env.REQUIRE_SERVICES) throw new Error('Chromium is required in CI');
    return undefined;
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A page whose console errors and uncaught exceptions (CSP violations among them) are collected, those of `origin`
 * only (the stand-in providers' pages are not ours to judge: they have no favicon, for one).
 */
export async function watchedPage(context: BrowserContext, origin: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    const where = m.location().url || page.url();
    if (m.type() === 'error' && where.startsWith(origin)) errors.push(`${m.text()} (${where})`);
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => void d.accept());
  return { page, errors };
}
