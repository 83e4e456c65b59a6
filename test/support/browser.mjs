// Headless Debian Chromium (scripts/setup.sh --browser) driven by Playwright, for the browser
// tests: one launcher, with one set of flags.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Launches Chromium with a fresh profile of its own; `options` are Playwright's
 * (launchPersistentContext: viewport, ignoreHTTPSErrors, acceptDownloads, …). Resolves with the
 * browser context and `close()`, which ends the browser and removes the profile.
 */
export async function launchChromium(options = {}) {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh --browser`);
  const profile = mkdtempSync(join(tmpdir(), "uts-chromium-"));
  const removeProfile = () => rmSync(profile, { recursive: true, force: true });
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, ...options });
  } catch (e) {
    removeProfile();
    throw e;
  }
  async function close() {
    await context.close().catch(() => {});
    removeProfile();
  }
  return { context, close };
}
