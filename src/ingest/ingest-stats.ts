// Counters of one ingest process (requests by status, refusals, bytes in), kept
// as plain numbers so the hot path only increments fields. A metrics exporter
// reads them; nothing here formats or ships them.

/** Status codes are counted in a flat array: index = HTTP status. */
const STATUS_SLOTS = 600;

export interface AppendErrorInfo {
  code: string;
  message: string;
  atMs: number;
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

  countStatus(status: number): void {
    this.byStatus[status < STATUS_SLOTS ? status : 0]! += 1;
  }

  /** Requests answered, by HTTP status (only statuses seen). */
  requestsByStatus(): Record<number, number> {
    const out: Record<number, number> = {};
    for (let s = 0; s < STATUS_SLOTS; s++) if (this.byStatus[s]! > 0) out[s] = this.byStatus[s]!;
    return out;
  }

  snapshot(): Record<string, unknown> {
    return {
      requestsByStatus: this.requestsByStatus(),
      backpressureRefusals: this.backpressureRefusals,
      bytesIn: this.bytesIn,
      recordsAppended: this.recordsAppended,
      appendCalls: this.appendCalls,
      appendFailures: this.appendFailures,
      lastAppendError: this.lastAppendError,
      peakHeldBytes: this.peakHeldBytes,
    };
  }
}
