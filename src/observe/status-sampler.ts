// Once a second, the admin process takes a sample of everything it observes:
// the summed ingest counters, worker counters, memory of every process, lag per
// group and pending dead letters (from the cached log stats). The last
// HISTORY_SAMPLES samples (ten minutes) are kept in memory: the dashboard's
// charts, the rates and percentiles of /api/status, and the "lag growing for five
// minutes" warning all come from them. Cost: one tick a second, whatever the
// request rate; memory: bounded by HISTORY_SAMPLES x MAX_LAG_SERIES for the
// charts, and by LAG_POINTS_KEPT x MAX_LAG_HISTORY_SERIES for the lag history.

import type { Logger } from 'pino';
import type { HopperConfig } from '../config/schema.js';
import type { IngestSnapshot } from '../ingest/ingest-stats.js';
import type { WorkerMetricsSnapshot } from '../work/worker-metrics.js';
import { addHistogram, emptyHistogram, histogramDelta, histogramQuantile, type HistogramSnapshot } from './bucket-histogram.js';
import { diskSpace, type DiskSpace } from './disk-space.js';
import type { LogStatsCache } from './log-stats-cache.js';
import { deadLetterCounts, declaredGroups, groupLags } from './log-summary.js';
import type { ProcessProbe, ProcessReport } from './process-probe.js';
import { errorFields } from './logger.js';
import { ThrottledErrorLog } from './throttled-error-log.js';

export const SAMPLE_INTERVAL_MS = 1000;
/** Samples kept: ten minutes at one a second. */
export const HISTORY_SAMPLES = 600;
/** Rates and percentiles in /api/status cover this much time. */
export const RATE_WINDOW_MS = 10_000;
/** Lag series kept per sample (stream and group pairs) for the dashboard's chart; more are left out of it. */
export const MAX_LAG_SERIES = 20;
/** Spacing of the lag history handed to `hopper status` (one point a minute). */
export const LAG_HISTORY_STEP_MS = 60_000;
/**
 * Stream and group pairs in the lag history (every group of a server with up to 1,000 streams read by two
 * groups each): the "lag growing" warning must see every group, not only the chart's first MAX_LAG_SERIES.
 */
export const MAX_LAG_HISTORY_SERIES = 2_000;
/**
 * The lag of every group is kept this often, not every sample (memory): the history's points, picked a
 * minute apart back from the latest sample, are then 60 to 65 s apart.
 */
const LAG_POINT_INTERVAL_MS = 5_000;
/** Lag points kept: the ten minutes of HISTORY_SAMPLES, both ends included. */
const LAG_POINTS_KEPT = (HISTORY_SAMPLES * SAMPLE_INTERVAL_MS) / LAG_POINT_INTERVAL_MS + 1;
/**
 * The wall clock showing this much less time between two samples than the monotonic clock is a step back (which
 * the samples kept follow); less is slewing (at most 0.5 ms a second) or the two clocks read a moment apart.
 */
const CLOCK_STEP_TOLERANCE_MS = 50;
/** A tick that keeps failing logs at most one line per this interval (each line counts the failures it stands for). */
export const TICK_ERROR_LINE_INTERVAL_MS = 60_000;

export interface SamplerSources {
  logStats: LogStatsCache;
  /** The ingest children (hopper serve); null in a process without ingest (hopper work). */
  ingest: { ingest(): IngestSnapshot; processes(): ProcessReport[] } | null;
  /** This process. */
  probe: ProcessProbe;
  workers(): WorkerMetricsSnapshot | null;
  dataDir: string;
  logger: Logger;
  /** Its pipelines' groups are sampled before their first commit too (as `hopper lag` lists them); none without. */
  config?: HopperConfig;
}

interface Sample {
  tMs: number;
  /** performance.now() when taken: the time that really passed since another sample, whatever the wall clock did. */
  monoMs: number;
  requests: number;
  records: number;
  bytesIn: number;
  backpressure: number;
  /** Ack latency of every stream, cumulative. */
  ackLatency: HistogramSnapshot;
  /** Records the workers of this process committed (null without workers). */
  processed: number | null;
  /** Events those records decoded to (null without workers): ingest does not parse bodies, the workers do. */
  events: number | null;
  /** null before the first log stats. */
  deadLettersPending: number | null;
  /** Total lag per "stream/group", the first MAX_LAG_SERIES (the chart's). */
  lag: Map<string, number>;
  rssBytes: number;
  heapUsedBytes: number;
}

export interface WindowRates {
  windowSeconds: number;
  requestsPerSecond: number;
  recordsPerSecond: number;
  bytesInPerSecond: number;
  backpressurePerSecond: number;
  processedPerSecond: number | null;
  eventsPerSecond: number | null;
  ackLatencyP50Seconds: number | null;
  ackLatencyP99Seconds: number | null;
}

/** What the dashboard draws: one value per sample (null where there is nothing to show). */
export interface Series {
  intervalMs: number;
  /** Unix time of each point, in seconds. */
  t: number[];
  requestsPerSecond: (number | null)[];
  recordsPerSecond: (number | null)[];
  processedPerSecond: (number | null)[];
  eventsPerSecond: (number | null)[];
  ackP50Ms: (number | null)[];
  ackP99Ms: (number | null)[];
  deadLettersPending: (number | null)[];
  rssBytes: number[];
  heapUsedBytes: number[];
  /** Lag per "stream/group". */
  lag: Record<string, (number | null)[]>;
  lagTruncated: boolean;
}

export interface LagHistory {
  stream: string;
  group: string;
  /** [unix ms, total lag], oldest first, about one a minute. */
  points: [number, number][];
}

/** Total lag per "stream/group" of every group (up to MAX_LAG_HISTORY_SERIES) at one time. */
interface LagPoint {
  tMs: number;
  lag: Map<string, number>;
}

function sum(values: Iterable<number>): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

export class StatusSampler {
  private readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private lagTruncated = false;
  /** One point about every LAG_POINT_INTERVAL_MS, oldest first, at most LAG_POINTS_KEPT. */
  private readonly lagPoints: LagPoint[] = [];
  /** The lag of every group at the latest sample. */
  private latestLag: LagPoint | null = null;
  /** One string per "stream/group", shared by every lag point (a fresh one per point: 3 times the memory). */
  private readonly lagKeys = new Map<string, string>();
  private own: ProcessReport;
  disk: DiskSpace | null = null;
  private readonly tickErrors: ThrottledErrorLog;

  constructor(private readonly src: SamplerSources) {
    this.own = src.probe.report();
    this.tickErrors = new ThrottledErrorLog(src.logger, TICK_ERROR_LINE_INTERVAL_MS);
  }

  /** Takes the first sample (so the status is complete at once), then one every SAMPLE_INTERVAL_MS. */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.tickErrors.flush();
  }

  /**
   * One sample; a tick that finds the previous one still running (slow log stats) is skipped. Never rejects:
   * it runs from a timer in the primary of `hopper serve`, where a rejection would end every ingest process.
   * A failed tick is logged (throttled) and leaves no sample; the next one tries again.
   */
  tick(): Promise<void> {
    this.ticking ??= this.takeSample()
      .catch((err: unknown) => {
        // Most likely a bug: the stack says where.
        this.tickErrors.error(
          { ...errorFields(err), stack: err instanceof Error ? err.stack : undefined },
          'admin: taking the status sample failed; the rates and charts of status and the dashboard miss it',
        );
      })
      .finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async takeSample(): Promise<void> {
    const { src } = this;
    await Promise.all([src.logStats.refresh(), diskSpace(src.dataDir).then((d) => (this.disk = d))]);
    this.own = src.probe.report();
    const ingest = src.ingest?.ingest() ?? null;
    const ackLatency = emptyHistogram();
    if (ingest) for (const s of Object.values(ingest.streams)) addHistogram(ackLatency, s.ackLatency);
    const workers = src.workers();
    const stats = src.logStats.stats;
    const lag = new Map<string, number>();
    const allLag = new Map<string, number>();
    let truncated = false;
    if (stats) {
      for (const g of groupLags(stats, src.config ? declaredGroups(src.config, stats) : [])) {
        if (allLag.size >= MAX_LAG_HISTORY_SERIES) break;
        const key = this.lagKey(`${g.stream}/${g.group}`);
        allLag.set(key, g.lag);
        if (lag.size < MAX_LAG_SERIES) lag.set(key, g.lag);
        else truncated = true;
      }
    }
    this.lagTruncated = truncated;
    const { tMs, monoMs } = this.sampleTime();
    this.addLagPoint({ tMs, lag: allLag });
    const processes = this.processes();
    this.samples.push({
      tMs,
      monoMs,
      requests: ingest ? sum(Object.values(ingest.requestsByStatus)) : 0,
      records: ingest?.recordsAppended ?? 0,
      bytesIn: ingest?.bytesIn ?? 0,
      backpressure: ingest?.backpressureRefusals ?? 0,
      ackLatency,
      processed: workers ? sum(Object.values(workers.pipelines).map((p) => p.records)) : null,
      events: workers ? sum(Object.values(workers.pipelines).map((p) => p.events)) : null,
      deadLettersPending: stats ? sum(deadLetterCounts(stats).map((d) => d.pending)) : null,
      lag,
      rssBytes: sum(processes.map((p) => p.memory.rssBytes)),
      heapUsedBytes: sum(processes.map((p) => p.memory.heapUsedBytes)),
    });
    // One sample more than the points served: a point is the difference of two samples.
    if (this.samples.length > HISTORY_SAMPLES + 1) this.samples.splice(0, this.samples.length - HISTORY_SAMPLES - 1);
  }

  /**
   * Date.now() for a new sample. When the wall clock went back (an NTP step, a VM resumed), the times of the
   * samples and lag points kept move back with it, by the step, so that their differences stay the time that
   * passed: a negative interval was read as 1 ms, which made the rates of the next ten minutes a thousand
   * times too high (and the backpressure warning fire), and stopped the lag history.
   */
  private sampleTime(): { tMs: number; monoMs: number } {
    const now = Date.now();
    const monoMs = performance.now();
    const last = this.samples[this.samples.length - 1];
    if (last === undefined) return { tMs: now, monoMs };
    // A step back is seen by the wall clock showing less time than passed, not only by it showing a time before
    // the latest sample: a step smaller than the interval (ntpd steps from 128 ms) left an interval of 100 ms
    // for a second's counts, a chart point ten times too high for a 900 ms step.
    const step = now - last.tMs - (monoMs - last.monoMs);
    if (step >= -CLOCK_STEP_TOLERANCE_MS) return { tMs: now, monoMs };
    for (const s of this.samples) s.tMs += step;
    const points = new Set(this.lagPoints);
    if (this.latestLag !== null) points.add(this.latestLag);
    for (const p of points) p.tMs += step;
    return { tMs: now, monoMs };
  }

  private lagKey(key: string): string {
    const known = this.lagKeys.get(key);
    if (known !== undefined) return known;
    // Groups come and go (streams deleted): start over rather than keep every name ever seen.
    if (this.lagKeys.size >= 2 * MAX_LAG_HISTORY_SERIES) this.lagKeys.clear();
    this.lagKeys.set(key, key);
    return key;
  }

  /** Keeps the latest lag of every group, and one every LAG_POINT_INTERVAL_MS for lagHistory. */
  private addLagPoint(point: LagPoint): void {
    this.latestLag = point;
    const last = this.lagPoints[this.lagPoints.length - 1];
    if (last !== undefined && point.tMs - last.tMs < LAG_POINT_INTERVAL_MS) return;
    this.lagPoints.push(point);
    if (this.lagPoints.length > LAG_POINTS_KEPT) this.lagPoints.splice(0, this.lagPoints.length - LAG_POINTS_KEPT);
  }

  /** The latest report of every process: the ingest children, then this one. */
  processes(): ProcessReport[] {
    return [...(this.src.ingest?.processes() ?? []), this.own];
  }

  /** Rates and ack-latency percentiles over the last RATE_WINDOW_MS (null before two samples exist). */
  rates(): WindowRates | null {
    const n = this.samples.length;
    if (n < 2) return null;
    const last = this.samples[n - 1]!;
    let from = n - 2;
    while (from > 0 && last.tMs - this.samples[from]!.tMs < RATE_WINDOW_MS) from--;
    const first = this.samples[from]!;
    const dt = Math.max(0.001, (last.tMs - first.tMs) / 1000);
    const rate = (a: number, b: number): number => Math.max(0, a - b) / dt;
    // Workers start after the admin side: their rates cover the part of the window they ran in.
    const workerRate = (pick: (s: Sample) => number | null): number | null => {
      const end = pick(last);
      for (let i = from; end !== null && i < n - 1; i++) {
        const start = pick(this.samples[i]!);
        if (start !== null) return Math.max(0, end - start) / Math.max(0.001, (last.tMs - this.samples[i]!.tMs) / 1000);
      }
      return null;
    };
    const latency = histogramDelta(last.ackLatency, first.ackLatency);
    return {
      windowSeconds: Math.round(dt * 10) / 10,
      requestsPerSecond: rate(last.requests, first.requests),
      recordsPerSecond: rate(last.records, first.records),
      bytesInPerSecond: rate(last.bytesIn, first.bytesIn),
      backpressurePerSecond: rate(last.backpressure, first.backpressure),
      processedPerSecond: workerRate((s) => s.processed),
      eventsPerSecond: workerRate((s) => s.events),
      ackLatencyP50Seconds: histogramQuantile(latency, 0.5),
      ackLatencyP99Seconds: histogramQuantile(latency, 0.99),
    };
  }

  /** The last `points` points (at most HISTORY_SAMPLES), oldest first. */
  series(points: number): Series {
    const from = Math.max(1, this.samples.length - points);
    const out: Series = {
      intervalMs: SAMPLE_INTERVAL_MS,
      t: [],
      requestsPerSecond: [],
      recordsPerSecond: [],
      processedPerSecond: [],
      eventsPerSecond: [],
      ackP50Ms: [],
      ackP99Ms: [],
      deadLettersPending: [],
      rssBytes: [],
      heapUsedBytes: [],
      lag: {},
      lagTruncated: this.lagTruncated,
    };
    const keys = new Set<string>();
    for (let i = from; i < this.samples.length; i++) for (const k of this.samples[i]!.lag.keys()) keys.add(k);
    for (const k of [...keys].sort()) out.lag[k] = [];
    for (let i = from; i < this.samples.length; i++) {
      const s = this.samples[i]!;
      const prev = this.samples[i - 1]!;
      const dt = Math.max(0.001, (s.tMs - prev.tMs) / 1000);
      const rate = (a: number, b: number): number => Math.max(0, a - b) / dt;
      const latency = histogramDelta(s.ackLatency, prev.ackLatency);
      const ms = (q: number): number | null => {
        const v = histogramQuantile(latency, q);
        return v === null ? null : v * 1000;
      };
      out.t.push(s.tMs / 1000);
      out.requestsPerSecond.push(rate(s.requests, prev.requests));
      out.recordsPerSecond.push(rate(s.records, prev.records));
      out.processedPerSecond.push(s.processed === null || prev.processed === null ? null : rate(s.processed, prev.processed));
      out.eventsPerSecond.push(s.events === null || prev.events === null ? null : rate(s.events, prev.events));
      out.ackP50Ms.push(ms(0.5));
      out.ackP99Ms.push(ms(0.99));
      out.deadLettersPending.push(s.deadLettersPending);
      out.rssBytes.push(s.rssBytes);
      out.heapUsedBytes.push(s.heapUsedBytes);
      for (const k of keys) out.lag[k]!.push(s.lag.get(k) ?? null);
    }
    return out;
  }

  /**
   * Lag of each group (every one, not only the chart's) about once a minute over the last ten minutes, the
   * latest sample last, for the "lag growing" warning.
   */
  lagHistory(): LagHistory[] {
    if (this.latestLag === null) return [];
    const points = [...this.lagPoints];
    if (points[points.length - 1] !== this.latestLag) points.push(this.latestLag);
    const picked: LagPoint[] = [];
    let next = this.latestLag.tMs;
    for (let i = points.length - 1; i >= 0; i--) {
      const p = points[i]!;
      if (p.tMs <= next) {
        picked.unshift(p);
        next = p.tMs - LAG_HISTORY_STEP_MS;
      }
    }
    const byKey = new Map<string, LagHistory>();
    for (const s of picked) {
      for (const [key, lag] of s.lag) {
        let h = byKey.get(key);
        if (!h) {
          const slash = key.indexOf('/');
          byKey.set(key, (h = { stream: key.slice(0, slash), group: key.slice(slash + 1), points: [] }));
        }
        h.points.push([s.tMs, lag]);
      }
    }
    return [...byKey.values()];
  }
}
