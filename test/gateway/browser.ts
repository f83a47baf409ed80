// Debian's chromium driven by playwright-core for the web inbox tests: headless, background
// networking off, a fresh profile each run, a laptop-sized window; and the one-time-link login.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.AIRLOCK_CHROMIUM || "/usr/bin/chromium";
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface OpenBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<OpenBrowser> {
  // A fresh profile every run (Playwright passes it as --user-data-dir).
  const profile = mkdtempSync(join(tmpdir(), "airlock-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: 30_000,
    viewport: { width: 1366, height: 768 }, // a laptop screen
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The browser's first page, with bounded waits and every page error or console error collected. */
export async function firstPage(
  browser: OpenBrowser,
  waitMs: number,
): Promise<{ page: Page; problems: string[] }> {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(waitMs);
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()} (${m.location().url})`);
  });
  return { page, problems };
}

/** The pending-chunk card of the inbox page. */
export const chunkCard = (page: Page, id: string) => page.locator(`article.chunk[data-chunk-id="${id}"]`);
