// Debian's Chromium, driven by playwright-core (never a downloaded browser): a fresh profile per
// run, headless, no network of its own. Screenshots go to the OS temp dir unless
// EASEL_SCREENSHOTS_DIR says where (EASEL_SCREENSHOTS_DIR=docs/screenshots refreshes the README's).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.EASEL_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors and Content-Security-Policy violations seen so far. */
  problems: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export function screenshotDir(): string {
  const dir = process.env.EASEL_SCREENSHOTS_DIR ? path.resolve(process.env.EASEL_SCREENSHOTS_DIR) : path.join(os.tmpdir(), 'easel-console-screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export async function openBrowser(viewport = { width: 1280, height: 900 }): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `The console tests drive Chromium at ${CHROMIUM}, which is not installed. Install it with ` +
        '`apt-get update && apt-get install -y chromium` (or point EASEL_CHROMIUM at a Chromium binary).',
    );
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'easel-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport,
    acceptDownloads: true,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
  });
  const dir = screenshotDir();
  return {
    context,
    page,
    problems,
    async screenshot(name) {
      const file = path.join(dir, `${name}.png`);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
