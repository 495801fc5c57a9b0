// The "lag growing" warning is computed from the sampler's lag history. That history used to be taken from
// the dashboard chart's lag series, capped at MAX_LAG_SERIES (20) stream/group pairs: on a server with 21
// streams read by the default `files` pipeline, the 21st stream (alphabetically) had no lag history, and its
// workers falling behind for good never raised the warning. The history now holds every group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import pino from 'pino';
import type { AdminStatus } from '../../src/observe/status-api.js';
import type { HopperConfig } from '../../src/config/schema.js';
import type { LogStats } from '../../src/log/types.js';
import type { LogStatsCache } from '../../src/observe/log-stats-cache.js';
import { ProcessProbe } from '../../src/observe/process-probe.js';
import { LAG_HISTORY_STEP_MS, MAX_LAG_SERIES, StatusSampler } from '../../src/observe/status-sampler.js';
import { LAG_GROWTH_MAX_STEP_MS, LAG_GROWTH_WINDOW_MS, statusWarnings } from '../../src/observe/status-warnings.js';

const STREAMS = Array.from({ length: MAX_LAG_SERIES + 5 }, (_, i) => `s${String(i).padStart(2, '0')}`);

/** Every stream: one partition with `end` records, group `files` still at offset 0. */
function statsOf(end: number): LogStats {
  return {
    streams: STREAMS.map((stream) => ({
      stream,
      partitions: [{ partition: 0, startOffset: 0, endOffset: end, bytes: end, segments: 1, quarantinedRecords: 0, groups: [{ group: 'files', position: 0, lag: end }] }],
    })),
  } as unknown as LogStats;
}

function warningsOf(lagHistory: AdminStatus['lagHistory']): string[] {
  const status = { lagHistory, disk: null, ack: { default: 'written', streams: {} }, durableIsFsync: true, deadLetters: { streams: [] }, rates: null, totals: null, ingestProcesses: null, processes: [], logStats: { ageSeconds: 0, error: null } };
  return statusWarnings(status as unknown as AdminStatus);
}

function samplerFor(stats: () => LogStats): StatusSampler {
  const logStats = { get stats() { return stats(); }, refresh: async () => undefined } as unknown as LogStatsCache;
  return new StatusSampler({ logStats, ingest: null, probe: new ProcessProbe('work'), workers: () => null, dataDir: tmpdir(), logger: pino({ level: 'silent' }), config: { pipelines: [] } as unknown as HopperConfig });
}

test('the lag history and its warning cover every group, past the chart series limit', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 0, 1) });
  let end = 100;
  const sampler = samplerFor(() => statsOf(end));
  t.after(() => sampler.stop());
  for (let minute = 0; minute <= LAG_GROWTH_WINDOW_MS / 60_000; minute++) {
    await sampler.tick();
    end += 50;
    t.mock.timers.tick(60_000);
  }
  const lagHistory = sampler.lagHistory();
  assert.deepEqual(lagHistory.map((h) => h.stream).sort(), STREAMS);
  for (const h of lagHistory) assert.equal(h.points.length, 6, h.stream);
  const warnings = warningsOf(lagHistory);
  assert.equal(warnings.length, STREAMS.length, warnings.join('\n'));
  assert.ok(warnings.some((w) => /lag of group files on stream s24 has grown for 5 minutes \(100 -> 350 records\)/.test(w)), warnings.join('\n'));
  // The chart still draws at most MAX_LAG_SERIES series.
  const series = sampler.series(10);
  assert.equal(Object.keys(series.lag).length, MAX_LAG_SERIES);
  assert.equal(series.lagTruncated, true);
});

test('sampled every second, the history has one point a minute, the latest last, for every group', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 0, 1) });
  let end = 0;
  const sampler = samplerFor(() => statsOf(end));
  t.after(() => sampler.stop());
  const seconds = LAG_GROWTH_WINDOW_MS / 1000 + 97;
  for (let s = 0; s <= seconds; s++) {
    await sampler.tick();
    end += 1;
    t.mock.timers.tick(1000);
  }
  const lagHistory = sampler.lagHistory();
  assert.equal(lagHistory.length, STREAMS.length);
  const lastT = Date.UTC(2026, 0, 1) + seconds * 1000;
  for (const h of lagHistory) {
    assert.deepEqual(h.points.at(-1), [lastT, seconds], `${h.stream}: the latest sample is the last point`);
    for (let i = 1; i < h.points.length; i++) {
      const step = h.points[i]![0] - h.points[i - 1]![0];
      assert.ok(step >= LAG_HISTORY_STEP_MS && step <= LAG_GROWTH_MAX_STEP_MS, `${h.stream}: points ${step} ms apart`);
    }
  }
  assert.equal(warningsOf(lagHistory).length, STREAMS.length);
});
