// Reads one partition: seeks with the sparse index, validates every frame it
// returns, and skips (and reports) damaged ranges inside sealed segments so a
// bad byte never blocks or crash-loops a consumer. Works from any process:
// the writer, when it lives in this process, tells where written data ends.
// A caller reading on from where its last read stopped (a consumer draining the
// partition) continues from a read-ahead cursor instead of seeking again.

import { promises as fsp } from 'node:fs';
import type { LogRecord, ReadResult } from '../types.js';
import { decodeFrame } from './record-frame.js';
import { findNextFrame, scanFrames, type FoundFrame } from './frame-scanner.js';
import { ReadAheadCursor } from './read-ahead.js';
import { decodeIndexEntries, indexPath, INDEX_ENTRY_BYTES, listSegments, segmentName, segmentPath, type IndexEntry } from './segment-files.js';
import type { PartitionWriter } from './partition-writer.js';
import { frameOffsetAt, type WarnFn } from './partition-recovery.js';
import { assertOffset } from '../offset-check.js';
import { QUARANTINE_FILE, rangeKey, readQuarantine, recordQuarantine, type QuarantinedRange } from './quarantine-file.js';

const DEFAULT_READ_MAX_BYTES = 16 * 1024 * 1024;
/** Records examined per call of offsetForTime's forward scan. */
const TIME_SCAN_BATCH = 4096;

/** An open segment file, shared by the reads of that segment. */
interface SegmentHandle {
  fh: fsp.FileHandle;
  /** Reads holding it now (between useHandle and doneWith). */
  users: number;
  /** Out of the map (file deleted, evicted, reader closed): closed when its last user is done. */
  dropped: boolean;
}

interface CachedIndex {
  entries: IndexEntry[];
  bytesRead: number;
  /** Read while the segment was already sealed: it will not change. */
  complete: boolean;
  /** The newest segment's index grew behind our back (a read had to scan far): re-read it. */
  stale: boolean;
}

/**
 * Segment files kept open per partition reader while idle; the least recently used idle ones are
 * closed. A handle in use by a read is never closed under it: concurrent reads of more segments
 * than this (several groups, admin record pages) keep theirs open until they are done.
 */
const MAX_OPEN_SEGMENTS = 4;
const MIN_CHUNK_BYTES = 64 * 1024;
const MAX_CHUNK_BYTES = 1024 * 1024;
/** A read that scans more than this from its index entry to the wanted offset refreshes the index. */
const STALE_INDEX_SCAN_BYTES = 256 * 1024;
/** Sequential readers (consumer groups) per partition that get a read-ahead cursor; the least recent is dropped. */
const MAX_READ_AHEAD_CURSORS = 2;

export class PartitionReader {
  private indexCache = new Map<number, CachedIndex>();
  /** Damaged ranges this reader found (also merged into quarantine.json, unless that write failed). */
  private quarantined = new Map<string, QuarantinedRange>();
  /** Least recently used first. */
  private handles = new Map<number, SegmentHandle>();
  /** Most recently used first. */
  private cursors: ReadAheadCursor[] = [];
  /** Sizes of sealed segments (they never change), so a read needs no fstat. */
  private sealedSizes = new Map<number, number>();
  /**
   * Per segment, where valid frames start again after damage that no index entry lies past (found by a forward
   * search): a later seek starts there instead of before the damage, which it would meet again. Ascending offsets.
   */
  private resumePoints = new Map<number, FoundFrame[]>();
  /** Running average of frame sizes, to size reads to what maxRecords needs. */
  private avgFrameBytes = 512;
  /** Segments seen holding data (a segment never empties again): no stat per read to tell them from a failed roll's leftover. */
  private withData = new Set<number>();

  constructor(
    private readonly dir: string,
    private readonly stream: string,
    private readonly partition: number,
    private readonly warn: WarnFn,
    private readonly writer: () => PartitionWriter | null,
  ) {}

  async segments(): Promise<number[]> {
    const w = this.writer();
    const bases = w ? [...w.bases] : await listSegments(this.dir);
    for (const base of this.indexCache.keys()) if (!bases.includes(base)) this.indexCache.delete(base);
    if (this.cursors.some((c) => !bases.includes(c.base))) this.cursors = this.cursors.filter((c) => bases.includes(c.base));
    for (const base of this.sealedSizes.keys()) if (!bases.includes(base)) this.sealedSizes.delete(base);
    for (const base of this.resumePoints.keys()) if (!bases.includes(base)) this.resumePoints.delete(base);
    for (const base of this.withData) if (!bases.includes(base)) this.withData.delete(base);
    for (const [key, r] of this.quarantined) if (!bases.includes(r.segment)) this.quarantined.delete(key);
    for (const [base, h] of this.handles) if (!bases.includes(base)) this.drop(base, h);
    return bases;
  }

  /**
   * The segments to read, unless this process writes the partition: those holding data. An empty segment is the
   * leftover of a roll that failed (its file not removed; appends went on in the segment before it, which holds its
   * offsets) or, the newest only, a roll just made (the segment before it is sealed and ends at its base). Every
   * segment with data was made by a roll that succeeded, from the segment with data before it, which ends exactly at
   * its base: the offsets between two such segments are all in the first, whatever leftovers lie between them. After
   * the last one with data, leftovers and a new segment look the same: that one is read as the newest, and serves
   * both (recovery tells the two apart the same way, by where it ends). `passedOver` is then the newest segment's
   * base: the data below it was synced before its file was made, so none of it is a write in progress.
   */
  private async readableSegments(): Promise<{ bases: number[]; passedOver: number | null }> {
    const bases = await this.segments();
    if (bases.length < 2 || this.writer() !== null) return { bases, passedOver: null };
    const sizes = await Promise.all(
      bases.map((base) =>
        this.withData.has(base)
          ? 1
          : fsp.stat(segmentPath(this.dir, base)).then(
              (st) => st.size,
              // Gone: deleted by retention, a failed roll's file the writer removed, a leftover recovery removed.
              // Not known (any other error): kept, for the read to meet the error itself.
              (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? 0 : -1),
            ),
      ),
    );
    const kept: number[] = [];
    for (let i = 0; i < bases.length; i++) {
      if (sizes[i]! === 0) continue;
      if (sizes[i]! > 0) this.withData.add(bases[i]!);
      kept.push(bases[i]!);
    }
    const newest = bases[bases.length - 1]!;
    // None holds data yet (the one before a roll just made deleted by retention): the newest is where records go.
    if (kept.length === 0) return { bases: [newest], passedOver: null };
    return { bases: kept, passedOver: kept[kept.length - 1] === newest ? null : newest };
  }

  /**
   * An open handle on a segment, held until doneWith (it is not closed while held), or null when the
   * file is gone. Handles stay open for the next reads; only idle ones are closed, least recently used first.
   */
  private async useHandle(base: number): Promise<SegmentHandle | null> {
    let h = this.handles.get(base);
    if (!h) {
      let fh: fsp.FileHandle;
      try {
        fh = await fsp.open(segmentPath(this.dir, base), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
      // Another read opened it meanwhile: share that one (no await until it is counted as used).
      h = this.handles.get(base);
      if (h) void fh.close().catch(() => undefined);
      else h = { fh, users: 0, dropped: false };
    }
    this.handles.delete(base);
    this.handles.set(base, h);
    h.users++;
    this.closeIdle();
    return h;
  }

  private doneWith(h: SegmentHandle): void {
    h.users--;
    if (h.users === 0 && h.dropped) void h.fh.close().catch(() => undefined);
    this.closeIdle();
  }

  private drop(base: number, h: SegmentHandle): void {
    this.handles.delete(base);
    h.dropped = true;
    if (h.users === 0) void h.fh.close().catch(() => undefined);
  }

  /** Closes idle handles, least recently used first, while more than MAX_OPEN_SEGMENTS are open. */
  private closeIdle(): void {
    if (this.handles.size <= MAX_OPEN_SEGMENTS) return;
    for (const [base, h] of this.handles) {
      if (this.handles.size <= MAX_OPEN_SEGMENTS) break;
      if (h.users === 0) this.drop(base, h);
    }
  }

  /** Forgets cached indexes (a writer's recovery may have rewritten the newest one). */
  invalidate(): void {
    this.indexCache.clear();
    this.cursors = [];
    this.sealedSizes.clear();
    this.resumePoints.clear();
    this.withData.clear();
  }

  /** Closes the idle handles now, and those of reads in progress when they are done. */
  async close(): Promise<void> {
    this.cursors = [];
    const idle = [...this.handles.values()].filter((h) => h.users === 0);
    for (const [base, h] of this.handles) {
      this.handles.delete(base);
      h.dropped = true;
    }
    await Promise.all(idle.map((h) => h.fh.close().catch(() => undefined)));
  }

  /** The index of a segment, extended with entries appended since it was last read. */
  async index(base: number, isLast = true): Promise<IndexEntry[]> {
    let cached = this.indexCache.get(base);
    if (!cached) {
      cached = { entries: [], bytesRead: 0, complete: false, stale: true };
      this.indexCache.set(base, cached);
    }
    if (cached.complete || (isLast && !cached.stale)) return cached.entries;
    // Set before the read, so that a concurrent call does not read the same entries again; undone when the read
    // fails (a full descriptor table, a missing index that recovery rebuilds later): marked complete without its
    // entries, a sealed segment was read without an index for good (each seek a scan from its start, and damage
    // skipped to the segment's end).
    cached.stale = false;
    if (!isLast) cached.complete = true;
    const retryLater = (): void => {
      cached.stale = true;
      cached.complete = false;
    };
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(indexPath(this.dir, base), 'r');
    } catch (err) {
      retryLater();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return cached.entries;
      throw err;
    }
    try {
      const { size } = await fh.stat();
      if (size < cached.bytesRead) {
        // Rewritten by recovery: start over.
        cached.entries = [];
        cached.bytesRead = 0;
      }
      const whole = size - (size % INDEX_ENTRY_BYTES);
      if (whole > cached.bytesRead) {
        const buf = Buffer.allocUnsafe(whole - cached.bytesRead);
        const { bytesRead } = await fh.read(buf, 0, buf.length, cached.bytesRead);
        const fresh = decodeIndexEntries(buf.subarray(0, bytesRead - (bytesRead % INDEX_ENTRY_BYTES)));
        // One push per entry: push(...fresh) passes them as arguments, and past ~120,000 (a 1 GiB segment) that throws.
        for (const e of inOrder(fresh, cached.entries[cached.entries.length - 1])) cached.entries.push(e);
        cached.bytesRead += fresh.length * INDEX_ENTRY_BYTES;
      }
    } catch (err) {
      retryLater();
      throw err;
    } finally {
      await fh.close();
    }
    return cached.entries;
  }

  /** Bytes of `base` that may be read, and whether a bad frame at the end is only a write in progress. */
  private async readableEnd(base: number, isLast: boolean, fh: fsp.FileHandle): Promise<{ end: number; tailMayBeTorn: boolean }> {
    const w = this.writer();
    if (w && w.writtenEnd.base === base) return { end: w.writtenEnd.position, tailMayBeTorn: false };
    const sealed = isLast ? undefined : this.sealedSizes.get(base);
    if (sealed !== undefined) return { end: sealed, tailMayBeTorn: false };
    const { size } = await fh.stat();
    if (!isLast && size > 0) this.sealedSizes.set(base, size); // empty: a failed roll's file, never kept as sealed
    return { end: size, tailMayBeTorn: isLast };
  }

  async read(fromOffset: number, maxRecords: number, maxBytes = DEFAULT_READ_MAX_BYTES): Promise<ReadResult> {
    assertOffset(fromOffset, 'read offset', true);
    const records: LogRecord[] = [];
    let bytes = 0;
    let from = Math.max(0, fromOffset);
    const { bases, passedOver } = await this.readableSegments();
    if (bases.length === 0) return { records, nextOffset: from };
    if (from < bases[0]!) from = bases[0]!;
    let i = upperBound(bases, from) - 1;
    if (i < 0) i = 0;
    // maxBytes is soft: at least one record, whatever it is (a read of none would look like the end).
    while (i < bases.length && records.length < maxRecords && (bytes < maxBytes || records.length === 0)) {
      const base = bases[i]!;
      const isLast = i === bases.length - 1;
      const handle = await this.useHandle(base);
      if (handle === null) {
        // Deleted by retention while we looked (or by hand: reported below): go on with the next segment.
        if (isLast) break;
        await this.reportMissing(bases, i);
        from = Math.max(from, bases[i + 1]!);
        i++;
        continue;
      }
      try {
        const fh = handle.fh;
        const readable = await this.readableEnd(base, isLast, fh);
        if (!isLast && readable.end === 0) {
          // A sealed segment always holds data: an empty one before the newest is a roll that failed (its file not
          // removed yet, or not removable), and appends went on in the segment before it, which holds its offsets.
          bases.splice(i, 1);
          i = Math.max(0, upperBound(bases, from) - 1);
          continue;
        }
        // Going on where a previous read stopped: no seek, and the next chunk may already be read.
        let cursor = this.takeCursor(from, base, readable.end);
        const sequential = cursor !== null;
        let entries: IndexEntry[] | null = null;
        /** The index entry the scan starts at (none: a cursor, or the segment's start). */
        let seekEntry: IndexEntry | null = null;
        let startPos: number;
        let startOffset: number;
        if (cursor) {
          startPos = cursor.position;
          startOffset = from;
        } else {
          entries = await this.index(base, isLast);
          let k = upperBoundBy(entries, from - base, (x) => x.relOffset) - 1;
          while (k >= 0 && entries[k]!.position > readable.end) k--; // entries of a tail that recovery cut off
          const e = entries[k];
          seekEntry = e ?? null;
          startPos = e?.position ?? 0;
          startOffset = base + (e?.relOffset ?? 0);
          const r = this.resumePointBefore(base, from, readable.end);
          if (r !== undefined && r.offset > startOffset) {
            // Past damage the index has no entry after: start where the search found valid frames again.
            seekEntry = null;
            startPos = r.position;
            startOffset = r.offset;
          }
          cursor = new ReadAheadCursor(base);
        }
        const wantBytes = (maxRecords - records.length) * this.avgFrameBytes * 1.25 + (from - startOffset) * this.avgFrameBytes;
        const chunkBytes = Math.min(MAX_CHUNK_BYTES, Math.max(MIN_CHUNK_BYTES, Math.ceil(wantBytes)));
        let firstWanted = -1;
        let framesBytes = 0;
        const before = records.length;
        const scan = await scanFrames(
          cursor.source(fh, chunkBytes, sequential),
          startPos,
          readable.end,
          startOffset,
          (v) => {
            if (v.offset < from) return true;
            if (firstWanted < 0) firstWanted = v.filePosition;
            framesBytes += v.frameBytes;
            const r = decodeFrame(v.buf, v.at, this.stream, this.partition);
            records.push(r);
            bytes += r.body.length;
            return records.length < maxRecords && bytes < maxBytes;
          },
        );
        if (seekEntry !== null && (scan.stop === 'bad' || scan.stop === 'torn') && scan.position === startPos) {
          // The frame an index entry points at is not the record it names: the frame is damaged, or the entry is
          // (an index carries no checksum, and a bad entry would have good records skipped as damage). The entry
          // leaves the cached index and the seek starts again from the one before it, which tells the two apart:
          // damaged data is then met past a valid start and skipped as damage.
          const at = entries!.indexOf(seekEntry);
          if (at >= 0) entries!.splice(at, 1); // not there: a concurrent read of the segment dropped it already
          continue;
        }
        const decoded = records.length - before;
        if (decoded > 0) this.avgFrameBytes = this.avgFrameBytes * 0.5 + (framesBytes / decoded) * 0.5;
        if (isLast && !sequential && firstWanted - startPos > STALE_INDEX_SCAN_BYTES) this.indexCache.get(base)!.stale = true;
        from = Math.max(from, scan.nextOffset);
        if (scan.stop === 'visitor' || (scan.stop === 'end' && isLast)) {
          cursor.park(scan.position, scan.nextOffset);
          this.keepCursor(cursor);
        }
        if (scan.stop === 'visitor') break;
        /** Where this segment's data must reach, all of it synced: an empty newest segment passed over starts there. */
        const sealedUpTo = isLast && passedOver !== null && scan.nextOffset < passedOver ? passedOver : null;
        if (scan.stop === 'end') {
          if (isLast && sealedUpTo === null) break;
          const nextBase = sealedUpTo ?? bases[i + 1]!;
          // A sealed segment holds every offset up to the next segment's base. Ending before it (cut short at a
          // frame boundary, or a segment missing between the two), the offsets in between are gone: damage,
          // reported and counted as such, not skipped without a word.
          if (from < nextBase && scan.nextOffset < nextBase) {
            // Its size may have been taken while it still grew: a failed roll's new file, seen before the writer
            // removed it, made it look sealed to a reader in another process. Grown since: read on in it.
            const { size } = await fh.stat();
            if (size > readable.end) {
              if (!isLast) this.sealedSizes.set(base, size);
              continue;
            }
            await this.reportQuarantine(base, scan.position, scan.position, scan.nextOffset, nextBase, `segment data ends at offset ${scan.nextOffset}, the next segment starts at ${nextBase}`);
          }
          from = Math.max(from, nextBase);
          if (isLast) break;
          i++;
          continue;
        }
        // Damage inside written data: skip to the next index entry past it (or the next segment).
        // An index entry is only written after the data before it, so one past the bad frame proves
        // the frame is damage, not a write still in progress in another process. Entries past the
        // readable end (a tail cut off, by recovery or anything else) prove nothing and lead nowhere:
        // following one would seek back before it and meet the same bad frame forever.
        entries ??= await this.index(base, isLast);
        const limitOffset = isLast ? (this.writer()?.writtenEnd.nextOffset ?? Infinity) : bases[i + 1]!;
        let after: FoundFrame | undefined = await this.resumeEntry(fh, entries, base, scan.position, scan.nextOffset, readable.end, limitOffset);
        if (!after && isLast && readable.tailMayBeTorn && sealedUpTo === null) break;
        // No entry past the damage (index missing, or the damage after its last entry): search the data itself
        // for where valid frames start again, rather than give up the rest of the segment.
        after ??= await this.searchPastDamage(fh, base, scan.position, scan.nextOffset, readable.end, limitOffset);
        const resumeOffset = after ? after.offset : isLast ? (this.writer()?.writtenEnd.nextOffset ?? sealedUpTo ?? scan.nextOffset) : bases[i + 1]!;
        const resumePos = after ? after.position : readable.end;
        await this.reportQuarantine(base, scan.position, resumePos, scan.nextOffset, resumeOffset, scan.reason ?? 'bad frame');
        from = Math.max(from, resumeOffset);
        if (!after) {
          if (isLast) break;
          i++;
        }
      } finally {
        this.doneWith(handle);
      }
    }
    return { records, nextOffset: from };
  }

  /**
   * The first index entry past a bad frame at `badPos` (carrying `badOffset`) that points, inside the data, at a
   * valid frame with the offset it names, below `limitOffset` (the next segment's base). Entries are checked
   * against the data because an index carries no checksum: a damaged one would send the read off to any offset.
   */
  private async resumeEntry(
    fh: fsp.FileHandle,
    entries: readonly IndexEntry[],
    base: number,
    badPos: number,
    badOffset: number,
    end: number,
    limitOffset: number,
  ): Promise<FoundFrame | undefined> {
    for (const x of entries) {
      if (x.position <= badPos || x.position >= end) continue;
      const offset = base + x.relOffset;
      if (offset <= badOffset || offset >= limitOffset) continue;
      if ((await frameOffsetAt(fh, x.position, end)) === offset) return { position: x.position, offset };
    }
    return undefined;
  }

  /** The next valid frame after a bad one at `badPos`, found by a forward search of the data (remembered for later seeks). */
  private async searchPastDamage(fh: fsp.FileHandle, base: number, badPos: number, badOffset: number, end: number, limitOffset: number): Promise<FoundFrame | undefined> {
    const found = await findNextFrame(fh, badPos + 1, end, badOffset, limitOffset);
    if (found === null) return undefined;
    const points = this.resumePoints.get(base) ?? [];
    if (!points.some((p) => p.offset === found.offset)) {
      points.push(found);
      points.sort((a, b) => a.offset - b.offset);
      this.resumePoints.set(base, points);
    }
    return found;
  }

  /** The last resume point of `base` at or before offset `from`, inside the readable data. */
  private resumePointBefore(base: number, from: number, end: number): FoundFrame | undefined {
    let best: FoundFrame | undefined;
    for (const p of this.resumePoints.get(base) ?? []) if (p.offset <= from && p.position < end) best = p;
    return best;
  }

  /** The cursor of a sequential reader whose next read is at `from` (taken out: concurrent reads never share one). */
  private takeCursor(from: number, base: number, readableEnd: number): ReadAheadCursor | null {
    const i = this.cursors.findIndex((c) => c.nextOffset === from);
    if (i < 0) return null;
    const [c] = this.cursors.splice(i, 1);
    return c!.base === base && c!.position <= readableEnd ? c! : null;
  }

  private keepCursor(cursor: ReadAheadCursor): void {
    this.cursors.unshift(cursor);
    if (this.cursors.length > MAX_READ_AHEAD_CURSORS) this.cursors.length = MAX_READ_AHEAD_CURSORS;
  }

  private async reportQuarantine(base: number, badPos: number, resumePos: number, badOffset: number, resumeOffset: number, reason: string): Promise<void> {
    const range: QuarantinedRange = {
      segment: base,
      position: badPos,
      fromOffset: badOffset,
      toOffset: Math.max(badOffset, resumeOffset),
      bytes: Math.max(0, resumePos - badPos),
      reason,
      foundAt: new Date().toISOString(),
    };
    const key = rangeKey(range);
    if (this.quarantined.has(key)) return;
    this.quarantined.set(key, range);
    this.warn(
      { stream: this.stream, partition: this.partition, segment: segmentName(base), position: badPos, skippedOffsets: `${badOffset}..${resumeOffset - 1}`, reason },
      'skipped a damaged range of a sealed segment (records quarantined)',
    );
    // The read goes on whatever happens here: the report is for people, the records after the damage are data.
    await recordQuarantine(this.dir, [range]).catch((err: unknown) =>
      this.warn({ stream: this.stream, partition: this.partition, err: String(err) }, `could not record the damaged range in ${QUARANTINE_FILE}; only this process counts it`),
    );
  }

  /**
   * Segment `bases[i]` was found missing. Retention deletes from the front, so with a segment before it still
   * stored it was lost some other way (deleted by hand): its offsets are reported as quarantined, keyed as a
   * reader whose listing lacks it reports them (the end of the segment before it), so that both count once.
   */
  private async reportMissing(bases: readonly number[], i: number): Promise<void> {
    const base = bases[i]!;
    const previous = bases[i - 1];
    const first = (await this.segments())[0];
    if (previous === undefined || first === undefined || first >= base) return;
    const size = (await fsp.stat(segmentPath(this.dir, previous)).catch(() => null))?.size;
    if (size === undefined) return;
    const nextBase = bases[i + 1]!;
    await this.reportQuarantine(previous, size, size, base, nextBase, `segment ${segmentName(base)} is missing, the next segment starts at ${nextBase}`);
  }

  /** Records and bytes skipped as damaged in the segments still stored (`bases`), as found by any process. */
  async quarantineTotals(bases: readonly number[]): Promise<{ records: number; bytes: number }> {
    const ranges = new Map(this.quarantined);
    for (const r of await readQuarantine(this.dir)) ranges.set(rangeKey(r), r);
    const stored = new Set(bases);
    let records = 0;
    let bytes = 0;
    for (const r of ranges.values()) {
      if (!stored.has(r.segment)) continue; // deleted by retention since
      records += r.toOffset - r.fromOffset;
      bytes += r.bytes;
    }
    return { records, bytes };
  }

  /** The first offset received at or after timeUs, or the end offset when none is. */
  async offsetForTime(timeUs: number): Promise<number> {
    const { bases } = await this.readableSegments();
    if (bases.length === 0) return 0;
    let start = bases[0]!;
    search: for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      // Only entries inside the data: an index newer than its segment (a backup that copied the index after the
      // segment, a power cut that kept the index's blocks) would start the scan past the end, and the answer with it.
      const isLast = i === bases.length - 1;
      let dataBytes = isLast ? undefined : this.sealedSizes.get(base);
      if (dataBytes === undefined) {
        const st = await fsp.stat(segmentPath(this.dir, base)).catch(() => null); // gone: deleted by retention meanwhile
        dataBytes = st?.size ?? 0;
        if (st !== null && !isLast && dataBytes > 0) this.sealedSizes.set(base, dataBytes);
      }
      const nextBase = bases[i + 1] ?? Infinity;
      for (const e of await this.index(base, isLast)) {
        if (e.position >= dataBytes || base + e.relOffset >= nextBase) break;
        if (e.maxTimeUs >= timeUs) break search;
        start = base + e.relOffset;
      }
    }
    for (;;) {
      const { records, nextOffset } = await this.read(start, TIME_SCAN_BATCH);
      for (const r of records) if (r.receivedAtUs >= timeUs) return r.offset;
      if (records.length === 0) return nextOffset;
      start = nextOffset;
    }
  }

  /** The first offset stored (retention deletes from the front, a failed roll's leftover holds none), or null with no segment. */
  async startOffset(): Promise<number | null> {
    return (await this.readableSegments()).bases[0] ?? null;
  }

  /** The offset the next appended record gets, seen from any process. */
  async endOffset(): Promise<number> {
    const w = this.writer();
    if (w) return w.writtenEnd.nextOffset;
    const { bases } = await this.readableSegments();
    if (bases.length === 0) return 0;
    const last = bases[bases.length - 1]!;
    // Another process is appending: re-read the index so the scan to the end starts near it
    // (a stale index would make every call rescan, and decode, all that was written since).
    const cached = this.indexCache.get(last);
    if (cached) cached.stale = true;
    const entries = await this.index(last);
    // Only entries inside the data: an index newer than its segment (a backup that copied the index after
    // the segment, a power cut that kept the index's blocks) would put the end past records never written,
    // and a group position there would skip the records appended at those offsets.
    const size = (await fsp.stat(segmentPath(this.dir, last)).catch(() => null))?.size ?? Infinity;
    let k = entries.length - 1;
    while (k >= 0 && entries[k]!.position > size) k--;
    let next = k >= 0 ? last + entries[k]!.relOffset : last;
    for (;;) {
      const { records, nextOffset } = await this.read(next, 65536, 256 * 1024 * 1024);
      if (records.length === 0) return nextOffset;
      next = nextOffset;
    }
  }
}

/** True when entry `b` may follow entry `a` in an index: later offset, later position, no smaller time. */
function follows(a: IndexEntry, b: IndexEntry): boolean {
  return b.relOffset > a.relOffset && b.position > a.position && b.maxTimeUs >= a.maxTimeUs;
}

/**
 * The entries of `fresh` that keep the index in order after `last`. An index carries no checksum: a damaged
 * entry out of order would mislead every binary search of it (a seek before damage it can never get past).
 * An entry goes when it does not follow the last one kept, or when the next one does not follow it (too high).
 */
function inOrder(fresh: readonly IndexEntry[], last: IndexEntry | undefined): IndexEntry[] {
  const kept: IndexEntry[] = [];
  for (let j = 0; j < fresh.length; j++) {
    const e = fresh[j]!;
    const next = fresh[j + 1];
    if (last !== undefined && !follows(last, e)) continue;
    if (next !== undefined && !follows(e, next)) continue;
    kept.push(e);
    last = e;
  }
  return kept;
}

/** Index of the first element greater than `value` in an ascending array. */
function upperBound(sorted: readonly number[], value: number): number {
  return upperBoundBy(sorted, value, (x) => x);
}

function upperBoundBy<T>(sorted: readonly T[], value: number, key: (x: T) => number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(sorted[mid]!) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
