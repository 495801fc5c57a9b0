// Brings a partition directory to a consistent state before it is written:
// cleans leftovers of interrupted renames and deletions, rebuilds missing
// indexes, and cuts the newest segment after its last valid frame.
// Only the tail of the newest segment is scanned (from its last valid index entry).

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { scanFrames } from './frame-scanner.js';
import {
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
  /** Largest receivedAtUs in the active segment (0 when empty). */
  activeMaxTimeUs: number;
  nextOffset: number;
  truncatedBytes: number;
}

/** Builds index entries for the frames of a whole segment (used when its index is missing). */
async function buildIndex(path: string, baseOffset: number, intervalBytes: number): Promise<{ entries: IndexEntry[]; end: number; nextOffset: number; maxTimeUs: number }> {
  const fh = await fsp.open(path, 'r');
  try {
    const { size } = await fh.stat();
    const entries: IndexEntry[] = [];
    let lastIndexed = -Infinity;
    let maxTimeUs = 0;
    const end = await scanFrames(fh, 0, size, baseOffset, (v) => {
      maxTimeUs = Math.max(maxTimeUs, v.receivedAtUs);
      if (v.filePosition - lastIndexed >= intervalBytes) {
        entries.push({ relOffset: v.offset - baseOffset, position: v.filePosition, maxTimeUs });
        lastIndexed = v.filePosition;
      }
      return true;
    });
    return { entries, end: end.position, nextOffset: end.nextOffset, maxTimeUs };
  } finally {
    await fh.close();
  }
}

/** True when the index entry points at a valid frame carrying the offset it claims. */
async function entryIsValid(fh: FileHandle, e: IndexEntry, baseOffset: number, size: number): Promise<boolean> {
  if (e.position >= size) return false;
  const head = Buffer.allocUnsafe(8);
  const { bytesRead } = await fh.read(head, 0, 8, e.position);
  if (bytesRead < 8) return false;
  const frameBytes = 8 + head.readUInt32LE(0);
  if (e.position + frameBytes > size || frameBytes > MAX_PAYLOAD_BYTES + 8) return false;
  const buf = Buffer.allocUnsafe(frameBytes);
  await fh.read(buf, 0, frameBytes, e.position);
  const check = checkFrame(buf, 0, frameBytes);
  return check.kind === 'ok' && check.offset === baseOffset + e.relOffset;
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

  for (const base of bases.slice(0, -1)) {
    if ((await readIndexFile(indexPath(dir, base))) === null) {
      const built = await buildIndex(segmentPath(dir, base), base, indexIntervalBytes);
      await writeFileAtomic(indexPath(dir, base), encodeIndexEntries(built.entries), dir);
      warn({ segment: segmentName(base) }, 'rebuilt a missing segment index');
    }
  }

  const activeBase = bases[bases.length - 1]!;
  const path = segmentPath(dir, activeBase);
  const fh = await fsp.open(path, 'r+');
  try {
    const { size } = await fh.stat();
    const stored = (await readIndexFile(indexPath(dir, activeBase))) ?? [];
    let keep = stored.length;
    while (keep > 0 && !(await entryIsValid(fh, stored[keep - 1]!, activeBase, size))) keep--;
    const index = stored.slice(0, keep);
    const from = index.length > 0 ? index[index.length - 1]! : null;
    let maxTimeUs = from?.maxTimeUs ?? 0;
    let lastIndexed = from?.position ?? -Infinity;
    const startOffset = activeBase + (from?.relOffset ?? 0);
    const end = await scanFrames(fh, from?.position ?? 0, size, startOffset, (v) => {
      maxTimeUs = Math.max(maxTimeUs, v.receivedAtUs);
      if (v.filePosition - lastIndexed >= indexIntervalBytes) {
        index.push({ relOffset: v.offset - activeBase, position: v.filePosition, maxTimeUs });
        lastIndexed = v.filePosition;
      }
      return true;
    });
    const truncatedBytes = size - end.position;
    if (truncatedBytes > 0) {
      await fh.truncate(end.position);
      await fh.datasync();
      warn(
        { segment: segmentName(activeBase), position: end.position, truncatedBytes, reason: end.reason },
        'cut a torn or damaged tail from the newest segment',
      );
    }
    const changed = index.length !== stored.length || truncatedBytes > 0 || keep !== stored.length;
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
