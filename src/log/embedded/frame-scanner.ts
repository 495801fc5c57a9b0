// Walks the frames of one segment file from a byte position, in large reads,
// validating each frame (length, checksum, consecutive offsets). Recovery and
// reads both use it; it stops at the first frame that is not valid.
// After damage, findNextFrame searches forward for where valid frames start again.

import type { FileHandle } from 'node:fs/promises';
import {
  FRAME_BAD,
  FRAME_HEADER_BYTES,
  FRAME_OK,
  FRAME_SHORT,
  FRAME_VERSION,
  MAX_PAYLOAD_BYTES,
  PAYLOAD_FIXED_BYTES,
  inspectFrame,
  newFrameFacts,
  type FrameFacts,
} from './record-frame.js';

export const SCAN_CHUNK_BYTES = 1024 * 1024;
/** Reads for one frame: read-ahead bytes, a fresh read of its header, then of its whole length (and slack). */
const MAX_SOURCE_TRIES = 6;

export interface ScanVisit {
  buf: Buffer;
  /** Position of the frame inside `buf`. */
  at: number;
  /** Position of the frame inside the file. */
  filePosition: number;
  offset: number;
  receivedAtUs: number;
  frameBytes: number;
}

export interface ScanEnd {
  /** File position after the last valid frame visited. */
  position: number;
  /** Offset the next frame should carry. */
  nextOffset: number;
  /** Why the scan stopped: reached `endPosition`, a bad frame, a frame cut short by endPosition, or the visitor said stop. */
  stop: 'end' | 'bad' | 'torn' | 'visitor';
  reason?: string;
}

/** File bytes [start, end) held in `buf` from index 0 (bytes below `position` asked for may be garbage). */
export interface Chunk {
  buf: Buffer;
  start: number;
  end: number;
  /** Read from the file during this scan. A chunk read earlier (read-ahead) is re-read before a frame in it is called bad. */
  fresh: boolean;
}

/**
 * Supplies the bytes at `position` (at least `needBytes` when the data goes that far, never past
 * `endPosition`). `fresh` asks for a read from the file now, not bytes read ahead earlier.
 */
export type ChunkSource = (position: number, needBytes: number, endPosition: number, fresh: boolean) => Promise<Chunk>;

/** The plain source: a fresh buffer per read (records handed out keep views into the old one). */
export function fileChunks(fh: FileHandle, chunkBytes = SCAN_CHUNK_BYTES): ChunkSource {
  return async (position, needBytes, endPosition) => {
    const want = Math.floor(Math.min(Math.max(chunkBytes, needBytes), endPosition - position));
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await fh.read(buf, 0, want, position);
    return { buf, start: position, end: position + bytesRead, fresh: true };
  };
}

/**
 * Visits valid frames in [position, endPosition). `expectedOffset` is the offset
 * the first frame must carry (null: accept the first as it is). The visitor
 * returns false to stop after the current frame; the ScanVisit it gets is reused
 * for the next frame (copy what you keep). `source` is a FileHandle read in
 * chunks of `chunkBytes`, or a ChunkSource (the reader's read-ahead).
 */
export async function scanFrames(
  source: FileHandle | ChunkSource,
  position: number,
  endPosition: number,
  expectedOffset: number | null,
  visit: (v: ScanVisit) => boolean,
  chunkBytes = SCAN_CHUNK_BYTES,
): Promise<ScanEnd> {
  const more = typeof source === 'function' ? source : fileChunks(source, chunkBytes);
  const facts = newFrameFacts();
  const v: ScanVisit = { buf: Buffer.allocUnsafe(0), at: 0, filePosition: 0, offset: 0, receivedAtUs: 0, frameBytes: 0 };
  let pos = position;
  let next = expectedOffset;
  let chunk: Chunk = { buf: v.buf, start: pos, end: pos, fresh: true };
  let limit = 0; // end of usable bytes in chunk.buf
  while (pos < endPosition) {
    let status = inspectFrame(chunk.buf, pos - chunk.start, limit, facts);
    if (status !== FRAME_OK || (next !== null && facts.offset !== next)) {
      let freshNeedBytes = 0;
      // Not a good frame with the expected offset: read on (short), or judge it (only on bytes read now:
      // bytes read ahead may predate the end of a write in progress by another process).
      for (let tries = 0; ; tries++) {
        const stale = !chunk.fresh && status !== FRAME_SHORT;
        if (status !== FRAME_SHORT && !stale) break;
        const needBytes = status === FRAME_SHORT ? facts.needBytes : FRAME_HEADER_BYTES;
        if (endPosition - pos < needBytes) {
          return { position: pos, nextOffset: next ?? 0, stop: 'torn', reason: 'frame runs past the end of the data' };
        }
        if ((chunk.fresh && freshNeedBytes >= needBytes) || tries >= MAX_SOURCE_TRIES) {
          return { position: pos, nextOffset: next ?? 0, stop: 'torn', reason: 'frame runs past the end of the file' };
        }
        chunk = await more(pos, needBytes, endPosition, stale || (tries > 0 && !chunk.fresh));
        if (chunk.fresh) freshNeedBytes = needBytes;
        limit = Math.min(chunk.end, endPosition) - chunk.start;
        status = inspectFrame(chunk.buf, pos - chunk.start, limit, facts);
        if (status === FRAME_OK && (next === null || facts.offset === next)) break;
      }
      if (status === FRAME_BAD) return { position: pos, nextOffset: next ?? 0, stop: 'bad', reason: facts.reason };
      if (next !== null && facts.offset !== next) {
        return { position: pos, nextOffset: next, stop: 'bad', reason: `offset ${facts.offset} where ${next} was expected` };
      }
    }
    const at = pos - chunk.start;
    v.buf = chunk.buf;
    v.at = at;
    v.filePosition = pos;
    v.offset = facts.offset;
    v.receivedAtUs = facts.receivedAtUs;
    v.frameBytes = facts.end - at;
    pos += v.frameBytes;
    next = facts.offset + 1;
    if (!visit(v)) return { position: pos, nextOffset: next, stop: 'visitor' };
  }
  return { position: pos, nextOffset: next ?? 0, stop: 'end' };
}

/** Bytes from a frame's start to the end of its offset field: enough to judge a candidate before its checksum. */
const CANDIDATE_HEAD_BYTES = FRAME_HEADER_BYTES + 20;

export interface FoundFrame {
  position: number;
  offset: number;
}

/** The offset of a valid frame at `pos` (from `buf`, holding file bytes from `bufStart`, when it has the whole frame), or null. */
async function validOffsetAt(fh: FileHandle, pos: number, end: number, buf: Buffer, bufStart: number, bufEnd: number, facts: FrameFacts): Promise<number | null> {
  if (pos + FRAME_HEADER_BYTES > end) return null;
  let at = pos - bufStart;
  let limit = bufEnd - bufStart;
  if (at < 0 || at + CANDIDATE_HEAD_BYTES > limit || at + FRAME_HEADER_BYTES + buf.readUInt32LE(at) > limit) {
    const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    if ((await fh.read(head, 0, FRAME_HEADER_BYTES, pos)).bytesRead < FRAME_HEADER_BYTES) return null;
    const payloadBytes = head.readUInt32LE(0);
    if (payloadBytes < PAYLOAD_FIXED_BYTES || payloadBytes > MAX_PAYLOAD_BYTES || pos + FRAME_HEADER_BYTES + payloadBytes > end) return null;
    buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadBytes);
    limit = (await fh.read(buf, 0, buf.length, pos)).bytesRead;
    at = 0;
  }
  return inspectFrame(buf, at, limit, facts) === FRAME_OK ? facts.offset : null;
}

/**
 * After a bad frame: the first position in [from, end) where a valid frame starts that carries an offset in
 * (afterOffset, beforeOffset) and that the data after it continues (the next frame is valid with the next
 * offset, or the data ends with it), or null. Each position is looked at once, in chunks; only a candidate
 * whose header is plausible (length, version, offset in range, inside the data) has its checksum computed,
 * so the search costs one pass over the bytes, not one scan per position. Only damage runs it.
 */
export async function findNextFrame(
  fh: FileHandle,
  from: number,
  end: number,
  afterOffset: number,
  beforeOffset: number,
  chunkBytes = SCAN_CHUNK_BYTES,
): Promise<FoundFrame | null> {
  const facts = newFrameFacts();
  let chunkStart = from;
  while (chunkStart + CANDIDATE_HEAD_BYTES <= end) {
    const want = Math.min(Math.max(chunkBytes, CANDIDATE_HEAD_BYTES), end - chunkStart);
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await fh.read(buf, 0, want, chunkStart);
    const lastAt = bytesRead - CANDIDATE_HEAD_BYTES; // the last candidate whose head is whole in buf
    if (lastAt < 0) return null;
    const bufEnd = chunkStart + bytesRead;
    for (let at = 0; at <= lastAt; at++) {
      const payloadBytes = buf.readUInt32LE(at);
      if (payloadBytes < PAYLOAD_FIXED_BYTES || payloadBytes > MAX_PAYLOAD_BYTES) continue;
      const pos = chunkStart + at;
      const frameEnd = pos + FRAME_HEADER_BYTES + payloadBytes;
      if (frameEnd > end || buf[at + FRAME_HEADER_BYTES] !== FRAME_VERSION) continue;
      const offset = buf.readUInt32LE(at + FRAME_HEADER_BYTES + 12) + buf.readUInt32LE(at + FRAME_HEADER_BYTES + 16) * 0x1_0000_0000;
      if (offset <= afterOffset || offset >= beforeOffset) continue;
      if ((await validOffsetAt(fh, pos, end, buf, chunkStart, bufEnd, facts)) !== offset) continue;
      // A record's body may hold a whole frame (a copy of one): the frame after a real one carries the next offset.
      if (frameEnd === end || (await validOffsetAt(fh, frameEnd, end, buf, chunkStart, bufEnd, facts)) === offset + 1) {
        return { position: pos, offset };
      }
    }
    chunkStart += lastAt + 1;
  }
  return null;
}
