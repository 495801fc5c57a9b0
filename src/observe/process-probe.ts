// What one Hopper process says about itself: memory and event-loop delay (from
// perf_hooks.monitorEventLoopDelay), plus the ingest counters of an ingest child.
// report() is called by exactly one reader per process (the child's reporter, or
// the primary's status sampler): it resets the delay histogram, so each report
// covers the interval since the previous one.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { IngestSnapshot } from '../ingest/ingest-stats.js';

/** Sampling resolution of the event-loop delay monitor. */
const EVENT_LOOP_RESOLUTION_MS = 10;

export type ProcessRole = 'primary' | 'ingest' | 'work';

export interface ProcessReport {
  role: ProcessRole;
  /** The partition of an ingest child; null for other processes. */
  partition: number | null;
  pid: number;
  atMs: number;
  uptimeSeconds: number;
  memory: { rssBytes: number; heapUsedBytes: number; heapTotalBytes: number; externalBytes: number };
  /** Event-loop delay over the interval since the previous report, in seconds. */
  eventLoopDelay: { p50Seconds: number; p99Seconds: number; maxSeconds: number };
  ingest: IngestSnapshot | null;
}

/** The `process` label of a report in /metrics: primary, work, ingest-0, ingest-1... */
export function processLabel(r: Pick<ProcessReport, 'role' | 'partition'>): string {
  return r.role === 'ingest' ? `ingest-${r.partition ?? 0}` : r.role;
}

/** The monitor's samples include its own timer interval: what is beyond it is the delay. */
function seconds(ns: number): number {
  const delayNs = ns - EVENT_LOOP_RESOLUTION_MS * 1e6;
  return Number.isFinite(delayNs) && delayNs > 0 ? delayNs / 1e9 : 0;
}

export class ProcessProbe {
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });

  constructor(
    readonly role: ProcessRole,
    readonly partition: number | null = null,
  ) {
    this.delay.enable();
  }

  report(ingest: IngestSnapshot | null = null): ProcessReport {
    const m = process.memoryUsage();
    const d = this.delay;
    const eventLoopDelay = { p50Seconds: 0, p99Seconds: 0, maxSeconds: 0 };
    if (d.count > 0) {
      eventLoopDelay.p50Seconds = seconds(d.percentile(50));
      eventLoopDelay.p99Seconds = seconds(d.percentile(99));
      eventLoopDelay.maxSeconds = seconds(d.max);
    }
    d.reset();
    return {
      role: this.role,
      partition: this.partition,
      pid: process.pid,
      atMs: Date.now(),
      uptimeSeconds: process.uptime(),
      memory: { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external },
      eventLoopDelay,
      ingest,
    };
  }

  stop(): void {
    this.delay.disable();
  }
}
