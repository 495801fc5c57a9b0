// A consumer-group member on the embedded log. Members of a group share the
// partitions through lease files (one per partition) in the data directory:
//
//   groups/{group}/{stream}/members/{name}   {"expiresAtMs","host","pid","scope"}  one per live member
//   groups/{group}/{stream}/{p}.lease        {"owner","expiresAtMs","host","pid","scope"}
//   groups/{group}/{stream}/lease.mutex      held while leases change: {"owner","host","pid","scope","token"}; broken when
//                                            stale by renaming it away and checking it was the stale one
//   groups/{group}/{stream}/{p}.position     the committed position (EmbeddedLog)
//   groups/{group}/{stream}/{p}.deliveries   what the last takes delivered and did not finish, counted (delivery-count.ts)
//   groups/{group}/{stream}/*.tmp            positions being written, broken mutexes (old ones removed when a member opens)
//
// Invariants and rules:
// - A member renews its leases every leaseTimeoutMs/3 from a timer (not only when
//   fetching, so a long batch does not lose its partition). A lease is free when it
//   expired, or its owner is a dead process on this host (pid check: a SIGKILLed
//   worker's partitions are taken over at once when it restarts). "This host" is the
//   pid namespace (scope, see writer-lock.ts), not the host name: containers sharing the
//   data directory may share a host name (host networking), and a live member's pid,
//   not running in another's namespace, had its partitions taken while it processed them.
// - Each member takes up to ceil(partitions / live members); a member over its share
//   stops fetching from the extra partitions, and releases them once their in-flight
//   deliveries are committed (rebalancing without double delivery).
// - Commits are in delivery order per partition: a position moves only past a
//   contiguous run of committed deliveries. Position writes are coalesced (a commit
//   rides on a write in flight that covers it) and pipelined: up to
//   MAX_POSITION_WRITES_IN_FLIGHT per partition sync at once, so a commit waits about
//   one fsync, not one and a half; they are renamed into place in the order they
//   were started. A write is started, and renamed, only while our lease is valid
//   with a margin, so a member that lost its partition never moves the new owner's
//   position.
// - A position changed by someone else while we own the partition (hopper replay)
//   is noticed at the next renewal: fetching restarts from it.
// - A partition whose position file is unreadable is not taken (warned once, retried
//   at every renewal until hopper replay writes a new one): the group goes on with
//   the others. One that turns unreadable while we own it is rewritten with ours.
// - A stored position past the partition's end is moved back to the end when the
//   partition is taken (or a replay is noticed), with a warning: a power cut loses
//   records written but not yet fsynced, which a group may already have processed,
//   and their offsets go to new appends. (The writer does the same when it opens the
//   partition, before its first append: see EmbeddedLog.clampPositionsToEnd.)
// - Records retention deleted before the group processed them are skipped (reads start at the first
//   stored segment) with a warning naming their offsets; a group that never committed starts at the
//   first stored record, without one.
// - Read-ahead: after a full delivery, the next one (of the partition the next fetch
//   tries first) is read at once, so the log is parsed while the caller processes
//   and commits. One such read per member; it is only a cache of log.read: it is used
//   only if the next fetch asks for that partition, at that position, of that lease.
// - Deliveries are noted in {p}.deliveries before they go out. A take that begins inside what the takes before it
//   delivered and did not finish hands those records out apart from new ones, counted (Delivery.redeliveries),
//   and one by one once takes died on them twice: a worker that dies on a record is not handed the records
//   around it with it again, and that record's count grows.

import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HopperError, isHopperError } from '../../errors.js';
import type { ConsumerOptions, Delivery, LogConsumer, ReadResult } from '../types.js';
import type { EmbeddedLog } from './embedded-log.js';
import type { WarnFn } from './partition-recovery.js';
import type { PreparedFile } from './segment-files.js';
import { breakAside } from './break-aside.js';
import { PID_SCOPE } from './writer-lock.js';
import { DeliveryMarkFile, deliveriesPath, readDeliveryMark, takeFinds, type DeliveryMark } from './delivery-count.js';

/** A mutex file older than this, whose holder is not a process of this host (pid namespace), was left by a dead process and is broken (at once when its holder is a dead process of this host). */
const MUTEX_STALE_MS = 5_000;
/**
 * A mutex held this long by a live process on this host is broken anyway (a hung member must not stop the
 * group for good). Far above MUTEX_STALE_MS: a member paused or on a disk stalled past 5 s still holds it,
 * and breaking it let two members take the same free partition.
 */
const MUTEX_LIVE_STALE_MS = 60_000;
/** A mutex found missing when released is looked at again after this long (a breaker may be putting it back). */
const MUTEX_RELEASE_RECHECK_MS = 10;
/** Mutex acquisition attempts (2-7 ms apart) before giving up. */
const MUTEX_MAX_ATTEMPTS = 2000;
const POLL_MIN_MS = 5;
const POLL_MAX_MS = 50;
/**
 * A temp file in the group directory older than this was left by a process that died writing a position (a
 * write takes milliseconds): removed when a member opens, or every crash mid-commit left files for good.
 */
const STALE_TEMP_MS = 10 * 60_000;
/** Position writes of one partition syncing at once (the runtime bounds the commits waiting on them). */
export const MAX_POSITION_WRITES_IN_FLIGHT = 4;

interface LeaseFile {
  owner: string;
  expiresAtMs: number;
  host?: string;
  pid?: number;
  scope?: string;
}

interface InFlight {
  end: number;
  done: boolean;
}

interface PositionWrite {
  to: number;
  /** Settles (never rejects) once the position is in place, or the write failed (`error`) or was dropped. */
  settled: Promise<void>;
  error: unknown;
}

/** A log.read started before the fetch that will want it. */
interface ReadAhead {
  partition: number;
  owned: OwnedPartition;
  from: number;
  maxRecords: number;
  result: Promise<ReadResult | null>;
}

interface OwnedPartition {
  fetchPosition: number;
  /** Deliveries not yet committed, in fetch order. */
  inFlight: InFlight[];
  /** The position stored (by us, or found when we took the partition). */
  stored: number;
  /** The position all committed deliveries allow (>= stored). */
  wanted: number;
  /** Position writes in flight, oldest first (renamed into place in this order). */
  writes: PositionWrite[];
  /** Our lease's expiry as we last wrote it. */
  leaseUntilMs: number;
  /** Over our share: no more fetches; released once drained. */
  releasing: boolean;
  /** No delivery made yet since we took the partition (the first one reads and counts {p}.deliveries). */
  firstDelivery: boolean;
  /** Our {p}.deliveries as last written (null: none yet, or writing it failed in this take). */
  mark: DeliveryMark | null;
  /** Records before this were delivered by an earlier take and not finished (0: none): never with new ones. */
  unfinishedEnd: number;
  /** Those records go out one per delivery. */
  alone: boolean;
}

const HOST = hostname();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** The entry's pid is one of our pid namespace (entries of older Hoppers have no scope: taken to be ours, as they were). */
function pidHere(entry: { host?: string; scope?: unknown }): boolean {
  return entry.host === HOST && (entry.scope === undefined || entry.scope === PID_SCOPE);
}

/** A lease or member entry whose process is gone (same pid namespace only; pid reuse errs on the side of "alive"). */
function ownerDead(entry: { host?: string; pid?: number; scope?: unknown }): boolean {
  return pidHere(entry) && typeof entry.pid === 'number' && entry.pid !== process.pid && !processAlive(entry.pid);
}

export class EmbeddedGroupConsumer implements LogConsumer {
  readonly commitsInOrder = true;
  private owned = new Map<number, OwnedPartition>();
  private readonly deliveries = new WeakMap<Delivery, { owned: OwnedPartition; entry: InFlight }>();
  private nextLeaseCheckMs = 0;
  private rr = 0;
  private closed = false;
  private refreshing: Promise<void> | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private readAhead: ReadAhead | null = null;
  /** Partitions whose position file we found unreadable (warned once until it reads again). */
  private readonly unreadable = new Set<number>();
  /** {p}.deliveries of partitions this member delivered from, open (see delivery-count.ts). */
  private readonly markFiles = new Map<number, DeliveryMarkFile>();
  private readonly dir: string;
  private readonly marginMs: number;

  private constructor(
    private readonly log: EmbeddedLog,
    private readonly opts: ConsumerOptions,
    private readonly warn: WarnFn,
  ) {
    this.dir = log.groupDir(opts.group, opts.stream);
    this.marginMs = Math.min(1000, Math.floor(opts.leaseTimeoutMs / 4));
  }

  static async open(log: EmbeddedLog, opts: ConsumerOptions, warn: WarnFn = () => undefined): Promise<EmbeddedGroupConsumer> {
    const c = new EmbeddedGroupConsumer(log, opts, warn);
    await c.removeStaleTemps();
    await c.refresh().catch((err: unknown) => {
      // A full disk is an operating condition: failing here stopped the worker's start (exit 1, restarted into
      // the same full disk). The member starts owning nothing; the heartbeat takes its share once space returns.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err;
      warn({ group: opts.group, stream: opts.stream, code, error: (err as Error).message }, 'consumer group: disk full, no partition taken until space returns');
    });
    c.heartbeat = setInterval(() => {
      c.refresh().catch(() => undefined); // a failed renewal is retried at the next beat; leases expire if it keeps failing
    }, Math.max(10, Math.floor(opts.leaseTimeoutMs / 3)));
    c.heartbeat.unref();
    return c;
  }

  /** Removes position temp files left by processes that died while writing them (best effort: they hold no data). */
  private async removeStaleTemps(): Promise<void> {
    const names = await fsp.readdir(this.dir).catch(() => [] as string[]);
    const now = Date.now();
    for (const name of names) {
      if (!name.endsWith('.tmp')) continue;
      const path = join(this.dir, name);
      const st = await fsp.stat(path).catch(() => null);
      if (st !== null && now - st.mtimeMs > STALE_TEMP_MS) await fsp.rm(path, { force: true }).catch(() => undefined);
    }
  }

  /** Partitions this member owns now. */
  partitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  /** Stops renewing leases without releasing them, as a killed process would (for tests). */
  simulateCrash(): void {
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
  }

  private async withMutex<T>(fn: () => Promise<T>): Promise<T> {
    const path = join(this.dir, 'lease.mutex');
    // A token per acquisition: tells our mutex from a newer one of the same name (inode numbers are reused).
    const text = JSON.stringify({ owner: this.opts.consumerName, host: HOST, pid: process.pid, scope: PID_SCOPE, token: randomBytes(8).toString('hex') });
    for (let attempt = 0; ; attempt++) {
      try {
        await fsp.writeFile(path, text, { flag: 'wx' });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const found = await readMutex(path);
        if (found && mutexStale(found)) await breakMutex(path, found);
        if (attempt > MUTEX_MAX_ATTEMPTS) {
          throw new HopperError(
            'HOPPER_LOCK_HELD',
            `Consumer group ${this.opts.group} on ${this.opts.stream}: its lease mutex ${path} is held for too long (a member hung, paused or on a stalled disk while changing leases): retrying; it is broken once ${MUTEX_LIVE_STALE_MS / 1000} s old, at once when its process is gone.`,
          );
        }
        await sleep(2 + Math.random() * 5);
      }
    }
    try {
      return await fn();
    } finally {
      // Only our own: a mutex broken while we held it (hung past MUTEX_LIVE_STALE_MS) is someone else's now.
      let held = await readMutex(path).catch(() => null);
      // Missing: maybe a late breaker has it renamed aside and is about to link it back; left there it would
      // hold the group up to MUTEX_LIVE_STALE_MS.
      if (held === null) held = await sleep(MUTEX_RELEASE_RECHECK_MS).then(() => readMutex(path).catch(() => null));
      if (held?.text === text) await fsp.rm(path, { force: true });
    }
  }

  private leasePath(partition: number): string {
    return join(this.dir, `${partition}.lease`);
  }

  private async readLease(partition: number): Promise<LeaseFile | null> {
    try {
      return JSON.parse(await fsp.readFile(this.leasePath(partition), 'utf8')) as LeaseFile;
    } catch {
      return null;
    }
  }

  private leaseText(expiresAtMs: number): string {
    return JSON.stringify({ owner: this.opts.consumerName, expiresAtMs, host: HOST, pid: process.pid, scope: PID_SCOPE });
  }

  /** The stored position, null when none, or 'unreadable' (HOPPER_LOG_CORRUPT, warned once). */
  private async storedPosition(partition: number, whenUnreadable: string): Promise<number | null | 'unreadable'> {
    try {
      const position = await this.log.getPosition(this.opts.group, this.opts.stream, partition);
      this.unreadable.delete(partition);
      return position;
    } catch (err) {
      if (!isHopperError(err, 'HOPPER_LOG_CORRUPT')) throw err;
      if (!this.unreadable.has(partition)) {
        this.unreadable.add(partition);
        const { group, stream } = this.opts;
        this.warn({ group, stream, partition, code: err.code, error: err.message }, `consumer group position file unreadable: ${whenUnreadable}`);
      }
      return 'unreadable';
    }
  }

  /**
   * `position`, or the partition's end when it lies past it (records lost in a power cut: their offsets
   * go to new appends, which the group must not skip). A moved position is stored at once.
   */
  private async clampToEnd(partition: number, position: number): Promise<number> {
    const endOffset = await this.log.reader(this.opts.stream, partition).endOffset();
    if (position <= endOffset) return position;
    const { group, stream } = this.opts;
    this.warn(
      { group, stream, partition, position, endOffset },
      'consumer group position past the end of the partition (records lost in a power cut?): moved back to the end, so new records are not skipped',
    );
    await this.log.commitPosition(group, stream, partition, endOffset);
    return endOffset;
  }

  private drained(o: OwnedPartition): boolean {
    return o.inFlight.length === 0 && o.writes.length === 0 && o.wanted <= o.stored;
  }

  private refresh(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.refreshing ??= this.refreshLeases().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async refreshLeases(): Promise<void> {
    const now = Date.now();
    const expiresAtMs = now + this.opts.leaseTimeoutMs;
    const me = this.opts.consumerName;
    const partitions = await this.log.listPartitions(this.opts.stream);
    const acquired: { partition: number; position: number | null }[] = [];
    const kept: number[] = [];
    const membersDir = join(this.dir, 'members');
    await fsp.mkdir(membersDir, { recursive: true }); // here, not once at open: it may need space a full disk lacked then
    await this.withMutex(async () => {
      await fsp.writeFile(join(membersDir, encodeURIComponent(me)), JSON.stringify({ expiresAtMs, host: HOST, pid: process.pid, scope: PID_SCOPE }));
      let alive = 0;
      for (const name of await fsp.readdir(membersDir)) {
        const text = await fsp.readFile(join(membersDir, name), 'utf8').catch(() => '0');
        let entry: { expiresAtMs?: number; host?: string; pid?: number; scope?: unknown };
        try {
          const parsed: unknown = JSON.parse(text);
          entry = typeof parsed === 'number' ? { expiresAtMs: parsed } : (parsed as typeof entry);
        } catch {
          entry = {};
        }
        if ((entry.expiresAtMs ?? 0) > now && !ownerDead(entry)) alive++;
        else await fsp.rm(join(membersDir, name), { force: true });
      }
      const share = Math.ceil(partitions.length / Math.max(1, alive));
      let mine = 0;
      for (const p of partitions) {
        const o = this.owned.get(p);
        if (!o) continue;
        const lease = await this.readLease(p);
        // Still our name on it: nobody else took it (even if it expired meanwhile), our state is valid.
        if (lease?.owner !== me) {
          this.owned.delete(p);
          continue;
        }
        if (mine >= share) {
          o.releasing = true;
          if (this.drained(o)) {
            await fsp.rm(this.leasePath(p), { force: true });
            this.owned.delete(p);
            continue;
          }
        } else {
          o.releasing = false;
        }
        await fsp.writeFile(this.leasePath(p), this.leaseText(expiresAtMs));
        o.leaseUntilMs = expiresAtMs;
        kept.push(p);
        mine++;
      }
      for (const p of partitions) {
        if (mine >= share) break;
        if (this.owned.has(p)) continue;
        const lease = await this.readLease(p);
        if (lease && lease.owner !== me && lease.expiresAtMs > now && !ownerDead(lease)) continue;
        // Read before taking it: one bad position file must not stop the group's other partitions.
        const position = await this.storedPosition(p, 'the partition is skipped until hopper replay commits a new position');
        if (position === 'unreadable') continue;
        await fsp.writeFile(this.leasePath(p), this.leaseText(expiresAtMs));
        acquired.push({ partition: p, position });
        mine++;
      }
    });
    for (const { partition: p, position: found } of acquired) {
      const position = found === null ? await this.startOffset(p, 0) : await this.clampToEnd(p, found);
      this.owned.set(p, {
        fetchPosition: position,
        inFlight: [],
        stored: position,
        wanted: position,
        writes: [],
        leaseUntilMs: expiresAtMs,
        releasing: false,
        firstDelivery: true,
        mark: null,
        unfinishedEnd: 0,
        alone: false,
      });
    }
    for (const p of kept) {
      const o = this.owned.get(p);
      if (o && o.writes.length === 0 && o.wanted > o.stored) {
        // A commit whose position write failed (or was skipped near the lease's end): nothing else writes it
        // again once no batch follows, and a partition being released waits for it to be stored.
        await this.startWrite(p, o, o.wanted).settled; // a failure is retried at the next renewal
        continue;
      }
      if (!o || o.writes.length > 0 || o.wanted !== o.stored) continue;
      const stored = await this.storedPosition(p, 'this member rewrites it with the position it holds');
      if (stored === 'unreadable') {
        if (o.writes.length === 0) await this.startWrite(p, o, o.stored).settled; // a failure is retried at the next renewal
        continue;
      }
      if (stored !== null && stored !== o.stored && o.writes.length === 0 && o.wanted === o.stored) {
        // Moved by someone else (hopper replay): deliveries in flight are void, fetching restarts there.
        const position = await this.clampToEnd(p, stored);
        if (this.owned.get(p) !== o || o.writes.length > 0 || o.wanted !== o.stored) continue;
        o.inFlight = [];
        o.fetchPosition = o.stored = o.wanted = position;
        o.firstDelivery = true;
        o.mark = null;
        o.unfinishedEnd = 0;
        o.alone = false;
      }
    }
    this.nextLeaseCheckMs = Date.now() + this.opts.leaseTimeoutMs / 3;
  }

  async fetch(maxRecords: number, maxWaitMs: number, signal?: AbortSignal): Promise<Delivery | null> {
    const deadline = Date.now() + maxWaitMs;
    let pollMs = POLL_MIN_MS;
    for (;;) {
      if (this.closed || signal?.aborted) return null;
      if (Date.now() >= this.nextLeaseCheckMs) await this.refresh();
      const now = Date.now();
      const parts = this.partitions().filter((p) => {
        const o = this.owned.get(p)!;
        return !o.releasing && o.leaseUntilMs - this.marginMs > now;
      });
      for (let k = 0; k < parts.length; k++) {
        const p = parts[(this.rr + k) % parts.length]!;
        const owned = this.owned.get(p);
        if (!owned) continue;
        const read = await this.read(p, owned, owned.alone && owned.fetchPosition < owned.unfinishedEnd ? 1 : maxRecords);
        // Lost or reset while reading, or the lease ran out meanwhile (renewals stalled with the read): another
        // member may own the partition and its {p}.deliveries now.
        if (!this.holds(p, owned)) continue;
        const marked = read.records.length > 0 ? await this.markDelivery(p, owned, read) : { ...read, redeliveries: 0 };
        if (marked === null || this.owned.get(p) !== owned) continue;
        const { records, nextOffset, redeliveries } = marked;
        const reached = records.length > 0 ? records[0]!.offset : nextOffset;
        if (reached > owned.fetchPosition) await this.reportRetentionSkip(p, owned.fetchPosition, reached);
        if (records.length === 0) {
          // Past a quarantined range or retention: nothing to deliver, but the position may move.
          if (nextOffset > owned.fetchPosition && owned.inFlight.length === 0 && owned.wanted === owned.fetchPosition) {
            owned.wanted = nextOffset;
            this.flush(p, owned, nextOffset).catch(() => undefined); // retried by the next commit
          }
          owned.fetchPosition = Math.max(owned.fetchPosition, nextOffset);
          continue;
        }
        this.rr = (this.rr + k + 1) % Math.max(1, parts.length);
        owned.fetchPosition = nextOffset;
        const entry = { end: nextOffset, done: false };
        owned.inFlight.push(entry);
        const delivery: Delivery = { stream: this.opts.stream, partition: p, records, redeliveries };
        this.deliveries.set(delivery, { owned, entry });
        // A full batch means a backlog: read the next one while this one is processed.
        if (records.length >= maxRecords) this.startReadAhead(parts[this.rr % parts.length]!, maxRecords);
        return delivery;
      }
      if (Date.now() >= deadline) return null;
      await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
      pollMs = Math.min(POLL_MAX_MS, pollMs * 2);
    }
  }

  /**
   * Notes in {p}.deliveries the delivery `read` makes before it goes out (it may bring the process down), cut so
   * that records an earlier take delivered and did not finish go out apart from new ones, alone after a second
   * death (see delivery-count.ts). A mark that cannot be stored (a full disk) is warned about once per take and
   * the deliveries go on: records a worker keeps dying on are then not told apart until the next take.
   */
  private async markDelivery(partition: number, owned: OwnedPartition, read: ReadResult): Promise<(ReadResult & { redeliveries: number }) | null> {
    let { records, nextOffset } = read;
    const first = records[0]!.offset;
    let redeliveries = 0;
    let restart: DeliveryMark | null = null;
    if (owned.firstDelivery) {
      const stored = await readDeliveryMark(this.dir, partition);
      if (!this.holds(partition, owned)) return null; // not ours to write any more
      owned.firstDelivery = false;
      this.markFiles.get(partition)?.close(); // opened again: hopper replay may have removed the file
      const found = takeFinds(stored, first);
      owned.unfinishedEnd = found.unfinishedEnd;
      owned.alone = found.alone;
      redeliveries = found.redeliveries;
      restart = { offset: first, deliveries: found.redeliveries + 1, end: 0, takes: found.takes + 1 };
    } else if (first < owned.unfinishedEnd) {
      redeliveries = 1;
    } else if (owned.unfinishedEnd > 0) {
      owned.unfinishedEnd = 0; // past the unfinished records: counting begins again here
      restart = { offset: first, deliveries: 1, end: 0, takes: 1 };
    }
    if (first < owned.unfinishedEnd) {
      const cut = owned.alone ? 1 : records.findIndex((r) => r.offset >= owned.unfinishedEnd);
      if (cut > 0 && cut < records.length) {
        records = records.slice(0, cut);
        nextOffset = records[cut - 1]!.offset + 1;
      }
    }
    const end = Math.max(owned.unfinishedEnd, nextOffset);
    if (restart !== null) this.writeMark(partition, owned, { ...restart, end });
    else if (owned.mark !== null && end > owned.mark.end) this.writeMark(partition, owned, { ...owned.mark, end });
    return { records, nextOffset, redeliveries };
  }

  /** We own `partition` as `owned`, with time left on its lease. */
  private holds(partition: number, owned: OwnedPartition): boolean {
    return this.owned.get(partition) === owned && owned.leaseUntilMs - this.marginMs > Date.now();
  }

  /** Stores `mark` before the delivery it notes goes out; a failure is warned about and ends the marks of this take. */
  private writeMark(partition: number, owned: OwnedPartition, mark: DeliveryMark): void {
    let file = this.markFiles.get(partition);
    if (file === undefined) this.markFiles.set(partition, (file = new DeliveryMarkFile(deliveriesPath(this.dir, partition))));
    try {
      file.write(mark);
      owned.mark = mark;
    } catch (err) {
      owned.mark = null;
      file.close();
      const { group, stream } = this.opts;
      this.warn(
        { group, stream, partition, error: (err as Error).message },
        'consumer group: cannot store which records were delivered (a record its worker keeps dying on is not told apart until the partition is taken again)',
      );
    }
  }

  /** The partition's first stored offset (retention deletes from the front), or `otherwise` when it has no segment. */
  private async startOffset(partition: number, otherwise: number): Promise<number> {
    return (await this.log.reader(this.opts.stream, partition).startOffset()) ?? otherwise;
  }

  /**
   * A read at `from` that went on at `reached`: past records retention deleted (warned here, the group never
   * sees them), or past a quarantined range (the reader warned about that one).
   */
  private async reportRetentionSkip(partition: number, from: number, reached: number): Promise<void> {
    const start = await this.startOffset(partition, from);
    if (from >= start) return;
    const { group, stream } = this.opts;
    this.warn(
      { group, stream, partition, skippedOffsets: `${from}..${Math.min(start, reached) - 1}` },
      'consumer group skipped records that retention deleted before the group processed them',
    );
  }

  /** log.read at the partition's fetch position, served by the read-ahead when it read exactly that. */
  private async read(partition: number, owned: OwnedPartition, maxRecords: number): Promise<ReadResult> {
    const ahead = this.readAhead;
    this.readAhead = null;
    if (ahead && ahead.partition === partition && ahead.owned === owned && ahead.from === owned.fetchPosition && ahead.maxRecords === maxRecords) {
      const result = await ahead.result;
      if (result) return result;
    }
    return this.log.read(this.opts.stream, partition, owned.fetchPosition, { maxRecords });
  }

  private startReadAhead(partition: number, maxRecords: number): void {
    const owned = this.owned.get(partition);
    if (!owned || owned.releasing || this.closed) return;
    const from = owned.fetchPosition;
    // A failed read ahead is dropped: the fetch that wanted it reads again and sees the error itself.
    const result = this.log.read(this.opts.stream, partition, from, { maxRecords }).catch(() => null);
    this.readAhead = { partition, owned, from, maxRecords, result };
  }

  async commit(delivery: Delivery): Promise<void> {
    const found = this.deliveries.get(delivery);
    if (!found) return;
    this.deliveries.delete(delivery);
    const { owned, entry } = found;
    // Lost (another member may own it now) or reset by a replay: the new owner redelivers from the stored position.
    if (this.owned.get(delivery.partition) !== owned || !owned.inFlight.includes(entry)) return;
    entry.done = true;
    while (owned.inFlight.length > 0 && owned.inFlight[0]!.done) owned.wanted = owned.inFlight.shift()!.end;
    await this.flush(delivery.partition, owned, owned.wanted);
  }

  /** Stores the partition's position until it is at least `target` (coalescing concurrent commits). */
  private async flush(partition: number, owned: OwnedPartition, target: number): Promise<void> {
    while (owned.stored < target) {
      if (this.owned.get(partition) !== owned) return;
      const newest = owned.writes[owned.writes.length - 1];
      if ((newest?.to ?? owned.stored) >= target) {
        // A write in flight covers us; if it fails, the loop starts another.
        await owned.writes.find((w) => w.to >= target)!.settled;
        continue;
      }
      if (owned.writes.length >= MAX_POSITION_WRITES_IN_FLIGHT) {
        await owned.writes[0]!.settled;
        continue;
      }
      if (Date.now() >= owned.leaseUntilMs - this.marginMs) return;
      const write = this.startWrite(partition, owned, owned.wanted);
      await write.settled;
      if (write.error !== undefined) throw write.error;
    }
  }

  private startWrite(partition: number, owned: OwnedPartition, to: number): PositionWrite {
    const previous = owned.writes[owned.writes.length - 1]?.settled;
    const write: PositionWrite = { to, settled: Promise.resolve(), error: undefined };
    const run = async (): Promise<void> => {
      let prepared: PreparedFile | null = null;
      try {
        prepared = await this.log.preparePosition(this.opts.group, this.opts.stream, partition, to);
      } catch (err) {
        write.error = err;
      }
      await previous; // renames in the order the writes were started: the stored position never goes back
      if (!prepared) return;
      try {
        if (this.owned.get(partition) !== owned || Date.now() >= owned.leaseUntilMs - this.marginMs) {
          await prepared.discard().catch(() => undefined); // lost (or about to lose) the partition while syncing
          return;
        }
        await prepared.install();
        owned.stored = Math.max(owned.stored, to);
      } catch (err) {
        write.error = err;
        await prepared.discard().catch(() => undefined);
      }
    };
    write.settled = run()
      .catch((err: unknown) => {
        write.error ??= err;
      })
      .finally(() => owned.writes.splice(owned.writes.indexOf(write), 1));
    owned.writes.push(write);
    return write;
  }

  async close(): Promise<void> {
    if (this.closed) {
      for (const file of this.markFiles.values()) file.close(); // after simulateCrash
      return;
    }
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.readAhead?.result;
    this.readAhead = null;
    await this.refreshing?.catch(() => undefined);
    await Promise.allSettled([...this.owned.values()].flatMap((o) => o.writes.map((w) => w.settled)));
    for (const file of this.markFiles.values()) file.close();
    const me = this.opts.consumerName;
    await this.withMutex(async () => {
      for (const p of this.owned.keys()) {
        const lease = await this.readLease(p);
        if (lease?.owner === me) await fsp.rm(this.leasePath(p), { force: true });
      }
      await fsp.rm(join(this.dir, 'members', encodeURIComponent(me)), { force: true });
    }).catch(() => undefined);
    this.owned.clear();
  }
}

/** The lease mutex as read: inode, mtime and text, to tell the file judged stale from a newer one of the same name. */
interface MutexFile {
  ino: number;
  mtimeMs: number;
  text: string;
}

async function readMutex(path: string): Promise<MutexFile | null> {
  try {
    const st = await fsp.stat(path);
    return { ino: st.ino, mtimeMs: st.mtimeMs, text: await fsp.readFile(path, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function mutexStale(found: MutexFile): boolean {
  let holder: { host?: string; pid?: number; scope?: unknown } = {};
  try {
    holder = (JSON.parse(found.text) as typeof holder | null) ?? {}; // older Hoppers wrote the member's name: unknown holder
  } catch {
    // unknown holder (or read while being written: then it is fresh)
  }
  const here = pidHere(holder) && typeof holder.pid === 'number';
  // Its holder was killed while changing leases: waiting MUTEX_STALE_MS stopped every member's renewals and
  // fetches that long (and let leases shorter than that expire). Pid reuse errs on the side of "alive".
  if (here && holder.pid !== process.pid && !processAlive(holder.pid!)) return true;
  const liveHere = here && processAlive(holder.pid!);
  return Date.now() - found.mtimeMs > (liveHere ? MUTEX_LIVE_STALE_MS : MUTEX_STALE_MS);
}

/**
 * Breaks the stale mutex `found`: renamed away (atomic, so of members breaking it together one gets it), then
 * checked to be the file judged stale. A newer one (another breaker removed the stale one and a member took
 * the mutex meanwhile) is linked back: removing it let two members change leases at once.
 */
async function breakMutex(path: string, found: MutexFile): Promise<void> {
  await breakAside(path, async (aside) => {
    const moved = await readMutex(aside);
    return !moved || (moved.ino === found.ino && moved.mtimeMs === found.mtimeMs && moved.text === found.text);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
