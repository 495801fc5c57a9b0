// Names, lists and indexes the files of one partition directory, and writes
// small files atomically (temp file, fsync, rename, fsync of the directory).
// Index format: 16-byte entries `u32le relativeOffset | u32le position | f64le maxTimeUs`.

import { promises as fsp, constants as fsc } from 'node:fs';
import { join } from 'node:path';

export const SEGMENT_SUFFIX = '.log';
export const INDEX_SUFFIX = '.idx';
export const INDEX_ENTRY_BYTES = 16;

export interface IndexEntry {
  /** Offset minus the segment's base offset. */
  relOffset: number;
  /** Byte position of that record's frame in the segment file. */
  position: number;
  /** Largest receivedAtUs of any record up to and including this one in the segment. */
  maxTimeUs: number;
}

export function segmentName(baseOffset: number): string {
  return String(baseOffset).padStart(20, '0');
}

export function segmentPath(dir: string, baseOffset: number): string {
  return join(dir, segmentName(baseOffset) + SEGMENT_SUFFIX);
}

export function indexPath(dir: string, baseOffset: number): string {
  return join(dir, segmentName(baseOffset) + INDEX_SUFFIX);
}

/** Base offsets of the segments in `dir`, ascending. Missing directory = none. */
export async function listSegments(dir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const bases: number[] = [];
  for (const name of names) {
    if (name.length === 20 + SEGMENT_SUFFIX.length && name.endsWith(SEGMENT_SUFFIX)) {
      const base = Number(name.slice(0, 20));
      if (Number.isSafeInteger(base)) bases.push(base);
    }
  }
  return bases.sort((a, b) => a - b);
}

export function encodeIndexEntries(entries: readonly IndexEntry[]): Buffer {
  const buf = Buffer.allocUnsafe(entries.length * INDEX_ENTRY_BYTES);
  entries.forEach((e, i) => {
    const at = i * INDEX_ENTRY_BYTES;
    buf.writeUInt32LE(e.relOffset, at);
    buf.writeUInt32LE(e.position, at + 4);
    buf.writeDoubleLE(e.maxTimeUs, at + 8);
  });
  return buf;
}

export function decodeIndexEntries(buf: Buffer): IndexEntry[] {
  const out: IndexEntry[] = [];
  const whole = buf.length - (buf.length % INDEX_ENTRY_BYTES);
  for (let at = 0; at < whole; at += INDEX_ENTRY_BYTES) {
    out.push({ relOffset: buf.readUInt32LE(at), position: buf.readUInt32LE(at + 4), maxTimeUs: buf.readDoubleLE(at + 8) });
  }
  return out;
}

/** Reads an index file; null when it does not exist. A trailing partial entry is ignored. */
export async function readIndexFile(path: string): Promise<IndexEntry[] | null> {
  try {
    return decodeIndexEntries(await fsp.readFile(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, fsc.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A file written and synced under a temporary name, waiting to replace its target. */
export interface PreparedFile {
  /** Renames it over the target (and fsyncs the directory when asked to). */
  install(): Promise<void>;
  /** Removes the temporary file instead. */
  discard(): Promise<void>;
}

/** Tells apart the temporary files of writes prepared in the same millisecond. */
let tmpSeq = 0;

/**
 * The first half of writeFileAtomic: `data` written and fdatasync'd under a temporary name. Several
 * writes of one target may be prepared at once (their syncs overlap) and installed in order.
 */
export async function prepareFileAtomic(path: string, data: Buffer | string, dir: string, syncDir = true): Promise<PreparedFile> {
  const tmp = `${path}.${process.pid}.${Date.now()}.${tmpSeq++}.tmp`;
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } catch (err) {
    // Left behind, one temp file would pile up per attempt while the disk stays full (a group position is
    // committed again and again), until a restart cleaned them.
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fh.close();
  return {
    install: async () => {
      await fsp.rename(tmp, path).catch(async (err: unknown) => {
        await fsp.rm(tmp, { force: true }).catch(() => undefined);
        throw err;
      });
      if (syncDir) await fsyncDir(dir);
    },
    discard: () => fsp.rm(tmp, { force: true }),
  };
}

/**
 * Replaces `path` with `data` so that a crash leaves either the old or the new content, never a mix.
 * With syncDir false the rename itself may be lost in a power cut (the old content comes back), which
 * suits consumer positions: an older position only means redelivery.
 */
export async function writeFileAtomic(path: string, data: Buffer | string, dir: string, syncDir = true): Promise<void> {
  await (await prepareFileAtomic(path, data, dir, syncDir)).install();
}
