// Walks the frames of one segment file from a byte position, in large reads,
// validating each frame (length, checksum, consecutive offsets). Recovery and
// reads both use it; it stops at the first frame that is not valid.

import type { FileHandle } from 'node:fs/promises';
import { checkFrame } from './record-frame.js';

export const SCAN_CHUNK_BYTES = 1024 * 1024;

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

/**
 * Visits valid frames in [position, endPosition). `expectedOffset` is the offset
 * the first frame must carry (null: accept the first as it is). The visitor
 * returns false to stop after the current frame.
 */
export async function scanFrames(
  fh: FileHandle,
  position: number,
  endPosition: number,
  expectedOffset: number | null,
  visit: (v: ScanVisit) => boolean,
  chunkBytes = SCAN_CHUNK_BYTES,
): Promise<ScanEnd> {
  let pos = position;
  let next = expectedOffset;
  let buf = Buffer.allocUnsafe(0);
  let bufStart = pos;
  let bufEnd = pos;
  while (pos < endPosition) {
    let check = checkFrame(buf, pos - bufStart, bufEnd - bufStart);
    if (check.kind === 'short') {
      const want = Math.floor(Math.min(Math.max(chunkBytes, check.needBytes), endPosition - pos));
      if (want < check.needBytes) {
        return { position: pos, nextOffset: next ?? 0, stop: 'torn', reason: 'frame runs past the end of the data' };
      }
      // A fresh buffer per read: records handed out keep views into the old one.
      buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, pos);
      bufStart = pos;
      bufEnd = pos + bytesRead;
      check = checkFrame(buf, 0, bytesRead);
      if (check.kind === 'short') {
        return { position: pos, nextOffset: next ?? 0, stop: 'torn', reason: 'frame runs past the end of the file' };
      }
    }
    if (check.kind === 'bad') return { position: pos, nextOffset: next ?? 0, stop: 'bad', reason: check.reason };
    if (next !== null && check.offset !== next) {
      return { position: pos, nextOffset: next, stop: 'bad', reason: `offset ${check.offset} where ${next} was expected` };
    }
    const frameBytes = check.end - (pos - bufStart);
    const keepGoing = visit({
      buf,
      at: pos - bufStart,
      filePosition: pos,
      offset: check.offset,
      receivedAtUs: check.receivedAtUs,
      frameBytes,
    });
    pos += frameBytes;
    next = check.offset + 1;
    if (!keepGoing) return { position: pos, nextOffset: next, stop: 'visitor' };
  }
  return { position: pos, nextOffset: next ?? 0, stop: 'end' };
}
