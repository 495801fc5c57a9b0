// The primary's view of its ingest children: the last ProcessReport each one
// sent (see child-reporter.ts), summed into one IngestSnapshot for /metrics and
// /api/status. When a child exits, its last counts are folded into a "retired"
// total, so the summed counters stay monotonic across crashes and rolling
// restarts (a child's last second before a crash is all that can be lost).

import cluster, { type Worker } from 'node:cluster';
import { ACK_LEVELS, type AckLevel } from '../log/types.js';
import type { IngestSnapshot, StreamSnapshot } from '../ingest/ingest-stats.js';
import { addHistogram, emptyHistogram, type HistogramSnapshot } from './bucket-histogram.js';
import { isReportMessage, REPORT_INTERVAL_MS } from './child-reporter.js';
import type { ProcessReport } from './process-probe.js';

export function emptyIngestSnapshot(): IngestSnapshot {
  const appendLatency = {} as Record<AckLevel, HistogramSnapshot>;
  for (const level of ACK_LEVELS) appendLatency[level] = emptyHistogram();
  return {
    requestsByStatus: {},
    backpressureRefusals: 0,
    bytesIn: 0,
    recordsAppended: 0,
    appendCalls: 0,
    appendFailures: 0,
    lastAppendError: null,
    peakHeldBytes: 0,
    // Keyed by stream names, which clients choose: "constructor" or "__proto__" must not find Object.prototype's.
    streams: Object.create(null) as Record<string, StreamSnapshot>,
    appendLatency,
    fsyncLatency: null,
  };
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

function emptyStream(): StreamSnapshot {
  return { requestsByStatus: {}, bytesIn: 0, records: 0, backpressureRefusals: 0, ackLatency: emptyHistogram() };
}

/** into += from: counters and histograms add up, the peak is the highest, the last error the most recent. */
export function addIngestSnapshot(into: IngestSnapshot, from: IngestSnapshot): void {
  addCounts(into.requestsByStatus, from.requestsByStatus);
  into.backpressureRefusals += from.backpressureRefusals;
  into.bytesIn += from.bytesIn;
  into.recordsAppended += from.recordsAppended;
  into.appendCalls += from.appendCalls;
  into.appendFailures += from.appendFailures;
  if (from.lastAppendError !== null && (into.lastAppendError === null || from.lastAppendError.atMs > into.lastAppendError.atMs)) {
    into.lastAppendError = from.lastAppendError;
  }
  into.peakHeldBytes = Math.max(into.peakHeldBytes, from.peakHeldBytes);
  for (const [name, s] of Object.entries(from.streams)) {
    const t = (into.streams[name] ??= emptyStream());
    addCounts(t.requestsByStatus, s.requestsByStatus);
    t.bytesIn += s.bytesIn;
    t.records += s.records;
    t.backpressureRefusals += s.backpressureRefusals;
    addHistogram(t.ackLatency, s.ackLatency);
  }
  for (const level of ACK_LEVELS) addHistogram(into.appendLatency[level], from.appendLatency[level]);
  if (from.fsyncLatency !== null) addHistogram((into.fsyncLatency ??= emptyHistogram()), from.fsyncLatency);
}

/** A child whose last report is older than this is taken for stuck (it reports every REPORT_INTERVAL_MS). */
export const STALE_REPORT_MS = 5 * REPORT_INTERVAL_MS;

export class ClusterStats {
  /** Last report per live child, by cluster worker id (bounded by the number of children). */
  private readonly live = new Map<number, ProcessReport>();
  private readonly retired = emptyIngestSnapshot();

  constructor() {
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
  }

  private readonly onMessage = (worker: Worker, message: unknown): void => {
    if (isReportMessage(message)) this.live.set(worker.id, message.report);
  };

  private readonly onExit = (worker: Worker): void => {
    const last = this.live.get(worker.id);
    // Its counts stay in the totals; its last append error does not: it said why that process could not write,
    // and kept in the sum it would warn "the log refused the last write" until the primary restarts, while the
    // live children (its replacement too) report their own, cleared by their next successful append.
    if (last?.ingest) addIngestSnapshot(this.retired, { ...last.ingest, lastAppendError: null });
    this.live.delete(worker.id);
  };

  /** Every child's counters summed, those of exited children included. */
  ingest(): IngestSnapshot {
    const total = emptyIngestSnapshot();
    addIngestSnapshot(total, this.retired);
    for (const r of this.live.values()) if (r.ingest) addIngestSnapshot(total, r.ingest);
    return total;
  }

  /**
   * The last report of each live child that reported within STALE_REPORT_MS, by partition. A child that
   * stopped reporting but did not exit (a blocked event loop, SIGSTOP) is left out: it is not "reporting",
   * which status warns about, and its last, healthy figures are not shown as current. Its counters still
   * count in ingest(): they never go back. During a rolling restart the replacement of a partition reports
   * before the old child exits: only the one started last is listed, so /metrics does not give the series
   * of "ingest-0" twice and the status does not count one partition as two processes.
   */
  processes(nowMs = Date.now()): ProcessReport[] {
    const byPartition = new Map<number, ProcessReport>();
    const startedMs = (r: ProcessReport): number => r.atMs - r.uptimeSeconds * 1000;
    for (const r of this.live.values()) {
      if (nowMs - r.atMs > STALE_REPORT_MS) continue;
      const p = r.partition ?? 0;
      const seen = byPartition.get(p);
      if (seen === undefined || startedMs(r) > startedMs(seen)) byPartition.set(p, r);
    }
    return [...byPartition.values()].sort((a, b) => (a.partition ?? 0) - (b.partition ?? 0) || a.pid - b.pid);
  }

  close(): void {
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onExit);
  }
}
