// The bound on what a remote-backend Log holds in this process (queued or sent
// and not yet answered): past it, appends are refused at once with
// HOPPER_BACKPRESSURE instead of queueing without limit.

import { HopperError } from '../errors.js';

export class PendingBudget {
  bytes = 0;
  records = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxRecords: number,
  ) {}

  /** Reserves room for an append, or throws HOPPER_BACKPRESSURE. */
  reserve(bytes: number, records: number): void {
    // One append larger than the whole budget is still let through when nothing else is pending.
    const empty = this.records === 0;
    if (!empty && (this.bytes + bytes > this.maxBytes || this.records + records > this.maxRecords)) {
      throw new HopperError('HOPPER_BACKPRESSURE', 'The log backend is behind (too much in flight): retry shortly.', { retryAfterSeconds: 1 });
    }
    this.bytes += bytes;
    this.records += records;
  }

  release(bytes: number, records: number): void {
    this.bytes -= bytes;
    this.records -= records;
  }
}
