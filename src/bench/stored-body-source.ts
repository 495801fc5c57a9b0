// Where the audit reads back what the server stored. The audit only needs the
// stored bodies of one stream from where it ended before the run; each way of reaching
// them (the log itself, or later the admin API of a running server) is one
// implementation of StoredBodySource.

import type { Log } from '../log/types.js';

/** Records fetched per read while scanning a partition. */
const SCAN_BATCH_RECORDS = 4096;
/** Soft byte bound per read while scanning a partition. */
const SCAN_BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Where each partition of a stream ended before a run (partition to offset): the audit reads from there on. Marked by
 * offset, not by time: records carry the server's clock, and a server whose clock was minutes behind the load
 * generator's stored the run "before" it started, all of it reported lost.
 */
export type StreamMark = Map<number, number>;

export interface StoredBodySource {
  /** Where the bodies come from, for messages: "the embedded log in ./data". */
  readonly description: string;
  /** The end of every partition `stream` has now (none when the stream does not exist yet). */
  mark(stream: string): Promise<StreamMark>;
  /**
   * Calls visit with every body stored in `stream` from `mark` on (a partition the mark lacks, from its start).
   * Resolves false when the stream does not exist there.
   */
  scan(stream: string, mark: StreamMark, visit: (body: Buffer, contentEncoding: string) => void): Promise<boolean>;
  close(): Promise<void>;
}

/** A time past every record: offsetForTime answers the partition's end for it. */
const AFTER_EVERY_RECORD_US = Number.MAX_SAFE_INTEGER;

/** Reads the log directly (the data directory of an embedded log, or the shared backend the server uses). */
export class LogBodySource implements StoredBodySource {
  constructor(
    private readonly log: Log,
    readonly description: string,
  ) {}

  async mark(stream: string): Promise<StreamMark> {
    const mark: StreamMark = new Map();
    for (const p of await this.log.listPartitions(stream)) mark.set(p, await this.log.offsetForTime(stream, p, AFTER_EVERY_RECORD_US));
    return mark;
  }

  async scan(stream: string, mark: StreamMark, visit: (body: Buffer, contentEncoding: string) => void): Promise<boolean> {
    const partitions = await this.log.listPartitions(stream);
    if (partitions.length === 0) return false;
    for (const p of partitions) {
      let offset = mark.get(p) ?? 0; // reads start at the partition's first record when that is later
      for (;;) {
        const { records, nextOffset } = await this.log.read(stream, p, offset, { maxRecords: SCAN_BATCH_RECORDS, maxBytes: SCAN_BATCH_BYTES });
        for (const r of records) visit(r.body, r.contentEncoding);
        // An empty read that moves on skipped a damaged range; one that does not is the end.
        if (nextOffset <= offset) break;
        offset = nextOffset;
      }
    }
    return true;
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
