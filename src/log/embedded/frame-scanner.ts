// Walks the frames of one segment file from a byte position, in large reads,
// validating each frame (length, checksum, consecutive offsets). Recovery and
// reads both use it; it stops at the first frame that is not valid.

import type { FileHandle } from 'node:fs/promises';
import { FRAME_BAD, FRAME_HEADER_BYTES, FRAME_OK, FRAME_SHORT, inspectFrame, newFrameFacts } from './record-frame.js';

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
