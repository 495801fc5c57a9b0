// Sequential reads of one segment, one chunk ahead: while a caller parses a chunk
// and processes its records, the next chunk is already being read, so a consumer
// draining a backlog does not wait for the disk between two reads.
//
// A cursor stands for one sequential reader of a partition (a consumer group):
// it is found again by the offset that reader asks for next. It holds the last
// chunk it handed out (records keep views into it anyway) and at most one chunk
// read ahead, so its memory is bounded by two chunks. The frame cut by a chunk's
// end is completed by copying its first part into head room kept in front of
// the chunk read ahead (frames longer than the head room are read again whole).
// Read-ahead bytes are never trusted blindly: the scanner re-reads before it
// calls a frame in them bad (another process may have been writing it).

import type { FileHandle } from 'node:fs/promises';
import type { Chunk, ChunkSource } from './frame-scanner.js';

/** Room in front of a chunk read ahead for the start of the frame cut by the previous chunk's end. */
export const READ_AHEAD_HEAD_BYTES = 16 * 1024;

interface Ahead {
  /** File position of buf[READ_AHEAD_HEAD_BYTES]. */
  start: number;
  read: Promise<{ buf: Buffer; bytesRead: number } | null>;
}

export class ReadAheadCursor {
  /** The offset a sequential reader asks for next, and the file position of its frame. */
  nextOffset = -1;
  position = 0;
  private chunk: Chunk | null = null;
  private ahead: Ahead | null = null;

  constructor(readonly base: number) {}

  /**
   * Chunks for one scan of the segment through `fh`. With `readAhead`, every chunk
   * handed out starts the read of the next one (up to `endPosition` of that moment).
   */
  source(fh: FileHandle, chunkBytes: number, readAhead: boolean): ChunkSource {
    return async (position, needBytes, endPosition, fresh) => {
      let chunk: Chunk | null = null;
      if (!fresh) chunk = this.cached(position, needBytes) ?? (await this.fromAhead(position, needBytes));
      if (!chunk) {
        this.ahead = null;
        const want = Math.floor(Math.min(Math.max(chunkBytes, needBytes), endPosition - position));
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, position);
        chunk = { buf, start: position, end: position + bytesRead, fresh: true };
      }
      this.chunk = chunk;
      if (readAhead && this.ahead === null && chunk.end < endPosition) this.readAhead(fh, chunk.end, Math.min(chunkBytes, endPosition - chunk.end));
      return chunk;
    };
  }

  /** Called when a scan stopped: the next sequential read starts here. Chunks are no longer fresh for it. */
  park(position: number, nextOffset: number): void {
    this.position = position;
    this.nextOffset = nextOffset;
    const c = this.chunk;
    this.chunk = c && c.end > position ? { buf: c.buf, start: c.start, end: c.end, fresh: false } : null;
  }

  private cached(position: number, needBytes: number): Chunk | null {
    const c = this.chunk;
    if (c && !c.fresh && position >= c.start && position + needBytes <= c.end) return c;
    return null;
  }

  private async fromAhead(position: number, needBytes: number): Promise<Chunk | null> {
    const a = this.ahead;
    if (!a) return null;
    this.ahead = null;
    const tail = a.start - position;
    const c = this.chunk;
    if (tail < 0 || tail > READ_AHEAD_HEAD_BYTES) return null;
    if (tail > 0 && !(c && c.start <= position && c.end === a.start)) return null;
    const got = await a.read;
    if (!got) return null;
    const at = READ_AHEAD_HEAD_BYTES - tail;
    if (tail > 0) got.buf.set(c!.buf.subarray(position - c!.start, a.start - c!.start), at);
    const chunk: Chunk = { buf: got.buf, start: a.start - READ_AHEAD_HEAD_BYTES, end: a.start + got.bytesRead, fresh: false };
    return position + needBytes <= chunk.end ? chunk : null;
  }

  private readAhead(fh: FileHandle, start: number, bytes: number): void {
    const buf = Buffer.allocUnsafe(READ_AHEAD_HEAD_BYTES + bytes);
    // A failed read ahead (handle closed, file gone) is only a missed chance: the scan reads again.
    const read = fh.read(buf, READ_AHEAD_HEAD_BYTES, bytes, start).then(
      ({ bytesRead }) => ({ buf, bytesRead }),
      () => null,
    );
    this.ahead = { start, read };
  }
}
