// The status sampler timed its samples with the wall clock. When that clock went back (an NTP step, a VM
// resumed), the interval between the samples before and after was negative, read as 1 ms: for ten seconds
// /api/status gave rates a thousand times too high or more (one backpressure refusal then warned at
// thousands a second), the dashboard's points went back in time for ten minutes, and the lag history took
// no point until the clock was back where it had been, so the "lag growing" warning could not fire. The
// samples kept now move back with the clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import pino from 'pino';
import type { AdminStatus } from '../../src/observe/status-api.js';
import type { HopperConfig } from '../../src/config/schema.js';
import type { LogStats } from '../../src/log/types.js';
import type { LogStatsCache } from '../../src/observe/log-stats-cache.js';
import { emptyIngestSnapshot } from '../../src/observe/cluster-stats.js';
import { ProcessProbe } from '../../src/observe/process-probe.js';
import { StatusSampler } from '../../src/observe/status-sampler.js';
import { statusWarnings } from '../../src/observe/status-warnings.js';

const START = Date.UTC(2026, 0, 1, 12);
const HOUR = 3_600_000;

test('a wall clock that goes back an hour leaves the rates and the lag history right', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: START });
  const ingest = emptyIngestSnapshot();
  let end = 100;
  const stats = (): LogStats =>
    ({ streams: [{ stream: 'orders', partitions: [{ partition: 0, startOffset: 0, endOffset: end, bytes: end, segments: 1, quarantinedRecords: 0, groups: [{ group: 'files', position: 0, lag: end }] }] }] }) as unknown as LogStats;
  const logStats = { get stats() { return stats(); }, refresh: async () => undefined } as unknown as LogStatsCache;
  const sampler = new StatusSampler({
    logStats,
    ingest: { ingest: () => ingest, processes: () => [] },
    probe: new ProcessProbe('primary'),
    workers: () => null,
    dataDir: tmpdir(),
    logger: pino({ level: 'silent' }),
    config: { pipelines: [] } as unknown as HopperConfig,
  });
  t.after(() => sampler.stop());
  /** One sample a second for `seconds`, 100 requests a second, the lag 50 records more a minute. */
  const run = async (seconds: number): Promise<void> => {
    for (let i = 0; i < seconds; i++) {
      ingest.requestsByStatus['202'] = (ingest.requestsByStatus['202'] ?? 0) + 100;
      ingest.recordsAppended += 100;
      if (i % 60 === 0) end += 50;
      t.mock.timers.tick(1000);
      await sampler.tick();
    }
  };
  await sampler.tick();
  await run(120);
  assert.equal(Math.round(sampler.rates()!.requestsPerSecond), 100);

  t.mock.timers.setTime(Date.now() - HOUR);
  // The sample at the step spans the time that really passed (here, no time: the test's clock is mocked), so no
  // requests in it: what is checked is the samples around it.
  await sampler.tick();
  await run(3);
  const rates = sampler.rates()!;
  assert.ok(rates.requestsPerSecond > 90 && rates.requestsPerSecond < 120, `requests/s after the step: ${rates.requestsPerSecond}`);
  assert.ok(rates.windowSeconds >= 9 && rates.windowSeconds <= 10, `a window of ${rates.windowSeconds} s`);
  await run(17);
  const series = sampler.series(30);
  for (const r of series.requestsPerSecond) assert.ok(r !== null && r < 200, `a point of ${r} requests/s`);
  for (let i = 1; i < series.t.length; i++) assert.ok(series.t[i]! > series.t[i - 1]!, 'the points stay in order');

  // The lag grows 50 records a minute, before and after the step: six minutes on, it warns.
  await run(5 * 60);
  const lagHistory = sampler.lagHistory();
  assert.equal(lagHistory.length, 1);
  assert.ok(lagHistory[0]!.points.length >= 6, JSON.stringify(lagHistory[0]!.points));
  const warnings = statusWarnings({ lagHistory, disk: null, ack: { default: 'written', streams: {} }, durableIsFsync: true, deadLetters: { streams: [] }, rates: null, totals: null, ingestProcesses: null, processes: [], logStats: { ageSeconds: 0, error: null } } as unknown as AdminStatus);
  assert.ok(warnings.some((w) => /lag of group files on stream orders has grown for 5 minutes/.test(w)), warnings.join('\n'));
});

test('a wall clock that goes back less than a sample interval (ntpd steps from 128 ms) leaves the chart and the rates right', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: START });
  // The monotonic clock too, so that the time that really passed is known: a second between samples.
  let mono = 1_000_000;
  t.mock.method(performance, 'now', () => mono);
  const ingest = emptyIngestSnapshot();
  const stats = (): LogStats => ({ streams: [] }) as unknown as LogStats;
  const logStats = { get stats() { return stats(); }, refresh: async () => undefined } as unknown as LogStatsCache;
  const sampler = new StatusSampler({
    logStats,
    ingest: { ingest: () => ingest, processes: () => [] },
    probe: new ProcessProbe('primary'),
    workers: () => null,
    dataDir: tmpdir(),
    logger: pino({ level: 'silent' }),
    config: { pipelines: [] } as unknown as HopperConfig,
  });
  t.after(() => sampler.stop());
  const second = async (wallStepMs = 0): Promise<void> => {
    ingest.requestsByStatus['202'] = (ingest.requestsByStatus['202'] ?? 0) + 100;
    ingest.recordsAppended += 100;
    t.mock.timers.setTime(Date.now() + 1000 + wallStepMs);
    mono += 1000;
    await sampler.tick();
  };
  await sampler.tick();
  for (let i = 0; i < 20; i++) await second();
  await second(-900); // 100 ms later on the wall clock, a second later in fact
  for (let i = 0; i < 3; i++) await second();
  const series = sampler.series(10);
  for (const r of series.requestsPerSecond) assert.ok(r !== null && Math.round(r) === 100, `a point of ${r} requests/s: ${series.requestsPerSecond.join(', ')}`);
  for (let i = 1; i < series.t.length; i++) assert.equal(Math.round(series.t[i]! - series.t[i - 1]!), 1, 'points a second apart');
  assert.equal(Math.round(sampler.rates()!.requestsPerSecond), 100);
  assert.equal(sampler.rates()!.windowSeconds, 10);
});
