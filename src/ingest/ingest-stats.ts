// Counters of one ingest process (requests by status, refusals, bytes in), kept
// as plain numbers so the hot path only increments fields. A metrics exporter
// reads them; nothing here formats or ships them. Per stream: requests by status,
// bytes, records, refusals and the ack latency histogram; per ack level: the
// latency of log.append calls (one observation per batch, not per request);
// and the log's own fsyncs, when its backend runs any (one per group commit).

import { ACK_LEVELS, type AckLevel } from '../log/types.js';
import { BucketHistogram, type HistogramSnapshot } from '../observe/bucket-histogram.js';

/** Status codes are counted in a flat array: index = HTTP status. */
const STATUS_SLOTS = 600;

export interface AppendErrorInfo {
  code: string;
  message: string;
  atMs: number;
  /** Set for a failure that lasts until a restart: later successes (other streams) do not clear it. */
  untilRestart: boolean;
}

/** Streams counted one by one in a process; writes to more streams count under OTHER_STREAM (the registry bounds streams anyway). */
export const MAX_COUNTED_STREAMS = 10_000;
export const OTHER_STREAM = '(other)';

export interface StreamSnapshot {
  requestsByStatus: Record<string, number>;
  bytesIn: number;
  /** Writes acknowledged (2xx). */
  records: number;
  backpressureRefusals: number;
  /** Seconds from the request's headers to its acknowledgement. */
  ackLatency: HistogramSnapshot;
}

/** Plain data: what a process reports to the cluster primary (and to /metrics). */
export interface IngestSnapshot {
  requestsByStatus: Record<string, number>;
  backpressureRefusals: number;
  bytesIn: number;
  recordsAppended: number;
  appendCalls: number;
  appendFailures: number;
  lastAppendError: AppendErrorInfo | null;
  peakHeldBytes: number;
  streams: Record<string, StreamSnapshot>;
  /** Seconds per log.append call, by the ack level asked for (`durable` includes the fsync). */
  appendLatency: Record<AckLevel, HistogramSnapshot>;
  /** Seconds per fsync of the log's data; null when the backend runs no fsync of its own (Log.timeFsyncs). */
  fsyncLatency: HistogramSnapshot | null;
}

/** The counters of one stream in one process. Statuses are few (a write gets 202 or one of a dozen refusals): a short list. */
export class StreamCounters {
  private readonly statuses: number[] = [];
  private readonly statusCounts: number[] = [];
  bytesIn = 0;
  records = 0;
  backpressureRefusals = 0;
  readonly ackLatency = new BucketHistogram();

  countStatus(status: number): void {
    const s = this.statuses;
    for (let i = 0; i < s.length; i++) {
      if (s[i] === status) {
        this.statusCounts[i]! += 1;
        return;
      }
    }
    s.push(status);
    this.statusCounts.push(1);
  }

  snapshot(): StreamSnapshot {
    const requestsByStatus: Record<string, number> = {};
    for (let i = 0; i < this.statuses.length; i++) requestsByStatus[this.statuses[i]!] = this.statusCounts[i]!;
    return {
      requestsByStatus,
      bytesIn: this.bytesIn,
      records: this.records,
      backpressureRefusals: this.backpressureRefusals,
      ackLatency: this.ackLatency.snapshot(),
    };
  }
}

export class IngestStats {
  private readonly byStatus = new Float64Array(STATUS_SLOTS);
  /** Writes refused with 503 HOPPER_BACKPRESSURE (soft or hard watermark). */
  backpressureRefusals = 0;
  /** Body bytes of requests handed to the log (stored or not: what came in). */
  bytesIn = 0;
  /** Records the log acknowledged. */
  recordsAppended = 0;
  /** log.append calls (one per stream, ack level and event-loop turn). */
  appendCalls = 0;
  /** log.append calls that failed (their requests got 503 or 500). */
  appendFailures = 0;
  /** The last failed append, cleared by the next successful one. */
  lastAppendError: AppendErrorInfo | null = null;
  /** Highest number of body bytes held at once by this process while waiting for the log. */
  peakHeldBytes = 0;
  /** Per ack rank (ACK_LEVELS order): seconds per log.append call. */
  readonly appendLatency = ACK_LEVELS.map(() => new BucketHistogram());
  /** Seconds per fsync of the log's data, fed by the log (Log.timeFsyncs); null when it runs none. */
  fsyncLatency: BucketHistogram | null = null;
  private readonly streams = new Map<string, StreamCounters>();

  /** The counters of a stream (one map lookup per write). */
  stream(name: string): StreamCounters {
    let c = this.streams.get(name);
    if (c === undefined) {
      if (this.streams.size >= MAX_COUNTED_STREAMS) name = OTHER_STREAM;
      c = this.streams.get(name) ?? new StreamCounters();
      this.streams.set(name, c);
    }
    return c;
  }

  countStatus(status: number): void {
    this.byStatus[status < STATUS_SLOTS ? status : 0]! += 1;
  }

  /** Requests answered, by HTTP status (only statuses seen). */
  requestsByStatus(): Record<number, number> {
    const out: Record<number, number> = {};
    for (let s = 0; s < STATUS_SLOTS; s++) if (this.byStatus[s]! > 0) out[s] = this.byStatus[s]!;
    return out;
  }

  snapshot(): IngestSnapshot {
    // Keyed by stream names, which clients choose: in a plain object, "__proto__" would set the prototype and be lost.
    const streams = Object.create(null) as Record<string, StreamSnapshot>;
    for (const [name, c] of this.streams) streams[name] = c.snapshot();
    const appendLatency = {} as Record<AckLevel, HistogramSnapshot>;
    ACK_LEVELS.forEach((level, rank) => (appendLatency[level] = this.appendLatency[rank]!.snapshot()));
    return {
      requestsByStatus: this.requestsByStatus(),
      backpressureRefusals: this.backpressureRefusals,
      bytesIn: this.bytesIn,
      recordsAppended: this.recordsAppended,
      appendCalls: this.appendCalls,
      appendFailures: this.appendFailures,
      lastAppendError: this.lastAppendError,
      peakHeldBytes: this.peakHeldBytes,
      streams,
      appendLatency,
      fsyncLatency: this.fsyncLatency?.snapshot() ?? null,
    };
  }
}
