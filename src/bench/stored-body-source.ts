// Where the audit reads back what the server stored. The audit only needs the
// stored bodies of one stream from a point in time on; each way of reaching
// them (the log itself, or later the admin API of a running server) is one
// implementation of StoredBodySource.

import type { Log } from '../log/types.js';

/** Records fetched per read while scanning a partition. */
const SCAN_BATCH_RECORDS = 4096;
/** Soft byte bound per read while scanning a partition. */
const SCAN_BATCH_BYTES = 16 * 1024 * 1024;

export interface StoredBodySource {
  /** Where the bodies come from, for messages: "the embedded log in ./data". */
  readonly description: string;
  /**
   * Calls visit with every body stored in `stream` received at or after sinceUs (earlier ones may be
   * included). Resolves false when the stream does not exist there.
   */
  scan(stream: string, sinceUs: number, visit: (body: Buffer, contentEncoding: string) => void): Promise<boolean>;
  close(): Promise<void>;
}

/** Reads the log directly (the data directory of an embedded log, or the shared backend the server uses). */
export class LogBodySource implements StoredBodySource {
  constructor(
    private readonly log: Log,
    readonly description: string,
  ) {}

  async scan(stream: string, sinceUs: number, visit: (body: Buffer, contentEncoding: string) => void): Promise<boolean> {
    const partitions = await this.log.listPartitions(stream);
    if (partitions.length === 0) return false;
    for (const p of partitions) {
      let offset = await this.log.offsetForTime(stream, p, sinceUs);
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
