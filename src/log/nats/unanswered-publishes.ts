// Publishes whose PubAck timed out keep their share of the log's pending budget
// until their bytes have provably left this process. A timeout does not mean the
// bytes were sent: on a hung server (SIGSTOP: TCP stays up, nothing is read) they
// sit in the socket's write queue, and releasing their budget at the timeout lets
// every new append pile up there too, without bound. Proof that they left is the
// answer to a PING written after them (a server reads a connection in order), or
// the loss of the connection (nats.js then drops the socket and its buffers, and
// rejects the PING). Until then the budget stays taken and appends get
// HOPPER_BACKPRESSURE, so memory stays within maxPendingBytes.

import type { NatsConnection } from '@nats-io/transport-node';
import type { PendingBudget } from '../pending-budget.js';

export class UnansweredPublishes {
  /** Held and not yet covered by a PING: the next probe's. */
  private waitingBytes = 0;
  private waitingRecords = 0;
  private probing = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly budget: PendingBudget,
  ) {}

  /** Takes over the budget of an append with a timed-out publish; released after the next PING round trip. */
  hold(bytes: number, records: number): void {
    this.waitingBytes += bytes;
    this.waitingRecords += records;
    this.probe();
  }

  /** One PING at a time; it covers what was held when it was sent (published before it). */
  private probe(): void {
    if (this.probing || this.waitingRecords === 0) return;
    this.probing = true;
    const bytes = this.waitingBytes;
    const records = this.waitingRecords;
    this.waitingBytes = 0;
    this.waitingRecords = 0;
    const settle = (): void => {
      this.budget.release(bytes, records);
      this.probing = false;
      this.probe();
    };
    let ping: Promise<void>;
    try {
      ping = this.nc.flush();
    } catch {
      ping = Promise.resolve(); // closed: nothing is left to send
    }
    ping.then(settle, settle);
  }
}
