// Pipelined request/reply over one inbox subscription. nats.js's request()
// arms a timer and a mux entry per call, which caps a Node process at a few
// thousand JetStream publishes per second; here every request is a plain
// publish with reply subject {inbox}.{id}, replies are matched by id, and one
// sweep timer fails the requests older than timeoutMs. The caller bounds how
// many requests are outstanding (the log's pending budget, the read window).

import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

interface Waiting {
  resolve: (m: Msg) => void;
  reject: (e: Error) => void;
  deadlineMs: number;
}

export class RequestTimeoutError extends Error {
  constructor(subject: string, timeoutMs: number) {
    super(`no reply to ${subject} within ${timeoutMs} ms`);
    this.name = 'RequestTimeoutError';
  }
}

export class InboxRequester {
  private readonly inbox = createInbox();
  private readonly waiting = new Map<number, Waiting>();
  private readonly sub: Subscription;
  private readonly sweep: NodeJS.Timeout;
  private nextId = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const id = Number(msg.subject.slice(this.inbox.length + 1));
        const w = this.waiting.get(id);
        if (!w) return; // answered after its timeout
        this.waiting.delete(id);
        w.resolve(msg);
      },
    });
    this.sweep = setInterval(() => this.expire(), Math.max(10, Math.min(250, timeoutMs / 4)));
    this.sweep.unref();
  }

  get outstanding(): number {
    return this.waiting.size;
  }

  /**
   * Sends now (in call order on the connection); resolves with the reply, rejects after timeoutMs.
   * Throws when nats.js refuses the message at once (closed connection, over max_payload): the
   * publish runs outside the Promise executor, so that the caller sees nothing was sent before it
   * answers, rather than a rejection that arrives after it did.
   */
  request(subject: string, data: Uint8Array | string, headers?: MsgHdrs): Promise<Msg> {
    const id = this.nextId++;
    this.nc.publish(subject, data, headers ? { reply: `${this.inbox}.${id}`, headers } : { reply: `${this.inbox}.${id}` });
    // The reply is dispatched from the socket, so never before the entry below is in place.
    return new Promise<Msg>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, deadlineMs: Date.now() + this.timeoutMs });
    });
  }

  private expire(): void {
    const now = Date.now();
    // Requests are sent in id order with the same timeout, so the oldest come first in the map.
    for (const [id, w] of this.waiting) {
      if (w.deadlineMs > now) break;
      this.waiting.delete(id);
      w.reject(new RequestTimeoutError('JetStream', this.timeoutMs));
    }
  }

  /** Fails every outstanding request (the connection is going away). */
  close(reason: Error): void {
    clearInterval(this.sweep);
    for (const w of this.waiting.values()) w.reject(reason);
    this.waiting.clear();
    this.sub.unsubscribe();
  }
}
