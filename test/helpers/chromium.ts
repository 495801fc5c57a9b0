// Headless Chromium for the browser tests (Debian's chromium, driven by playwright-core): where it is,
// whether a test must skip (not installed, on a user's machine) or fail (not installed under
// HOPPER_CI=1, set by .ci/run: CI must not go green without it), and a launch that cleans up after itself.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { IN_CI } from './service-skip.js';

/** HOPPER_TEST_CHROMIUM points at another Chromium binary. */
export const CHROMIUM = process.env.HOPPER_TEST_CHROMIUM ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? null : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;

/** The `skip` option of a browser test: the reason, except under HOPPER_CI=1, where requireChromium() fails instead. */
export const chromiumSkip: string | false = missing !== null && !IN_CI ? missing : false;

/** In CI a missing Chromium is a failure, not a skip. */
export function requireChromium(): void {
  if (missing !== null) assert.fail(`${missing}; HOPPER_CI=1 requires the browser test to run`);
}

/** A fresh headless Chromium with its own profile, closed (then the profile removed) when the test ends. */
export async function launchChromium(t: { after(fn: () => unknown): void }, viewport?: { width: number; height: number }): Promise<BrowserContext> {
  requireChromium();
  const profile = mkdtempSync(join(tmpdir(), 'hopper-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      ...(viewport ? { viewport } : {}),
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  // One hook, in this order: a profile removed before the browser closes is written again by it.
  t.after(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return context;
}
