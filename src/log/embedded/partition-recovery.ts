// Brings a partition directory to a consistent state before it is written:
// cleans leftovers of interrupted renames and deletions, rebuilds missing
// indexes, and cuts the newest segment after its last valid frame.
// Only the tail of the newest segment is scanned (from its last valid index entry).

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { HopperError } from '../../errors.js';
import { findNextFrame, scanFrames, type ScanEnd } from './frame-scanner.js';
import {
  INDEX_ENTRY_BYTES,
  INDEX_SUFFIX,
  SEGMENT_SUFFIX,
  encodeIndexEntries,
  fsyncDir,
  indexPath,
  listSegments,
  readIndexFile,
  segmentName,
  segmentPath,
  writeFileAtomic,
  type IndexEntry,
} from './segment-files.js';
import { checkFrame, MAX_PAYLOAD_BYTES } from './record-frame.js';
import type { FileHandle } from 'node:fs/promises';

export type WarnFn = (fields: Record<string, unknown>, message: string) => void;

export interface RecoveredPartition {
  /** Base offsets of all segments, ascending; the last one is the active segment. */
  bases: number[];
  activeBase: number;
  activeSizeBytes: number;
  activeIndex: IndexEntry[];
  /** Largest receivedAtUs in the partition up to the active segment's end (the time index carries it across segments). */
  activeMaxTimeUs: number;
  nextOffset: number;
  truncatedBytes: number;
}

/**
 * Builds index entries for the frames of a whole sealed segment (used when its index is missing). Damage does
 * not end it: the scan resumes at the next valid frame (below `nextBase`, the next segment's base) and an entry
 * goes there, so a reader meeting the damage skips to it rather than past the rest of the segment.
 */
async function buildIndex(
  path: string,
  baseOffset: number,
  nextBase: number,
  intervalBytes: number,
  seedMaxTimeUs: number,
): Promise<{ entries: IndexEntry[]; maxTimeUs: number }> {
  const fh = await fsp.open(path, 'r');
  try {
    const { size } = await fh.stat();
    const entries: IndexEntry[] = [];
    let lastIndexed = -Infinity;
    // Carried on from the segments before, as the writer does: a late stamp there is found by a time lookup.
    let maxTimeUs = seedMaxTimeUs;
    let position = 0;
    let expected = baseOffset;
    for (;;) {
      const end = await scanFrames(fh, position, size, expected, (v) => {
        maxTimeUs = Math.max(maxTimeUs, v.receivedAtUs);
        if (v.filePosition - lastIndexed >= intervalBytes) {
          entries.push({ relOffset: v.offset - baseOffset, position: v.filePosition, maxTimeUs });
          lastIndexed = v.filePosition;
        }
        return true;
      });
      if (end.stop === 'end' || end.position >= size) break;
      const found = await findNextFrame(fh, end.position + 1, size, end.nextOffset, nextBase);
      if (found === null) break;
      position = found.position;
      expected = found.offset;
      lastIndexed = -Infinity; // an entry at the first frame after the damage
    }
    return { entries, maxTimeUs };
  } finally {
    await fh.close();
  }
}

/** True when the index entry points at a valid frame carrying the offset it claims. */
async function entryIsValid(fh: FileHandle, e: IndexEntry, baseOffset: number, size: number): Promise<boolean> {
  return (await frameOffsetAt(fh, e.position, size)) === baseOffset + e.relOffset;
}

/** The offset carried by a valid frame at `position`, or null when there is none. */
export async function frameOffsetAt(fh: FileHandle, position: number, size: number): Promise<number | null> {
  if (position >= size) return null;
  const head = Buffer.allocUnsafe(8);
  const { bytesRead } = await fh.read(head, 0, 8, position);
  if (bytesRead < 8) return null;
  const frameBytes = 8 + head.readUInt32LE(0);
  if (position + frameBytes > size || frameBytes > MAX_PAYLOAD_BYTES + 8) return null;
  const buf = Buffer.allocUnsafe(frameBytes);
  await fh.read(buf, 0, frameBytes, position);
  const check = checkFrame(buf, 0, frameBytes);
  return check.kind === 'ok' ? check.offset : null;
}

/** Bytes of an index file, or null when it does not exist; a length that is not whole entries means a torn append. */
async function indexFileBytes(path: string): Promise<number | null> {
  const st = await fsp.stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  return st === null ? null : st.size;
}

interface SegmentTail {
  /** The index's entries that point at valid frames, then entries for the frames scanned after them. */
  index: IndexEntry[];
  /** Entries of the stored index kept. */
  kept: number;
  end: ScanEnd;
  maxTimeUs: number;
}

/** Validates a segment's tail: from its last index entry that points at a valid frame, scans to the first invalid frame. */
async function scanTail(fh: FileHandle, base: number, size: number, stored: IndexEntry[], intervalBytes: number, seedMaxTimeUs: number): Promise<SegmentTail> {
  let kept = stored.length;
  while (kept > 0 && !(await entryIsValid(fh, stored[kept - 1]!, base, size))) kept--;
  const index = stored.slice(0, kept);
  const from = index.length > 0 ? index[index.length - 1]! : null;
  let maxTimeUs = Math.max(from?.maxTimeUs ?? 0, seedMaxTimeUs);
  let lastIndexed = from?.position ?? -Infinity;
  const end = await scanFrames(fh, from?.position ?? 0, size, base + (from?.relOffset ?? 0), (v) => {
    maxTimeUs = Math.max(maxTimeUs, v.receivedAtUs);
    if (v.filePosition - lastIndexed >= intervalBytes) {
      index.push({ relOffset: v.offset - base, position: v.filePosition, maxTimeUs });
      lastIndexed = v.filePosition;
    }
    return true;
  });
  return { index, kept, end, maxTimeUs };
}

/** Where the sealed segment `base` ends (the offset after its last valid frame) and its largest receivedAt. */
async function sealedTail(dir: string, base: number, intervalBytes: number): Promise<{ nextOffset: number; maxTimeUs: number }> {
  const fh = await fsp.open(segmentPath(dir, base), 'r');
  try {
    const { size } = await fh.stat();
    const tail = await scanTail(fh, base, size, (await readIndexFile(indexPath(dir, base))) ?? [], intervalBytes, 0);
    return { nextOffset: tail.end.position === 0 ? base : tail.end.nextOffset, maxTimeUs: tail.maxTimeUs };
  } finally {
    await fh.close();
  }
}

export async function recoverPartition(dir: string, indexIntervalBytes: number, warn: WarnFn): Promise<RecoveredPartition> {
  await fsp.mkdir(dir, { recursive: true });
  const names = await fsp.readdir(dir);
  const segments = new Set(names.filter((n) => n.endsWith(SEGMENT_SUFFIX)).map((n) => n.slice(0, -SEGMENT_SUFFIX.length)));
  for (const name of names) {
    // A crash between the two unlinks of a segment deletion leaves its index behind; a crash
    // during an atomic write leaves a temp file. Neither holds data.
    const orphanIndex = name.endsWith(INDEX_SUFFIX) && !segments.has(name.slice(0, -INDEX_SUFFIX.length));
    if (orphanIndex || name.endsWith('.tmp')) await fsp.rm(join(dir, name), { force: true });
  }

  let bases = await listSegments(dir);
  if (bases.length === 0) {
    await fsp.writeFile(segmentPath(dir, 0), Buffer.alloc(0), { flag: 'wx' });
    await fsyncDir(dir);
    bases = [0];
  }

  // A sealed segment is only ever rolled from once it holds data: an empty one before the newest is the leftover
  // of a failed roll that could not remove it, with a base inside the offsets the segment before it holds. Kept,
  // a read by offset would look for those records in it and skip them.
  const empties: number[] = [];
  for (const base of bases.slice(0, -1)) if ((await fsp.stat(segmentPath(dir, base))).size === 0) empties.push(base);
  if (empties.length > 0) {
    for (const base of empties) {
      await fsp.rm(segmentPath(dir, base), { force: true });
      await fsp.rm(indexPath(dir, base), { force: true });
      warn({ segment: segmentName(base) }, 'removed an empty segment left by a failed roll');
    }
    await fsyncDir(dir);
    bases = bases.filter((b) => !empties.includes(b));
  }

  const sealed = bases.slice(0, -1);
  for (let i = 0; i < sealed.length; i++) {
    const base = sealed[i]!;
    const idxBytes = await indexFileBytes(indexPath(dir, base));
    if (idxBytes === null || idxBytes % INDEX_ENTRY_BYTES !== 0) {
      const seed = i > 0 ? (await sealedTail(dir, sealed[i - 1]!, indexIntervalBytes)).maxTimeUs : 0;
      const built = await buildIndex(segmentPath(dir, base), base, bases[i + 1]!, indexIntervalBytes, seed);
      await writeFileAtomic(indexPath(dir, base), encodeIndexEntries(built.entries), dir);
      warn({ segment: segmentName(base) }, idxBytes === null ? 'rebuilt a missing segment index' : 'rebuilt a torn segment index');
    }
  }

  // The sealed segment before the newest: where it ends, and its largest stamp (the time index carries it on).
  let previous = bases.length >= 2 ? await sealedTail(dir, bases[bases.length - 2]!, indexIntervalBytes) : null;
  if (previous !== null && bases[bases.length - 1]! < previous.nextOffset && (await fsp.stat(segmentPath(dir, bases[bases.length - 1]!))).size === 0) {
    // An empty newest segment whose offsets the one before it already holds: left by a roll that failed
    // half way (appends went on into the older segment). Taken for the newest, it would give out those offsets again.
    const leftover = bases.pop()!;
    await fsp.rm(segmentPath(dir, leftover), { force: true });
    await fsp.rm(indexPath(dir, leftover), { force: true });
    await fsyncDir(dir);
    warn({ segment: segmentName(leftover), nextOffset: previous.nextOffset }, 'removed an empty segment left by a failed roll');
    previous = bases.length >= 2 ? await sealedTail(dir, bases[bases.length - 2]!, indexIntervalBytes) : null;
  }

  const activeBase = bases[bases.length - 1]!;
  const path = segmentPath(dir, activeBase);
  const fh = await fsp.open(path, 'r+');
  try {
    const { size } = await fh.stat();
    const first = await frameOffsetAt(fh, 0, size);
    if (first !== null && first !== activeBase) {
      // A whole, valid frame with another offset than the file's name: not a torn write but a misnamed or
      // foreign file. Cutting it would destroy good records and hand their offsets out again.
      throw new HopperError(
        'HOPPER_LOG_CORRUPT',
        `Segment ${path} starts with offset ${first} but its name says ${activeBase}: move it out of ${dir} (or give it its right name), then restart.`,
      );
    }
    const idxBytes = (await indexFileBytes(indexPath(dir, activeBase))) ?? 0;
    const stored = (await readIndexFile(indexPath(dir, activeBase))) ?? [];
    const { index, kept, end, maxTimeUs } = await scanTail(fh, activeBase, size, stored, indexIntervalBytes, previous?.maxTimeUs ?? 0);
    const truncatedBytes = size - end.position;
    if (truncatedBytes > 0) {
      await fh.truncate(end.position);
      await fh.datasync();
      warn(
        { segment: segmentName(activeBase), position: end.position, truncatedBytes, reason: end.reason },
        'cut a torn or damaged tail from the newest segment',
      );
    }
    // A torn entry at the index's end must go too: the writer appends to the file, after it.
    const changed = index.length !== stored.length || truncatedBytes > 0 || kept !== stored.length || idxBytes % INDEX_ENTRY_BYTES !== 0;
    if (changed) await writeFileAtomic(indexPath(dir, activeBase), encodeIndexEntries(index), dir);
    return {
      bases,
      activeBase,
      activeSizeBytes: end.position,
      activeIndex: index,
      activeMaxTimeUs: maxTimeUs,
      nextOffset: end.position === 0 ? activeBase : end.nextOffset,
      truncatedBytes,
    };
  } finally {
    await fh.close();
  }
}
