// Everything the admin server reads, bundled once by admin-runtime.ts: the
// config, the admin process's own log handle, the cached log stats, the status
// sampler, and getters for the ingest and worker counters. The status API,
// /metrics and the records API only read from it.

import type { HopperConfig } from '../config/schema.js';
import type { IngestSnapshot } from '../ingest/ingest-stats.js';
import type { Log } from '../log/types.js';
import type { WorkerMetricsSnapshot } from '../work/worker-metrics.js';
import type { LogStatsCache } from './log-stats-cache.js';
import type { StatusSampler } from './status-sampler.js';

export type AdminRole = 'serve' | 'work';

export interface Observer {
  readonly role: AdminRole;
  readonly version: string;
  readonly config: HopperConfig;
  readonly log: Log;
  readonly logStats: LogStatsCache;
  readonly sampler: StatusSampler;
  readonly startedAtMs: number;
  /** Filled in as listeners come up. */
  readonly listen: { ingest: string[]; admin: string | null };
  /** Ingest processes the supervisor runs (null without ingest). */
  expectedIngestProcesses: number | null;
  /** Summed counters of every ingest process (null without ingest). */
  ingest(): IngestSnapshot | null;
  /** Counters of the worker runtime in this process (null when none runs here). */
  workers(): WorkerMetricsSnapshot | null;
}
