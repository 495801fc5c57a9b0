// The NATS JetStream backend. Each Hopper partition is one JetStream stream
// with one subject (names in nats-names.ts), so JetStream's stream sequence is
// the partition's offset plus one: dense, ordered, and kept by the cluster.
//
// Appends publish every record at once (one request each, all in flight
// together on one connection, so one process's records of a partition keep
// their order) and resolve on the last PubAck. Every record is checked against
// the server's max_payload before any is published, so an append holding an
// oversized record stores nothing (413) rather than some of its records. An
// append's bytes count against maxPendingBytes until answered; one whose PubAck
// timed out counts until its bytes provably left (unanswered-publishes.ts).
//
// A PubAck means the record is stored by a quorum of the stream's replicas
// (log.nats.replicas): with 3, the loss of any one server loses nothing
// acknowledged. JetStream's file store writes through the OS page cache and
// fsyncs on its own timer (sync_interval, 2 minutes by default), so a
// simultaneous power cut of a quorum can lose acknowledged writes:
// capabilities.durableIsFsync is false, for `written` and `durable` alike.
// Reads go to the stream leader (STREAM.MSG.GET), so a read sees every
// acknowledged write. Retention is JetStream's own (max_age, max_bytes). Locks
// (acquireLock) are compare-and-set publishes to a stream of their own (nats-lock.ts).

import { jetstreamManager, AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { ConsumerInfo, JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { MsgHdrsImpl, nanos, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import { HopperError, assertGroupName, assertStreamName } from '../../errors.js';
import type {
  AckLevel,
  AppendResult,
  ConsumerOptions,
  Log,
  LogConsumer,
  LogLock,
  LogRecord,
  LogStats,
  PartitionStats,
  ReadOptions,
  ReadResult,
  RecordInput,
  StreamOptions,
} from '../types.js';
import type { WarnFn } from '../embedded/partition-recovery.js';
import { PendingBudget } from '../pending-budget.js';
import { searchOffsetForTime } from '../offset-for-time.js';
import { assertOffset } from '../offset-check.js';
import { JS_CONSUMER_NOT_FOUND, JS_REPLICAS_NOT_SUPPORTED, JS_STREAM_NAME_IN_USE, JS_STREAM_NOT_FOUND, NatsLink, isJsApiError, natsUnavailable, withoutCredentials, type NatsConnectionOptions } from './nats-connection.js';
import { assertJsStreamName, durableName, jsStreamName, parseSubject, partitionSubject, unescapeName } from './nats-names.js';
import { decodeMessage, encodeHeaders, oversizeBytes, recordBytes } from './nats-record-codec.js';
import { NatsGroupConsumer } from './nats-group-consumer.js';
import { InboxRequester, RequestTimeoutError } from './inbox-requester.js';
import { UnansweredPublishes } from './unanswered-publishes.js';
import { NatsLocks, type NatsLock } from './nats-lock.js';
import { DEFAULT_LOCK_LEASE_MS, lockNameParts } from '../lock-name.js';
import { SettleTracker } from '../settle-tracker.js';

export interface NatsLogOptions extends NatsConnectionOptions {
  replicas: number;
  subjectPrefix: string;
  requestTimeoutMs: number;
  maxPendingBytes: number;
  maxPendingRecords: number;
  /** Lease of acquireLock locks (DEFAULT_LOCK_LEASE_MS when absent; tests shorten it). */
  lockLeaseMs?: number;
  warn?: WarnFn;
}

const DEFAULT_READ_MAX_BYTES = 16 * 1024 * 1024;
/** Messages asked for at once by a read (one STREAM.MSG.GET request each), at most. */
const READ_WINDOW = 128;
/**
 * Reply bytes a read asks for at once. nats-server disconnects a client it has more than max_pending bytes queued
 * for (64 MB by default, "Slow Consumer Detected"), and the connection carries the appends too: 128 replies of
 * 1 MB records did. A reply's size is known only once it came: each is counted at the largest this read has had
 * (a partition's records are mostly alike), at max_payload before the first. Counting every one at max_payload
 * kept reads of 200 B records to 11 requests in flight (1 at max_payload 8 MB), twice as slow.
 */
export const READ_WINDOW_BYTES = 16 * 1024 * 1024;
/**
 * Reply bytes a read asks for at once counting each at max_payload, at most: the window sized from small records
 * meets large ones whole (139 records of 200 B then 1 MB ones had 128 replies of 1.4 MB asked for, and the read
 * failed every time). 3/4 of the default max_pending; a partition whose stored bytes all fit READ_WINDOW_BYTES
 * as replies has no such bound, its replies together being smaller.
 */
export const READ_WINDOW_WORST_BYTES = 48 * 1024 * 1024;
/**
 * Bytes JetStream's file store counts for a message besides its subject, headers and body (its record
 * header and checksum: 34), with a margin: a record is refused when subject, headers, body and this
 * exceed its partition's max_bytes.
 */
const STORED_MESSAGE_OVERHEAD_BYTES = 64;
/** Delivered and unacknowledged messages a group may hold per partition. */
export const MAX_ACK_PENDING = 65_536;

export class NatsLog implements Log {
  readonly backend = 'nats';
  readonly capabilities = { durableIsFsync: false };
  /**
   * Partitions known to exist, per Hopper stream (appends skip the lookup), each with its JetStream
   * max_bytes (Infinity when unbounded): see storedBytesOver.
   */
  private readonly known = new Map<string, Map<number, number>>();
  private readonly consumers = new Set<NatsGroupConsumer>();
  private readonly inFlight = new SettleTracker();
  private readonly budget: PendingBudget;
  private readonly warn: WarnFn;
  private closed = false;
  /** Records acknowledged `fast` whose publish then failed: the loss `fast` accepts. */
  private lostFast = 0;
  private readonly requester: InboxRequester;
  private readonly unanswered: UnansweredPublishes;
  private readonly locks: NatsLocks;
  /** Locks of acquireLock not released yet: close() releases them. */
  private readonly heldLocks = new Set<NatsLock>();
  /** The options each stream was ensured with here: a partition stream NATS lost is created again with them. */
  private readonly ensuredWith = new Map<string, StreamOptions>();
  /** Streams being created again after NATS lost them (one run at a time per stream). */
  private readonly recreating = new Set<string>();

  private constructor(
    readonly link: NatsLink,
    readonly jsm: JetStreamManager,
    readonly opts: NatsLogOptions,
  ) {
    this.warn = opts.warn ?? (() => undefined);
    this.budget = new PendingBudget(opts.maxPendingBytes, opts.maxPendingRecords);
    this.requester = new InboxRequester(link.nc, opts.requestTimeoutMs);
    this.unanswered = new UnansweredPublishes(link.nc, this.budget);
    this.locks = new NatsLocks(link.nc, jsm, opts.subjectPrefix, opts.replicas, opts.lockLeaseMs ?? DEFAULT_LOCK_LEASE_MS, opts.requestTimeoutMs, this.warn);
  }

  static async open(opts: NatsLogOptions): Promise<NatsLog> {
    const warn = opts.warn ?? (() => undefined);
    const link = await NatsLink.open(opts, warn);
    try {
      const jsm = await jetstreamManager(link.nc, { timeout: opts.requestTimeoutMs });
      if (opts.replicas === 1) {
        warn(
          { replicas: 1 },
          'each partition lives on one NATS server (log.nats.replicas 1): losing it loses the partition, and a power cut loses what JetStream had not fsynced; use a cluster with replicas 3',
        );
      }
      return new NatsLog(link, jsm, opts);
    } catch (err) {
      await link.close(opts.requestTimeoutMs);
      throw new HopperError('HOPPER_LOG_UNAVAILABLE', `NATS at ${opts.servers} has no JetStream (${(err as Error).message}): start nats-server with -js.`, {
        cause: err,
      });
    }
  }

  streamName(stream: string, partition: number): string {
    return jsStreamName(this.opts.subjectPrefix, stream, partition);
  }

  private streamConfig(stream: string, partition: number, options: StreamOptions): Partial<StreamConfig> {
    const maxBytes = options.retentionMaxBytes > 0 ? Math.max(1, Math.floor(options.retentionMaxBytes / options.partitions)) : -1;
    return {
      name: this.streamName(stream, partition),
      description: `Hopper stream ${stream}, partition ${partition}`,
      subjects: [partitionSubject(this.opts.subjectPrefix, stream, partition)],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: this.opts.replicas,
      max_age: options.retentionMaxAgeMs > 0 ? nanos(options.retentionMaxAgeMs) : 0,
      max_bytes: maxBytes,
    };
  }

  async ensureStream(stream: string, options: StreamOptions): Promise<void> {
    assertStreamName(stream);
    const existing = await this.listPartitions(stream);
    const partitions = Math.max(options.partitions, existing.length);
    assertJsStreamName(this.opts.subjectPrefix, stream, partitions - 1);
    const sized = { ...options, partitions };
    const known = this.known.get(stream) ?? new Map<number, number>();
    for (let p = 0; p < partitions; p++) {
      const want = this.streamConfig(stream, p, sized);
      try {
        try {
          const info = await this.jsm.streams.info(want.name!);
          const cfg = info.config;
          if (cfg.max_age !== want.max_age || cfg.max_bytes !== want.max_bytes || cfg.num_replicas !== want.num_replicas) {
            // JetStream refuses a duplicates window longer than max_age (it defaults to 2 min, Hopper sets no message
            // ids): shortening the age below it would fail every start with 'retry later'. add() shortens it itself.
            const duplicates = want.max_age! > 0 ? Math.min(cfg.duplicate_window, want.max_age!) : cfg.duplicate_window;
            await this.jsm.streams.update(want.name!, {
              ...cfg,
              max_age: want.max_age!,
              max_bytes: want.max_bytes!,
              num_replicas: want.num_replicas!,
              duplicate_window: duplicates,
            });
          }
        } catch (err) {
          if (!isJsApiError(err, JS_STREAM_NOT_FOUND)) throw err;
          await this.jsm.streams.add({ ...want, name: want.name! });
        }
      } catch (err) {
        if (isJsApiError(err, JS_REPLICAS_NOT_SUPPORTED)) {
          // A setting to change, not an outage: 'retry later' would have every start and write wait for ever.
          throw new HopperError(
            'HOPPER_CONFIG_INVALID',
            `log.nats.replicas is ${this.opts.replicas} but the NATS server at ${withoutCredentials(this.opts.servers)} is not in a JetStream cluster: set log.nats.replicas to 1, or run a cluster of at least ${this.opts.replicas} servers.`,
            { cause: err },
          );
        }
        throw natsUnavailable(err, `create stream ${stream} partition ${p}`);
      }
      known.set(p, maxBytesLimit(want.max_bytes));
    }
    this.known.set(stream, known);
    this.ensuredWith.set(stream, sized);
  }

  /**
   * A publish that no stream answered (503) went to a partition stream NATS no longer has: it lost its data (a
   * store on a wiped disk, or under /tmp, nats-server's default, after a reboot). Like the Redis backend, which
   * puts a stream's settings back with each append, the streams are created again (empty, as NATS lost them),
   * so appends work again without a restart; until then they get 503.
   */
  private recreateLost(stream: string, partition: number): void {
    const options = this.ensuredWith.get(stream);
    if (!options || this.recreating.has(stream) || this.closed) return;
    this.recreating.add(stream);
    const recreate = async (): Promise<void> => {
      // A cluster electing the stream's leader answers 503 too: only a stream that is really gone is created.
      try {
        await this.jsm.streams.info(this.streamName(stream, partition));
        return;
      } catch (err) {
        if (!isJsApiError(err, JS_STREAM_NOT_FOUND)) throw err;
      }
      this.warn({ stream, partition }, 'the JetStream stream of a partition is gone (NATS lost its data?): creating the stream\'s partitions again, empty');
      // Only the partitions that are gone, never ensureStream's update: that would put this process's retention
      // back on partitions another process, started with newer settings, had changed (a shorter one deletes).
      // add() of a stream that exists (a cluster member catching up says "not found") changes nothing.
      for (let p = 0; p < options.partitions; p++) {
        const want = this.streamConfig(stream, p, options);
        try {
          await this.jsm.streams.info(want.name!);
          continue;
        } catch (err) {
          if (!isJsApiError(err, JS_STREAM_NOT_FOUND)) throw err;
        }
        try {
          await this.jsm.streams.add({ ...want, name: want.name! });
        } catch (err) {
          if (!isJsApiError(err, JS_STREAM_NAME_IN_USE)) throw err; // created meanwhile, with other settings
        }
      }
    };
    this.inFlight.track(
      recreate()
        .catch((err: unknown) => this.warn({ err: String(err), stream }, 'could not create the lost JetStream streams again (retrying with the next append)'))
        .finally(() => this.recreating.delete(stream)),
    );
  }

  async listStreams(): Promise<string[]> {
    const names = new Set<string>();
    try {
      for await (const info of this.jsm.streams.list(`${this.opts.subjectPrefix}.>`)) {
        for (const subject of info.config.subjects ?? []) {
          const parsed = parseSubject(this.opts.subjectPrefix, subject);
          if (parsed && info.config.name === this.streamName(parsed.stream, parsed.partition)) names.add(parsed.stream);
        }
      }
    } catch (err) {
      throw natsUnavailable(err, 'list streams');
    }
    return [...names].sort();
  }

  async listPartitions(stream: string): Promise<number[]> {
    assertStreamName(stream);
    const prefix = this.streamName(stream, 0).slice(0, -1);
    const partitions: number[] = [];
    try {
      for await (const name of this.jsm.streams.names(partitionSubject(this.opts.subjectPrefix, stream, 0).slice(0, -1) + '*')) {
        const p = name.startsWith(prefix) ? name.slice(prefix.length) : '';
        if (/^\d{1,6}$/.test(p)) partitions.push(Number(p));
      }
    } catch (err) {
      throw natsUnavailable(err, 'list partitions');
    }
    return partitions.sort((a, b) => a - b);
  }

  append(stream: string, partition: number, records: RecordInput[], ack: AckLevel): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new HopperError('HOPPER_LOG_CLOSED'));
    if (records.length === 0) return Promise.resolve({ partition, firstOffset: -1, ack });
    if (this.known.get(stream)?.has(partition)) return this.publish(stream, partition, records, ack);
    // In flight from now: close() waits for the check, then for the publishes it leads to.
    const checked = this.inFlight.track(this.checkPartition(stream, partition));
    return checked.then(() => this.publish(stream, partition, records, ack));
  }

  private async checkPartition(stream: string, partition: number): Promise<void> {
    assertStreamName(stream);
    if (!Number.isSafeInteger(partition) || partition < 0 || partition > 999_999) {
      throw new HopperError('HOPPER_PARTITION_UNKNOWN', `Invalid partition ${partition}.`);
    }
    let maxBytes: number;
    try {
      maxBytes = maxBytesLimit((await this.jsm.streams.info(this.streamName(stream, partition))).config.max_bytes);
    } catch (err) {
      if (!isJsApiError(err, JS_STREAM_NOT_FOUND)) throw natsUnavailable(err, 'look up a stream');
      if (partition > 0 && (await this.listPartitions(stream)).length > 0) {
        throw new HopperError('HOPPER_PARTITION_UNKNOWN', `Stream ${stream} has no partition ${partition}.`);
      }
      throw new HopperError('HOPPER_STREAM_UNKNOWN', `No such stream ${JSON.stringify(stream)}.`);
    }
    const known = this.known.get(stream) ?? new Map<number, number>();
    known.set(partition, maxBytes);
    this.known.set(stream, known);
  }

  /** The server's max_payload: the largest message (body and headers) it takes. */
  maxPayload(): number {
    return this.link.nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
  }

  private publish(stream: string, partition: number, records: RecordInput[], ack: AckLevel): Promise<AppendResult> {
    const maxPayload = this.maxPayload();
    const subject = partitionSubject(this.opts.subjectPrefix, stream, partition);
    // JetStream's max_bytes (discard old) deletes the oldest messages while the stream holds more than
    // max_bytes, the one just stored included: a record larger than its partition's share of
    // retentionMaxBytes would get its PubAck and be deleted at once (acknowledged, never readable, never
    // delivered to a group). Such a record is refused like one over max_payload, before anything is sent.
    const maxStored = (this.known.get(stream)?.get(partition) ?? Number.POSITIVE_INFINITY) - Buffer.byteLength(subject) - STORED_MESSAGE_OVERHEAD_BYTES;
    const headers: MsgHdrs[] = new Array<MsgHdrs>(records.length);
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const b = recordBytes(r);
      if (b < 0) return Promise.reject(new HopperError('HOPPER_METADATA_TOO_LARGE'));
      bytes += b;
      headers[i] = encodeHeaders(r);
      const over = oversizeBytes(r, headers[i]!, maxPayload);
      if (over > 0) return Promise.reject(tooLarge(i, records.length, over, maxPayload));
      const overRetention = oversizeBytes(r, headers[i]!, maxStored);
      if (overRetention > 0) return Promise.reject(tooLargeForRetention(i, records.length, overRetention, maxStored, stream, partition));
    }
    if (!this.link.connected) {
      return Promise.reject(new HopperError('HOPPER_LOG_UNAVAILABLE', 'NATS is unreachable (reconnecting): retry later.', { retryAfterSeconds: 1 }));
    }
    try {
      this.budget.reserve(bytes, records.length);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const acks: Promise<number>[] = [];
    try {
      for (let i = 0; i < records.length; i++) acks.push(this.requester.request(subject, records[i]!.body, headers[i]).then(pubAckSequence));
    } catch (err) {
      // A synchronous throw (the connection closed meanwhile): records published before it may still be stored.
      for (const a of acks) a.catch(() => undefined);
      this.budget.release(bytes, records.length);
      return Promise.reject(natsUnavailable(err, 'append'));
    }
    const done = Promise.all(acks).then(
      (seqs): AppendResult => ({ partition, firstOffset: seqs[0]! - 1, ack: ack === 'durable' ? 'durable' : 'written' }),
      (err: unknown) => {
        if (err instanceof NoStreamAnsweredError) this.recreateLost(stream, partition);
        if (ack === 'fast') {
          this.lostFast += records.length;
          this.warn({ err: String(err), stream, partition }, 'nats append failed; fast-acknowledged records lost');
        }
        throw natsUnavailable(err, 'append');
      },
    );
    // The budget is released once every publish of the append is answered (or failed); one whose
    // answer timed out may still be queued in this process, so its share waits for proof it left.
    this.inFlight.track(
      Promise.allSettled(acks).then((results) => {
        if (results.some((x) => x.status === 'rejected' && x.reason instanceof RequestTimeoutError)) this.unanswered.hold(bytes, records.length);
        else this.budget.release(bytes, records.length);
      }),
    );
    if (ack === 'fast') {
      done.catch(() => undefined); // counted in lostFast, never reported to the caller
      return Promise.resolve({ partition, firstOffset: -1, ack: 'fast' });
    }
    return done;
  }

  /** First stored offset and the offset of the next append; null when the partition does not exist. */
  async bounds(stream: string, partition: number): Promise<{ start: number; end: number; bytes: number } | null> {
    try {
      const { state } = await this.jsm.streams.info(this.streamName(stream, partition));
      const end = state.last_seq;
      return { start: state.messages > 0 ? state.first_seq - 1 : end, end, bytes: state.bytes };
    } catch (err) {
      if (isJsApiError(err, JS_STREAM_NOT_FOUND)) return null;
      throw natsUnavailable(err, 'read stream info');
    }
  }

  async read(stream: string, partition: number, fromOffset: number, options: ReadOptions): Promise<ReadResult> {
    assertStreamName(stream);
    assertOffset(fromOffset, 'read offset', true);
    const bounds = await this.bounds(stream, partition);
    const records: LogRecord[] = [];
    let next = Math.max(0, fromOffset);
    if (!bounds) return { records, nextOffset: next };
    next = Math.max(next, bounds.start);
    const maxBytes = options.maxBytes ?? DEFAULT_READ_MAX_BYTES;
    const name = this.streamName(stream, partition);
    const worstReplyBytes = largestReplyBytes(this.maxPayload());
    // Any requests of this read are answered with at most the partition's stored bytes (read ends at bounds.end).
    const wholePartitionFits = largestReplyBytes(bounds.bytes) + READ_WINDOW * REPLY_OVERHEAD_BYTES <= READ_WINDOW_BYTES;
    let largestReply = 0;
    let bytes = 0;
    // maxBytes is soft: at least one record, whatever it is (a read of none would look like the end).
    while (next < bounds.end && records.length < options.maxRecords && (bytes < maxBytes || records.length === 0)) {
      const replyBytes = largestReply > 0 ? largestReply + REPLY_OVERHEAD_BYTES : worstReplyBytes;
      const window = wholePartitionFits
        ? READ_WINDOW
        : Math.max(1, Math.min(READ_WINDOW, Math.floor(READ_WINDOW_BYTES / replyBytes), Math.floor(READ_WINDOW_WORST_BYTES / worstReplyBytes)));
      const n = Math.min(window, bounds.end - next, options.maxRecords - records.length);
      let msgs: (StoredMessage | null)[];
      try {
        msgs = await Promise.all(
          Array.from({ length: n }, (_, i) =>
            this.requester.request(`$JS.API.STREAM.MSG.GET.${name}`, JSON.stringify({ seq: next + i + 1 })).then((reply) => {
              largestReply = Math.max(largestReply, reply.data.length);
              return storedMessage(reply);
            }),
          ),
        );
      } catch (err) {
        throw natsUnavailable(err, 'read');
      }
      for (let i = 0; i < n; i++) {
        const m = msgs[i];
        next++;
        if (!m) continue; // deleted by retention meanwhile
        const rec = decodeMessage(m.headers, m.data, stream, partition, m.seq - 1);
        records.push(rec);
        bytes += rec.body.length;
        if (bytes >= maxBytes) break;
      }
    }
    return { records, nextOffset: next };
  }

  async offsetForTime(stream: string, partition: number, timeUs: number): Promise<number> {
    assertStreamName(stream);
    const bounds = await this.bounds(stream, partition);
    if (!bounds) return 0;
    return searchOffsetForTime(bounds.start, bounds.end, timeUs, async (offset, maxRecords) => {
      const { records } = await this.read(stream, partition, offset, { maxRecords });
      return records;
    });
  }

  /**
   * A group's stored position is its durable consumer's state. Setting it by
   * hand (replay) recreates the consumer at that sequence: JetStream cannot
   * move an existing consumer, so run it while the group's workers are stopped.
   */
  async commitPosition(group: string, stream: string, partition: number, position: number): Promise<void> {
    assertGroupName(group);
    assertStreamName(stream);
    assertOffset(position, 'group position');
    const name = this.streamName(stream, partition);
    const durable = durableName(group);
    try {
      let ackWaitNs: number | undefined;
      try {
        const info = await this.jsm.consumers.info(name, durable);
        ackWaitNs = info.config.ack_wait;
        await this.jsm.consumers.delete(name, durable);
      } catch (err) {
        if (isJsApiError(err, JS_STREAM_NOT_FOUND)) throw new HopperError('HOPPER_STREAM_UNKNOWN', `No such stream ${JSON.stringify(stream)}.`);
        if (!isJsApiError(err, JS_CONSUMER_NOT_FOUND)) throw err;
      }
      await this.jsm.consumers.add(name, {
        ...groupConsumerConfig(durable, ackWaitNs),
        ...(position > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: position + 1 } : {}),
      });
    } catch (err) {
      throw natsUnavailable(err, 'store a group position');
    }
  }

  async getPosition(group: string, stream: string, partition: number): Promise<number | null> {
    assertGroupName(group);
    assertStreamName(stream);
    try {
      return consumerPosition(await this.jsm.consumers.info(this.streamName(stream, partition), durableName(group)));
    } catch (err) {
      if (isJsApiError(err, JS_CONSUMER_NOT_FOUND) || isJsApiError(err, JS_STREAM_NOT_FOUND)) return null;
      throw natsUnavailable(err, 'read a group position');
    }
  }

  async openConsumer(options: ConsumerOptions): Promise<LogConsumer> {
    assertGroupName(options.group);
    assertStreamName(options.stream);
    if (this.closed) throw new HopperError('HOPPER_LOG_CLOSED');
    const consumer = await NatsGroupConsumer.open(this, options, this.warn, () => this.consumers.delete(consumer));
    this.consumers.add(consumer);
    return consumer;
  }

  async acquireLock(name: string, what: string): Promise<LogLock> {
    const parts = lockNameParts(name);
    if (this.closed) throw new HopperError('HOPPER_LOG_CLOSED');
    const lock = await this.locks.acquire(parts, what, (l) => this.heldLocks.delete(l));
    this.heldLocks.add(lock);
    return lock;
  }

  pendingBytes(): number {
    return this.budget.bytes;
  }

  /** NATS syncs its own storage on its server: this process runs no fsync to time. */
  timeFsyncs(): boolean {
    return false;
  }

  /** Records acknowledged `fast` whose publish later failed (the documented loss of `fast`). */
  lostFastRecords(): number {
    return this.lostFast;
  }

  async stats(): Promise<LogStats> {
    const streams = [];
    for (const stream of await this.listStreams()) {
      const partitions: PartitionStats[] = [];
      for (const partition of await this.listPartitions(stream)) {
        const bounds = await this.bounds(stream, partition);
        if (!bounds) continue;
        const groups = [];
        try {
          for await (const ci of this.jsm.consumers.list(this.streamName(stream, partition))) {
            const group = ci.config.durable_name ? unescapeName(ci.config.durable_name) : null;
            if (group === null) continue;
            const position = consumerPosition(ci);
            groups.push({ group, position, lag: Math.max(0, bounds.end - Math.max(position, bounds.start)) });
          }
        } catch (err) {
          throw natsUnavailable(err, 'list consumer groups');
        }
        partitions.push({
          partition,
          startOffset: bounds.start,
          endOffset: bounds.end,
          bytes: bounds.bytes,
          segments: 0,
          quarantinedRecords: 0,
          quarantinedBytes: 0,
          groups: groups.sort((a, b) => a.group.localeCompare(b.group)),
        });
      }
      streams.push({ stream, partitions });
    }
    return { backend: this.backend, streams };
  }

  /** JetStream applies max_age and max_bytes by itself as it stores. */
  async enforceRetention(): Promise<void> {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.close().catch(() => undefined)));
    await Promise.all([...this.heldLocks].map((l) => l.release()));
    // A partition check that ends meanwhile adds its publishes.
    await this.inFlight.idle();
    this.requester.close(new HopperError('HOPPER_LOG_CLOSED'));
    await this.link.close(this.opts.requestTimeoutMs);
  }
}

/** The 413 of an append holding a record NATS would refuse: checked before anything is published, so nothing of it is stored. */
function tooLarge(index: number, count: number, messageBytes: number, maxPayload: number): HopperError {
  return new HopperError(
    'HOPPER_BODY_TOO_LARGE',
    `Record ${index + 1} of ${count} is ${messageBytes} bytes as a NATS message (body and headers), more than the server's max_payload of ${maxPayload}; ` +
      'nothing of this append was stored: raise max_payload in the nats-server config (up to 64 MB) or lower ingest.maxBodyBytes below it.',
  );
}

/** A JetStream max_bytes as the limit publish checks (Infinity when unbounded). */
function maxBytesLimit(maxBytes: number | undefined): number {
  return maxBytes !== undefined && maxBytes > 0 ? maxBytes : Number.POSITIVE_INFINITY;
}

/** The 413 of an append holding a record that byte retention would delete as soon as JetStream stored it. */
function tooLargeForRetention(index: number, count: number, messageBytes: number, maxStored: number, stream: string, partition: number): HopperError {
  return new HopperError(
    'HOPPER_BODY_TOO_LARGE',
    `Record ${index + 1} of ${count} is ${messageBytes} bytes as a NATS message (body and headers), more than partition ${partition} of stream ${stream} ` +
      `keeps under its share of retentionMaxBytes (${maxStored}): JetStream would delete it as soon as it stored it. Nothing of this append was stored: ` +
      'raise the stream\'s retentionMaxBytes or lower ingest.maxBodyBytes.',
  );
}

/** A publish that no JetStream stream took (a 503 no-responders status): the partition's stream does not exist. */
class NoStreamAnsweredError extends Error {}

/** The sequence a PubAck gives, or the error it (or a no-responders status) reports. */
function pubAckSequence(msg: Msg): number {
  if (msg.headers?.code === 503) throw new NoStreamAnsweredError(`publish not stored: 503 ${msg.headers.description || 'no stream answered'}`);
  if (msg.headers?.code) throw new Error(`publish not stored: ${msg.headers.code} ${msg.headers.description || 'no stream answered'}`);
  const ack = JSON.parse(msg.string()) as { seq?: number; error?: { description?: string; err_code?: number } };
  if (ack.error || typeof ack.seq !== 'number') throw new Error(`publish not stored: ${ack.error?.description ?? 'invalid PubAck'}`);
  return ack.seq;
}

interface StoredMessage {
  seq: number;
  headers: MsgHdrsImpl | undefined;
  data: Uint8Array;
}

/** Bytes of a reply on the connection besides its JSON (the MSG line with the inbox subject, its status headers), with a margin. */
const REPLY_OVERHEAD_BYTES = 1024;

/** The largest STREAM.MSG.GET reply for a message of `maxPayload` bytes: headers and body in base64, in JSON. */
function largestReplyBytes(maxPayload: number): number {
  return Math.ceil(maxPayload / 3) * 4 + REPLY_OVERHEAD_BYTES;
}

/** A STREAM.MSG.GET reply: the message, or null when that sequence is not stored (deleted). */
function storedMessage(msg: Msg): StoredMessage | null {
  if (msg.headers?.code) throw new Error(`read failed: ${msg.headers.code} ${msg.headers.description || 'no stream answered'}`);
  const reply = JSON.parse(msg.string()) as {
    message?: { seq: number; hdrs?: string; data?: string };
    error?: { code: number; err_code?: number; description?: string };
  };
  if (reply.error) {
    if (reply.error.code === 404) return null;
    throw new Error(`read failed: ${reply.error.description ?? reply.error.code}`);
  }
  const m = reply.message!;
  return {
    seq: m.seq,
    headers: m.hdrs ? MsgHdrsImpl.decode(Buffer.from(m.hdrs, 'base64')) : undefined,
    data: m.data ? Buffer.from(m.data, 'base64') : Buffer.alloc(0),
  };
}

/** The durable pull consumer of a Hopper group on one partition stream. */
export function groupConsumerConfig(durable: string, ackWaitNs?: number): Parameters<JetStreamManager['consumers']['add']>[1] {
  return {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: MAX_ACK_PENDING,
    ...(ackWaitNs ? { ack_wait: ackWaitNs } : {}),
  };
}

/**
 * The next offset a group has not finished: with nothing awaiting an ack, the
 * one after the last delivered; otherwise the one after the ack floor (never
 * before the sequence the consumer was created at).
 */
export function consumerPosition(ci: ConsumerInfo): number {
  const start = Math.max(0, (ci.config.opt_start_seq ?? 1) - 1);
  const done = ci.num_ack_pending === 0 ? ci.delivered.stream_seq : ci.ack_floor.stream_seq;
  return Math.max(done, start);
}
