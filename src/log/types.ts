// The one log interface every backend implements (embedded, redis, nats).
// It speaks of streams, partitions, offsets and consumer groups only: no files,
// no keys, no subjects. Nothing outside src/log/ knows which backend runs.

/**
 * How far a write must get before `append` resolves.
 * - `durable`: on stable storage (embedded: after fdatasync of the group commit
 *   holding it). A power cut loses nothing acknowledged.
 * - `written`: handed to the storage engine (embedded: write(2) returned, data in
 *   the OS page cache). A process crash loses nothing; a power cut or kernel
 *   crash can lose up to the last `writtenFsyncIntervalMs` of writes.
 * - `fast`: queued in this process's memory (bounded). A process crash loses
 *   what was queued and not yet written: at most `maxPendingRecords` records.
 */
export type AckLevel = 'durable' | 'written' | 'fast';
export const ACK_LEVELS: readonly AckLevel[] = ['fast', 'written', 'durable'];

/** Strength order, for "at least this level" checks. */
export function ackRank(level: AckLevel): number {
  return ACK_LEVELS.indexOf(level);
}

/** Streams named {stream}.dlq hold the dead letters of {stream}: the workers write them, ingest refuses to. */
export const DEAD_LETTER_SUFFIX = '.dlq';

/** Longest stored metadata string (content type, encoding, address, request id, idempotency key), in UTF-8 bytes. */
export const MAX_METADATA_BYTES = 1024;

/** What the ingest path stores for one request: raw bytes plus a little metadata. */
export interface RecordInput {
  body: Buffer;
  /** Microseconds since the Unix epoch when the request was received. */
  receivedAtUs: number;
  contentType: string;
  contentEncoding: string;
  remoteAddress: string;
  requestId: string;
  /** Empty string when the client sent none. */
  idempotencyKey: string;
}

/** A record as read back, with its place in the log. */
export interface LogRecord extends RecordInput {
  stream: string;
  partition: number;
  offset: number;
}

export interface AppendResult {
  partition: number;
  /** Offset of the first record of the batch; records are consecutive. -1 in `fast` mode (not known yet). */
  firstOffset: number;
  /** The level actually reached (at least the one requested). */
  ack: AckLevel;
}

export interface ReadOptions {
  /** Upper bound on records returned by one call. */
  maxRecords: number;
  /** Soft upper bound on body bytes returned by one call (at least one record is returned). */
  maxBytes?: number;
}

export interface ReadResult {
  records: LogRecord[];
  /** The offset to pass to the next read (after the last record returned, or past a skipped range). */
  nextOffset: number;
}

export interface PartitionStats {
  partition: number;
  /** First offset still stored (after retention). */
  startOffset: number;
  /** Offset the next appended record will get. */
  endOffset: number;
  bytes: number;
  segments: number;
  /** Records skipped because they failed their checksum in a sealed segment. */
  quarantinedRecords: number;
  quarantinedBytes: number;
  groups: { group: string; position: number; lag: number }[];
}

export interface StreamStats {
  stream: string;
  partitions: PartitionStats[];
}

export interface LogStats {
  backend: string;
  streams: StreamStats[];
}

export interface StreamOptions {
  /** Number of partitions to create (existing partitions are kept). */
  partitions: number;
  /** Retention: whole segments (or entries) older than this are deleted. 0 = keep forever. */
  retentionMaxAgeMs: number;
  /** Retention: oldest data is deleted while a stream holds more than this. 0 = unbounded. */
  retentionMaxBytes: number;
}

/** A batch handed to a consumer; commit it to move the group's position past it. */
export interface Delivery {
  stream: string;
  partition: number;
  records: LogRecord[];
  /**
   * How many times these records were delivered to this group before without being committed (0 on first
   * delivery): the member that had them crashed, was stopped, or lost its lease. A record delivered again comes
   * alone (a delivery of one record), so that the one that brings its worker down every time can be told from
   * the records delivered with it. A backend that cannot tell which records were delivered before counts only
   * the first record a member delivers after taking a partition (embedded): a worker that dies on a record
   * dies on the first one it is given after its restart.
   */
  redeliveries: number;
}

export interface ConsumerOptions {
  group: string;
  stream: string;
  /** Name of this consumer instance, unique within the group (host:pid by default). */
  consumerName: string;
  /** A consumer that stops renewing its claim loses its partitions (or pending deliveries) after this. */
  leaseTimeoutMs: number;
}

/** A member of a consumer group: partitions (or messages) are shared among the group's members. */
export interface LogConsumer {
  /** Waits up to maxWaitMs for records; returns null when none arrived. */
  fetch(maxRecords: number, maxWaitMs: number, signal?: AbortSignal): Promise<Delivery | null>;
  /** Marks every record of the delivery as processed by the group. */
  commit(delivery: Delivery): Promise<void>;
  /**
   * true when a commit moves a position that passes only a contiguous run of committed deliveries (embedded): one
   * committed behind an unfinished one is delivered again after a crash. false: each is acknowledged on its own.
   */
  readonly commitsInOrder: boolean;
  /** Gives up owned partitions (uncommitted deliveries are redelivered to another member). */
  close(): Promise<void>;
}

/** A lock taken with Log.acquireLock, held by this process until release(). */
export interface LogLock {
  /**
   * Gives the lock up. Never throws: a lock this process lost meanwhile (its lease ran out while the backend
   * was unreachable, and another process took it) is left alone, and one that cannot be released now frees
   * itself like the lock of a dead holder. A second call does nothing.
   */
  release(): Promise<void>;
}

/** Capabilities that the CLI and status page report honestly. */
export interface LogCapabilities {
  /** true when `durable` really means "on stable storage" with the current backend settings. */
  durableIsFsync: boolean;
}

export interface Log {
  readonly backend: string;
  readonly capabilities: LogCapabilities;

  /** Creates the stream (and partitions) if missing. Idempotent. */
  ensureStream(stream: string, options: StreamOptions): Promise<void>;
  listStreams(): Promise<string[]>;
  listPartitions(stream: string): Promise<number[]>;

  /**
   * Appends records, in order, to one partition. Resolves once all reached `ack`.
   * Rejects with a HopperError (retriable) when the backend is saturated or failing:
   * callers must never report such records as stored.
   */
  append(stream: string, partition: number, records: RecordInput[], ack: AckLevel): Promise<AppendResult>;

  /** Reads records at or after `fromOffset` (clamped to the partition start). */
  read(stream: string, partition: number, fromOffset: number, options: ReadOptions): Promise<ReadResult>;
  /** First offset whose record was received at or after `timeUs` (endOffset when none). */
  offsetForTime(stream: string, partition: number, timeUs: number): Promise<number>;

  /** Stores a group's position (the next offset it will process). */
  commitPosition(group: string, stream: string, partition: number, position: number): Promise<void>;
  /** The group's stored position, or null when it never committed. */
  getPosition(group: string, stream: string, partition: number): Promise<number | null>;

  openConsumer(options: ConsumerOptions): Promise<LogConsumer>;

  /** Bytes of backlog held in this process waiting for the backend (for backpressure). */
  pendingBytes(): number;

  /**
   * Hands `observe` the seconds of every fsync this process runs on the log's data (for metrics; one
   * observer per log, a later call replaces it). Returns false when the backend runs no fsync of its own
   * (redis and nats: their servers sync on their side), so there is nothing to time and nothing to report.
   */
  timeFsyncs(observe: (seconds: number) => void): boolean;

  /**
   * Takes the lock `name` (names as for streams, joined by '/', e.g. `dlq/events`), shared by every process
   * using this log, for work that two processes must not do at once; `what` says what it guards, for messages.
   * Throws HOPPER_LOCK_HELD while another holder has it (another process, or another acquireLock of this one).
   * A holder that dies without release() blocks others only for a bounded time: on the embedded log until
   * its process is gone, on redis and nats until its lease runs out (30 s, renewed every third of it while
   * the holder lives).
   */
  acquireLock(name: string, what: string): Promise<LogLock>;

  stats(): Promise<LogStats>;
  /** Applies retention now (backends that do it themselves may no-op). */
  enforceRetention(): Promise<void>;
  /** Flushes what is queued, then releases every resource. */
  close(): Promise<void>;
}
