// A consumer-group member on Redis: a Hopper group is a Redis consumer group on
// every partition key, so Redis shares entries among members (XREADGROUP) and
// remembers what each member holds (the pending entries list). A commit is an
// XACK. Entries a member holds longer than leaseTimeoutMs without committing
// (it died, or gave up) are taken over by any member with XAUTOCLAIM, which
// also counts deliveries: Delivery.redeliveries comes from that count.
// Each member blocks on its own connection, so reads never stall appends or
// commits (those go on the log's shared connection).

import type { Redis } from 'ioredis';
import type { ConsumerOptions, Delivery, LogConsumer, LogRecord } from '../types.js';
import type { WarnFn } from '../embedded/partition-recovery.js';
import type { RedisLog } from './redis-log.js';
import { closeRedis, isReplyError, redisUnavailable } from './redis-connection.js';
import { entryId, offsetOfId } from './redis-keys.js';
import { decodeEntry } from './redis-record-codec.js';

/** Longest single XREADGROUP BLOCK, so close() and abort signals are noticed quickly. */
const BLOCK_SLICE_MS = 250;
/** A member whose pending list is empty and that was idle this many leases is removed from the group. */
const DEAD_MEMBER_LEASES = 10;
/** Idle time given to entries released by close(), so XAUTOCLAIM hands them out at once. */
const RELEASED_IDLE_MS = 365 * 24 * 3600 * 1000;

type Entry = [Buffer, Buffer[] | null];

interface Held {
  delivery: Delivery;
  fetchedAtMs: number;
}

export class RedisGroupConsumer implements LogConsumer {
  private partitions: number[] = [];
  /** Entries read from Redis and not yet handed out (a blocking read may return several partitions). */
  private buffered: { delivery: Delivery; readAtMs: number }[] = [];
  private rr = 0;
  private held = new Set<Held>();
  private nextMaintenanceMs = 0;
  private maintenanceRuns = 0;
  private closed = false;
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
  }

  static async open(log: RedisLog, opts: ConsumerOptions, warn: WarnFn, onClose: () => void): Promise<RedisGroupConsumer> {
    const conn = await log.connectAgain(`hopper-consumer-${opts.group}`);
    const c = new RedisGroupConsumer(log, conn, opts, warn, onClose);
    try {
      await c.refreshPartitions();
    } catch (err) {
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
      if (Date.now() >= this.nextMaintenanceMs) await this.maintain(maxRecords);
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
    // Entries buffered for most of a lease may already be taken over by another member: leave them
    // pending (XAUTOCLAIM hands them out again, counted).
    const staleBeforeMs = Date.now() - this.leaseMs * 0.8;
    while (this.buffered.length > 0 && this.buffered[0]!.readAtMs < staleBeforeMs) this.buffered.shift();
    const first = this.buffered[0];
    if (!first) return null;
    let delivery = first.delivery;
    if (delivery.records.length > maxRecords) {
      delivery = { ...first.delivery, records: first.delivery.records.slice(0, maxRecords) };
      first.delivery.records = first.delivery.records.slice(maxRecords);
    } else {
      this.buffered.shift();
    }
    this.held.add({ delivery, fetchedAtMs: Date.now() });
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

  /** One XREADGROUP of new entries; true when it returned any. */
  private async readGroup(partitions: number[], maxRecords: number, blockMs: number): Promise<boolean> {
    const args: (string | number)[] = ['GROUP', this.opts.group, this.opts.consumerName, 'COUNT', maxRecords];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    args.push('STREAMS', ...partitions.map((p) => this.key(p)), ...partitions.map(() => '>'));
    let reply: [Buffer, Entry[]][] | null;
    try {
      reply = (await this.conn.callBuffer('XREADGROUP', ...args)) as [Buffer, Entry[]][] | null;
    } catch (err) {
      if (isReplyError(err, 'NOGROUP')) {
        // The partition key was deleted and recreated: recreate the group on the next round.
        this.partitions = [];
        this.nextMaintenanceMs = 0;
        return false;
      }
      throw redisUnavailable(err, 'read a consumer group');
    }
    if (!reply) return false;
    let any = false;
    for (const [key, entries] of reply) {
      const partition = this.partitionOfKey(key.toString('utf8'));
      const records = this.decode(entries, partition);
      if (records.length === 0) continue;
      this.buffered.push({ delivery: { stream: this.opts.stream, partition, records, redeliveries: 0 }, readAtMs: Date.now() });
      any = true;
    }
    return any;
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

  /** Every lease/3: renew what this member holds, take over what others left, find new partitions. */
  private async maintain(maxRecords: number): Promise<void> {
    this.nextMaintenanceMs = Date.now() + Math.max(50, this.leaseMs / 3);
    this.maintenanceRuns++;
    await this.refreshPartitions();
    await this.renewHeld();
    for (const p of this.partitions) await this.claimAbandoned(p, maxRecords);
    if (this.maintenanceRuns % 10 === 1) await this.removeDeadMembers();
  }

  /** Resets the idle time of entries held for a while, so no other member takes them over mid-processing. */
  private async renewHeld(): Promise<void> {
    const now = Date.now();
    const byPartition = new Map<number, string[]>();
    for (const h of this.held) {
      if (now - h.fetchedAtMs < this.leaseMs / 3) continue;
      h.fetchedAtMs = now;
      const ids = byPartition.get(h.delivery.partition) ?? [];
      for (const r of h.delivery.records) ids.push(entryId(r.offset));
      byPartition.set(h.delivery.partition, ids);
    }
    for (const [p, ids] of byPartition) {
      try {
        await this.log.redis.xclaim(this.key(p), this.opts.group, this.opts.consumerName, 0, ...ids, 'JUSTID');
      } catch (err) {
        throw redisUnavailable(err, 'renew held deliveries');
      }
    }
  }

  private async claimAbandoned(partition: number, maxRecords: number): Promise<void> {
    const key = this.key(partition);
    let reply: [Buffer, Entry[], Buffer[]?];
    try {
      reply = (await this.conn.callBuffer(
        'XAUTOCLAIM', key, this.opts.group, this.opts.consumerName, this.leaseMs, '0-0', 'COUNT', maxRecords,
      )) as [Buffer, Entry[], Buffer[]?];
    } catch (err) {
      if (isReplyError(err, 'NOGROUP')) return;
      throw redisUnavailable(err, 'take over abandoned deliveries');
    }
    const records = this.decode(reply[1], partition);
    if (records.length === 0) return;
    let deliveredTimes = 1;
    try {
      // XAUTOCLAIM counted this delivery; XPENDING tells the count per entry.
      const first = entryId(records[0]!.offset);
      const last = entryId(records[records.length - 1]!.offset);
      const pending = (await this.conn.xpending(key, this.opts.group, first, last, records.length, this.opts.consumerName)) as [
        string,
        string,
        number,
        number,
      ][];
      for (const p of pending) deliveredTimes = Math.max(deliveredTimes, Number(p[3]));
    } catch (err) {
      throw redisUnavailable(err, 'read delivery counts');
    }
    this.buffered.unshift({ delivery: { stream: this.opts.stream, partition, records, redeliveries: deliveredTimes - 1 }, readAtMs: Date.now() });
  }

  private async removeDeadMembers(): Promise<void> {
    for (const p of this.partitions) {
      let members: unknown[][];
      try {
        members = (await this.conn.call('XINFO', 'CONSUMERS', this.key(p), this.opts.group)) as unknown[][];
      } catch {
        return; // housekeeping only
      }
      for (const m of members) {
        const field = (name: string): unknown => m[m.indexOf(name) + 1];
        const name = String(field('name'));
        if (name === this.opts.consumerName || Number(field('pending')) > 0) continue;
        if (Number(field('idle')) < DEAD_MEMBER_LEASES * this.leaseMs) continue;
        await this.conn.xgroup('DELCONSUMER', this.key(p), this.opts.group, name).catch(() => undefined);
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
    if (delivery.records.length === 0) return;
    try {
      await this.log.redis.xack(this.key(delivery.partition), this.opts.group, ...delivery.records.map((r) => entryId(r.offset)));
    } catch (err) {
      throw redisUnavailable(err, 'commit');
    }
  }

  /**
   * Hands back what this member holds: entries read but not handed out keep
   * their delivery count, uncommitted deliveries count as delivered; both are
   * marked idle for long enough that the next XAUTOCLAIM of any member takes them.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fetching;
    try {
      const release = async (d: Delivery, retryCount: number | null): Promise<void> => {
        const ids = d.records.map((r) => entryId(r.offset));
        if (ids.length === 0) return;
        const extra: (string | number)[] = ['IDLE', RELEASED_IDLE_MS];
        if (retryCount !== null) extra.push('RETRYCOUNT', retryCount);
        await this.log.redis.xclaim(this.key(d.partition), this.opts.group, this.opts.consumerName, 0, ...ids, ...extra, 'JUSTID');
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
