// Coordinated omission: when the server stalls, the open loop (--rate) charges the stall to every request that
// was due during it, while the closed loop sees it only once. Also: exact request counts and the schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { runLoad, splitByWeight, type LoadPlan } from '../../src/bench/load-run.js';
import { parseBenchTarget } from '../../src/bench/bench-target.js';

const STALL_AFTER_MS = 300;
const STALL_MS = 500;

/** Answers at once, except that 300 ms after its first request it holds every response for 500 ms. */
async function stallingServer(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  let first = 0;
  let stallUntil = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const now = Date.now();
      if (first === 0) first = now;
      if (stallUntil === 0 && now - first >= STALL_AFTER_MS) stallUntil = now + STALL_MS;
      const reply = (): void => {
        res.writeHead(202, { 'content-length': '2' });
        res.end('{}');
      };
      if (now < stallUntil) setTimeout(reply, stallUntil - now);
      else reply();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function plan(url: string, over: Partial<LoadPlan>): LoadPlan {
  return {
    target: parseBenchTarget(url, undefined),
    connections: 1,
    threads: 1,
    durationMs: 2000,
    requests: null,
    ratePerSec: 0,
    body: { eventBytes: 128, templateFields: null, batch: 1, gzip: false },
    requestTimeoutMs: 10_000,
    trackAcks: false,
    ...over,
  };
}

test('open loop: a 500 ms stall shows in p90, because latency runs from the scheduled send time', async (t) => {
  const url = await stallingServer(t);
  const r = await runLoad(plan(url, { connections: 8, threads: 2, ratePerSec: 200 }));
  assert.equal(r.requestsSent + r.behindSchedule, 400, '200 req/s for 2 s: 400 due');
  assert.ok(r.requestsSent >= 360, `the schedule was kept (${r.requestsSent} sent)`);
  assert.equal(r.responses, r.requestsSent);
  const s = r.latency.summary();
  // About 100 requests fall due during the stall and wait for it: a quarter of the run.
  assert.ok(s.p90 >= 100_000, `p90 ${s.p90} µs should carry the stall`);
  assert.ok(s.max >= 300_000, `max ${s.max} µs`);
});

test('closed loop on one connection sees the same stall once: it hides in p90 (which is why --rate exists)', async (t) => {
  const url = await stallingServer(t);
  const r = await runLoad(plan(url, { connections: 1 }));
  const s = r.latency.summary();
  assert.ok(r.responses > 100, `${r.responses} responses`);
  assert.ok(s.max >= 300_000, `max ${s.max} µs is the stall`);
  assert.ok(s.p90 < 100_000, `p90 ${s.p90} µs does not show it`);
});

test('--requests N sends exactly N, split over threads, each acknowledged event tracked once', async (t) => {
  const url = await stallingServer(t);
  const r = await runLoad(plan(url, { connections: 5, threads: 2, durationMs: null, requests: 1001, trackAcks: true, body: { eventBytes: 128, templateFields: null, batch: 3, gzip: false } }));
  assert.equal(r.requestsSent, 1001);
  assert.equal(r.responses, 1001);
  assert.equal(r.eventsAcknowledged, 3003);
  assert.deepEqual(r.statuses, { '202': 1001 });
  assert.equal(r.acknowledged.reduce((n, a) => n + a.bitmap!.count(), 0), 3003);
  assert.equal(r.acknowledged.reduce((n, a) => n + a.seqLimit, 0), 3003);
  assert.equal(r.latency.count, 1001);
});

test('--requests is split across threads in proportion to their connections, as the rate is', () => {
  assert.deepEqual(splitByWeight(200, [2, 1]), [133, 67]);
  assert.deepEqual(splitByWeight(200, [2, 1, 1, 1]), [80, 40, 40, 40]);
  assert.deepEqual(splitByWeight(7, [1, 1, 1]), [3, 2, 2]);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 64 }), (total, weights) => {
      const parts = splitByWeight(total, weights);
      const sum = weights.reduce((a, b) => a + b, 0);
      assert.equal(parts.reduce((a, b) => a + b, 0), total);
      parts.forEach((p, i) => assert.ok(Math.abs(p - (total * weights[i]!) / sum) < 1, `${p} vs ${(total * weights[i]!) / sum}`));
    }),
  );
});
