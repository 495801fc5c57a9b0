// GET /metrics: Prometheus text built by prom-client from snapshots, at scrape
// time. Nothing here runs per request: the ingest children count into plain
// numbers (src/ingest/ingest-stats.ts), report them to the primary once a second
// (child-reporter.ts), and a scrape reads the summed copy (cluster-stats.ts), the
// worker counters and the cached log stats. So the figures are at most about a
// second old, and summed over every cluster process. Each family below is a small
// prom-client metric object whose get() reads the snapshot taken for this scrape.
// The process serving /metrics also exports prom-client's default metrics.

import { Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { ACK_LEVELS } from '../log/types.js';
import type { IngestSnapshot, StreamSnapshot } from '../ingest/ingest-stats.js';
import type { LogStats } from '../log/types.js';
import type { CustomMetric, PipelineCounters, WorkerMetricsSnapshot } from '../work/worker-metrics.js';
import { LATENCY_BUCKETS_SECONDS, type HistogramSnapshot } from './bucket-histogram.js';
import { deadLetterCounts, declaredGroups, groupLags, type DeadLetterCount, type GroupLag } from './log-summary.js';
import type { Observer } from './observer.js';
import { processLabel, type ProcessReport } from './process-probe.js';

type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary';
type Labels = Record<string, string | number>;
interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
}

/** Requests that named no known stream (probes, unknown routes, invalid names) carry this stream label. */
export const NO_STREAM_LABEL = '(none)';
/** Custom processor metrics get this prefix unless they have it. */
const CUSTOM_PREFIX = 'hopper_';

/** What one scrape reads: taken once, then every family reads from it. */
interface ScrapeView {
  ingest: IngestSnapshot | null;
  workers: WorkerMetricsSnapshot | null;
  stats: LogStats | null;
  processes: ProcessReport[];
}

/** A metric family prom-client formats: the same shape as its own metric objects (name, help, type, get()). */
class SnapshotFamily {
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: FamilyType,
    private readonly read: () => Sample[],
  ) {}

  async get(): Promise<{ name: string; help: string; type: FamilyType; aggregator: string; values: Sample[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.read() };
  }

  reset(): void {}
}

/** A cumulative Prometheus histogram (le buckets, _sum, _count) from a bucket snapshot. */
function histogramSamples(name: string, labels: Labels, h: HistogramSnapshot): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < LATENCY_BUCKETS_SECONDS.length; i++) {
    cumulative += h.counts[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: LATENCY_BUCKETS_SECONDS[i]! }, value: cumulative });
  }
  cumulative += h.counts[LATENCY_BUCKETS_SECONDS.length] ?? 0;
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

function metricName(name: string): string {
  const clean = name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/^([0-9])/, '_$1');
  return clean.startsWith(CUSTOM_PREFIX) ? clean : CUSTOM_PREFIX + clean;
}

/** A processor's label name made valid (no ':' either): Prometheus refuses a whole scrape for one bad label name. */
function labelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^([0-9]|$)/, '_$1');
}

/**
 * The series of one custom family with valid label names. Names that clean up alike ("db.rows" and "db_rows",
 * a label "http-status" and "http_status") would give the same series twice: they are merged into one
 * (counters and histograms add up; for a gauge the last reported wins).
 */
function customSeries(metrics: readonly CustomMetric[]): CustomMetric[] {
  const merged = new Map<string, CustomMetric>();
  for (const m of metrics) {
    // Label names are the processor's: in a plain object "constructor" or "toString" would find Object.prototype's and be dropped.
    const labels = Object.create(null) as Record<string, string>;
    for (const [k, v] of Object.entries(m.labels)) labels[labelName(k)] ??= v;
    const key = JSON.stringify(Object.entries(labels).sort());
    const seen = merged.get(key);
    if (seen === undefined) merged.set(key, { ...m, labels });
    else if (m.kind === 'gauge') seen.value = m.value;
    else {
      seen.value += m.value;
      seen.count += m.count;
    }
  }
  return [...merged.values()];
}

export class MetricsRegistry {
  readonly registry = new Registry();
  private view: ScrapeView = { ingest: null, workers: null, stats: null, processes: [] };
  private readonly custom = new Map<string, 'counter' | 'gauge' | 'histogram'>();

  constructor(private readonly o: Observer) {
    collectDefaultMetrics({ register: this.registry });
    this.registerFamilies();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text, from snapshots taken now. */
  async metrics(): Promise<string> {
    const o = this.o;
    this.view = { ingest: o.ingest(), workers: o.workers(), stats: o.logStats.stats, processes: o.sampler.processes() };
    this.registerCustom();
    return this.registry.metrics();
  }

  private family(name: string, help: string, type: FamilyType, read: () => Sample[]): void {
    this.registry.registerMetric(new SnapshotFamily(name, help, type, read) as unknown as Metric<string>);
  }

  private registerFamilies(): void {
    const v = (): ScrapeView => this.view;
    const o = this.o;
    const counter = (name: string, help: string, read: () => Sample[]): void => this.family(name, help, 'counter', read);
    const gauge = (name: string, help: string, read: () => Sample[]): void => this.family(name, help, 'gauge', read);
    const histogram = (name: string, help: string, read: (name: string) => Sample[]): void => this.family(name, help, 'histogram', () => read(name));

    gauge('hopper_info', 'Constant 1, labelled with the version, log backend and role of the process serving /metrics.', () => [
      { labels: { version: o.version, backend: o.log.backend, role: o.role }, value: 1 },
    ]);
    gauge('hopper_uptime_seconds', 'Seconds since the admin server started.', () => [{ labels: {}, value: (Date.now() - o.startedAtMs) / 1000 }]);

    // Ingest (summed over every ingest process).
    const streams = (): [string, StreamSnapshot][] => Object.entries(v().ingest?.streams ?? {});
    const perStream = (pick: (s: StreamSnapshot) => number): Sample[] => streams().map(([stream, s]) => ({ labels: { stream }, value: pick(s) }));
    counter('hopper_ingest_requests_total', `Requests answered, by stream and HTTP status (stream="${NO_STREAM_LABEL}": no known stream named).`, () => {
      const ingest = v().ingest;
      if (!ingest) return [];
      const out: Sample[] = [];
      const rest: Record<string, number> = { ...ingest.requestsByStatus };
      for (const [stream, s] of Object.entries(ingest.streams)) {
        for (const [status, n] of Object.entries(s.requestsByStatus)) {
          out.push({ labels: { stream, status }, value: n });
          rest[status] = (rest[status] ?? 0) - n;
        }
      }
      for (const [status, n] of Object.entries(rest)) if (n > 0) out.push({ labels: { stream: NO_STREAM_LABEL, status }, value: n });
      return out;
    });
    counter('hopper_ingest_acknowledged_total', 'Writes acknowledged (stored at their ack level), by stream.', () => perStream((s) => s.records));
    counter('hopper_ingest_bytes_total', 'Body bytes received, by stream.', () => perStream((s) => s.bytesIn));
    counter('hopper_ingest_backpressure_refusals_total', 'Writes refused with 503 HOPPER_BACKPRESSURE, by stream.', () =>
      perStream((s) => s.backpressureRefusals),
    );
    histogram('hopper_ingest_ack_latency_seconds', "Seconds from a write request's headers to its acknowledgement, by stream.", (name) =>
      streams().flatMap(([stream, s]) => histogramSamples(name, { stream }, s.ackLatency)),
    );
    histogram('hopper_log_append_seconds', 'Seconds per log append call, by the ack level asked for (durable includes the fsync).', (name) => {
      const ingest = v().ingest;
      return ingest ? ACK_LEVELS.flatMap((ack) => histogramSamples(name, { ack }, ingest.appendLatency[ack])) : [];
    });
    histogram('hopper_log_fsync_seconds', "Seconds per fsync of the log's data run by the ingest processes (embedded: one per group commit, roll or close); absent when the backend syncs on its own server.", (name) => {
      const fsync = v().ingest?.fsyncLatency;
      return fsync ? histogramSamples(name, {}, fsync) : [];
    });
    counter('hopper_log_append_failures_total', 'Log append calls that failed (their writes were answered 503 or 500).', () => {
      const ingest = v().ingest;
      return ingest ? [{ labels: {}, value: ingest.appendFailures }] : [];
    });
    gauge('hopper_ingest_processes', 'Ingest processes reporting to the primary.', () =>
      o.expectedIngestProcesses === null ? [] : [{ labels: {}, value: v().processes.filter((p) => p.role === 'ingest').length }],
    );

    // The log (from the cached log stats).
    type Partition = LogStats['streams'][number]['partitions'][number];
    const perPartition = (pick: (p: Partition) => number): Sample[] =>
      (v().stats?.streams ?? []).flatMap((s) => s.partitions.map((p) => ({ labels: { stream: s.stream, partition: p.partition }, value: pick(p) })));
    gauge('hopper_log_bytes', 'Bytes stored, by stream and partition.', () => perPartition((p) => p.bytes));
    gauge('hopper_log_segments', 'Segments (or storage units) holding the partition.', () => perPartition((p) => p.segments));
    gauge('hopper_log_start_offset', 'First offset still stored (after retention).', () => perPartition((p) => p.startOffset));
    gauge('hopper_log_end_offset', 'Offset the next record will get.', () => perPartition((p) => p.endOffset));
    gauge('hopper_log_quarantined_records', 'Records skipped because they failed their checksum.', () => perPartition((p) => p.quarantinedRecords));
    const perGroupPartition = (pick: (p: GroupLag['partitions'][number]) => number): Sample[] => {
      const stats = v().stats;
      if (!stats) return [];
      return groupLags(stats, declaredGroups(o.config, stats)).flatMap((g) => g.partitions.map((p) => ({ labels: { group: g.group, stream: g.stream, partition: p.partition }, value: pick(p) })));
    };
    gauge('hopper_group_lag', 'Records a consumer group still has to process, by group, stream and partition.', () => perGroupPartition((p) => p.lag));
    gauge('hopper_group_position', 'Next offset a consumer group processes, by group, stream and partition.', () => perGroupPartition((p) => p.position));
    const perDeadLetters = (pick: (d: DeadLetterCount) => number): Sample[] => {
      const stats = v().stats;
      return stats ? deadLetterCounts(stats).map((d) => ({ labels: { stream: d.stream }, value: pick(d) })) : [];
    };
    gauge('hopper_dead_letters_pending', 'Dead letters not yet requeued or dropped, by original stream.', () => perDeadLetters((d) => d.pending));
    gauge('hopper_dead_letters_stored', 'Dead letters stored (pending or handled, after retention), by original stream.', () => perDeadLetters((d) => d.stored));

    // Workers running in this process.
    const perPipeline = (pick: (p: PipelineCounters) => number): Sample[] =>
      Object.entries(v().workers?.pipelines ?? {}).map(([pipeline, p]) => ({ labels: { pipeline }, value: pick(p) }));
    counter('hopper_worker_batches_total', 'Batches committed, by pipeline.', () => perPipeline((p) => p.batches));
    counter('hopper_worker_records_total', 'Records committed, by pipeline.', () => perPipeline((p) => p.records));
    counter('hopper_worker_events_total', 'Events decoded from the records committed (dead letters not included), by pipeline.', () => perPipeline((p) => p.events));
    counter('hopper_worker_failures_total', 'Processor calls that threw or ran past processTimeoutMs, by pipeline.', () => perPipeline((p) => p.failures));
    counter('hopper_worker_dead_letters_total', 'Records sent to the dead-letter stream, by pipeline.', () => perPipeline((p) => p.deadLetters));
    counter('hopper_worker_abandoned_batches_total', 'Batches given up at shutdown without commit (redelivered later), by pipeline.', () =>
      perPipeline((p) => p.abandoned),
    );
    histogram('hopper_worker_batch_duration_seconds', 'Seconds to process and settle one batch, by pipeline.', (name) =>
      Object.entries(v().workers?.batchSeconds ?? {}).flatMap(([pipeline, h]) => histogramSamples(name, { pipeline }, h)),
    );

    // Every process of the cluster.
    gauge('hopper_process_memory_bytes', 'Memory of each Hopper process (type: rss, heap_used, heap_total, external).', () =>
      v().processes.flatMap((p) => {
        const proc = processLabel(p);
        const m = p.memory;
        return [
          { labels: { process: proc, type: 'rss' }, value: m.rssBytes },
          { labels: { process: proc, type: 'heap_used' }, value: m.heapUsedBytes },
          { labels: { process: proc, type: 'heap_total' }, value: m.heapTotalBytes },
          { labels: { process: proc, type: 'external' }, value: m.externalBytes },
        ];
      }),
    );
    gauge('hopper_event_loop_delay_seconds', 'Event-loop delay of each Hopper process over its last report interval (quantile 1 = max).', () =>
      v().processes.flatMap((p) => {
        const proc = processLabel(p);
        const d = p.eventLoopDelay;
        return [
          { labels: { process: proc, quantile: '0.5' }, value: d.p50Seconds },
          { labels: { process: proc, quantile: '0.99' }, value: d.p99Seconds },
          { labels: { process: proc, quantile: '1' }, value: d.maxSeconds },
        ];
      }),
    );
  }

  /** Families for the metrics processors report (MetricsHandle), registered the first time each name shows up. */
  private registerCustom(): void {
    for (const m of this.view.workers?.custom ?? []) {
      const name = metricName(m.name);
      const known = this.custom.get(name);
      if (known !== undefined || this.registry.getSingleMetric(name) !== undefined) continue;
      this.custom.set(name, m.kind);
      const kind = m.kind;
      const pick = (): CustomMetric[] => customSeries((this.view.workers?.custom ?? []).filter((c) => c.kind === kind && metricName(c.name) === name));
      if (kind === 'histogram') {
        this.family(name, `Reported by processors: ${m.name} (sum and count of observations).`, 'summary', () =>
          pick().flatMap((c) => [
            { metricName: `${name}_sum`, labels: c.labels, value: c.value },
            { metricName: `${name}_count`, labels: c.labels, value: c.count },
          ]),
        );
      } else {
        this.family(name, `Reported by processors: ${m.name}.`, kind, () => pick().map((c) => ({ labels: c.labels, value: c.value })));
      }
    }
  }
}
