// Appends to one partition with group commit: appends that arrive within
// flushIntervalMs (and while the previous write+fsync runs) go out as one
// write(2), then one fdatasync when any of them asked for `durable`.
// Memory is bounded by maxPendingBytes / maxPendingRecords (or one larger append
// taken alone); past them, appends are refused at once (HOPPER_BACKPRESSURE),
// never queued without limit.
// A failed fdatasync stops the partition (see failedSync): what it covered may
// not be on disk, and nothing written after it may be acknowledged as durable.

import { promises as fsp, fstatSync, ftruncateSync, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { HopperError } from '../../errors.js';
import type { AckLevel, AppendResult, RecordInput } from '../types.js';
import { writersCrc32Memory, type Crc32Memory } from './crc32.js';
import { frameBytes, writeFrame } from './record-frame.js';
import { encodeIndexEntries, fsyncDir, INDEX_ENTRY_BYTES, indexPath, segmentPath, type IndexEntry } from './segment-files.js';
import { recoverPartition, type WarnFn } from './partition-recovery.js';
import { FOREIGN_LOCK_STALE_MS, WriterLock } from './writer-lock.js';

/** Retry-After of the refusals of a stopped partition: it needs an operator and a restart, not a quick retry. */
const STOPPED_RETRY_AFTER_S = 30;

export interface WriterOptions {
  segmentMaxBytes: number;
  indexIntervalBytes: number;
  flushIntervalMs: number;
  maxBatchBytes: number;
  maxPendingBytes: number;
  maxPendingRecords: number;
  writtenFsyncIntervalMs: number;
  /**
   * Least time from one fdatasync's start to the next one's (0 or absent: back to back). Appends
   * that arrive meanwhile join the next fsync. Cloud and virtual disks throttle past a few thousand
   * flushes a second and then stall every flush for many milliseconds; spacing them keeps the
   * disk under that budget and spends less CPU per record.
   */
  minFsyncIntervalMs?: number;
}

interface PendingAppend {
  records: RecordInput[];
  bytes: number;
  ack: AckLevel;
  resolve: (r: AppendResult) => void;
  reject: (e: Error) => void;
}

/** A durable append written to the file, waiting for an fsync; firstOffset is its first record's. */
interface SyncWaiter {
  p: PendingAppend;
  firstOffset: number;
}

/** Where written data ends in the active segment: readers in this process never read past it. */
export interface WrittenEnd {
  base: number;
  position: number;
  nextOffset: number;
}

/**
 * Resolves at `deadlineMs` (performance.now() time) to within an event-loop turn. Node timers fire on
 * whole milliseconds of loop time, up to 2 ms late for a 0.5 ms wait: each request waiting on the fsync
 * would pay that, and with a fixed number of clients in flight the throughput drops with it (wrk -c64,
 * durable: -25% with a 1 ms timer). So the last millisecond passes in setImmediate turns, which
 * serve I/O in between and spin only while the loop has nothing else to do.
 */
function waitUntil(deadlineMs: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      const leftMs = deadlineMs - performance.now();
      if (leftMs <= 0) resolve();
      else if (leftMs > 1.5) setTimeout(check, leftMs - 1);
      else setImmediate(check);
    };
    check();
  });
}

/** After a write that stopped at `written` bytes: how many appends landed whole, and the whole frames and records in it. */
function wholeFramesIn(batch: PendingAppend[], written: number): { landed: number; keptBytes: number; keptRecords: number } {
  let keptBytes = 0;
  let keptRecords = 0;
  for (let i = 0; i < batch.length; i++) {
    const p = batch[i]!;
    if (keptBytes + p.bytes <= written) {
      keptBytes += p.bytes;
      keptRecords += p.records.length;
      continue;
    }
    for (const r of p.records) {
      const b = frameBytes(r);
      if (keptBytes + b > written) break;
      keptBytes += b;
      keptRecords++;
    }
    return { landed: i, keptBytes, keptRecords };
  }
  return { landed: batch.length, keptBytes, keptRecords };
}

export class PartitionWriter {
  private queue: PendingAppend[] = [];
  private pendingBytesNow = 0;
  private pendingRecordsNow = 0;
  private flushing = false;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private syncTimer: NodeJS.Timeout;
  private unsynced = false;
  private syncDue = false;
  /** Where batches are encoded without WebAssembly (see batchBuffer). */
  private scratch: Buffer = Buffer.alloc(0);
  private awaitingSync: SyncWaiter[] = [];
  /** Queued appends that do not wait for an fsync (written, fast): they are never held back for one. */
  private queuedNotDurable = 0;
  private syncing: Promise<void> | null = null;
  private lastSyncStartMs = -Infinity;
  /** Totals since open, for benchmarks and metrics. */
  readonly counters = { writes: 0, syncs: 0, bytesWritten: 0 };
  /** Given the seconds of each fdatasync of segment data (metrics); set by the log. Two clock reads per fsync, nothing per record. */
  onFsync: ((seconds: number) => void) | null = null;
  private closed = false;
  /** A partial index entry could not be cut off: the active segment's index takes no more entries (see appendIndex). */
  private indexOutOfStep = false;
  private lastIndexedPosition: number;
  private drainWaiters: (() => void)[] = [];
  /** Records acknowledged `fast` whose write then failed: the loss `fast` accepts. */
  lostFastRecords = 0;
  lastError: { code: string; message: string; atMs: number } | null = null;
  /** Set by a failed fdatasync: every append is refused with it until a restart. */
  private stopped: HopperError | null = null;
  /** Bases of all segments, ascending (the last is active); retention removes from the front. */
  readonly bases: number[];

  private constructor(
    private readonly dir: string,
    private readonly partition: number,
    private readonly opts: WriterOptions,
    private readonly lock: WriterLock,
    private fh: FileHandle,
    private idx: FileHandle,
    private base: number,
    private size: number,
    private idxSize: number,
    private maxTimeUs: number,
    private nextOffset: number,
    bases: number[],
    lastIndexedPosition: number,
    private readonly warn: WarnFn,
  ) {
    this.bases = bases;
    this.lastIndexedPosition = lastIndexedPosition;
    lock.onLost = () => this.lostLock();
    this.syncTimer = setInterval(() => {
      if (!this.unsynced) return;
      this.syncDue = true;
      if (!this.flushing) this.kick();
    }, opts.writtenFsyncIntervalMs);
    this.syncTimer.unref();
  }

  static async open(dir: string, what: string, partition: number, opts: WriterOptions, warn: WarnFn): Promise<PartitionWriter> {
    await fsp.mkdir(dir, { recursive: true });
    const lock = await WriterLock.acquire(dir, what);
    let fh: FileHandle | null = null;
    let idx: FileHandle | null = null;
    try {
      const r = await recoverPartition(dir, opts.indexIntervalBytes, warn);
      fh = await fsp.open(segmentPath(dir, r.activeBase), 'r+');
      idx = await fsp.open(indexPath(dir, r.activeBase), 'a+');
      const idxSize = (await idx.stat()).size;
      const lastIndexed = r.activeIndex.length > 0 ? r.activeIndex[r.activeIndex.length - 1]!.position : -Infinity;
      return new PartitionWriter(dir, partition, opts, lock, fh, idx, r.activeBase, r.activeSizeBytes, idxSize, r.activeMaxTimeUs, r.nextOffset, r.bases, lastIndexed, warn);
    } catch (err) {
      // Closed here, not left to the garbage collector (which warns, and holds the descriptors until it runs).
      await fh?.close().catch(() => undefined);
      await idx?.close().catch(() => undefined);
      await lock.release();
      throw err;
    }
  }

  get pendingBytes(): number {
    return this.pendingBytesNow;
  }

  get writtenEnd(): WrittenEnd {
    return { base: this.base, position: this.size, nextOffset: this.nextOffset };
  }

  append(records: RecordInput[], requestedAck: AckLevel): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new HopperError('HOPPER_LOG_CLOSED'));
    if (this.stopped) return Promise.reject(this.stopped);
    // While the last write failed (a full disk), a fast append waits for its write as a written one does:
    // acknowledged when queued, it would be dropped by the next failed write, and every fast write would be
    // answered 202 and lost for as long as the disk stays full. The first write that lands restores fast.
    const ack = requestedAck === 'fast' && this.lastError !== null ? 'written' : requestedAck;
    let bytes = 0;
    for (const r of records) {
      const b = frameBytes(r);
      if (b < 0) return Promise.reject(new HopperError('HOPPER_METADATA_TOO_LARGE'));
      bytes += b;
    }
    // One append larger than the whole queue is still taken when nothing is queued, as PendingBudget does for the
    // other backends: refused, it could never go in (the dead letters of a batch of large bad records, a dlq requeue),
    // and its caller retried it for ever. The caller holds those records in memory already.
    const empty = this.pendingRecordsNow === 0;
    if (!empty && (this.pendingBytesNow + bytes > this.opts.maxPendingBytes || this.pendingRecordsNow + records.length > this.opts.maxPendingRecords)) {
      return Promise.reject(new HopperError('HOPPER_BACKPRESSURE', 'The log writer queue is full: retry shortly.', { retryAfterSeconds: 1 }));
    }
    this.pendingBytesNow += bytes;
    this.pendingRecordsNow += records.length;
    const result = new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ records, bytes, ack, resolve, reject });
      if (ack !== 'durable') this.queuedNotDurable++;
    });
    this.schedule();
    if (ack === 'fast') {
      result.catch(() => undefined); // a failed fast write is counted in lostFastRecords, not reported
      return Promise.resolve({ partition: this.partition, firstOffset: -1, ack: 'fast' });
    }
    return result;
  }

  private schedule(): void {
    if (this.flushing || this.timer !== null || this.immediate !== null) return;
    // Durable appends that arrive during an fsync wait for the next one anyway: writing them when this one
    // ends, all in one write(2), saves a syscall per event-loop turn when requests trickle in one by one.
    // Held back only well below the backpressure limits, so holding never refuses an append that writing would not.
    if (
      this.syncing !== null &&
      this.queuedNotDurable === 0 &&
      this.pendingBytesNow < Math.min(this.opts.maxBatchBytes, this.opts.maxPendingBytes / 2) &&
      this.pendingRecordsNow < this.opts.maxPendingRecords / 2
    ) {
      return;
    }
    if (this.pendingBytesNow >= this.opts.maxBatchBytes || this.opts.flushIntervalMs === 0) {
      this.immediate = setImmediate(() => {
        this.immediate = null;
        this.kick();
      });
    } else {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.kick();
      }, this.opts.flushIntervalMs);
    }
  }

  private kick(): void {
    if (this.flushing) return;
    this.flushing = true;
    this.flushLoop()
      .catch((err: unknown) => {
        // Only a bug gets here: every I/O error is handled per batch below.
        this.warn({ err: String(err) }, 'log writer loop failed');
      })
      .finally(() => {
        this.flushing = false;
        if (this.queue.length > 0) this.schedule();
        else for (const w of this.drainWaiters.splice(0)) w();
      });
  }

  private takeBatch(): PendingAppend[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.bytes <= this.opts.maxBatchBytes)) {
      bytes += this.queue[n]!.bytes;
      n++;
    }
    const batch = this.queue.splice(0, n);
    for (const p of batch) if (p.ack !== 'durable') this.queuedNotDurable--;
    return batch;
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      await this.writeBatch(this.takeBatch());
      if (this.size >= this.opts.segmentMaxBytes) await this.roll();
    }
    if (this.syncDue && this.unsynced) {
      this.syncDue = false;
      this.startSync(true);
    }
  }

  private async writeBatch(batch: PendingAppend[]): Promise<void> {
    // isHeld() stops the partition (lostLock) when another process holds its lock now.
    if (this.stopped || !this.lock.isHeld()) {
      this.refuseUnwritten(batch, this.stopped!);
      return;
    }
    let bytes = 0;
    let count = 0;
    for (const p of batch) {
      bytes += p.bytes;
      count += p.records.length;
    }
    const { buf, mem } = this.batchBuffer(bytes);
    mem?.beginFrames();
    const newIndex: IndexEntry[] = [];
    let pos = 0;
    let offset = this.nextOffset;
    let maxTimeUs = this.maxTimeUs;
    for (const p of batch) {
      for (const r of p.records) {
        if (r.receivedAtUs > maxTimeUs) maxTimeUs = r.receivedAtUs;
        const filePosition = this.size + pos;
        if (filePosition - this.lastIndexedPosition >= this.opts.indexIntervalBytes) {
          newIndex.push({ relOffset: offset - this.base, position: filePosition, maxTimeUs });
          this.lastIndexedPosition = filePosition;
        }
        pos = writeFrame(buf, pos, r, offset, mem, true);
        offset++;
      }
    }
    mem?.finishFrames();
    this.pendingBytesNow -= bytes;
    this.pendingRecordsNow -= count;
    const firstOffset = this.nextOffset;
    // write(2) into the page cache synchronously: it takes microseconds, while a thread-pool round trip
    // costs two context switches per batch on the core the event loop shares with it (bench:ingest,
    // durable: +6%). Only fdatasync, which waits for the device, goes to the thread pool.
    let written = 0;
    let failure: unknown = null;
    try {
      while (written < bytes) written += writeSync(this.fh.fd, buf, written, bytes - written, this.size + written);
    } catch (err) {
      failure = err;
    }
    let landed = batch.length;
    let keptBytes = bytes;
    let keptRecords = count;
    if (failure !== null) {
      // Whole frames that reached the file before the error stay in it: a reader in another process
      // (it reads up to the file's size) may have returned them already, so cutting them off would give
      // their offsets to other records. Only the partial frame after them is cut.
      ({ landed, keptBytes, keptRecords } = wholeFramesIn(batch, written));
      await this.fh.truncate(this.size + keptBytes).catch(() => undefined);
    }
    if (keptBytes > 0) {
      this.counters.writes++;
      this.counters.bytesWritten += keptBytes;
      this.size += keptBytes;
      this.nextOffset = firstOffset + keptRecords;
      this.maxTimeUs = maxTimeUs;
      this.unsynced = true;
    }
    if (failure === null) this.lastError = null;
    let entries = newIndex;
    if (keptBytes < bytes) {
      entries = newIndex.filter((e) => e.position < this.size);
      if (entries.length < newIndex.length) this.lastIndexedPosition = entries.length > 0 ? entries[entries.length - 1]!.position : -Infinity;
    }
    if (entries.length > 0) {
      // The index is a hint rebuilt by recovery, so it is not fsync'd on the hot path.
      if (!this.indexOutOfStep) this.appendIndex(encodeIndexEntries(entries));
    }
    if (landed < batch.length) {
      // Refused, even the append whose first records landed: the client retries it, and at-least-once allows the duplicates.
      this.failBatch(batch.slice(landed), failure, 'write');
      batch = batch.slice(0, landed); // what follows acknowledges only the appends whose frames all landed
    }
    let rel = 0;
    let wantsDurable = false;
    for (const p of batch) {
      if (p.ack === 'durable') {
        this.awaitingSync.push({ p, firstOffset: firstOffset + rel });
        wantsDurable = true;
      } else {
        p.resolve({ partition: this.partition, firstOffset: firstOffset + rel, ack: 'written' });
      }
      rel += p.records.length;
    }
    if (wantsDurable) this.startSync(false);
  }

  /**
   * Appends entries to the index. The file is opened to append (O_APPEND: the position is ignored), so a write
   * cut short inside an entry (the disk filled between two blocks of the index) would put every later entry
   * out of step, and readers would decode garbage from there on. The part of an entry is cut off again; if
   * that fails, the segment gets no more entries (they are hints: reads scan further, recovery rebuilds it).
   */
  private appendIndex(encoded: Buffer): void {
    let n = 0;
    try {
      while (n < encoded.length) n += writeSync(this.idx.fd, encoded, n, encoded.length - n, this.idxSize + n);
    } catch (err) {
      this.warn({ err: String(err) }, 'could not extend a segment index (recovery will rebuild it)');
    }
    const part = n % INDEX_ENTRY_BYTES;
    if (part !== 0) {
      try {
        ftruncateSync(this.idx.fd, this.idxSize + n - part);
        n -= part;
      } catch (err) {
        this.indexOutOfStep = true;
        this.warn({ err: String(err) }, 'could not cut a partial entry off a segment index: no more entries until the next segment');
      }
    }
    this.idxSize += n;
  }

  /**
   * Where a batch of `bytes` is encoded. Up to maxBatchBytes, a buffer reused for every batch (no page faults
   * or GC per batch): the writers' WebAssembly memory, where frames are checksummed in place, or, without it
   * (or when it cannot grow), a scratch buffer of this writer's. A longer batch (one append larger than
   * maxBatchBytes) gets a buffer of its own.
   */
  private batchBuffer(bytes: number): { buf: Buffer; mem: Crc32Memory | null } {
    if (bytes > this.opts.maxBatchBytes) return { buf: Buffer.allocUnsafe(bytes), mem: null };
    const mem = writersCrc32Memory();
    if (mem !== null) {
      try {
        mem.reserve(this.opts.maxBatchBytes);
        return { buf: mem.bytes, mem };
      } catch {
        // No address space to grow it: this batch and the next take the scratch buffer.
      }
    }
    if (this.scratch.length < bytes) this.scratch = Buffer.allocUnsafe(this.opts.maxBatchBytes);
    return { buf: this.scratch, mem: null };
  }

  /**
   * fdatasync runs in its own loop, overlapping the next batch's write: each
   * fsync covers every write completed before it started, so it resolves exactly
   * the durable appends that were waiting when it began.
   */
  private startSync(force: boolean): void {
    if (this.syncing) return;
    if (!force && this.awaitingSync.length === 0) return;
    this.syncing = this.syncLoop(force).finally(() => {
      this.syncing = null;
      // A write between the loop's last check and here found the loop still running: sync it now.
      if (this.awaitingSync.length > 0 && !this.stopped) this.startSync(false);
      // Whatever schedule() held back for this sync and the loop did not write goes out now.
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async syncLoop(force: boolean): Promise<void> {
    /** Synced by the last fsync, not yet resolved: resolved once the next fsync is on its way. */
    let synced: SyncWaiter[] = [];
    while ((force || this.awaitingSync.length > 0) && !this.stopped) {
      force = false;
      if (performance.now() < this.nextSyncAllowedMs()) {
        this.resolveDurable(synced);
        synced = [];
        await this.spaceSyncs();
      }
      const waiting = this.awaitingSync.splice(0);
      this.unsynced = false;
      this.lastSyncStartMs = performance.now();
      const syncing = this.datasync();
      // The fdatasync is in the thread pool now. The answers to the last one's appends (their
      // continuations run at the await below) go out while it runs: resolved before it started,
      // they would hold the next fsync back by all the work of answering them. With the server on
      // one core the gain is within the VM's spread (wrk -c64: +1.7% over 7 pairs); with the thread
      // pool on another core, the fsync no longer waits for ~0.2 ms of answers per batch.
      this.resolveDurable(synced);
      synced = [];
      try {
        await syncing;
        this.counters.syncs++;
      } catch (err) {
        this.failedSync(err, waiting.map((w) => w.p));
        return;
      }
      if (this.stopped) {
        // The lock was lost meanwhile (lostLock): these records may have been written over by the new holder.
        this.rejectAll(waiting.map((w) => w.p), this.stopped);
        return;
      }
      if (this.segmentDeleted()) {
        this.stopDeletedSegment(waiting.map((w) => w.p));
        return;
      }
      synced = waiting;
      // Appends held back during this fsync (see schedule) are written now, so this loop runs the next fsync for them at once.
      this.writeHeldBack();
    }
    this.resolveDurable(synced);
  }

  private resolveDurable(synced: SyncWaiter[]): void {
    for (const w of synced) w.p.resolve({ partition: this.partition, firstOffset: w.firstOffset, ack: 'durable' });
  }

  /**
   * Writes the appends schedule() held back while an fsync ran, unless a write is already on its way.
   * kick() writes the first queued batch synchronously: its durable appends are in awaitingSync on return.
   */
  private writeHeldBack(): void {
    if (this.queue.length > 0 && !this.flushing && this.timer === null && this.immediate === null) this.kick();
  }

  /** minFsyncIntervalMs after the last fsync began. */
  private nextSyncAllowedMs(): number {
    return this.lastSyncStartMs + (this.opts.minFsyncIntervalMs ?? 0);
  }

  /** Waits out minFsyncIntervalMs since the last fsync began, then writes what was held back meanwhile so that this fsync covers it. */
  private async spaceSyncs(): Promise<void> {
    await waitUntil(this.nextSyncAllowedMs());
    this.writeHeldBack();
  }

  /**
   * After a failed fdatasync the kernel may have dropped the dirty pages it could not write and
   * marked them clean: the file reads fine from the cache, yet the disk may hold a hole, and a
   * later successful fsync would not rewrite it. Acknowledging anything written after the hole
   * would promise records that recovery cuts off after a crash. So the partition stops taking
   * writes, as PostgreSQL stops on a failed fsync, and refuses what waits. It does not cut the file
   * back: readers in this process may have handed out (and groups committed) offsets past the last
   * good fsync, and a cut would give those offsets to new records that such groups would skip.
   */
  private failedSync(err: unknown, waiting: PendingAppend[]): void {
    const e = err as NodeJS.ErrnoException;
    this.stop(
      new HopperError(
        'HOPPER_LOG_UNAVAILABLE',
        `fsync failed (${e.code ?? e.message}) on partition ${this.partition} in ${this.dir}: data written since the last successful fsync ` +
          'may not be on disk, so this partition takes no more writes. Check the disk, then restart hopper.',
        { cause: err, retryAfterSeconds: STOPPED_RETRY_AFTER_S, untilRestart: true },
      ),
    );
    this.failBatch(waiting, err, 'fsync'); // lastError: the fsync's own error code
  }

  /**
   * The writer lock now belongs to another process (this one was paused past FOREIGN_LOCK_STALE_MS and a process
   * in another container took the partition over): it recovered the partition from what it found and writes it
   * now. Nothing more is written here, and nothing waiting is acknowledged: its frames may lie where the new
   * holder writes. Stopped until a restart, as after a failed fsync.
   */
  private lostLock(): void {
    if (this.stopped) return;
    this.warn({ partition: this.partition, dir: this.dir }, 'writer lock lost to another process: this partition takes no more writes here');
    this.stop(
      new HopperError(
        'HOPPER_LOG_UNAVAILABLE',
        `partition ${this.partition} in ${this.dir} is written by another process now: this one was paused or stalled for over ` +
          `${FOREIGN_LOCK_STALE_MS / 1000} s and lost its writer lock, so it takes no more writes there. Restart it once the other ` +
          'writer stops, or give each process its own data directory.',
        { retryAfterSeconds: STOPPED_RETRY_AFTER_S, untilRestart: true },
      ),
    );
  }

  /**
   * Whether the active segment file was deleted (by hand, or a cleanup script) while written: its data lives on
   * in the open file only, and is gone at the next restart. Checked after each fsync, before its appends are
   * acknowledged (one fstat, no I/O); an error is taken as "not deleted" (the fsync itself succeeded).
   */
  private segmentDeleted(): boolean {
    try {
      return fstatSync(this.fh.fd).nlink === 0;
    } catch {
      return false;
    }
  }

  private stopDeletedSegment(waiting: PendingAppend[]): void {
    const path = segmentPath(this.dir, this.base);
    this.warn({ partition: this.partition, path }, 'the active segment file was deleted while written: this partition takes no more writes');
    const error = new HopperError(
      'HOPPER_LOG_UNAVAILABLE',
      `the segment file ${path} was deleted while partition ${this.partition} was writing it: what it held since is gone at the next ` +
        'restart, so this partition takes no more writes. Restart hopper (it goes on from the segments left).',
      { retryAfterSeconds: STOPPED_RETRY_AFTER_S, untilRestart: true },
    );
    this.rejectAll(waiting, error);
    this.stop(error);
  }

  /** Stops the partition until a restart: every append waiting or queued is refused with `error`, and so are later ones. */
  private stop(error: HopperError): void {
    this.stopped = error;
    this.lastError = { code: error.code, message: error.message, atMs: Date.now() };
    this.rejectAll(this.awaitingSync.splice(0).map((w) => w.p), error);
    this.queuedNotDurable = 0;
    this.refuseUnwritten(this.queue.splice(0), error);
    // The queue is empty for good: a flush() waiting for it to drain must not wait for a write that never comes.
    if (!this.flushing) for (const w of this.drainWaiters.splice(0)) w();
  }

  /** fdatasync of the active segment's data, timed for onFsync (a failed one is not timed). */
  private async datasync(): Promise<void> {
    const startedMs = performance.now();
    await this.fh.datasync();
    this.onFsync?.((performance.now() - startedMs) / 1000);
  }

  /** Refuses appends taken from the queue before their write, releasing what they held of the pending budget. */
  private refuseUnwritten(batch: PendingAppend[], error: Error): void {
    for (const p of batch) {
      this.pendingBytesNow -= p.bytes;
      this.pendingRecordsNow -= p.records.length;
    }
    this.rejectAll(batch, error);
  }

  private async syncIdle(): Promise<void> {
    while (this.syncing) await this.syncing;
  }

  private failBatch(batch: PendingAppend[], err: unknown, op: string): void {
    const e = err as NodeJS.ErrnoException;
    this.lastError = { code: e.code ?? 'EIO', message: e.message, atMs: Date.now() };
    this.warn({ op, code: e.code, err: e.message, partition: this.partition }, 'log write failed; the affected appends are refused');
    const error = new HopperError('HOPPER_LOG_UNAVAILABLE', `The log could not ${op} (${e.code ?? e.message}): retry later.`, {
      cause: err,
      retryAfterSeconds: 1,
    });
    this.rejectAll(batch, error);
  }

  private rejectAll(batch: PendingAppend[], error: Error): void {
    for (const p of batch) {
      if (p.ack === 'fast') this.lostFastRecords += p.records.length;
      p.reject(error);
    }
  }

  /** Seals the active segment (data and index on disk) and starts a new one at nextOffset. */
  private async roll(): Promise<void> {
    await this.syncIdle();
    if (this.stopped) return;
    try {
      await this.datasync();
    } catch (err) {
      this.failedSync(err, []);
      return;
    }
    this.unsynced = false;
    const nextBase = this.nextOffset;
    let fh: FileHandle | null = null;
    let idx: FileHandle | null = null;
    try {
      await this.idx.datasync();
      fh = await fsp.open(segmentPath(this.dir, nextBase), 'wx+');
      idx = await fsp.open(indexPath(this.dir, nextBase), 'a+');
      await fsyncDir(this.dir);
    } catch (err) {
      // Stay on the current segment; the next batch tries again. The new files go: an empty segment left
      // behind would be taken, after a restart, for the newest one, and the offsets written meanwhile into
      // the current segment would be given out again (recovery removes such a leftover too).
      await fh?.close().catch(() => undefined);
      await idx?.close().catch(() => undefined);
      if (fh !== null) await fsp.rm(segmentPath(this.dir, nextBase), { force: true }).catch(() => undefined);
      if (idx !== null) await fsp.rm(indexPath(this.dir, nextBase), { force: true }).catch(() => undefined);
      this.warn({ err: String(err) }, 'could not roll to a new segment');
      return;
    }
    const sealed = [this.fh, this.idx];
    this.fh = fh;
    this.idx = idx;
    this.base = nextBase;
    this.size = 0;
    this.idxSize = 0;
    this.indexOutOfStep = false;
    // maxTimeUs carries over: the time index must see a late-stamped record at the end of the sealed segment.
    this.lastIndexedPosition = -Infinity;
    this.bases.push(nextBase);
    for (const h of sealed) await h.close().catch(() => undefined);
  }

  /** Resolves when everything queued so far has been written and every pending fsync ran (or failed). */
  async flush(): Promise<void> {
    if (this.flushing || this.queue.length > 0) {
      await new Promise<void>((resolve) => {
        this.drainWaiters.push(resolve);
        if (!this.flushing) {
          if (this.timer) clearTimeout(this.timer);
          this.timer = null;
          this.kick();
        }
      });
    }
    await this.syncIdle();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
    clearInterval(this.syncTimer);
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    // Every durable append was answered by the sync loop; this covers written and fast ones only.
    await this.datasync().catch((err: unknown) => {
      if (!this.stopped) this.warn({ err: String(err), partition: this.partition }, 'fsync at close failed: written and fast appends since the last fsync may be lost');
    });
    await this.idx.datasync().catch(() => undefined);
    await this.fh.close();
    await this.idx.close();
    await this.lock.release();
  }
}
