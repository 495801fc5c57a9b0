// In-process counters of the worker runtime, per pipeline: batches, records,
// events decoded, failed attempts, retries, dead letters, batch duration; plus
// whatever processors report through their MetricsHandle. A snapshot is plain data, so /metrics
// (prom-client) can read it later without the runtime knowing about Prometheus.

import type { MetricsHandle } from './types.js';
import { BucketHistogram, type HistogramSnapshot } from '../observe/bucket-histogram.js';

export interface DurationStats {
  count: number;
  sumMs: number;
  maxMs: number;
}

export interface PipelineCounters {
  /** Batches committed (processed, or settled through dead letters). */
  batches: number;
  /** Records committed. */
  records: number;
  /**
   * Events decoded from the records committed, dead letters left out. Ingest never parses bodies, so this
   * is where events are first counted; a processor that never calls item.events() adds none.
   */
  events: number;
  /** Processor calls that threw or ran past processTimeoutMs. */
  failures: number;
  /** Records sent to the dead-letter stream. */
  deadLetters: number;
  /** Batches given up at shutdown without commit (redelivered later). */
  abandoned: number;
  batchDuration: DurationStats;
  /**
   * After an unexpected error (a bug) stopped the pipeline: 'restarting' until serve --with-workers has started it
   * again, 'failed' under hopper work (which then exits 1).
   */
  state: 'running' | 'restarting' | 'failed';
  /** Times it was started again after such an error. */
  restarts: number;
  /** The last such error, or null. */
  lastFailure: { message: string; atMs: number } | null;
}

export interface CustomMetric {
  kind: 'counter' | 'gauge' | 'histogram';
  name: string;
  labels: Record<string, string>;
  /** Counter total, last gauge value, or histogram sum. */
  value: number;
  /** Histogram observations. */
  count: number;
}

export interface WorkerMetricsSnapshot {
  pipelines: Record<string, PipelineCounters>;
  custom: CustomMetric[];
  /** Batch durations per pipeline, in seconds. */
  batchSeconds: Record<string, HistogramSnapshot>;
}

/** Distinct custom series kept per pipeline; past it new series are dropped (a label with unbounded values is a bug). */
export const MAX_CUSTOM_SERIES = 1000;

export class WorkerMetrics {
  private readonly pipelines = new Map<string, PipelineCounters>();
  private readonly custom = new Map<string, Map<string, CustomMetric>>();
  /** Batch durations per pipeline, in seconds, for the /metrics histogram. */
  private readonly batchSeconds = new Map<string, BucketHistogram>();
  droppedSeries = 0;

  pipeline(name: string): PipelineCounters {
    let c = this.pipelines.get(name);
    if (!c) {
      c = { batches: 0, records: 0, events: 0, failures: 0, deadLetters: 0, abandoned: 0, batchDuration: { count: 0, sumMs: 0, maxMs: 0 }, state: 'running', restarts: 0, lastFailure: null };
      this.pipelines.set(name, c);
    }
    return c;
  }

  observeBatch(pipeline: string, records: number, events: number, durationMs: number): void {
    const c = this.pipeline(pipeline);
    c.batches++;
    c.records += records;
    c.events += events;
    c.batchDuration.count++;
    c.batchDuration.sumMs += durationMs;
    if (durationMs > c.batchDuration.maxMs) c.batchDuration.maxMs = durationMs;
    let h = this.batchSeconds.get(pipeline);
    if (!h) this.batchSeconds.set(pipeline, (h = new BucketHistogram()));
    h.observe(durationMs / 1000);
  }

  /** The handle given to a pipeline's processor: every series gets a `pipeline` label. */
  handle(pipeline: string): MetricsHandle {
    const series = this.custom.get(pipeline) ?? new Map<string, CustomMetric>();
    this.custom.set(pipeline, series);
    const at = (kind: CustomMetric['kind'], name: string, labels: Record<string, string> = {}): CustomMetric | null => {
      const all = { ...labels, pipeline };
      const key = `${kind}\u0000${name}\u0000${JSON.stringify(Object.entries(all).sort())}`;
      let m = series.get(key);
      if (!m) {
        if (series.size >= MAX_CUSTOM_SERIES) {
          this.droppedSeries++;
          return null;
        }
        m = { kind, name, labels: all, value: 0, count: 0 };
        series.set(key, m);
      }
      return m;
    };
    // Values from processor code (plain JS too) are checked: a counter only goes up (a drop reads as a restart
    // to Prometheus' rate()), and a string ("5" from a header) or NaN would leave the series at +Inf or NaN for good.
    return {
      increment(name, value = 1, labels) {
        if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return;
        const m = at('counter', name, labels);
        if (m) m.value += value;
      },
      gauge(name, value, labels) {
        if (typeof value !== 'number') return;
        const m = at('gauge', name, labels);
        if (m) m.value = value;
      },
      observe(name, value, labels) {
        if (typeof value !== 'number' || !Number.isFinite(value)) return;
        const m = at('histogram', name, labels);
        if (m) {
          m.value += value;
          m.count++;
        }
      },
    };
  }

  snapshot(): WorkerMetricsSnapshot {
    // Keyed by pipeline names, which the config chooses: in a plain object "__proto__" would set the prototype and be lost.
    const pipelines = Object.create(null) as Record<string, PipelineCounters>;
    for (const [name, c] of this.pipelines) pipelines[name] = { ...c, batchDuration: { ...c.batchDuration } };
    const custom: CustomMetric[] = [];
    for (const series of this.custom.values()) for (const m of series.values()) custom.push({ ...m, labels: { ...m.labels } });
    const batchSeconds = Object.create(null) as Record<string, HistogramSnapshot>;
    for (const [name, h] of this.batchSeconds) batchSeconds[name] = h.snapshot();
    return { pipelines, custom, batchSeconds };
  }
}
