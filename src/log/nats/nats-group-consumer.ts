// A consumer-group member on NATS: a Hopper group is one durable pull consumer
// (explicit acks, ack_wait = leaseTimeoutMs) on each partition stream, so
// JetStream shares messages among members and redelivers what a member did not
// acknowledge in time; Delivery.redeliveries is JetStream's delivery count - 1.
//
// Pulls are raw JetStream pull requests ($JS.API.CONSUMER.MSG.NEXT) answered
// on this member's inbox: at most one outstanding per partition, each for at
// most the batch asked for and at most PULL_MAX_BYTES (shared by the partitions
// when all wait at once; never less than one message), so what is buffered here
// is bounded by partitions x maxRecords and by bytes. A commit acknowledges every message of the delivery
// and waits for the server to confirm the last acknowledgement (acks of one
// connection are processed in order), so a committed record is never delivered again.
//
// Lease renewal: JetStream's ack_wait clock for a message starts when it is
// delivered and restarts at each +WPI ("working"). A timer sends +WPI, every
// lease/3, for each held delivery whose clock is lease/6 old, independently of
// fetch(): a worker busy with a long batch does not fetch. A delivery's clock
// starts when its earliest message arrived here, not when fetch() handed it out,
// since messages of a still-open pull wait in the buffer first; one handed out
// with a clock already lease/6 old is renewed at once, and a message buffered for
// more than STALE_BUFFER_LEASE_FRACTION of the lease is not handed out. So every
// held delivery gets a renewal sent before its clock reaches 2/3 of the lease.

import { createInbox, nanos, type Msg, type Subscription } from '@nats-io/transport-node';
import type { ConsumerOptions, Delivery, LogConsumer, LogRecord } from '../types.js';
import type { WarnFn } from '../embedded/partition-recovery.js';
import { groupConsumerConfig, type NatsLog } from './nats-log.js';
import { JS_CONSUMER_NOT_FOUND, JS_STREAM_NOT_FOUND, isJsApiError, natsUnavailable, withinMs } from './nats-connection.js';
import { durableName } from './nats-names.js';
import { decodeMessage } from './nats-record-codec.js';

/** Longest pull request; fetch() issues shorter ones when it waits less. */
const MAX_PULL_EXPIRES_MS = 5_000;
/** How often the member looks for partitions added to the stream. */
const PARTITION_REFRESH_MS = 5_000;
/** Leases after a member takes a partition during which its pulls ask for one message (a little over one: redeliveries come due late). */
const PULL_ONE_LEASES = 1.5;
/**
 * Message bytes a pull asks for (JetStream's max_bytes), at most: nats-server disconnects a client it has more
 * than max_pending bytes queued for (64 MB by default, "Slow Consumer Detected"), and a pull of maxRecords large
 * messages did, every time, so the messages it brought came again, counted as delivered again each time.
 */
export const PULL_MAX_BYTES = 8 * 1024 * 1024;
/**
 * Bytes JetStream counts for a message against max_bytes besides its body and headers (its subject and ack
 * subject), with a margin: a pull whose max_bytes is below one message's ends (409) without it, for ever.
 */
const PULLED_MESSAGE_OVERHEAD_BYTES = 4096;
/** close() waits this long at most for its outstanding pulls to end before handing messages back. */
const CLOSE_DRAIN_MS = 2_000;

/**
 * Buffered messages older than this fraction of the lease are left to JetStream's redelivery rather
 * than handed out: a +WPI sent then still has a third of the lease to arrive.
 */
const STALE_BUFFER_LEASE_FRACTION = 2 / 3;

const ACK = '+ACK';
const NAK = '-NAK';
const WORKING = '+WPI';

interface Pulled {
  msg: Msg;
  record: LogRecord;
  deliveryCount: number;
  receivedAtMs: number;
}

interface PartitionState {
  partition: number;
  stream: string;
  buffer: Pulled[];
  pull: { id: number; remaining: number; expiresAtMs: number } | null;
  /**
   * Pulls ask for one message: at first (a message delivered before may wait, and a pull counts a delivery of
   * every message it brings, handed out or not) and while messages delivered more than once come.
   */
  pullOne: boolean;
  /**
   * Pulls ask for one message until then besides (0: not at all): for a lease and a half after the member took a
   * partition that had messages delivered and unacknowledged, as messages a
   * dead member held come due within a lease of its death. A batch pulled then brought them all, and a member
   * dying on the first one counted a delivery of each of the others, until records it never handed out were over
   * maxDeliveries as fast as the one at fault.
   */
  pullOneUntilMs: number;
}

interface Held {
  msgs: Msg[];
  /** When JetStream last started the ack_wait of these messages (their delivery, or the last +WPI). */
  renewedAtMs: number;
}

export class NatsGroupConsumer implements LogConsumer {
  /** Acks are explicit, one message at a time. */
  readonly commitsInOrder = false;
  private readonly parts = new Map<number, PartitionState>();
  private readonly byStreamName = new Map<string, PartitionState>();
  /**
   * Partitions whose pulls ended with 409/503 or went unanswered: their consumer is checked (recreated if deleted)
   * before the next pull; one whose stream is gone stays here, not pulled, until a refresh finds it again.
   */
  private readonly recheck = new Set<number>();
  private readonly held = new Map<Delivery, Held>();
  private readonly inbox = createInbox();
  private sub: Subscription | null = null;
  private wake: (() => void) | null = null;
  private pullSeq = 0;
  private rr = 0;
  private nextRefreshMs = 0;
  private closed = false;
  /** simulateCrash() was called: no more renewals. */
  private crashed = false;
  /** fetch() calls run one at a time (they share the buffers and the wake-up slot). */
  private fetching: Promise<unknown> = Promise.resolve();
  private readonly durable: string;
  private readonly renewTimer: NodeJS.Timeout;

  private constructor(
    private readonly log: NatsLog,
    private readonly opts: ConsumerOptions,
    private readonly warn: WarnFn,
    private readonly onClose: () => void,
  ) {
    this.durable = durableName(opts.group);
    this.renewTimer = setInterval(() => this.renewHeld(), Math.max(10, Math.floor(opts.leaseTimeoutMs / 3)));
    this.renewTimer.unref();
  }

  static async open(log: NatsLog, opts: ConsumerOptions, warn: WarnFn, onClose: () => void): Promise<NatsGroupConsumer> {
    const c = new NatsGroupConsumer(log, opts, warn, onClose);
    try {
      await c.refreshPartitions();
    } catch (err) {
      clearInterval(c.renewTimer);
      throw err;
    }
    c.sub = log.link.nc.subscribe(`${c.inbox}.>`, { callback: (err, msg) => (err ? undefined : c.onMessage(msg)) });
    return c;
  }

  private async refreshPartitions(): Promise<void> {
    this.nextRefreshMs = Date.now() + PARTITION_REFRESH_MS;
    for (const p of this.recheck) {
      const state = this.parts.get(p);
      if (state) {
        try {
          await this.ensureConsumer(state.stream);
        } catch (err) {
          // Its stream is gone (deleted; recreated by the next append after NATS lost its data): the other
          // partitions go on, this one is not pulled and is looked at again at the next refresh.
          if (!isJsApiError((err as Error).cause, JS_STREAM_NOT_FOUND)) throw err;
          this.warn({ group: this.opts.group, stream: this.opts.stream, partition: p }, 'the JetStream stream of a partition is gone: not reading it until it is there again');
          continue;
        }
      }
      this.recheck.delete(p);
    }
    for (const p of await this.log.listPartitions(this.opts.stream)) {
      if (this.parts.has(p)) continue;
      const stream = this.log.streamName(this.opts.stream, p);
      const unacknowledged = await this.ensureConsumer(stream);
      // With nothing delivered and unacknowledged (a first start, a clean restart), no dead member's message can come due.
      const pullOneUntilMs = unacknowledged > 0 ? Date.now() + this.opts.leaseTimeoutMs * PULL_ONE_LEASES : 0;
      const state: PartitionState = { partition: p, stream, buffer: [], pull: null, pullOne: true, pullOneUntilMs };
      this.parts.set(p, state);
      this.byStreamName.set(stream, state);
    }
  }

  /**
   * Creates the group's durable consumer on a partition, or aligns its ack_wait with this member's lease. Returns
   * how many messages it has delivered and not had acknowledged (JetStream's num_ack_pending; 0 when created).
   */
  private async ensureConsumer(stream: string): Promise<number> {
    const ackWaitNs = nanos(this.opts.leaseTimeoutMs);
    const jsm = this.log.jsm;
    try {
      try {
        const info = await jsm.consumers.info(stream, this.durable);
        if (info.config.ack_wait !== ackWaitNs) await jsm.consumers.update(stream, this.durable, { ...info.config, ack_wait: ackWaitNs });
        return info.num_ack_pending;
      } catch (err) {
        if (!isJsApiError(err, JS_CONSUMER_NOT_FOUND)) throw err;
      }
      await jsm.consumers.add(stream, groupConsumerConfig(this.durable, ackWaitNs));
      return 0;
    } catch (err) {
      throw natsUnavailable(err, 'create a consumer group');
    }
  }

  /**
   * Statuses come on the pull's reply subject ({inbox}.{partition}.{pullId});
   * messages keep their stream subject, and their ack subject names the stream.
   */
  private onMessage(msg: Msg): void {
    if (!msg.reply) {
      // A status: 404 no messages, 408 pull expired, 409 pull ended (consumer deleted, leader change...), 100 heartbeat.
      const [partition, pullId] = msg.subject.slice(this.inbox.length + 1).split('.').map(Number);
      const state = this.parts.get(partition!);
      const code = msg.headers?.code ?? 0;
      if (state && code !== 100 && state.pull?.id === pullId) state.pull = null;
      // A pull that reached its max_bytes ends with a 409 too; its consumer is fine.
      const maxBytesReached = code === 409 && /MaxBytes/i.test(msg.headers?.description ?? '');
      if (state && (code === 409 || code === 503) && !maxBytesReached) {
        // The consumer was deleted (or is leaderless): look at it again before the next pull.
        this.recheck.add(state.partition);
        this.nextRefreshMs = 0;
      }
    } else {
      const meta = parseAckSubject(msg.reply);
      const state = meta ? this.byStreamName.get(meta.stream) : undefined;
      if (!meta || !state) return;
      if (this.closed) {
        msg.respond(NAK);
        return;
      }
      const record = decodeMessage(msg.headers, msg.data, this.opts.stream, state.partition, meta.streamSeq - 1);
      state.buffer.push({ msg, record, deliveryCount: meta.deliveryCount, receivedAtMs: Date.now() });
      if (state.pull && --state.pull.remaining <= 0) state.pull = null;
    }
    this.wake?.();
  }

  fetch(maxRecords: number, maxWaitMs: number, signal?: AbortSignal): Promise<Delivery | null> {
    const run = this.fetching.then(() => this.fetchNow(maxRecords, maxWaitMs, signal));
    this.fetching = run.catch(() => undefined);
    return run;
  }

  /**
   * First one no-wait pull at a time, partition after partition, so that a busy
   * stream is read only as fast as it is processed (nothing piles up here while
   * its ack_wait runs); only when every partition came back empty, waiting pulls
   * on all of them until data arrives or maxWaitMs is over.
   */
  private async fetchNow(maxRecords: number, maxWaitMs: number, signal?: AbortSignal): Promise<Delivery | null> {
    const deadline = Date.now() + Math.max(0, maxWaitMs);
    for (;;) {
      if (this.closed || signal?.aborted) return null;
      if (Date.now() >= this.nextRefreshMs) await this.refreshPartitions();
      const ready = this.takeBuffered(maxRecords);
      if (ready) return ready;
      const states = [...this.parts.values()];
      for (let k = 0; k < states.length; k++) {
        const state = states[(this.rr + k) % states.length]!;
        this.dropLostPull(state);
        if (state.pull || this.recheck.has(state.partition)) continue; // a waiting pull is open, or its consumer is to be checked first
        this.pull(state, this.pullSize(state, maxRecords), 0, PULL_MAX_BYTES);
        await this.waitUntil(() => state.pull === null || state.buffer.length > 0, this.log.opts.requestTimeoutMs, signal);
        const got = this.takeBuffered(maxRecords);
        if (got) return got;
        if (this.closed || signal?.aborted) return null;
      }
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) return null;
      for (const state of states) {
        this.dropLostPull(state);
        if (!state.pull && !this.recheck.has(state.partition)) this.pull(state, this.pullSize(state, maxRecords), Math.min(MAX_PULL_EXPIRES_MS, remainingMs), Math.floor(PULL_MAX_BYTES / states.length));
      }
      await this.waitUntil(() => states.some((st) => st.buffer.length > 0), remainingMs, signal);
      const got = this.takeBuffered(maxRecords);
      if (got) return got;
      if (Date.now() >= deadline) return null;
    }
  }

  /** Messages the next pull of a partition asks for (see PartitionState.pullOne). */
  private pullSize(state: PartitionState, maxRecords: number): number {
    return state.pullOne || Date.now() < state.pullOneUntilMs ? 1 : maxRecords;
  }

  /**
   * A pull whose end was never seen is given up after its expiry plus a grace period. It was lost with a
   * reconnect, or sent to a consumer that no longer exists: nats-server answers a pull for a deleted consumer
   * (`nats consumer rm`, its stream deleted and created again) with nothing at all, not a 409 or 503, so the
   * consumer is checked (and created again) before the next pull; else every fetch waited for ever.
   */
  private dropLostPull(state: PartitionState): void {
    if (state.pull && Date.now() > state.pull.expiresAtMs + this.log.opts.requestTimeoutMs) {
      state.pull = null;
      this.recheck.add(state.partition);
      this.nextRefreshMs = 0;
    }
  }

  /**
   * Sends a pull request for up to `batch` messages and about `maxBytes` (at least one message of max_payload);
   * expiresMs 0 = answer at once with what is there.
   */
  private pull(state: PartitionState, batch: number, expiresMs: number, maxBytes: number): void {
    const id = ++this.pullSeq;
    const largestMessageBytes = this.log.maxPayload() + PULLED_MESSAGE_OVERHEAD_BYTES;
    const max_bytes = Math.max(maxBytes, Number.isFinite(largestMessageBytes) ? largestMessageBytes : 0);
    const request = expiresMs > 0 ? { batch, max_bytes, expires: nanos(expiresMs) } : { batch, max_bytes, no_wait: true };
    state.pull = { id, remaining: batch, expiresAtMs: Date.now() + expiresMs };
    try {
      this.log.link.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${state.stream}.${this.durable}`, JSON.stringify(request), {
        reply: `${this.inbox}.${state.partition}.${id}`,
      });
    } catch (err) {
      state.pull = null;
      throw natsUnavailable(err, 'pull from a consumer group');
    }
  }

  /** Resolves when `cond` holds after an inbound message or status, after `ms`, on abort, or on close. */
  private waitUntil(cond: () => boolean, ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done);
      this.wake = () => {
        if (cond() || this.closed) done();
      };
    });
  }

  private takeBuffered(maxRecords: number): Delivery | null {
    const states = [...this.parts.values()];
    const staleMs = this.opts.leaseTimeoutMs * STALE_BUFFER_LEASE_FRACTION;
    const now = Date.now();
    for (let k = 0; k < states.length; k++) {
      const state = states[(this.rr + k) % states.length]!;
      // Messages buffered for most of ack_wait may be redelivered to another member before a +WPI arrives: leave them.
      while (state.buffer.length > 0 && now - state.buffer[0]!.receivedAtMs > staleMs) state.buffer.shift();
      if (state.buffer.length === 0) continue;
      this.rr = (this.rr + k + 1) % states.length;
      // Messages delivered as often go together: new ones, or ones delivered once before; one delivered more often
      // goes alone, and the next pulls ask for one message while such ones come (see Delivery.redeliveries).
      const count = Math.max(1, state.buffer[0]!.deliveryCount);
      state.pullOne = count > 2;
      let take = 1;
      if (count <= 2) while (take < maxRecords && take < state.buffer.length && Math.max(1, state.buffer[take]!.deliveryCount) === count) take++;
      const taken = state.buffer.splice(0, take);
      const delivery: Delivery = {
        stream: this.opts.stream,
        partition: state.partition,
        records: taken.map((t) => t.record),
        redeliveries: count - 1,
      };
      const held: Held = { msgs: taken.map((t) => t.msg), renewedAtMs: taken.reduce((min, t) => Math.min(min, t.receivedAtMs), now) };
      this.held.set(delivery, held);
      if (now - held.renewedAtMs >= this.renewAgeMs) this.renew(held, now);
      return delivery;
    }
    return null;
  }

  /** A held delivery whose ack_wait clock is this old is renewed (at the next tick of the renewal timer, or at once when handed out). */
  private get renewAgeMs(): number {
    return this.opts.leaseTimeoutMs / 6;
  }

  /** From the timer: tells JetStream that deliveries held for a while are still being worked on. */
  private renewHeld(): void {
    const now = Date.now();
    for (const h of this.held.values()) if (now - h.renewedAtMs >= this.renewAgeMs) this.renew(h, now);
  }

  /** Stops renewing without releasing anything, as a killed process would (for tests); close() still cleans up. */
  simulateCrash(): void {
    this.crashed = true;
    clearInterval(this.renewTimer);
  }

  private renew(h: Held, now: number): void {
    if (this.closed || this.crashed) return;
    try {
      for (const m of h.msgs) m.respond(WORKING);
      h.renewedAtMs = now;
    } catch (err) {
      // The connection is closing; JetStream redelivers these after ack_wait.
      this.warn({ err: String(err), group: this.opts.group }, 'nats consumer could not renew its held deliveries');
    }
  }

  async commit(delivery: Delivery): Promise<void> {
    const held = this.held.get(delivery);
    if (!held) return;
    this.held.delete(delivery);
    const last = held.msgs[held.msgs.length - 1];
    if (!last) return;
    for (let i = 0; i < held.msgs.length - 1; i++) held.msgs[i]!.respond(ACK);
    try {
      await this.log.link.nc.request(last.reply!, ACK, { timeout: this.log.opts.requestTimeoutMs });
    } catch (err) {
      throw natsUnavailable(err, 'commit');
    }
  }

  /** Hands back buffered and uncommitted messages (NAK: redelivered at once to another member). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.renewTimer);
    this.wake?.();
    const until = Date.now() + CLOSE_DRAIN_MS;
    while (Date.now() < until && [...this.parts.values()].some((s) => s.pull !== null && s.pull.expiresAtMs + 100 > Date.now())) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const state of this.parts.values()) {
      for (const p of state.buffer) p.msg.respond(NAK);
      state.buffer = [];
    }
    for (const h of this.held.values()) for (const m of h.msgs) m.respond(NAK);
    this.held.clear();
    try {
      this.sub?.unsubscribe();
      const flushed = await withinMs(this.log.link.nc.flush().then(() => true), this.log.opts.requestTimeoutMs);
      if (flushed !== true) throw new Error(`no answer from NATS within log.nats.requestTimeoutMs (${this.log.opts.requestTimeoutMs} ms)`);
    } catch (err) {
      this.warn({ err: String(err), group: this.opts.group }, 'nats consumer could not hand back its messages on close (they are redelivered after the lease)');
    }
    this.onClose();
  }
}

/** Stream, delivery count and stream sequence from a JetStream ack subject (v1 and v2 layouts). */
function parseAckSubject(reply: string): { stream: string; deliveryCount: number; streamSeq: number } | null {
  const t = reply.split('.');
  if (t[0] !== '$JS' || t[1] !== 'ACK') return null;
  const base = t.length === 9 ? 2 : t.length >= 11 ? 4 : -1;
  if (base < 0) return null;
  return { stream: t[base]!, deliveryCount: Number(t[base + 2]), streamSeq: Number(t[base + 3]) };
}
