// A consumer-group member on Redis: a Hopper group is a Redis consumer group on
// every partition key, so Redis shares entries among members (XREADGROUP) and
// remembers what each member holds (the pending entries list). A commit is an
// XACK. Entries a member holds longer than leaseTimeoutMs without committing
// (it died, or gave up) are taken over by any member (XPENDING, then XCLAIM of
// what goes out next), which counts deliveries: Delivery.redeliveries comes
// from that count.
// Each member blocks on its own connection, so reads never stall appends or
// commits (those go on the log's shared connection).
//
// Lease renewal: Redis's lease clock for an entry is its idle time in the
// pending entries list, reset when it is delivered (XREADGROUP), taken over
// (XCLAIM) or renewed (XCLAIM JUSTID by the same member). A timer renews,
// every lease/3, each held delivery whose clock is lease/6 old, independently of
// fetch(): a worker busy with a long batch does not fetch. The clock of a
// delivery starts when Redis delivered its entries, not when fetch() handed it
// out, since entries can wait in this member's buffer first; one handed out with
// a clock already lease/6 old is renewed at once, and one older than
// STALE_BUFFER_LEASE_FRACTION is not handed out. So every held delivery gets a
// renewal sent before its clock reaches 2/3 of the lease.

import type { Redis } from 'ioredis';
import type { ConsumerOptions, Delivery, LogConsumer, LogRecord } from '../types.js';
import type { WarnFn } from '../embedded/partition-recovery.js';
import type { RedisLog } from './redis-log.js';
import { closeRedis, isReplyError, redisUnavailable } from './redis-connection.js';
import { BIG_BODY_BYTES, bigKey, bigSinceKey, entryId, offsetOfId } from './redis-keys.js';
import { decodeEntry } from './redis-record-codec.js';

/** Longest single XREADGROUP BLOCK, so close() and abort signals are noticed quickly. */
const BLOCK_SLICE_MS = 250;
/** A member whose pending list is empty and that was idle this many leases is removed from the group. */
const DEAD_MEMBER_LEASES = 10;
/**
 * KEYS[1] = partition key; ARGV[1] = group, ARGV[2] = this member's name, ARGV[3] = idle time (ms) from
 * which a member with nothing pending counts as dead. Deletes those members; returns how many.
 * The check and XGROUP DELCONSUMER run in one step: DELCONSUMER drops the member's pending entries
 * with it, and a member seen idle that reads before a separate DELCONSUMER arrives would lose what it
 * read (the group's last-delivered ID is past it: never redelivered).
 */
const REMOVE_DEAD_MEMBERS_SCRIPT = `
local removed = 0
for _, m in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #m, 2 do f[m[i]] = m[i + 1] end
  if f['name'] ~= ARGV[2] and f['pending'] == 0 and f['idle'] >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed = removed + 1
  end
end
return removed
`;
/**
 * Body bytes one read of new entries hands this member, at most (soft: at least one entry), as a read of the
 * embedded log: XREADGROUP has no byte limit, and a COUNT of maxRecords (1000 by default) of 1 MB records
 * brought 1 GB into the worker at once.
 * Measuring the entries first (READ_GROUP_SCRIPT: entries go through Lua twice) costs Redis about 3.5 times a
 * plain XREADGROUP of small entries, and far more of large ones, main-thread time that delays appends. So appends
 * list bodies over BIG_BODY_BYTES (FETCH_MAX_BYTES / 1024) in the partition's big key (redis-keys.ts), and a read
 * is a plain XREADGROUP when none is listed after the last entry this member read there (the group's
 * last-delivered ID is at or past it), the list covers every entry from there on (bigsince: a partition written
 * by an older Hopper, or a read before this member got anything there, is measured). A read asks for at most
 * PLAIN_READ_MAX entries at a time (1024: that many bodies of BIG_BODY_BYTES are FETCH_MAX_BYTES); a larger batch
 * is read in such steps, each plain while the bytes read so far leave room for that many.
 * A group that starts over below what a member read (Redis lost its data and another member made the group
 * again; a position set back by commitPosition, `hopper replay`, which deletes bigsince) makes the member
 * measure: bigsince is set again by the next append with another token, and the member plans plain reads only
 * under the bigsince value it saw before its last measured or plain read.
 */
export const FETCH_MAX_BYTES = 16 * 1024 * 1024;
/** Entries a plain XREADGROUP asks for at most: that many bodies of BIG_BODY_BYTES are FETCH_MAX_BYTES. */
const PLAIN_READ_MAX = Math.floor(FETCH_MAX_BYTES / BIG_BODY_BYTES);
/**
 * Fewest entries a plain step of a large read asks for: once the bytes left allow fewer (a read of small records
 * nearing FETCH_MAX_BYTES), a measured step of PLAIN_READ_MAX costs Redis less than dozens of small plain ones.
 */
const PLAIN_STEP_MIN_ENTRIES = 128;
/** Entries per XRANGE inside READ_GROUP_SCRIPT. */
const READ_GROUP_STEP = 64;
/**
 * KEYS[1] = partition key; ARGV = group, member, max entries, max body bytes (soft: at least one entry),
 * entries per XRANGE. XREADGROUP of the new entries that fit in the byte limit, measured first with XRANGE
 * after the group's last-delivered ID (where XREADGROUP '>' starts): what XREADGROUP hands out is pending
 * for this member whether or not it is returned, so it must not be asked for more. Same reply as XREADGROUP.
 */
const READ_GROUP_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOGROUP no such key') end
local last = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local f = {}
  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
  if f['name'] == ARGV[1] then last = f['last-delivered-id'] end
end
if not last then return redis.error_reply('NOGROUP no such consumer group') end
local left = tonumber(ARGV[3])
local maxBytes = tonumber(ARGV[4])
local step = tonumber(ARGV[5])
local from = '(' .. last
local count = 0
local bytes = 0
local largest = 0
while left > 0 and bytes < maxBytes do
  -- Sized from the largest body seen (one entry first): Redis too holds only about maxBytes at once.
  local fit = 1
  if largest > 0 then fit = math.max(1, math.floor((maxBytes - bytes) / largest)) end
  local want = math.min(left, step, fit)
  local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', want)
  for _, e in ipairs(entries) do
    count = count + 1
    left = left - 1
    local f = e[2]
    for i = 1, #f, 2 do
      if f[i] == 'b' then
        bytes = bytes + #f[i + 1]
        largest = math.max(largest, #f[i + 1], 1)
      end
    end
    if bytes >= maxBytes then break end
  end
  if #entries < want then break end
  from = '(' .. entries[#entries][1]
end
if count == 0 then return false end
return redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', count, 'STREAMS', KEYS[1], '>')
`;
/**
 * KEYS[1] = partition key, KEYS[2] = its big key, KEYS[3] = its bigsince key; ARGV = max body bytes, entries
 * that fit it when none is big (PLAIN_READ_MAX), then entry IDs (ascending). How many of the first IDs a takeover
 * claims: all of them when they are no more than that and the big key lists none of them and covers them all
 * (see FETCH_MAX_BYTES); else those whose bodies fit in the byte limit, and the one that reaches it (deleted
 * entries count nothing), measured here.
 */
const CLAIM_COUNT_SCRIPT = `
local since = redis.call('GET', KEYS[3])
local first = string.sub(ARGV[3], 3)
if #ARGV - 2 <= tonumber(ARGV[2]) and since and tonumber(string.match(since, '^%d+')) <= tonumber(first) and #redis.call('ZRANGEBYSCORE', KEYS[2], first, string.sub(ARGV[#ARGV], 3), 'LIMIT', 0, 1) == 0 then
  return #ARGV - 2
end
local bytes = 0
local maxBytes = tonumber(ARGV[1])
for i = 3, #ARGV do
  local e = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])[1]
  if e then
    local f = e[2]
    for j = 1, #f, 2 do
      if f[j] == 'b' then bytes = bytes + #f[j + 1] end
    end
  end
  if bytes >= maxBytes then return i - 2 end
end
return #ARGV - 2
`;
/** Idle time given to entries released by close(), so the next takeover hands them out at once. */
const RELEASED_IDLE_MS = 365 * 24 * 3600 * 1000;
/**
 * Buffered entries whose lease clock ran this fraction of the lease are left pending (taken over later,
 * counted) rather than handed out: a renewal sent then still has a third of the lease to arrive.
 */
const STALE_BUFFER_LEASE_FRACTION = 2 / 3;
/** Entry IDs per XACK or XCLAIM: IDs go to ioredis as one array, in calls of at most this many. */
const MAX_IDS_PER_CALL = 10_000;
/** While renewals keep failing (Redis down), one warning per this interval. */
const RENEW_WARN_INTERVAL_MS = 10_000;

type Entry = [Buffer, Buffer[] | null];

interface Held {
  delivery: Delivery;
  /** When Redis last reset the idle time of these entries (delivery, takeover or renewal): the lease runs from here. */
  renewedAtMs: number;
}

interface Buffered {
  delivery: Delivery;
  /** When Redis delivered (or this member took over) these entries. */
  deliveredAtMs: number;
}

export class RedisGroupConsumer implements LogConsumer {
  /** XACK acknowledges a delivery's entries alone. */
  readonly commitsInOrder = false;
  private partitions: number[] = [];
  /** Entries read from Redis and not yet handed out (a blocking read may return several partitions). */
  private buffered: Buffered[] = [];
  private rr = 0;
  private held = new Set<Held>();
  private readonly renewTimer: NodeJS.Timeout;
  /** The renewal running now (one at a time), and whether another was asked for meanwhile. */
  private renewing: Promise<void> | null = null;
  private renewAgain = false;
  private lastRenewWarnMs = 0;
  private nextMaintenanceMs = 0;
  /**
   * Per partition, the offset of the last entry of this member's latest read of new entries: the group's
   * last-delivered ID is at or past it, so a plain read is safe when no big body is listed after it (see
   * FETCH_MAX_BYTES); and the partition's bigsince value seen before a read since which there was no other (null:
   * none), as reads are planned only while it is unchanged. Absent: nothing read there yet, reads are measured.
   */
  private readonly lastRead = new Map<number, { offset: number; bigSince: string | null }>();
  /** Partitions whose last takeover found entries: more may be waiting, looked for before new entries are read. */
  private readonly abandonedLeft = new Set<number>();
  private maintenanceRuns = 0;
  private closed = false;
  /** simulateCrash() was called: no more renewals. */
  private crashed = false;
  /** fetch() calls run one at a time (they share the blocking connection and the buffer). */
  private fetching: Promise<unknown> = Promise.resolve();
  private readonly leaseMs: number;

  private constructor(
    private readonly log: RedisLog,
    private readonly conn: Redis,
    private readonly opts: ConsumerOptions,
    private readonly warn: WarnFn,
    private readonly onClose: () => void,
  ) {
    this.leaseMs = opts.leaseTimeoutMs;
    this.renewTimer = setInterval(() => this.renewSoon(), Math.max(10, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref();
  }

  static async open(log: RedisLog, opts: ConsumerOptions, warn: WarnFn, onClose: () => void): Promise<RedisGroupConsumer> {
    const conn = await log.connectAgain(`hopper-consumer-${opts.group}`);
    const c = new RedisGroupConsumer(log, conn, opts, warn, onClose);
    try {
      await c.refreshPartitions();
    } catch (err) {
      clearInterval(c.renewTimer);
      await closeRedis(conn);
      throw err;
    }
    return c;
  }

  private key(partition: number): string {
    return this.log.key(this.opts.stream, partition);
  }

  /** Picks up partitions added since, creating the group on each (at offset 0) when missing. */
  private async refreshPartitions(): Promise<void> {
    const partitions = await this.log.listPartitions(this.opts.stream);
    for (const p of partitions) {
      if (this.partitions.includes(p)) continue;
      try {
        await this.conn.xgroup('CREATE', this.key(p), this.opts.group, '0', 'MKSTREAM');
        this.lastRead.delete(p); // a group made again (Redis lost it) starts over at 0
      } catch (err) {
        if (!isReplyError(err, 'BUSYGROUP')) throw redisUnavailable(err, 'create a consumer group');
      }
    }
    this.partitions = partitions;
  }

  fetch(maxRecords: number, maxWaitMs: number, signal?: AbortSignal): Promise<Delivery | null> {
    const run = this.fetching.then(() => this.fetchNow(maxRecords, maxWaitMs, signal));
    this.fetching = run.catch(() => undefined);
    return run;
  }

  private async fetchNow(maxRecords: number, maxWaitMs: number, signal?: AbortSignal): Promise<Delivery | null> {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      if (this.closed || signal?.aborted) return null;
      if (Date.now() >= this.nextMaintenanceMs) await this.maintain();
      // Taken-over entries come before new ones, and one claim takes only what goes out next.
      for (const p of [...this.abandonedLeft]) if (this.buffered.length === 0) await this.claimAbandoned(p, maxRecords);
      const ready = this.takeBuffered(maxRecords);
      if (ready) return ready;
      const remainingMs = deadline - Date.now();
      await this.readNew(maxRecords, remainingMs > 0 ? Math.min(remainingMs, BLOCK_SLICE_MS) : 0);
      const got = this.takeBuffered(maxRecords);
      if (got) return got;
      if (Date.now() >= deadline) return null;
    }
  }

  private takeBuffered(maxRecords: number): Delivery | null {
    if (this.closed) return null;
    // Entries buffered for most of a lease may be taken over by another member before a renewal
    // arrives: leave them pending (a takeover hands them out again, counted).
    const now = Date.now();
    const staleBeforeMs = now - this.leaseMs * STALE_BUFFER_LEASE_FRACTION;
    while (this.buffered.length > 0 && this.buffered[0]!.deliveredAtMs < staleBeforeMs) this.buffered.shift();
    const first = this.buffered[0];
    if (!first) return null;
    let delivery = first.delivery;
    if (delivery.records.length > maxRecords) {
      delivery = { ...first.delivery, records: first.delivery.records.slice(0, maxRecords) };
      first.delivery.records = first.delivery.records.slice(maxRecords);
    } else {
      this.buffered.shift();
    }
    this.held.add({ delivery, renewedAtMs: first.deliveredAtMs });
    if (now - first.deliveredAtMs >= this.renewAgeMs) this.renewSoon();
    return delivery;
  }

  /**
   * Reads new entries one partition at a time, without blocking, so that a busy
   * stream is read only as fast as it is processed; only when every partition
   * is empty, one blocking read on all of them (which may return several).
   */
  private async readNew(maxRecords: number, blockMs: number): Promise<void> {
    const n = this.partitions.length;
    if (n === 0) {
      if (blockMs > 0) await sleep(blockMs);
      return;
    }
    for (let k = 0; k < n; k++) {
      const p = this.partitions[(this.rr + k) % n]!;
      if (await this.readGroup([p], maxRecords, 0)) {
        this.rr = (this.rr + k + 1) % n;
        return;
      }
    }
    if (blockMs > 0) await this.readGroup(this.partitions, maxRecords, blockMs);
  }

  /**
   * One read of new entries; true when it returned any. Without blocking (one partition), up to maxRecords
   * and FETCH_MAX_BYTES, in steps of at most PLAIN_READ_MAX entries; a blocking read on all partitions takes one
   * entry of each (their sizes are not known before they arrive), the next reads take the rest.
   */
  private async readGroup(partitions: number[], maxRecords: number, blockMs: number): Promise<boolean> {
    // Redis starts the lease clock when it answers: the time before asking is a safe (early) estimate,
    // the time of the reply a closer one after a blocking read that waited.
    const askedAtMs = Date.now();
    try {
      if (blockMs === 0) return await this.readPartition(partitions[0]!, maxRecords, askedAtMs);
      const args: (string | number)[] = ['GROUP', this.opts.group, this.opts.consumerName, 'COUNT', 1, 'BLOCK', blockMs, 'STREAMS'];
      for (const p of partitions) args.push(this.key(p));
      for (let i = 0; i < partitions.length; i++) args.push('>');
      const reply = (await this.conn.callBuffer('XREADGROUP', args)) as [Buffer, Entry[]][] | null;
      if (!reply) return false;
      const deliveredAtMs = Date.now();
      let any = false;
      for (const [key, entries] of reply) {
        const partition = this.partitionOfKey(key.toString('utf8'));
        // A blocking read looked at no bigsince: the one seen before stands (a changed one still fails the check).
        this.noteRead(partition, entries, this.lastRead.get(partition)?.bigSince ?? null);
        const records = this.decode(entries, partition);
        if (records.length === 0) continue;
        this.buffered.push({ delivery: { stream: this.opts.stream, partition, records, redeliveries: 0 }, deliveredAtMs });
        any = true;
      }
      return any;
    } catch (err) {
      if (isReplyError(err, 'NOGROUP')) {
        // The partition key was deleted and recreated: recreate the group on the next round.
        this.partitions = [];
        this.lastRead.clear();
        this.nextMaintenanceMs = 0;
        return false;
      }
      throw redisUnavailable(err, 'read a consumer group');
    }
  }

  /**
   * New entries of one partition, up to maxRecords and FETCH_MAX_BYTES, as one delivery. Each step asks Redis for
   * at most PLAIN_READ_MAX entries: a measured read of 160k small entries in one script held Redis for about a
   * second, and every append and commit of every client waited behind it.
   */
  private async readPartition(partition: number, maxRecords: number, askedAtMs: number): Promise<boolean> {
    const records: LogRecord[] = [];
    let bytes = 0;
    try {
      while (records.length < maxRecords && bytes < FETCH_MAX_BYTES) {
        const count = Math.min(maxRecords - records.length, PLAIN_READ_MAX);
        const { entries, bigSince, asked } = await this.readStep(partition, count, FETCH_MAX_BYTES - bytes);
        this.noteRead(partition, entries, bigSince);
        for (const r of this.decode(entries, partition)) {
          records.push(r);
          bytes += r.body.length;
        }
        if (entries.length < asked) break; // drained, or cut at the byte limit
      }
    } catch (err) {
      // The entries of the steps before are pending for this member already: buffered, they go out with the next
      // fetch. Dropped, they waited a lease for a takeover that counted them delivered (processed alone, logged as
      // records a worker died on). Not after NOGROUP: the partition was deleted, its group and entries with it.
      if (records.length > 0 && !isReplyError(err, 'NOGROUP')) {
        this.buffered.push({ delivery: { stream: this.opts.stream, partition, records, redeliveries: 0 }, deliveredAtMs: askedAtMs });
      }
      throw err;
    }
    if (records.length === 0) return false;
    this.buffered.push({ delivery: { stream: this.opts.stream, partition, records, redeliveries: 0 }, deliveredAtMs: askedAtMs });
    return true;
  }

  /**
   * One XREADGROUP of new entries of a partition within `maxBytes` (soft: at least one entry), asking for `count`
   * (at most PLAIN_READ_MAX) or fewer: plain, of as many as the big key shows to fit (see FETCH_MAX_BYTES), or
   * measured when that is fewer than PLAIN_STEP_MIN_ENTRIES. Returns how many it asked for.
   */
  private async readStep(partition: number, count: number, maxBytes: number): Promise<{ entries: Entry[]; bigSince: string | null; asked: number }> {
    const key = this.key(partition);
    const planned = await this.planRead(partition);
    // Bodies not in the big key are under BIG_BODY_BYTES: after a first step's bytes, fewer than PLAIN_READ_MAX fit.
    const fitting = Math.min(count, Math.floor(maxBytes / BIG_BODY_BYTES));
    let plain = planned.plain && fitting >= Math.min(count, PLAIN_STEP_MIN_ENTRIES);
    let reply: [Buffer, Entry[]][] | null = null;
    if (plain) {
      // In MULTI under the WATCH planRead set: a large body listed (or bigsince set again) since the check
      // makes EXEC do nothing, and the read is measured instead. Without it, an append landing between the
      // check and the read went out whole: 40 x 1 MiB in one delivery.
      const args = ['GROUP', this.opts.group, this.opts.consumerName, 'COUNT', fitting, 'STREAMS', key, '>'];
      const done = await this.conn.multi().callBuffer('XREADGROUP', ...args).exec();
      if (done === null) plain = false;
      else {
        const [err, got] = done[0]!;
        if (err) throw err;
        reply = got as [Buffer, Entry[]][] | null;
      }
    } else {
      await this.conn.unwatch();
    }
    if (!plain) {
      const args = [READ_GROUP_SCRIPT, 1, key, this.opts.group, this.opts.consumerName, count, maxBytes, READ_GROUP_STEP];
      reply = (await this.conn.callBuffer('EVAL', args)) as [Buffer, Entry[]][] | null;
    }
    return { entries: reply?.[0]?.[1] ?? [], bigSince: planned.bigSince, asked: plain ? fitting : count };
  }

  /** After a read of new entries: where this member's reads got to, and the bigsince value seen before it (see lastRead). */
  private noteRead(partition: number, entries: Entry[], bigSince: string | null): void {
    if (entries.length > 0) this.lastRead.set(partition, { offset: offsetOfId(entries[entries.length - 1]![0]), bigSince });
  }

  /**
   * Whether a plain XREADGROUP of new entries of the partition is within FETCH_MAX_BYTES: the big key lists no
   * body after this member's last read, covers every entry from there, and bigsince is what it was before that
   * read (a GET and a ZRANGEBYSCORE, sent together). Also the bigsince value seen, to plan the next read with.
   * Both keys stay WATCHed (the caller reads in MULTI, or UNWATCHes), as appends go on while the member reads.
   */
  private async planRead(partition: number): Promise<{ bigSince: string | null; plain: boolean }> {
    const key = this.key(partition);
    const last = this.lastRead.get(partition);
    if (last === undefined) return { bigSince: (await this.conn.call('GET', bigSinceKey(key))) as string | null, plain: false };
    const after = last.offset + 1; // sequence number of the last entry read (redis-keys.ts)
    const [, bigSince, big] = (await Promise.all([
      this.conn.watch(bigKey(key), bigSinceKey(key)),
      this.conn.call('GET', bigSinceKey(key)),
      this.conn.call('ZRANGEBYSCORE', bigKey(key), `(${after}`, '+inf', 'LIMIT', 0, 1),
    ])) as [unknown, string | null, string[]];
    const plain = bigSince !== null && bigSince === last.bigSince && Number(bigSince.split(' ')[0]) <= after && big.length === 0;
    return { bigSince, plain };
  }

  private partitionOfKey(key: string): number {
    return Number(key.slice(key.lastIndexOf(':') + 1));
  }

  private decode(entries: Entry[], partition: number): LogRecord[] {
    const records: LogRecord[] = [];
    for (const [id, fields] of entries) {
      if (fields) records.push(decodeEntry(fields, this.opts.stream, partition, offsetOfId(id)));
    }
    return records;
  }

  /** Every lease/3 (from fetch): take over what others left, find new partitions. Renewals run on their own timer. */
  private async maintain(): Promise<void> {
    this.nextMaintenanceMs = Date.now() + Math.max(50, this.leaseMs / 3);
    this.maintenanceRuns++;
    await this.refreshPartitions();
    // Looked for by fetch, one partition at a time while nothing is buffered: a claim counts a delivery of what it
    // takes, and entries claimed here for every partition waited in the buffer behind a slow delivery, went stale
    // unhanded and were claimed (counted) again, until records never handed out were over maxDeliveries.
    for (const p of this.partitions) this.abandonedLeft.add(p);
    if (this.maintenanceRuns % 10 === 1) await this.removeDeadMembers();
  }

  /** A held delivery whose lease clock is this old is renewed (at the next tick of the renewal timer, or at once when handed out). */
  private get renewAgeMs(): number {
    return this.leaseMs / 6;
  }

  /** Stops renewing without releasing anything, as a killed process would (for tests); close() still frees the connection. */
  simulateCrash(): void {
    this.crashed = true;
    clearInterval(this.renewTimer);
  }

  /** Starts a renewal now, or right after the one running (which may have missed a delivery handed out since). */
  private renewSoon(): void {
    if (this.closed || this.crashed) return;
    if (this.renewing) {
      this.renewAgain = true;
      return;
    }
    this.renewing = this.renewHeld()
      .catch((err: unknown) => {
        // Retried at the next tick; entries are taken over only if renewals keep failing for a lease.
        if (Date.now() - this.lastRenewWarnMs < RENEW_WARN_INTERVAL_MS) return;
        this.lastRenewWarnMs = Date.now();
        this.warn({ err: String(err), group: this.opts.group }, 'redis consumer could not renew its held deliveries (retrying)');
      })
      .finally(() => {
        this.renewing = null;
        if (this.renewAgain) {
          this.renewAgain = false;
          this.renewSoon();
        }
      });
  }

  /** Resets the idle time of entries held for a while, so no other member takes them over mid-processing. */
  private async renewHeld(): Promise<void> {
    const now = Date.now();
    const byPartition = new Map<number, { held: Held[]; ids: string[] }>();
    for (const h of this.held) {
      if (now - h.renewedAtMs < this.renewAgeMs) continue;
      let group = byPartition.get(h.delivery.partition);
      if (!group) byPartition.set(h.delivery.partition, (group = { held: [], ids: [] }));
      group.held.push(h);
      for (const r of h.delivery.records) group.ids.push(entryId(r.offset));
    }
    for (const [p, group] of byPartition) {
      for (let i = 0; i < group.ids.length; i += MAX_IDS_PER_CALL) {
        const args: (string | number)[] = [this.key(p), this.opts.group, this.opts.consumerName, 0];
        for (const id of group.ids.slice(i, i + MAX_IDS_PER_CALL)) args.push(id);
        args.push('JUSTID');
        await this.log.redis.call('XCLAIM', args);
      }
      for (const h of group.held) h.renewedAtMs = now; // Redis reset the idle time a little after `now`: a safe, early clock
    }
  }

  /**
   * Takes over entries another member was handed and did not acknowledge within a lease (it died, or stalls).
   * XPENDING first, to claim only what is handed out next: XAUTOCLAIM counted a delivery of every entry it took,
   * and a member dying on the first one counted one for each entry taken with it, every time, until records it
   * never handed out looked like records that bring a worker down (see Delivery.redeliveries). Entries delivered
   * once go out again together; one delivered more often goes alone.
   */
  private async claimAbandoned(partition: number, maxRecords: number): Promise<void> {
    const key = this.key(partition);
    const claimedAtMs = Date.now();
    this.abandonedLeft.delete(partition);
    const records: LogRecord[] = [];
    let delivered = 0;
    try {
      // In steps of at most PLAIN_READ_MAX entries, as reads of new ones (readPartition): one XPENDING and one
      // measuring script over 100k entries held Redis for a long time.
      let bytes = 0;
      let start = '-';
      while (records.length < maxRecords && bytes < FETCH_MAX_BYTES) {
        const count = Math.min(maxRecords - records.length, PLAIN_READ_MAX);
        const pending = (await this.conn.call('XPENDING', key, this.opts.group, 'IDLE', this.leaseMs, start, '+', count)) as [string, string, number, number][];
        // Nothing abandoned: not looked at again before the next maintenance round. XPENDING with IDLE walks the
        // group's whole pending list, and sent before every read it cost Redis more than the reads.
        if (pending.length === 0 && start === '-') return;
        if (pending.length === 0) break;
        const first = Number(pending[0]![3]);
        if (start === '-') delivered = first;
        else if (first > 1) break; // goes out alone, in a takeover of its own
        let take = 1;
        if (first <= 1) while (take < pending.length && Number(pending[take]![3]) <= 1) take++;
        let ids = pending.slice(0, take).map((p) => p[0]);
        // As many as a read of new entries would hand out (FETCH_MAX_BYTES): a dead member may have held many,
        // possibly the very large bodies it died of.
        if (ids.length > 1 || start !== '-') {
          const budget = FETCH_MAX_BYTES - bytes;
          const args = [CLAIM_COUNT_SCRIPT, 3, key, bigKey(key), bigSinceKey(key), budget, Math.floor(budget / BIG_BODY_BYTES), ...ids];
          ids = ids.slice(0, Number(await this.conn.call('EVAL', args)));
        }
        // XCLAIM checks the idle time again: an entry another member took meanwhile is left to it. Entries
        // deleted since (retention) leave the pending list without being returned.
        for (let i = 0; i < ids.length; i += MAX_IDS_PER_CALL) {
          const args: (string | number)[] = [key, this.opts.group, this.opts.consumerName, this.leaseMs];
          for (const id of ids.slice(i, i + MAX_IDS_PER_CALL)) args.push(id);
          for (const r of this.decode((await this.conn.callBuffer('XCLAIM', args)) as Entry[], partition)) {
            records.push(r);
            bytes += r.body.length;
          }
        }
        if (first > 1 || ids.length < pending.length || pending.length < count) break;
        start = `(${ids[ids.length - 1]!}`;
      }
    } catch (err) {
      if (isReplyError(err, 'NOGROUP')) return;
      // What the steps before claimed is this member's, its delivery counted: buffered, it goes out with the next
      // fetch. Dropped, it was taken over again a lease later and counted a second time (redeliveries 2, not 1).
      if (records.length > 0) this.buffered.unshift({ delivery: { stream: this.opts.stream, partition, records, redeliveries: delivered }, deliveredAtMs: claimedAtMs });
      throw redisUnavailable(err, 'take over abandoned deliveries');
    }
    this.abandonedLeft.add(partition); // more may wait: looked at again before the next new entries
    if (records.length === 0) return;
    this.buffered.unshift({ delivery: { stream: this.opts.stream, partition, records, redeliveries: delivered }, deliveredAtMs: claimedAtMs });
  }

  private async removeDeadMembers(): Promise<void> {
    for (const p of this.partitions) {
      try {
        await this.conn.call('EVAL', REMOVE_DEAD_MEMBERS_SCRIPT, 1, this.key(p), this.opts.group, this.opts.consumerName, DEAD_MEMBER_LEASES * this.leaseMs);
      } catch {
        return; // housekeeping only
      }
    }
  }

  async commit(delivery: Delivery): Promise<void> {
    for (const h of this.held) {
      if (h.delivery === delivery) {
        this.held.delete(h);
        break;
      }
    }
    const key = this.key(delivery.partition);
    try {
      for (let i = 0; i < delivery.records.length; i += MAX_IDS_PER_CALL) {
        const args: string[] = [key, this.opts.group];
        for (const r of delivery.records.slice(i, i + MAX_IDS_PER_CALL)) args.push(entryId(r.offset));
        await this.log.redis.call('XACK', args);
      }
    } catch (err) {
      throw redisUnavailable(err, 'commit');
    }
  }

  /**
   * Hands back what this member holds: entries read but not handed out keep
   * their delivery count, uncommitted deliveries count as delivered; both are
   * marked idle for long enough that the next takeover of any member takes them.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.renewTimer);
    await this.fetching;
    await this.renewing; // a renewal landing after the release would hide the released entries for a lease
    try {
      const release = async (d: Delivery, retryCount: number | null): Promise<void> => {
        for (let i = 0; i < d.records.length; i += MAX_IDS_PER_CALL) {
          const args: (string | number)[] = [this.key(d.partition), this.opts.group, this.opts.consumerName, 0];
          for (const r of d.records.slice(i, i + MAX_IDS_PER_CALL)) args.push(entryId(r.offset));
          args.push('IDLE', RELEASED_IDLE_MS);
          if (retryCount !== null) args.push('RETRYCOUNT', retryCount);
          args.push('JUSTID');
          await this.log.redis.call('XCLAIM', args);
        }
      };
      for (const b of this.buffered) await release(b.delivery, b.delivery.redeliveries);
      for (const h of this.held) await release(h.delivery, null);
      for (const p of this.partitions) {
        const mine = (await this.log.redis.xpending(this.key(p), this.opts.group, '-', '+', 1, this.opts.consumerName)) as unknown[];
        if (mine.length === 0) await this.log.redis.xgroup('DELCONSUMER', this.key(p), this.opts.group, this.opts.consumerName);
      }
    } catch (err) {
      // Whatever could not be handed back is taken over after leaseTimeoutMs.
      this.warn({ err: String(err), group: this.opts.group }, 'redis consumer could not release its deliveries on close');
    }
    this.buffered = [];
    this.held.clear();
    await closeRedis(this.conn);
    this.onClose();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
