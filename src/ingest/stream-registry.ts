// Which streams this process accepts writes for, with their resolved settings:
// the configured ones (streams[name] over defaultStream), and, with
// ingest.autoCreateStreams, any valid name up to ingest.maxStreams streams in
// all. A stream is created in the log (log.ensureStream) the first time this
// process writes to it; requests for it wait for that, once.
// Several processes may create streams at once: the count is re-read from the
// log at each creation, so the limit can be passed by at most one stream per
// process. Within a process, creations check the limit one at a time, counting
// the names this process is still creating, so concurrent first writes to many
// new names cannot all pass the check before any of them exists.
// Streams created on first write get defaultStream's settings, each with a rate
// limit of its own (see rate-limiter.ts).

import { HopperError, isValidLogStreamName } from '../errors.js';
import type { HopperConfig, StreamConfig } from '../config/schema.js';
import { ackRank, DEAD_LETTER_SUFFIX, type AckLevel, type Log } from '../log/types.js';
import { CorsPolicy } from './cors.js';
import { MAX_SHARED_RATE_LIMIT_KEYS, RateLimiter, type RateLimit } from './rate-limiter.js';
import { WriteKeys } from './write-keys.js';
import type { AppendBatch } from './append-batcher.js';

export interface StreamSettings {
  ack: AckLevel;
  ackRank: number;
  minAckRank: number;
  writeKeys: WriteKeys | null;
  cors: CorsPolicy | null;
  rateLimiter: RateLimit | null;
  retentionMaxAgeMs: number;
  retentionMaxBytes: number;
}

export interface StreamEntry {
  readonly name: string;
  readonly settings: StreamSettings;
  /** True once this process made sure the stream exists in the log. */
  ready: boolean;
  /** While not ready: settles when the stream is created (or could not be). */
  readyPromise: Promise<void> | null;
  /** The batch being filled this event-loop turn, per ack rank (owned by AppendBatcher). */
  readonly batches: (AppendBatch | null)[];
}

export function resolveSettings(c: StreamConfig): StreamSettings {
  return {
    ack: c.ack,
    ackRank: ackRank(c.ack),
    minAckRank: ackRank(c.minAck),
    writeKeys: c.writeKeys.length > 0 ? new WriteKeys(c.writeKeys) : null,
    cors: c.corsOrigins.length > 0 ? new CorsPolicy(c.corsOrigins) : null,
    rateLimiter: c.rateLimitPerSecond > 0 ? new RateLimiter(c.rateLimitPerSecond, c.rateLimitBurst) : null,
    retentionMaxAgeMs: c.retentionMaxAgeMs,
    retentionMaxBytes: c.retentionMaxBytes,
  };
}

export interface StreamRegistryOptions {
  log: Log;
  config: HopperConfig;
  /** Partitions every stream gets (one per ingest process). */
  partitions: number;
}

/**
 * A write to a dead-letter stream would bypass its stream's write keys and forge letters that
 * `hopper dlq requeue` then appends to the stream itself.
 */
function reservedError(name: string): HopperError {
  const stream = name.slice(0, -DEAD_LETTER_SUFFIX.length);
  return new HopperError(
    'HOPPER_STREAM_RESERVED',
    `Stream ${JSON.stringify(name)} holds the dead letters of ${JSON.stringify(stream)}: only workers write it. Write to ${JSON.stringify(stream)}, or use hopper dlq requeue.`,
  );
}

export class StreamRegistry {
  private readonly entries = new Map<string, StreamEntry>();
  /** Names of every stream known to exist (or being created): bounded by maxStreams plus the configured ones. */
  private readonly known = new Set<string>();
  private readonly defaults: StreamSettings;
  private readonly configured: Set<string>;
  /** The buckets of every stream created on first write, each stream in its own scope (null: no rate limit). */
  private readonly autoRateLimiter: RateLimiter | null;
  /** Names this process is creating that the log may not list yet (they count toward maxStreams). */
  private readonly creating = new Set<string>();
  /** The tail of this process's limit checks: each waits for the one before it. */
  private limitCheck: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: StreamRegistryOptions) {
    const d = opts.config.defaultStream;
    this.defaults = resolveSettings(d);
    this.configured = new Set(Object.keys(opts.config.streams));
    this.autoRateLimiter = d.rateLimitPerSecond > 0 ? new RateLimiter(d.rateLimitPerSecond, d.rateLimitBurst, MAX_SHARED_RATE_LIMIT_KEYS) : null;
  }

  /** Creates the configured streams and learns which streams exist. */
  async init(): Promise<void> {
    for (const name of this.configured) {
      // A configured S.dlq only sets the retention the workers give it; nothing is written to it from here.
      if (name.endsWith(DEAD_LETTER_SUFFIX)) continue;
      const entry = this.newEntry(name, resolveSettings({ ...this.opts.config.defaultStream, ...this.opts.config.streams[name] }));
      await this.create(entry, false);
      entry.ready = true;
      entry.readyPromise = null;
    }
    for (const name of await this.opts.log.listStreams()) this.known.add(name);
  }

  /** The entry of a stream already accepted by this process (the hot path: one map lookup). */
  get(name: string): StreamEntry | undefined {
    return this.entries.get(name);
  }

  /**
   * The settings a write to `name` would get, without creating anything (for CORS preflights, and to check a
   * write before its stream is created); a HopperError (400, 404, 403) for a name no write may create.
   */
  settingsFor(name: string): StreamSettings {
    const entry = this.entries.get(name);
    if (entry !== undefined) return entry.settings;
    this.checkCreatable(name);
    return this.autoSettings(name);
  }

  /** defaultStream's settings, with a rate limit of the stream's own (its buckets in the shared map). */
  private autoSettings(name: string): StreamSettings {
    return this.autoRateLimiter === null ? this.defaults : { ...this.defaults, rateLimiter: this.autoRateLimiter.scoped(name) };
  }

  private checkCreatable(name: string): void {
    // The log's test: a dead-letter name is valid up to 68 characters, and must be refused as reserved (403),
    // not as an invalid name (400), whatever the length of the stream it belongs to.
    if (!isValidLogStreamName(name)) {
      throw new HopperError(
        'HOPPER_STREAM_NAME_INVALID',
        `Invalid stream name ${JSON.stringify(name.slice(0, 80))}: names must match ^[A-Za-z0-9_.-]{1,64}$ and may not be "." or "..".`,
      );
    }
    if (name.endsWith(DEAD_LETTER_SUFFIX)) throw reservedError(name);
    if (!this.opts.config.ingest.autoCreateStreams) {
      throw new HopperError('HOPPER_STREAM_UNKNOWN', `No stream ${JSON.stringify(name)}: configure it under "streams" or turn on ingest.autoCreateStreams.`);
    }
  }

  /**
   * Throws the 403 HOPPER_STREAM_LIMIT that resolve(name) would throw now, creating nothing: a write is checked
   * before it is admitted, and its stream created only once it was.
   */
  checkRoom(name: string): void {
    if (!this.known.has(name) && this.known.size >= this.opts.config.ingest.maxStreams) throw this.limitError();
  }

  /** For a name `get` does not know: a new entry being created, or a HopperError (400, 404, 403). */
  resolve(name: string): StreamEntry {
    this.checkCreatable(name);
    this.checkRoom(name);
    const entry = this.newEntry(name, this.autoSettings(name));
    this.known.add(name);
    entry.readyPromise = this.create(entry, true).then(
      () => {
        entry.ready = true;
        entry.readyPromise = null;
      },
      (err: unknown) => {
        // Forget it, so a later request tries again (the cause may be temporary).
        this.entries.delete(name);
        this.known.delete(name);
        throw err;
      },
    );
    entry.readyPromise.catch(() => undefined);
    return entry;
  }

  private limitError(): HopperError {
    return new HopperError(
      'HOPPER_STREAM_LIMIT',
      `The maximum of ${this.opts.config.ingest.maxStreams} streams is reached: raise ingest.maxStreams or reuse a stream.`,
    );
  }

  private newEntry(name: string, settings: StreamSettings): StreamEntry {
    const entry: StreamEntry = { name, settings, ready: false, readyPromise: null, batches: [null, null, null] };
    this.entries.set(name, entry);
    return entry;
  }

  /**
   * Reserves `name` under ingest.maxStreams: the streams the log lists plus those this process is still
   * creating. One check at a time, so two of them never both count the last free place.
   */
  private reserve(name: string): Promise<void> {
    const check = this.limitCheck.then(async () => {
      const existing = await this.opts.log.listStreams();
      for (const n of existing) this.known.add(n);
      const taken = new Set(existing);
      for (const n of this.creating) taken.add(n);
      if (!taken.has(name) && taken.size >= this.opts.config.ingest.maxStreams) throw this.limitError();
      this.creating.add(name);
    });
    this.limitCheck = check.catch(() => undefined);
    return check;
  }

  private async create(entry: StreamEntry, checkLimit: boolean): Promise<void> {
    if (!checkLimit) return this.ensure(entry);
    await this.reserve(entry.name);
    try {
      await this.ensure(entry);
    } finally {
      this.creating.delete(entry.name);
    }
  }

  private async ensure(entry: StreamEntry): Promise<void> {
    const { log } = this.opts;
    try {
      await log.ensureStream(entry.name, {
        partitions: this.opts.partitions,
        retentionMaxAgeMs: entry.settings.retentionMaxAgeMs,
        retentionMaxBytes: entry.settings.retentionMaxBytes,
      });
    } catch (err) {
      if (err instanceof HopperError) throw err;
      throw new HopperError('HOPPER_LOG_UNAVAILABLE', `Could not create stream ${entry.name} (${(err as Error).message}): retry later.`, {
        cause: err,
        retryAfterSeconds: 1,
      });
    }
  }

  /** Streams this process accepts writes for now. */
  names(): string[] {
    return [...this.entries.keys()];
  }
}
