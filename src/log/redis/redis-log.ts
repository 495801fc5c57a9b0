// The Redis Streams backend. Each Hopper partition is one Redis stream (keys and
// the offset <-> entry ID mapping in redis-keys.ts); appends are group-committed
// by partition-appender.ts; consumer groups are Redis consumer groups
// (redis-group-consumer.ts). Durability is Redis's own:
//   - an append resolves when Redis answered the XADDs (`written`);
//   - it is on stable storage only when Redis runs with appendonly yes and
//     appendfsync always (Redis then fsyncs before it answers): checked at open,
//     reported in capabilities.durableIsFsync, warned about when missing.
// Connection loss: every call fails at once with HOPPER_LOG_UNAVAILABLE while
// Redis is unreachable; the client reconnects by itself and calls succeed again.
// Locks (acquireLock) are keys with a renewed lease (redis-lock.ts).

import type { Redis } from 'ioredis';
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
import { PartitionAppender } from './partition-appender.js';
import { closeRedis, connectRedis, isReplyError, redisUnavailable, type RedisConnectionOptions } from './redis-connection.js';
import { bigKey, bigSinceKey, entryId, idSequence, lockKey, metaKey, offsetOfId, partitionKey, positionId } from './redis-keys.js';
import { decodeEntry } from './redis-record-codec.js';
import { RedisGroupConsumer } from './redis-group-consumer.js';
import { RedisLock } from './redis-lock.js';
import { DEFAULT_LOCK_LEASE_MS, lockNameParts } from '../lock-name.js';
import { SettleTracker } from '../settle-tracker.js';

export interface RedisLogOptions extends RedisConnectionOptions {
  keyPrefix: string;
  maxBatchBytes: number;
  maxPendingBytes: number;
  maxPendingRecords: number;
  retentionCheckIntervalMs: number;
  /** Lease of acquireLock locks (DEFAULT_LOCK_LEASE_MS when absent; tests shorten it). */
  lockLeaseMs?: number;
  warn?: WarnFn;
}

interface StreamMeta {
  partitions: number;
  retentionMaxAgeMs: number;
  retentionMaxBytes: number;
}

const DEFAULT_READ_MAX_BYTES = 16 * 1024 * 1024;
/** Entries per XRANGE inside READ_SCRIPT: what Redis holds at once for a read besides its reply. */
const READ_STEP = 64;
/** Pending entries acknowledged per XACK when a position is set by hand (replay). */
const ACK_CHUNK = 1000;
/** Upper bound on XPENDING pages walked by commitPosition (ACK_CHUNK each). */
const MAX_ACK_PAGES = 100_000;

/**
 * KEYS[1] = meta key; ARGV = stream, partitions, retentionMaxAgeMs, retentionMaxBytes. Stores the stream's
 * settings with the larger of the stored and the given partition count, and returns them (JSON). In one
 * script: read then write from here, two processes adding partitions at once (4 and 3 over 2) could store
 * the smaller count, and the records appended to the partition left out would be in no listing.
 */
const ENSURE_STREAM_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local partitions = tonumber(ARGV[2])
if current then
  local ok, meta = pcall(cjson.decode, current)
  if ok and type(meta) == 'table' and tonumber(meta.partitions) and tonumber(meta.partitions) > partitions then partitions = tonumber(meta.partitions) end
end
local json = '{"partitions":' .. string.format('%d', partitions) .. ',"retentionMaxAgeMs":' .. ARGV[3] .. ',"retentionMaxBytes":' .. ARGV[4] .. '}'
if json ~= current then redis.call('HSET', KEYS[1], ARGV[1], json) end
return json
`;

/**
 * KEYS[1] = partition key; ARGV = first entry ID, max entries, max body bytes (soft: at least one entry),
 * entries per XRANGE. Returns the entries as XRANGE does, stopping at the entry that reaches the byte limit.
 * The limit is applied in Redis because entry sizes are known only there: a read that asked for a fixed
 * number of entries (256) brought 256 whole bodies into this process for a read of one.
 */
const READ_SCRIPT = `
local out = {}
local from = ARGV[1]
local left = tonumber(ARGV[2])
local maxBytes = tonumber(ARGV[3])
local step = tonumber(ARGV[4])
local bytes = 0
local largest = 0
while left > 0 do
  -- Sized from the largest body seen (one entry first): Redis too holds only about maxBytes at once.
  local fit = 1
  if largest > 0 then fit = math.max(1, math.floor((maxBytes - bytes) / largest)) end
  local want = math.min(left, step, fit)
  local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', want)
  for _, e in ipairs(entries) do
    out[#out + 1] = e
    left = left - 1
    local f = e[2]
    for i = 1, #f, 2 do
      if f[i] == 'b' then
        bytes = bytes + #f[i + 1]
        largest = math.max(largest, #f[i + 1], 1)
      end
    end
    if bytes >= maxBytes or left == 0 then return out end
  end
  if #entries < want then return out end
  from = '(' .. entries[#entries][1]
end
return out
`;

/**
 * KEYS[1] = partition key. Returns {length, last-generated-id, ID of the first entry or false}, or false when
 * the key does not exist. XINFO STREAM answers with the first and last entries whole, bodies included: run
 * here, only their IDs leave Redis (stats read the bounds of every partition each second).
 */
const BOUNDS_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local length, last, first = 0, '0-0', false
for i = 1, #info, 2 do
  if info[i] == 'length' then length = info[i + 1]
  elseif info[i] == 'last-generated-id' then last = info[i + 1]
  elseif info[i] == 'first-entry' and info[i + 1] then first = info[i + 1][1] end
end
return {length, last, first}
`;

export class RedisLog implements Log {
  readonly backend = 'redis';
  readonly capabilities = { durableIsFsync: false };
  private readonly appenders = new Map<string, PartitionAppender>();
  private readonly metas = new Map<string, StreamMeta>();
  private readonly consumers = new Set<RedisGroupConsumer>();
  /** Locks of acquireLock not released yet: close() releases them. */
  private readonly locks = new Set<RedisLock>();
  private readonly budget: PendingBudget;
  private readonly warn: WarnFn;
  private retentionTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** First appends of partitions waiting for their stream's settings: close() waits for them to be queued. */
  private readonly lookingUp = new SettleTracker();
  /** Set once close() has waited for those: an appender created later would never be flushed. */
  private appendersClosing = false;

  private constructor(
    readonly redis: Redis,
    readonly opts: RedisLogOptions,
  ) {
    this.warn = opts.warn ?? (() => undefined);
    this.budget = new PendingBudget(opts.maxPendingBytes, opts.maxPendingRecords);
  }

  static async open(opts: RedisLogOptions): Promise<RedisLog> {
    const warn = opts.warn ?? (() => undefined);
    const redis = await connectRedis(opts, 'hopper-log', warn);
    const log = new RedisLog(redis, opts);
    log.capabilities.durableIsFsync = await probeFsyncAlways(redis, warn);
    await warnIfEvicting(redis, warn);
    log.retentionTimer = setInterval(() => {
      log.enforceRetention().catch((err: unknown) => warn({ err: String(err) }, 'redis retention check failed'));
    }, opts.retentionCheckIntervalMs);
    log.retentionTimer.unref();
    return log;
  }

  /** Another connection with the same settings (consumers block on their own). */
  connectAgain(name: string): Promise<Redis> {
    return connectRedis(this.opts, name, this.warn);
  }

  get keyPrefix(): string {
    return this.opts.keyPrefix;
  }

  key(stream: string, partition: number): string {
    return partitionKey(this.opts.keyPrefix, stream, partition);
  }

  private async loadMeta(stream: string): Promise<StreamMeta | null> {
    let raw: string | null;
    try {
      raw = await this.redis.hget(metaKey(this.opts.keyPrefix), stream);
    } catch (err) {
      throw redisUnavailable(err, 'read stream settings');
    }
    if (raw === null) return null;
    const meta = JSON.parse(raw) as StreamMeta;
    this.metas.set(stream, meta);
    return meta;
  }

  async ensureStream(stream: string, options: StreamOptions): Promise<void> {
    assertStreamName(stream);
    let stored: string;
    try {
      stored = (await this.redis.eval(
        ENSURE_STREAM_SCRIPT,
        1,
        metaKey(this.opts.keyPrefix),
        stream,
        options.partitions,
        options.retentionMaxAgeMs,
        options.retentionMaxBytes,
      )) as string;
    } catch (err) {
      throw redisUnavailable(err, 'store stream settings');
    }
    this.metas.set(stream, JSON.parse(stored) as StreamMeta);
  }

  async listStreams(): Promise<string[]> {
    try {
      return (await this.redis.hkeys(metaKey(this.opts.keyPrefix))).sort();
    } catch (err) {
      throw redisUnavailable(err, 'list streams');
    }
  }

  async listPartitions(stream: string): Promise<number[]> {
    assertStreamName(stream);
    const meta = await this.loadMeta(stream);
    return Array.from({ length: meta?.partitions ?? 0 }, (_, i) => i);
  }

  append(stream: string, partition: number, records: RecordInput[], ack: AckLevel): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new HopperError('HOPPER_LOG_CLOSED'));
    if (records.length === 0) return Promise.resolve({ partition, firstOffset: -1, ack });
    const appender = this.appenders.get(`${stream}/${partition}`) ?? this.knownAppender(stream, partition);
    if (appender) return appender.append(records, ack);
    // Settles before the append below is queued on the appender: close() flushes it.
    const found = this.lookingUp.track(this.appenderFor(stream, partition));
    return found.then((a) => a.append(records, ack));
  }

  /**
   * The partition's appender, created now when the stream's settings are already known, else null.
   * Created synchronously so that the first append of a partition is queued before the appends made
   * after it in the same turn (through appenderFor's promise, it would be queued after them).
   */
  private knownAppender(stream: string, partition: number): PartitionAppender | null {
    const meta = this.metas.get(stream);
    if (!meta || !Number.isSafeInteger(partition) || partition < 0 || partition >= meta.partitions) return null;
    return this.createAppender(stream, partition);
  }

  private async appenderFor(stream: string, partition: number): Promise<PartitionAppender> {
    assertStreamName(stream);
    let meta = this.metas.get(stream);
    // Another process may have created the stream or added partitions since this one looked.
    if (!meta || partition >= meta.partitions) meta = (await this.loadMeta(stream)) ?? undefined;
    if (!meta) throw new HopperError('HOPPER_STREAM_UNKNOWN', `No such stream ${JSON.stringify(stream)}.`);
    if (!Number.isSafeInteger(partition) || partition < 0 || partition >= meta.partitions) {
      throw new HopperError('HOPPER_PARTITION_UNKNOWN', `Stream ${stream} has no partition ${partition}.`);
    }
    if (this.appendersClosing) throw new HopperError('HOPPER_LOG_CLOSED');
    return this.createAppender(stream, partition);
  }

  private createAppender(stream: string, partition: number): PartitionAppender {
    const id = `${stream}/${partition}`;
    let appender = this.appenders.get(id);
    if (!appender) {
      appender = new PartitionAppender(this.key(stream, partition), partition, {
        redis: this.redis,
        budget: this.budget,
        maxBatchBytes: this.opts.maxBatchBytes,
        durableIsFsync: () => this.capabilities.durableIsFsync,
        warn: this.warn,
        settings: { metaKey: metaKey(this.opts.keyPrefix), stream, json: () => JSON.stringify(this.metas.get(stream)) },
      });
      this.appenders.set(id, appender);
    }
    return appender;
  }

  async read(stream: string, partition: number, fromOffset: number, options: ReadOptions): Promise<ReadResult> {
    assertStreamName(stream);
    assertOffset(fromOffset, 'read offset', true);
    const key = this.key(stream, partition);
    const maxBytes = options.maxBytes ?? DEFAULT_READ_MAX_BYTES;
    const records: LogRecord[] = [];
    let from = Math.max(0, fromOffset);
    if (!(options.maxRecords >= 1)) return { records, nextOffset: from };
    // Lua reads its numbers from decimal text: no Infinity.
    const limit = (n: number): number => Math.max(0, Math.min(Math.floor(n), Number.MAX_SAFE_INTEGER));
    let entries: [Buffer, Buffer[]][];
    try {
      // maxBytes is soft: at least one record, whatever it is (a read of none would look like the end).
      const args = [READ_SCRIPT, 1, key, entryId(from), limit(options.maxRecords), Number.isNaN(maxBytes) ? 0 : limit(maxBytes), READ_STEP];
      entries = (await this.redis.callBuffer('EVAL', args)) as [Buffer, Buffer[]][];
    } catch (err) {
      throw redisUnavailable(err, 'read');
    }
    for (const [id, fields] of entries) {
      const rec = decodeEntry(fields, stream, partition, offsetOfId(id));
      records.push(rec);
      from = rec.offset + 1;
    }
    return { records, nextOffset: from };
  }

  /** First stored offset and the offset the next append gets (0, 0 for a partition never written). */
  async bounds(stream: string, partition: number): Promise<{ start: number; end: number; length: number }> {
    let info: [number, string, string | null] | null;
    try {
      info = (await this.redis.call('EVAL', BOUNDS_SCRIPT, 1, this.key(stream, partition))) as [number, string, string | null] | null;
    } catch (err) {
      throw redisUnavailable(err, 'read stream info');
    }
    if (info === null) return { start: 0, end: 0, length: 0 };
    const [length, lastId, firstId] = info;
    const end = idSequence(lastId);
    return { start: length > 0 && firstId ? offsetOfId(firstId) : end, end, length: Number(length) };
  }

  async offsetForTime(stream: string, partition: number, timeUs: number): Promise<number> {
    assertStreamName(stream);
    const { start, end } = await this.bounds(stream, partition);
    return searchOffsetForTime(start, end, timeUs, async (offset, maxRecords) => {
      const { records } = await this.read(stream, partition, offset, { maxRecords });
      return records;
    });
  }

  async commitPosition(group: string, stream: string, partition: number, position: number): Promise<void> {
    assertGroupName(group);
    assertStreamName(stream);
    assertOffset(position, 'group position');
    const key = this.key(stream, partition);
    try {
      try {
        await this.redis.xgroup('CREATE', key, group, positionId(position), 'MKSTREAM');
        return;
      } catch (err) {
        if (!isReplyError(err, 'BUSYGROUP')) throw err;
      }
      // The group may now be behind what its members last read, from where they look for big bodies ahead
      // (redis-group-consumer.ts, FETCH_MAX_BYTES): without bigsince they measure until past the next append.
      // Both in one MULTI: a member reading between them read from the new position as planned from the old
      // one (1000 entries, 40 x 1 MiB among them, in one delivery).
      const done = await this.redis.multi().xgroup('SETID', key, group, positionId(position)).del(bigSinceKey(key)).exec();
      for (const [err] of done ?? []) if (err) throw err;
      // Deliveries still pending were either before the new position (done, by this call) or
      // after it (they will be delivered again from the position): none stays pending.
      for (let page = 0; page < MAX_ACK_PAGES; page++) {
        const pending = (await this.redis.xpending(key, group, '-', '+', ACK_CHUNK)) as [string, string, number, number][];
        if (pending.length === 0) break;
        await this.redis.call('XACK', [key, group, ...pending.map((p) => p[0])]);
      }
    } catch (err) {
      throw redisUnavailable(err, 'store a group position');
    }
  }

  async getPosition(group: string, stream: string, partition: number): Promise<number | null> {
    assertGroupName(group);
    assertStreamName(stream);
    const groups = await this.groupPositions(this.key(stream, partition));
    return groups.get(group) ?? null;
  }

  /**
   * A group's position is the first offset it has not finished: its oldest
   * pending (delivered, not acknowledged) entry, else the entry after the last
   * one delivered.
   */
  private async groupPositions(key: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    let groups: unknown[][];
    try {
      groups = (await this.redis.call('XINFO', 'GROUPS', key)) as unknown[][];
    } catch (err) {
      if (isReplyError(err, 'ERR no such key')) return out;
      throw redisUnavailable(err, 'read consumer groups');
    }
    for (const g of groups) {
      const field = (name: string): unknown => g[g.indexOf(name) + 1];
      const name = String(field('name'));
      let position = idSequence(String(field('last-delivered-id')));
      if (Number(field('pending')) > 0) {
        try {
          const summary = (await this.redis.xpending(key, name)) as [number, string | null, string | null, unknown];
          if (summary[1]) position = Math.min(position, offsetOfId(summary[1]));
        } catch (err) {
          throw redisUnavailable(err, 'read pending deliveries');
        }
      }
      out.set(name, position);
    }
    return out;
  }

  async openConsumer(options: ConsumerOptions): Promise<LogConsumer> {
    assertGroupName(options.group);
    assertStreamName(options.stream);
    if (this.closed) throw new HopperError('HOPPER_LOG_CLOSED');
    const consumer = await RedisGroupConsumer.open(this, options, this.warn, () => this.consumers.delete(consumer));
    this.consumers.add(consumer);
    return consumer;
  }

  async acquireLock(name: string, what: string): Promise<LogLock> {
    const key = lockKey(this.opts.keyPrefix, lockNameParts(name).join('/'));
    if (this.closed) throw new HopperError('HOPPER_LOG_CLOSED');
    const lock = await RedisLock.acquire(this.redis, key, what, this.opts.lockLeaseMs ?? DEFAULT_LOCK_LEASE_MS, this.warn, () => this.locks.delete(lock));
    this.locks.add(lock);
    return lock;
  }

  pendingBytes(): number {
    return this.budget.bytes;
  }

  /** Redis syncs its own storage on its server: this process runs no fsync to time. */
  timeFsyncs(): boolean {
    return false;
  }

  /** Records acknowledged `fast` whose write later failed (the documented loss of `fast`). */
  lostFastRecords(): number {
    let total = 0;
    for (const a of this.appenders.values()) total += a.lostFastRecords;
    return total;
  }

  /** Approximate memory Redis uses for a partition (MEMORY USAGE), 0 when unknown. */
  private async memoryBytes(key: string): Promise<number> {
    try {
      return Number((await this.redis.call('MEMORY', 'USAGE', key)) ?? 0);
    } catch {
      return 0; // MEMORY is disabled on some managed Redis services
    }
  }

  async stats(): Promise<LogStats> {
    const streams = [];
    for (const stream of await this.listStreams()) {
      const partitions: PartitionStats[] = [];
      for (const partition of await this.listPartitions(stream)) {
        const key = this.key(stream, partition);
        const { start, end } = await this.bounds(stream, partition);
        const groups = [...(await this.groupPositions(key))].map(([group, position]) => ({
          group,
          position,
          lag: Math.max(0, end - Math.max(position, start)),
        }));
        partitions.push({
          partition,
          startOffset: start,
          endOffset: end,
          bytes: await this.memoryBytes(key),
          segments: 0,
          quarantinedRecords: 0,
          quarantinedBytes: 0,
          groups,
        });
      }
      streams.push({ stream, partitions });
    }
    return { backend: this.backend, streams };
  }

  /**
   * Trims by age (MINID at the first offset received after the cutoff) and by
   * bytes (MAXLEN sized from MEMORY USAGE / XLEN). Both trims are approximate
   * (`~`): Redis removes whole internal nodes only, so a little more than the
   * limit may stay, never less.
   */
  async enforceRetention(nowMs = Date.now()): Promise<void> {
    // A partition that fails (a key of the wrong type, a script error) must not cost the partitions after it
    // their retention: the first failure is thrown once every partition had its turn.
    let firstFailure: unknown = null;
    for (const stream of await this.listStreams()) {
      const meta = await this.loadMeta(stream);
      if (!meta) continue;
      const budgetBytes = meta.retentionMaxBytes > 0 ? Math.floor(meta.retentionMaxBytes / Math.max(1, meta.partitions)) : 0;
      for (let partition = 0; partition < meta.partitions; partition++) {
        const key = this.key(stream, partition);
        const appender = this.appenders.get(`${stream}/${partition}`);
        if (appender && budgetBytes === 0) appender.maxLen = 0; // the byte limit was lifted
        if (meta.retentionMaxAgeMs === 0 && budgetBytes === 0) continue;
        try {
          if (meta.retentionMaxAgeMs > 0) {
            const cutoff = await this.offsetForTime(stream, partition, (nowMs - meta.retentionMaxAgeMs) * 1000);
            if (cutoff > 0) await this.redis.xtrim(key, 'MINID', '~', entryId(cutoff));
          }
          if (budgetBytes > 0) {
            const memory = await this.memoryBytes(key);
            const length = await this.redis.xlen(key);
            if (memory > 0 && length > 0) {
              const keep = Math.max(1, Math.floor((length * budgetBytes) / memory));
              if (appender) appender.maxLen = keep;
              if (memory > budgetBytes) await this.redis.xtrim(key, 'MAXLEN', '~', keep);
            }
          }
          await this.trimBigList(stream, partition);
        } catch (err) {
          firstFailure ??= redisUnavailable(err, `apply retention to ${stream}/${partition}`);
        }
      }
    }
    if (firstFailure !== null) throw firstFailure;
  }

  /**
   * Removes the trimmed entries from the partition's list of big bodies (redis-keys.ts). Entries the appender's
   * MAXLEN trimmed since the last check stay listed until the next one: a listed entry that is gone only makes
   * a group read measure.
   */
  private async trimBigList(stream: string, partition: number): Promise<void> {
    const big = bigKey(this.key(stream, partition));
    if ((await this.redis.zcard(big)) === 0) return;
    const { start } = await this.bounds(stream, partition);
    await this.redis.zremrangebyscore(big, '-inf', `(${start + 1}`); // scores are sequence numbers, offset + 1
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await Promise.all([...this.consumers].map((c) => c.close().catch(() => undefined)));
    await Promise.all([...this.locks].map((l) => l.release()));
    await this.lookingUp.idle();
    this.appendersClosing = true;
    await Promise.all([...this.appenders.values()].map((a) => a.flush()));
    await closeRedis(this.redis);
  }
}

/**
 * Warns when Redis may evict Hopper's keys: under an allkeys-* maxmemory-policy a full Redis deletes whole
 * partitions (acknowledged records, group positions) to make room, and their offsets are handed out again.
 * The volatile-* policies take only keys with a TTL: of Hopper's, only a held lock (SET PX, redis-lock.ts), and
 * only once Redis is full, when appends fail already. A `dlq requeue`/`drop` whose lock is evicted so can run
 * alongside a second one (its letters requeued twice), which its holder is warned of at its next renewal; not
 * warned of here, as partitions and group positions stay safe and the remedy (noeviction) is the same.
 */
async function warnIfEvicting(redis: Redis, warn: WarnFn): Promise<void> {
  let policy: string | undefined;
  let maxmemory: string | undefined;
  try {
    policy = ((await redis.call('CONFIG', 'GET', 'maxmemory-policy')) as string[])[1];
    maxmemory = ((await redis.call('CONFIG', 'GET', 'maxmemory')) as string[])[1];
  } catch {
    return; // CONFIG refused: probeFsyncAlways said so already
  }
  if (!policy?.startsWith('allkeys-') || Number(maxmemory) === 0) return;
  warn(
    { maxmemoryPolicy: policy, maxmemory: Number(maxmemory) },
    `Redis evicts any key when it reaches maxmemory (maxmemory-policy ${policy}): it can delete acknowledged records and group positions of Hopper's partitions; set maxmemory-policy noeviction (a full Redis then refuses appends with 503)`,
  );
}

/** True when Redis fsyncs every write before answering; warns otherwise, saying what can be lost. */
async function probeFsyncAlways(redis: Redis, warn: WarnFn): Promise<boolean> {
  let appendonly: string | undefined;
  let appendfsync: string | undefined;
  try {
    appendonly = ((await redis.call('CONFIG', 'GET', 'appendonly')) as string[])[1];
    appendfsync = ((await redis.call('CONFIG', 'GET', 'appendfsync')) as string[])[1];
  } catch (err) {
    warn({ err: String(err) }, 'cannot read the Redis persistence settings (CONFIG GET refused): durable is not known to mean fsync');
    return false;
  }
  if (appendonly === 'yes' && appendfsync === 'always') return true;
  const loss =
    appendonly !== 'yes'
      ? 'Redis has no append-only file (appendonly no): a Redis restart loses every write newer than its last snapshot'
      : `Redis fsyncs its append-only file ${appendfsync === 'everysec' ? 'once a second' : 'when the OS decides'} (appendfsync ${appendfsync}): a power cut of the Redis host loses the writes not yet fsynced`;
  warn({ appendonly, appendfsync }, `${loss}; set appendonly yes and appendfsync always for durable to mean on disk`);
  return false;
}
