// The dashboard in a real browser: headless Chromium (Debian's chromium, driven by
// playwright-core) loads the page from a running `hopper serve --workers 2 --with-workers`
// under load; every chart must show non-zero data (requests/s, events/s decoded by the
// workers, ack latency, lag of a group that does not consume, a dead letter, memory), with no
// script error, on a laptop and on a phone screen. Screenshots go to test-artifacts/
// (git-ignored) to be looked at. Without Chromium the tests skip, except under HOPPER_CI=1
// (set by .ci/run), where they fail: CI must not go green without them.
// HOPPER_TEST_CHROMIUM points at another Chromium binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { httpRequest, sendWrites, startAdminServe } from './serve-with-admin.js';
import { chromiumSkip, launchChromium, requireChromium } from '../helpers/chromium.js';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const TOKEN = 'dashboard-test-token-0123456789';
const skip = chromiumSkip;

type ChartData = Record<string, (number | null)[][]>;
/** What the test reads in the page (globalThis is the window there; tests typecheck without the DOM library). */
interface PageGlobals {
  hopperDashboard?: { updates: number; chartData(): ChartData; chartLabels(): Record<string, string[]> };
  document: {
    getElementById(id: string): { textContent: string | null } | null;
    documentElement: { scrollWidth: number; clientWidth: number };
    querySelector(selector: string): { getBoundingClientRect(): { width: number } } | null;
  };
  getComputedStyle(el: unknown): { gridTemplateColumns: string };
}

/** Keeps writing ~200 requests/s (bursts of 4 every 20 ms) until stopped. */
function startLoad(port: number): { stop(): Promise<number> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let running = true;
  let sent = 0;
  const loop = (async () => {
    while (running) {
      await Promise.all(
        Array.from({ length: 4 }, () =>
          httpRequest(`http://127.0.0.1:${port}/v1/streams/clicks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"n":${sent++}}`, agent }).catch(
            () => undefined,
          ),
        ),
      );
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return sent;
    },
  };
}

function maxOf(series: (number | null)[] | undefined): number {
  return Math.max(0, ...(series ?? []).map((v) => v ?? 0));
}

test('the dashboard draws live, non-zero charts in headless Chromium', { skip, timeout: 180_000 }, async (t) => {
  requireChromium();
  const srv = await startAdminServe(t, ['--workers', '2', '--with-workers'], { HOPPER_ADMIN_TOKEN: TOKEN });
  assert.equal((await sendWrites(srv.port, 'clicks', 20, (i) => `{"warmup":${i}}`, 2)).get(202), 20);
  const bad = await httpRequest(`http://127.0.0.1:${srv.port}/v1/streams/clicks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{oops' });
  assert.equal(bad.status, 202);
  // A group that never consumes: its lag grows with the load.
  const log = new EmbeddedLog({ dataDir: srv.dataDir, segmentMaxBytes: 1 << 20, indexIntervalBytes: 4096, flushIntervalMs: 0, maxBatchBytes: 1 << 20, maxPendingBytes: 1 << 24, maxPendingRecords: 1000, writtenFsyncIntervalMs: 1000 });
  for (const p of await log.listPartitions('clicks')) await log.commitPosition('reporting', 'clicks', p, 0);
  await log.close();

  const load = startLoad(srv.port);
  t.after(() => load.stop());

  const context = await launchChromium(t, { width: 1280, height: 900 });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  const external: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(srv.admin)) external.push(req.url());
  });

  // The token travels in the fragment (never sent to the server) and is dropped from the address bar.
  await page.goto(`${srv.admin}/#token=${TOKEN}`);
  assert.equal(new URL(page.url()).hash, '', 'the token is removed from the URL');

  // No named helpers inside page functions: tsx would wrap them in __name(), which the page does not have.
  await page.waitForFunction(
    () => {
      const d = (globalThis as unknown as PageGlobals).hopperDashboard;
      if (!d || d.updates < 4) return false;
      const data = d.chartData();
      if (!data.rates || data.rates[0]!.length < 4) return false; // four samples on the time axis (one a second)
      const events = d.chartLabels().rates!.indexOf('events/s');
      if (events < 0 || !data.rates[events + 1]!.some((v) => (v ?? 0) > 0)) return false; // the workers decode the load
      return ['rates', 'latency', 'lag', 'dead', 'memory'].every((k) => data[k] && data[k]!.slice(1).some((s) => s.some((v) => (v ?? 0) > 0)));
    },
    undefined,
    { timeout: 60_000, polling: 250 },
  );
  const data = await page.evaluate(() => (globalThis as unknown as PageGlobals).hopperDashboard!.chartData());
  const labels = await page.evaluate(() => (globalThis as unknown as PageGlobals).hopperDashboard!.chartLabels());
  assert.deepEqual(labels.rates, ['requests/s', 'events/s', 'records stored/s', 'records processed/s'], 'events/s beside requests/s');
  const [, requests, events, records] = data.rates!;
  assert.ok(maxOf(requests) > 10, `requests/s drawn: ${maxOf(requests)}`);
  assert.ok(maxOf(events) > 10, `events/s drawn: ${maxOf(events)}`);
  assert.ok(maxOf(records) > 10, `records/s drawn: ${maxOf(records)}`);
  assert.ok(maxOf(data.latency![2]) > 0, 'ack latency p99 drawn');
  assert.ok(maxOf(data.latency![2]) >= maxOf(data.latency![1]) * 0.5, 'p99 is not below p50 (roughly)');
  assert.ok(maxOf(data.lag!.slice(1).flat()) > 20, 'the lag of the reporting group is drawn');
  assert.equal(maxOf(data.dead![1]), 1, 'one dead letter pending');
  assert.ok(maxOf(data.memory![1]) > 50, 'RSS of all processes in MB');
  const times = data.rates![0]!;
  assert.ok(times.length >= 4 && times.every((v, i) => i === 0 || v! > times[i - 1]!), `time axis in order: ${JSON.stringify(times)}`);

  // Charts keep moving: another second brings a later point.
  const lastT = times[times.length - 1]!;
  await page.waitForFunction(
    (prev) => {
      const t0 = (globalThis as unknown as PageGlobals).hopperDashboard!.chartData().rates![0]!;
      return t0[t0.length - 1]! > prev;
    },
    lastT,
    { timeout: 10_000 },
  );

  assert.equal(await page.locator('#tile-evt').isVisible(), true, 'the events/s tile shows where workers run');
  const tiles = await page.evaluate(() => ['t-req', 't-evt', 't-p99', 't-lag', 't-dlq', 't-mem'].map((id) => (globalThis as unknown as PageGlobals).document.getElementById(id)!.textContent));
  for (const v of tiles) assert.ok(v && v !== '-', `tile shows a value: ${JSON.stringify(tiles)}`);
  assert.match(await page.locator('#warnings').innerText(), /1 dead letter pending for stream clicks/);
  assert.equal(await page.locator('#token-form').isVisible(), false, 'the token was accepted');

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

  // A phone: one column, nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(1500);
  const fit = await page.evaluate(() => {
    const g = globalThis as unknown as PageGlobals;
    return {
      scroll: g.document.documentElement.scrollWidth,
      client: g.document.documentElement.clientWidth,
      columns: g.getComputedStyle(g.document.querySelector('.charts')).gridTemplateColumns.split(' ').length,
      chart: g.document.querySelector('#c-rates canvas')!.getBoundingClientRect().width,
    };
  });
  assert.ok(fit.scroll <= fit.client, `no horizontal scrolling on a phone: ${JSON.stringify(fit)}`);
  assert.equal(fit.columns, 1, 'one column of charts');
  assert.ok(fit.chart > 250 && fit.chart <= 390, `charts fill the phone's width: ${fit.chart}`);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });

  assert.deepEqual(external, [], 'nothing is fetched from outside the admin server (no CDN)');
  assert.deepEqual(problems, [], 'no script errors');
  assert.ok((await load.stop()) > 100);
});

test('without the token the page asks for it instead of showing data', { skip, timeout: 120_000 }, async (t) => {
  requireChromium();
  const srv = await startAdminServe(t, ['--workers', '1'], { HOPPER_ADMIN_TOKEN: TOKEN });
  const context = await launchChromium(t);
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${srv.admin}/`);
  await page.locator('#token-form').waitFor({ state: 'visible', timeout: 20_000 });
  assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).hopperDashboard!.updates), 0);
  assert.match(await page.locator('#state').innerText(), /needs its token/);
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForFunction(() => (globalThis as unknown as PageGlobals).hopperDashboard!.updates >= 1, undefined, { timeout: 20_000 });
  assert.equal(await page.locator('#tile-evt').isVisible(), false, 'no events/s tile where no workers run');
});
