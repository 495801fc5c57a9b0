// A MetricsRegistry over one WorkerMetrics and nothing else (no ingest, no log stats), for tests of what
// processor metrics look like in /metrics.
import { MetricsRegistry } from '../../src/observe/metrics-registry.js';
import type { Observer } from '../../src/observe/observer.js';
import type { WorkerMetrics } from '../../src/work/worker-metrics.js';

export function registryOf(workers: WorkerMetrics): MetricsRegistry {
  const observer = {
    role: 'work',
    version: '9.9.9',
    log: { backend: 'embedded' },
    logStats: { stats: null },
    sampler: { processes: () => [] },
    startedAtMs: Date.now(),
    expectedIngestProcesses: null,
    ingest: () => null,
    workers: () => workers.snapshot(),
  } as unknown as Observer;
  return new MetricsRegistry(observer);
}
