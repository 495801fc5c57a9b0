// examples/votes in a real browser: headless Chromium opens index.html from another origin (a static
// server in the test), a user clicks stars, the page's sendBeacon posts cross-origin to the example's
// `hopper serve --with-workers`, and PostgreSQL ends up with exactly those counts and averages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { testPgUrl } from '../sinks/sink-harness.js';
import { votesSetup } from './votes-setup.js';
import { ROOT, deadLettered, runExample, waitFor } from './example-harness.js';
import { chromiumSkip, launchChromium, requireChromium } from '../helpers/chromium.js';

const target = await testPgUrl();
const skip = target.skip ?? chromiumSkip;

/** The clicks a user makes: item and stars. Pizza's three votes average 13/3, which Postgres rounds to 4.33. */
const CLICKS: [string, number][] = [
  ['pizza', 5],
  ['sushi', 2],
  ['pizza', 4],
  ['ramen', 3],
  ['pizza', 4],
];

test('votes example: stars clicked in Chromium become counts and averages in Postgres', { skip, timeout: 120_000 }, async (t) => {
  requireChromium();
  // The example's own config (corsOrigins ["*"], its rate limit), pointed only at the test's database and tables.
  const { db, seen, ratings, path, dir } = await votesSetup(t, target.url!); // set: the test skips without a database
  const hopper = await runExample(t, path, dir);
  const hopperOrigin = `http://127.0.0.1:${hopper.port}`;

  // The example ships index.html as a plain file; a page served from a web site is the case CORS is for,
  // so it is served here on its own port: another origin than Hopper's.
  const html = readFileSync(join(ROOT, 'examples/votes/index.html'));
  const site = createServer((req, res) => {
    const file = req.url?.split('?')[0];
    if (req.method === 'GET' && file === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    } else if (file === '/favicon.ico') {
      res.writeHead(204).end(); // the browser asks for one; a 404 would be a console error
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    // Chromium keeps (and pre-opens) connections that close() alone would wait minutes for.
    const closed = new Promise<void>((resolve) => site.close(() => resolve()));
    site.closeAllConnections();
    return closed;
  });
  const pageOrigin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  assert.notEqual(pageOrigin, hopperOrigin);

  const context = await launchChromium(t);
  const page = context.pages()[0] ?? (await context.newPage());
  // A script error, or a beacon Hopper refused (Chromium logs a 4xx answer as a console error), shows up here.
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
  // What crossed the wire for each beacon, from Chromium's own network events (the raw headers come
  // in the ExtraInfo events, which Playwright's request.allHeaders() did not reliably match for beacons).
  type Beacon = { method?: string; body?: string; origin?: string; mode?: string; status?: number; allowOrigin?: string; allowCredentials?: string };
  const beacons = new Map<string, Beacon>();
  const beacon = (id: string): Beacon => beacons.get(id) ?? beacons.set(id, {}).get(id)!;
  const cdp = await context.newCDPSession(page);
  cdp.on('Network.requestWillBeSent', (e) => {
    if (e.request.url === `${hopperOrigin}/v1/streams/votes`) Object.assign(beacon(e.requestId), { method: e.request.method, body: e.request.postData });
  });
  cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
    Object.assign(beacon(e.requestId), { origin: e.headers.Origin ?? e.headers.origin, mode: e.headers['Sec-Fetch-Mode'] ?? e.headers['sec-fetch-mode'] });
  });
  cdp.on('Network.responseReceivedExtraInfo', (e) => {
    const h = Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k.toLowerCase(), v]));
    Object.assign(beacon(e.requestId), { status: e.statusCode, allowOrigin: h['access-control-allow-origin'], allowCredentials: h['access-control-allow-credentials'] });
  });
  await cdp.send('Network.enable');

  // The page takes Hopper's address from ?hopper= (it defaults to 127.0.0.1:8080, the README's port).
  await page.goto(`${pageOrigin}/?hopper=${encodeURIComponent(hopperOrigin)}`);
  // A user's clicks on the page's own star buttons: the row of the item, the button titled "N star(s)".
  for (const [i, [item, stars]] of CLICKS.entries()) {
    await page.locator('.item', { has: page.getByText(item, { exact: true }) }).getByTitle(`${stars} star(s)`, { exact: true }).click();
    // The page says whether the browser queued the beacon; "refused" would mean sendBeacon returned false.
    assert.equal(await page.locator('#sent').innerText(), `${i + 1} vote(s) sent`);
  }

  const table = async (): Promise<string | undefined> => {
    const r = await db.query(`SELECT item, votes::int, average::text FROM ${ratings} ORDER BY item`).catch(() => null);
    return r ? JSON.stringify(r.rows) : undefined;
  };
  const expected = JSON.stringify([
    { item: 'pizza', votes: 3, average: '4.33' },
    { item: 'ramen', votes: 1, average: '3.00' },
    { item: 'sushi', votes: 1, average: '2.00' },
  ]);
  let last: string | undefined;
  await waitFor(async () => ((last = await table()) === expected ? true : undefined), () => `${ratings} never became ${expected}; last ${last}\n${hopper.lines.join('\n')}`);

  // Exactly the clicks were counted: one remembered vote per click, each with its stars, none dead-lettered.
  const { rows } = await db.query(`SELECT item, rating::int FROM ${seen} ORDER BY item, rating`);
  const clicked = CLICKS.map(([item, rating]) => ({ item, rating })).sort((a, b) => a.item.localeCompare(b.item) || a.rating - b.rating);
  assert.deepEqual(rows, clicked);
  assert.equal(deadLettered(hopper), 0, hopper.lines.join('\n'));

  // Each click was one cross-origin form POST and nothing else (an OPTIONS preflight would be in the list):
  // Chromium sends such a beacon in no-cors mode with the page's Origin, so Hopper's corsOrigins check is
  // what admits it (with corsOrigins ["https://other.example"] this test fails: 403s, no rows). Hopper
  // still echoes the origin with credentials allowed, as a fetch() that reads the answer would need.
  const sent = await waitFor(() => {
    const posts = [...beacons.values()].filter((b) => b.method !== undefined);
    return posts.length === CLICKS.length && posts.every((b) => b.status !== undefined && b.origin !== undefined) ? posts : undefined;
  }, () => `the network events of ${CLICKS.length} beacons: ${JSON.stringify([...beacons.values()])}`);
  assert.deepEqual(
    sent,
    CLICKS.map(([item, stars]) => ({ method: 'POST', body: `item=${item}&rating=${stars}`, origin: pageOrigin, mode: 'no-cors', status: 202, allowOrigin: pageOrigin, allowCredentials: 'true' })),
  );
  assert.deepEqual(problems, [], 'no script errors, CORS refusals or failed requests');
});
