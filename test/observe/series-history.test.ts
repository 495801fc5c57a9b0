// The dashboard's series holds HISTORY_SAMPLES points once the history is full, as the README says
// ("the last N one-second samples (at most 600)"): a point is the difference of two samples, and the
// sampler used to keep only HISTORY_SAMPLES samples, so a full history served 599.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import pino from 'pino';
import { HISTORY_SAMPLES, StatusSampler, type SamplerSources } from '../../src/observe/status-sampler.js';
import { ProcessProbe } from '../../src/observe/process-probe.js';
import type { LogStatsCache } from '../../src/observe/log-stats-cache.js';

test('a full history serves HISTORY_SAMPLES points, the oldest dropped first', async () => {
  const logStats = { stats: null, refresh: async () => undefined } as unknown as LogStatsCache;
  const sources: SamplerSources = { logStats, ingest: null, probe: new ProcessProbe('work'), workers: () => null, dataDir: tmpdir(), logger: pino({ enabled: false }) };
  const sampler = new StatusSampler(sources);
  for (let i = 0; i < HISTORY_SAMPLES + 5; i++) await sampler.tick();
  const all = sampler.series(HISTORY_SAMPLES);
  assert.equal(all.t.length, HISTORY_SAMPLES);
  assert.equal(all.rssBytes.length, HISTORY_SAMPLES);
  assert.equal(sampler.series(10).t.length, 10);
});
