// The embedded backend: Hopper's own segmented append-only log in a data
// directory (format, invariants and recovery rules in DESIGN.md). This file
// maps the Log interface onto partition writers and readers, stores consumer
// positions atomically, and applies retention.

import { promises as fsp, existsSync } from 'node:fs';
import { join } from 'node:path';
import { HopperError, assertGroupName, assertStreamName, isHopperError, isValidLogStreamName, isValidName } from '../../errors.js';
import type {
  AckLevel,
  AppendResult,
  ConsumerOptions,
  Log,
  LogConsumer,
  LogLock,
  LogStats,
  PartitionStats,
  ReadOptions,
  ReadResult,
  RecordInput,
  StreamOptions,
} from '../types.js';
import { PartitionWriter, type WriterOptions } from './partition-writer.js';
import { PartitionReader } from './partition-reader.js';
import { forgetDeliveries } from './delivery-count.js';
import { forgetQuarantine, QUARANTINE_FILE } from './quarantine-file.js';
import { fsyncDir, listSegments, prepareFileAtomic, segmentPath, writeFileAtomic, type PreparedFile } from './segment-files.js';
import type { WarnFn } from './partition-recovery.js';
import { EmbeddedGroupConsumer } from './group-consumer.js';
import { WriterLock } from './writer-lock.js';
import { lockNameParts } from '../lock-name.js';
import { assertOffset } from '../offset-check.js';

export interface EmbeddedLogOptions extends WriterOptions {
  dataDir: string;
  warn?: WarnFn;
  /** How often the partitions this process writes are trimmed by age and bytes; 0 or absent: only when enforceRetention() is called. */
  retentionCheckIntervalMs?: number;
}

const STREAM_META = 'stream.json';

/** A group whose position file on a partition cannot be read (hopper replay writes a new one). */
export interface UnreadableGroupPosition {
  group: string;
  code: string;
  message: string;
}

/** PartitionStats of the embedded log: groups with an unreadable position are listed apart, not in `groups`. */
export interface EmbeddedPartitionStats extends PartitionStats {
  unreadableGroups?: UnreadableGroupPosition[];
}

interface StreamMeta {
  retentionMaxAgeMs: number;
  retentionMaxBytes: number;
}

export class EmbeddedLog implements Log {
  readonly backend = 'embedded';
  readonly capabilities = { durableIsFsync: true };
  private readonly writers = new Map<string, PartitionWriter>();
  /** The same writers by stream, then partition: append's lookup builds no `stream/partition` key string (bench:log, one record per append: about 4% of its CPU). */
  private readonly writersByStream = new Map<string, PartitionWriter[]>();
  private readonly opening = new Map<string, Promise<PartitionWriter>>();
  private readonly readers = new Map<string, PartitionReader>();
  /** Group directories made by this process: position writes skip the mkdir (redone if one vanished). */
  private readonly groupDirsMade = new Set<string>();
  private readonly warn: WarnFn;
  /** Set by timeFsyncs(): handed to every partition writer, open now or later. */
  private fsyncObserver: ((seconds: number) => void) | null = null;
  private closed = false;
  /** Set once close() has waited for the writers being opened: a writer opened later would never be closed. */
  private writersClosing = false;
  /** Runs retention over the partitions this process writes, from the first writer opened on. */
  private retentionTimer: NodeJS.Timeout | null = null;
  private retaining: Promise<void> | null = null;
  /** Locks of acquireLock not released yet: close() releases them. */
  private readonly locks = new Set<WriterLock>();

  constructor(private readonly opts: EmbeddedLogOptions) {
    this.warn = opts.warn ?? (() => undefined);
  }

  get dataDir(): string {
    return this.opts.dataDir;
  }

  streamDir(stream: string): string {
    return join(this.opts.dataDir, 'streams', stream);
  }

  partitionDir(stream: string, partition: number): string {
    return join(this.streamDir(stream), String(partition));
  }

  groupDir(group: string, stream: string): string {
    return join(this.opts.dataDir, 'groups', group, stream);
  }

  async ensureStream(stream: string, options: StreamOptions): Promise<void> {
    assertStreamName(stream);
    const dir = this.streamDir(stream);
    await fsp.mkdir(dir, { recursive: true });
    for (let p = 0; p < options.partitions; p++) await fsp.mkdir(this.partitionDir(stream, p), { recursive: true });
    const meta: StreamMeta = { retentionMaxAgeMs: options.retentionMaxAgeMs, retentionMaxBytes: options.retentionMaxBytes };
    const path = join(dir, STREAM_META);
    const current = await fsp.readFile(path, 'utf8').catch(() => '');
    if (current !== JSON.stringify(meta)) await writeFileAtomic(path, JSON.stringify(meta), dir);
    await fsyncDir(join(this.opts.dataDir, 'streams'));
  }

  async listStreams(): Promise<string[]> {
    const names = await fsp.readdir(join(this.opts.dataDir, 'streams')).catch(() => [] as string[]);
    return names.filter(isValidLogStreamName).sort();
  }

  async listPartitions(stream: string): Promise<number[]> {
    assertStreamName(stream);
    const names = await fsp.readdir(this.streamDir(stream)).catch(() => [] as string[]);
    return names.filter((n) => /^\d{1,6}$/.test(n)).map(Number).sort((a, b) => a - b);
  }

  private writerFor(stream: string, partition: number): PartitionWriter | Promise<PartitionWriter> {
    const key = `${stream}/${partition}`;
    const w = this.writers.get(key);
    if (w) return w;
    let p = this.opening.get(key);
    if (!p) {
      p = this.openWriter(stream, partition, key);
      this.opening.set(key, p);
      p.catch(() => this.opening.delete(key));
    }
    return p;
  }

  private async openWriter(stream: string, partition: number, key: string): Promise<PartitionWriter> {
    assertStreamName(stream);
    if (!Number.isSafeInteger(partition) || partition < 0 || partition > 999_999) {
      throw new HopperError('HOPPER_PARTITION_UNKNOWN', `Invalid partition ${partition}.`);
    }
    if (!existsSync(this.streamDir(stream))) throw new HopperError('HOPPER_STREAM_UNKNOWN', `No such stream ${JSON.stringify(stream)}.`);
    // ensureStream makes every partition's directory: opening a writer on a missing one would add a partition behind its back.
    if (!existsSync(this.partitionDir(stream, partition))) throw new HopperError('HOPPER_PARTITION_UNKNOWN', `Stream ${stream} has no partition ${partition}.`);
    const w = await PartitionWriter.open(this.partitionDir(stream, partition), `stream ${stream} partition ${partition}`, partition, this.opts, this.warn);
    // A writer opened for appends made before close() is kept: close() waits for it and flushes them.
    if (this.writersClosing) {
      await w.close();
      throw new HopperError('HOPPER_LOG_CLOSED');
    }
    await this.clampPositionsToEnd(stream, partition, w.writtenEnd.nextOffset);
    w.onFsync = this.fsyncObserver;
    this.writers.set(key, w);
    let byPartition = this.writersByStream.get(stream);
    if (byPartition === undefined) this.writersByStream.set(stream, (byPartition = []));
    byPartition[partition] = w;
    this.opening.delete(key);
    this.readers.get(key)?.invalidate();
    this.startRetention();
    return w;
  }

  /**
   * Each partition is trimmed by the one process that writes it, so two processes never race over its
   * segment list; a process that only reads (hopper log read, a worker) deletes nothing.
   */
  private startRetention(): void {
    const everyMs = this.opts.retentionCheckIntervalMs ?? 0;
    if (this.retentionTimer !== null || everyMs <= 0 || this.closed) return; // closed: a writer kept for appends made before close()
    this.retentionTimer = setInterval(() => {
      if (this.retaining !== null || this.closed) return;
      this.retaining = this.enforceRetention(Date.now(), (stream, partition) => this.writers.has(`${stream}/${partition}`))
        .catch((err: unknown) => this.warn({ err: String(err) }, 'retention check failed; the next check tries again'))
        .finally(() => {
          this.retaining = null;
        });
    }, everyMs);
    this.retentionTimer.unref();
  }

  append(stream: string, partition: number, records: RecordInput[], ack: AckLevel): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new HopperError('HOPPER_LOG_CLOSED'));
    const open = this.writersByStream.get(stream)?.[partition];
    if (open !== undefined) return open.append(records, ack);
    const w = this.writerFor(stream, partition);
    if (w instanceof PartitionWriter) return w.append(records, ack);
    return w.then((writer) => writer.append(records, ack));
  }

  /** Opens (and recovers) a partition for writing ahead of the first append. */
  async openForWriting(stream: string, partition: number): Promise<void> {
    await this.writerFor(stream, partition);
  }

  reader(stream: string, partition: number): PartitionReader {
    assertStreamName(stream);
    const key = `${stream}/${partition}`;
    let r = this.readers.get(key);
    if (!r) {
      r = new PartitionReader(this.partitionDir(stream, partition), stream, partition, this.warn, () => this.writers.get(key) ?? null);
      this.readers.set(key, r);
    }
    return r;
  }

  read(stream: string, partition: number, fromOffset: number, options: ReadOptions): Promise<ReadResult> {
    return this.reader(stream, partition).read(fromOffset, options.maxRecords, options.maxBytes);
  }

  offsetForTime(stream: string, partition: number, timeUs: number): Promise<number> {
    return this.reader(stream, partition).offsetForTime(timeUs);
  }

  private positionPath(group: string, stream: string, partition: number): string {
    return join(this.groupDir(group, stream), `${partition}.position`);
  }

  /** A position stored from outside the group's members (hopper replay): the records from there are delivered afresh. */
  async commitPosition(group: string, stream: string, partition: number, position: number): Promise<void> {
    await (await this.preparePosition(group, stream, partition, position)).install();
    await forgetDeliveries(this.groupDir(group, stream), partition);
  }

  /**
   * commitPosition in two steps: the position file is written and synced now, and moved into place by
   * install(). A group member prepares the next position while the previous one is still syncing.
   */
  async preparePosition(group: string, stream: string, partition: number, position: number): Promise<PreparedFile> {
    assertGroupName(group);
    assertStreamName(stream);
    assertOffset(position, 'group position');
    const dir = this.groupDir(group, stream);
    const path = this.positionPath(group, stream, partition);
    const text = JSON.stringify({ position });
    if (this.groupDirsMade.has(dir)) {
      try {
        return await prepareFileAtomic(path, text, dir, false);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.groupDirsMade.delete(dir);
      }
    }
    await fsp.mkdir(dir, { recursive: true });
    this.groupDirsMade.add(dir);
    return prepareFileAtomic(path, text, dir, false);
  }

  async getPosition(group: string, stream: string, partition: number): Promise<number | null> {
    assertGroupName(group);
    assertStreamName(stream);
    try {
      const { position } = JSON.parse(await fsp.readFile(this.positionPath(group, stream, partition), 'utf8')) as { position: unknown };
      // Valid JSON is not enough: '{}' would read as no position, and the group would start over from 0.
      if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) throw new Error(`not an offset: ${JSON.stringify(position)}`);
      return position;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new HopperError(
        'HOPPER_LOG_CORRUPT',
        `Position file of group ${group} on ${stream}/${partition} is unreadable: commit a new position with hopper replay --stream ${stream} --group ${group} --partition ${partition} --from OFFSET|ISO-TIME.`,
        { cause: err },
      );
    }
  }

  /**
   * Run when a writer opened (and recovered) a partition, before its first append: a group position past
   * the recovered end points at records a power cut took (written and read by the group, never fsynced).
   * Their offsets go to the next appends, which the group would skip: the position moves back to the end.
   * Never throws: a failure is logged, and the group member checks again when it takes the partition.
   */
  private async clampPositionsToEnd(stream: string, partition: number, endOffset: number): Promise<void> {
    try {
      for (const group of await this.groupsOf(stream)) {
        let position: number | null;
        try {
          position = await this.getPosition(group, stream, partition);
        } catch (err) {
          if (isHopperError(err, 'HOPPER_LOG_CORRUPT')) continue; // reported by stats and by the group's members
          throw err;
        }
        if (position === null || position <= endOffset) continue;
        this.warn(
          { group, stream, partition, position, endOffset },
          'consumer group position past the recovered end of the partition (records lost in a power cut): moved back to the end, so new records are not skipped',
        );
        await this.commitPosition(group, stream, partition, endOffset);
      }
    } catch (err) {
      this.warn({ stream, partition, err: String(err) }, 'could not check consumer group positions against the recovered end of the partition');
    }
  }

  private async groupsOf(stream: string): Promise<string[]> {
    const groups = await fsp.readdir(join(this.opts.dataDir, 'groups')).catch(() => [] as string[]);
    return groups.filter((g) => isValidName(g) && existsSync(this.groupDir(g, stream)));
  }

  openConsumer(options: ConsumerOptions): Promise<LogConsumer> {
    assertGroupName(options.group);
    assertStreamName(options.stream);
    return EmbeddedGroupConsumer.open(this, options, this.warn);
  }

  pendingBytes(): number {
    let total = 0;
    for (const w of this.writers.values()) total += w.pendingBytes;
    return total;
  }

  timeFsyncs(observe: (seconds: number) => void): boolean {
    this.fsyncObserver = observe;
    for (const w of this.writers.values()) w.onFsync = observe;
    return true;
  }

  /** Records acknowledged `fast` whose write later failed (the documented loss of `fast`). */
  lostFastRecords(): number {
    let total = 0;
    for (const w of this.writers.values()) total += w.lostFastRecords;
    return total;
  }

  /** The last write error of any partition of this process, while it is not yet followed by a success. */
  lastWriteError(): { code: string; message: string; atMs: number } | null {
    for (const w of this.writers.values()) if (w.lastError) return w.lastError;
    return null;
  }

  async stats(): Promise<LogStats> {
    const streams = [];
    for (const stream of await this.listStreams()) {
      const groups = await this.groupsOf(stream);
      const partitions: PartitionStats[] = [];
      for (const partition of await this.listPartitions(stream)) {
        const reader = this.reader(stream, partition);
        const bases = await reader.segments();
        let bytes = 0;
        for (const base of bases) bytes += (await fsp.stat(segmentPath(this.partitionDir(stream, partition), base)).catch(() => ({ size: 0 }))).size;
        const endOffset = await reader.endOffset();
        const startOffset = (await reader.startOffset()) ?? 0;
        const quarantine = await reader.quarantineTotals(bases);
        const groupStats = [];
        const unreadableGroups: UnreadableGroupPosition[] = [];
        for (const group of groups) {
          let position: number | null;
          try {
            position = await this.getPosition(group, stream, partition);
          } catch (err) {
            // One bad position file must not hide the stats of the whole log (nor block hopper replay, which reads them).
            if (!isHopperError(err, 'HOPPER_LOG_CORRUPT')) throw err;
            unreadableGroups.push({ group, code: err.code, message: err.message });
            continue;
          }
          if (position === null) continue;
          groupStats.push({ group, position, lag: Math.max(0, endOffset - Math.max(position, startOffset)) });
        }
        const stats: EmbeddedPartitionStats = {
          partition,
          startOffset,
          endOffset,
          bytes,
          segments: bases.length,
          quarantinedRecords: quarantine.records,
          quarantinedBytes: quarantine.bytes,
          groups: groupStats,
        };
        // Only when there is one: the output of `hopper log stats` is unchanged otherwise.
        if (unreadableGroups.length > 0) stats.unreadableGroups = unreadableGroups;
        partitions.push(stats);
      }
      streams.push({ stream, partitions });
    }
    return { backend: this.backend, streams };
  }

  /** Deletes whole segments past a stream's age or byte limit (of the partitions `only` picks, by default all). */
  async enforceRetention(nowMs = Date.now(), only: (stream: string, partition: number) => boolean = () => true): Promise<void> {
    for (const stream of await this.listStreams()) {
      const meta = JSON.parse(await fsp.readFile(join(this.streamDir(stream), STREAM_META), 'utf8').catch(() => '{}')) as Partial<StreamMeta>;
      const maxAgeMs = meta.retentionMaxAgeMs ?? 0;
      const maxBytes = meta.retentionMaxBytes ?? 0;
      if (maxAgeMs === 0 && maxBytes === 0) continue;
      const partitions = await this.listPartitions(stream);
      const budgetBytes = maxBytes > 0 ? Math.floor(maxBytes / Math.max(1, partitions.length)) : Infinity;
      for (const partition of partitions) {
        if (only(stream, partition)) await this.retainPartition(stream, partition, nowMs, maxAgeMs, budgetBytes);
      }
    }
  }

  private async retainPartition(stream: string, partition: number, nowMs: number, maxAgeMs: number, budgetBytes: number): Promise<void> {
    const dir = this.partitionDir(stream, partition);
    const writer = this.writers.get(`${stream}/${partition}`);
    const bases = writer ? writer.bases : await listSegments(dir);
    const infos = [];
    for (const base of bases) {
      const st = await fsp.stat(segmentPath(dir, base)).catch(() => null);
      infos.push({ base, bytes: st?.size ?? 0, mtimeMs: st?.mtimeMs ?? 0 });
    }
    let total = infos.reduce((s, x) => s + x.bytes, 0);
    let deleted = 0;
    // The newest segment is never deleted: it is (or may be) the one being written.
    for (const info of infos.slice(0, -1)) {
      const tooOld = maxAgeMs > 0 && nowMs - info.mtimeMs > maxAgeMs;
      const tooBig = total > budgetBytes;
      if (!tooOld && !tooBig) break;
      // Data file first: a crash in between leaves an orphan index, which recovery removes.
      await fsp.rm(segmentPath(dir, info.base), { force: true });
      await fsp.rm(segmentPath(dir, info.base).replace(/\.log$/, '.idx'), { force: true });
      total -= info.bytes;
      deleted++;
      if (writer && writer.bases[0] === info.base) writer.bases.shift();
    }
    await fsyncDir(dir).catch(() => undefined);
    const start = infos[deleted]?.base;
    if (start === undefined) return;
    // Also when nothing was deleted now: a run that crashed or failed here left the ranges of the segments it deleted.
    await forgetQuarantine(dir, start).catch((err: unknown) =>
      this.warn({ stream, partition, err: String(err) }, `could not drop the damaged ranges of deleted segments from ${QUARANTINE_FILE}; the next retention check tries again`),
    );
  }

  /**
   * A writer lock file (writer-lock.ts) under {dataDir}/locks/{name}/: every process on this data directory
   * sees it, and one whose owner process is gone (SIGKILL, power cut) is taken over at once.
   */
  async acquireLock(name: string, what: string): Promise<LogLock> {
    const dir = join(this.opts.dataDir, 'locks', ...lockNameParts(name));
    if (this.closed) throw new HopperError('HOPPER_LOG_CLOSED');
    await fsp.mkdir(dir, { recursive: true });
    let lock: WriterLock;
    try {
      lock = await WriterLock.acquire(dir, what);
    } catch (err) {
      if (!isHopperError(err, 'HOPPER_PARTITION_LOCKED')) throw err;
      // The cause names the holder's pid (or says it is this process).
      throw new HopperError('HOPPER_LOCK_HELD', `${what} is locked by another holder: wait for it to finish, then try again.`, { cause: err });
    }
    this.locks.add(lock);
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        this.locks.delete(lock);
        await lock.release().catch((e: unknown) => this.warn({ err: String(e), lock: name }, 'could not remove a lock file: it is taken over once this process exits'));
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.locks].map((l) => l.release().catch(() => undefined)));
    this.locks.clear();
    if (this.retentionTimer !== null) clearInterval(this.retentionTimer);
    await this.retaining;
    await Promise.allSettled([...this.opening.values()]);
    this.writersClosing = true;
    await Promise.all([...this.writers.values()].map((w) => w.close()));
    this.writers.clear();
    this.writersByStream.clear();
    await Promise.all([...this.readers.values()].map((r) => r.close()));
    this.readers.clear();
  }
}
