// Undoes zstd Content-Encoding with fzstd (pure JS, so it works on Node 20, where
// node:zlib has no zstd) under the same hard limit as the zlib codings: frame
// headers are checked before fzstd allocates a window, the whole body's decoding
// cost is checked against a budget before fzstd starts, and output stops at the limit.
// fzstd skips content checksums without checking them: frames are decoded one by one
// and the XXH64 of each one's output is compared with its checksum (RFC 8878 section
// 3.1.1), so a damaged body is a dead letter as a damaged gzip body is, never data.

import { Decompress } from 'fzstd';
import { DecodeError } from './decode-error.js';
import { xxh64Low32 } from './xxh64.js';

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames use the 16 magic numbers 0x184D2A50..0x184D2A5F. */
const SKIPPABLE_MAGIC_HIGH_BITS = 0x184d2a5;
const FRAME_CONTENT_SIZE_BYTES = [0, 2, 4, 8] as const;
const DICTIONARY_ID_BYTES = [0, 1, 2, 4] as const;
const BLOCK_HEADER_BYTES = 3;
const CHECKSUM_BYTES = 4;
const BLOCK_TYPE_RLE = 1;
const BLOCK_TYPE_COMPRESSED = 2;
/** fzstd's output buffer for a compressed block: min(window, 128 KiB), the zstd maximum block size. */
const MAX_BLOCK_BYTES = 128 * 1024;
/** zstd levels 1-19 use windows of at most 8 MiB; only --long and --ultra go beyond. */
export const ZSTD_MAX_WINDOW_BYTES = 8 * 1024 * 1024;

// The per-frame window check above bounds memory, not time. fzstd's cost (node_modules/fzstd, Decompress
// and rzfh/rzb) grows with windows and block counts, not with the body or output size:
//   - each frame allocates a fresh zero-filled window (rzfh: new u8(window));
//   - each block moves the whole window down by the block's output (copyWithin over the window);
//   - each compressed block allocates a fresh zero-filled min(window, 128 KiB) output buffer;
//   - each frame is decoded in a nested push() call.
// So a 10-byte frame can cost an 8 MiB allocation and a 4-byte block an 8 MiB copy: a 1 MiB body could
// hold the worker's event loop for tens of minutes while producing nothing. The headers give every
// window and block count, so the whole body's cost is added up and refused before fzstd runs. Budgets
// grow with maxDecodedBytes, as a legitimate body's cost grows with its output; at the default 64 MiB
// the worst body they admit costs about what fzstd takes for a legitimate 64 MiB -19 body (~1 s).

/**
 * Most frames (zstd and skippable) in one body. fzstd recurses once per frame (about 8,000 overflow the
 * stack); real bodies have one frame or a few concatenated ones.
 */
export const ZSTD_MAX_FRAMES = 1024;
/** Budgets are computed as if maxDecodedBytes were at least this, so small limits still admit a few full-window frames. */
export const ZSTD_BUDGET_MIN_DECODED_BYTES = 32 * 1024 * 1024;
/**
 * Window moves (window bytes × blocks, over all frames) per byte of maxDecodedBytes. A legitimate body
 * moves about window / block size per output byte: 8 MiB / 128 KiB = 64 at -17..-19, but those levels
 * split blocks smaller: up to 240 measured on 64 MB bodies. 32 GiB at 64 MiB: about 0.7 s of memmove.
 */
export const ZSTD_WINDOW_MOVE_BYTES_PER_DECODED_BYTE = 512;
/**
 * Fresh frame windows (summed over frames) per byte of maxDecodedBytes. A frame with a known size gets a
 * window under twice that size; a streamed one gets its level's (8 MiB at -19). A fresh window costs
 * fzstd ~100 times more per byte than a move (zero-filled, page-faulted, then garbage), hence the tight
 * ratio: 16 full windows at 64 MiB.
 */
export const ZSTD_FRAME_WINDOW_BYTES_PER_DECODED_BYTE = 2;
/** Fresh compressed-block buffers (min(window, 128 KiB) each) per byte of maxDecodedBytes; up to 4 measured (-17). */
export const ZSTD_BLOCK_BUFFER_BYTES_PER_DECODED_BYTE = 8;

/** Little-endian unsigned; bytes past the end read as 0, as fzstd reads them. */
function readLE(body: Buffer, pos: number, bytes: number): number {
  let value = 0;
  for (let i = bytes - 1; i >= 0; i--) value = value * 256 + (body[pos + i] ?? 0);
  return value;
}

/** One of the costs above, in bytes, for one body: refuses the body as soon as it passes its limit. */
class CostBudget {
  private spent = 0;
  private readonly limit: number;

  constructor(
    private readonly name: string,
    private readonly bytesPerDecodedByte: number,
    base: number,
    private readonly cost: string,
    private readonly fix: string,
  ) {
    this.limit = bytesPerDecodedByte * base;
  }

  spend(bytes: number): void {
    this.spent += bytes;
    if (this.spent > this.limit) {
      throw new DecodeError(
        'HOPPER_DECODE_UNSUPPORTED',
        `zstd body is too costly to decode: fzstd would ${this.cost} more than ${this.limit} bytes ` +
          `(${this.name} budget: ${this.bytesPerDecodedByte} × max(maxDecodedBytes, ${ZSTD_BUDGET_MIN_DECODED_BYTES})); ${this.fix}`,
      );
    }
  }
}

/** A whole zstd frame of the body, as the walk of its headers and block sizes found it. */
interface FrameSpan {
  start: number;
  /** Past its last block and its checksum. */
  end: number;
  /** Whether its last 4 bytes are the content checksum. */
  checksum: boolean;
}

/** The body's whole zstd frames (skippable ones left out), and where the walk stopped: the rest is left to fzstd. */
interface FrameWalk {
  frames: FrameSpan[];
  rest: number;
}

/**
 * fzstd allocates each frame's declared window up front (up to 2 GiB from a 6-byte header), so every
 * frame header is read here first: a declared content size over the limit or a window over
 * ZSTD_MAX_WINDOW_BYTES is refused before any allocation. Blocks are walked by their sizes to reach
 * the next frame, counting the frames, window moves and fresh buffers the body will cost fzstd; a body
 * over a budget is refused before fzstd does any of that work. A truncated or malformed structure ends
 * the walk (`rest`) and fzstd reports it as damaged.
 */
function checkFrameHeaders(body: Buffer, maxDecodedBytes: number): FrameWalk {
  const spans: FrameSpan[] = [];
  const budgetBase = Math.max(maxDecodedBytes, ZSTD_BUDGET_MIN_DECODED_BYTES);
  const windowMoves = new CostBudget('window-move', ZSTD_WINDOW_MOVE_BYTES_PER_DECODED_BYTE, budgetBase, 'move its window over', 'compress the body in one go instead of flushing often');
  const frameWindows = new CostBudget('frame-window', ZSTD_FRAME_WINDOW_BYTES_PER_DECODED_BYTE, budgetBase, 'allocate frame windows of', 'use fewer, larger frames');
  const blockBuffers = new CostBudget('block-buffer', ZSTD_BLOCK_BUFFER_BYTES_PER_DECODED_BYTE, budgetBase, 'allocate block buffers of', 'use fewer, larger blocks');
  let at = 0;
  for (let frames = 1; at + 4 < body.length; frames++) {
    if (frames > ZSTD_MAX_FRAMES) {
      throw new DecodeError('HOPPER_DECODE_UNSUPPORTED', `zstd body has more than ${ZSTD_MAX_FRAMES} frames (ZSTD_MAX_FRAMES): concatenate fewer, larger frames`);
    }
    const magic = readLE(body, at, 4);
    if (magic >>> 4 === SKIPPABLE_MAGIC_HIGH_BITS) {
      const end = at + 8 + readLE(body, at + 4, 4);
      if (end > body.length) break;
      at = end;
      continue;
    }
    if (magic !== ZSTD_MAGIC) break;
    const descriptor = body[at + 4]!;
    const singleSegment = (descriptor >> 5) & 1;
    const hasChecksum = (descriptor >> 2) & 1;
    const dictionaryIdBytes = DICTIONARY_ID_BYTES[descriptor & 3]!;
    const fcsFlag = descriptor >> 6;
    const contentSizeBytes = fcsFlag === 0 && singleSegment ? 1 : FRAME_CONTENT_SIZE_BYTES[fcsFlag]!;
    let pos = at + 5;
    let windowBytes = 0;
    if (!singleSegment) {
      const windowDescriptor = body[pos++] ?? 0;
      const base = 2 ** (10 + (windowDescriptor >> 3));
      windowBytes = base + (base / 8) * (windowDescriptor & 7);
    }
    if (readLE(body, pos, dictionaryIdBytes) !== 0) {
      throw new DecodeError('HOPPER_DECODE_UNSUPPORTED', 'zstd body needs a dictionary: zstd dictionaries are not supported');
    }
    pos += dictionaryIdBytes;
    const contentBytes = contentSizeBytes === 0 ? -1 : readLE(body, pos, contentSizeBytes) + (contentSizeBytes === 2 ? 256 : 0);
    pos += contentSizeBytes;
    if (singleSegment) windowBytes = contentBytes;
    if (contentBytes > maxDecodedBytes) {
      throw new DecodeError('HOPPER_DECODED_TOO_LARGE', `zstd body declares ${contentBytes} bytes, more than maxDecodedBytes (${maxDecodedBytes} bytes)`);
    }
    if (windowBytes > ZSTD_MAX_WINDOW_BYTES) {
      throw new DecodeError(
        'HOPPER_DECODE_UNSUPPORTED',
        `zstd frame needs a ${windowBytes}-byte window; Hopper decodes zstd windows up to ${ZSTD_MAX_WINDOW_BYTES} bytes (levels 1-19 without --long)`,
      );
    }
    frameWindows.spend(windowBytes);
    const blockBufferBytes = Math.min(windowBytes, MAX_BLOCK_BYTES);
    for (let last = 0; !last; ) {
      if (pos + BLOCK_HEADER_BYTES > body.length) return { frames: spans, rest: at };
      const header = readLE(body, pos, BLOCK_HEADER_BYTES);
      last = header & 1;
      const blockType = (header >> 1) & 3;
      windowMoves.spend(windowBytes);
      if (blockType === BLOCK_TYPE_COMPRESSED) blockBuffers.spend(blockBufferBytes);
      pos += BLOCK_HEADER_BYTES + (blockType === BLOCK_TYPE_RLE ? 1 : header >>> 3);
    }
    const end = pos + (hasChecksum ? CHECKSUM_BYTES : 0);
    if (end > body.length) break;
    spans.push({ start: at, end, checksum: hasChecksum === 1 });
    at = end;
  }
  return { frames: spans, rest: at };
}

/** Raised from fzstd's ondata callback to stop decoding as soon as the output passes the limit. */
class OutputLimitReached extends Error {}

/** The decompressed body; memory held is at most maxDecodedBytes of output plus one block and the window. */
export function zstdDecompress(body: Buffer, maxDecodedBytes: number): Buffer {
  // fzstd takes no input as an empty stream; zstd (and gzip, deflate, br) call it truncated: no frame at all.
  if (body.length === 0) throw new DecodeError('HOPPER_DECODE_FAILED', 'zstd body is damaged or truncated: it is empty (a zstd stream holds at least one frame)');
  const walk = checkFrameHeaders(body, maxDecodedBytes);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const ondata = (chunk: Uint8Array): void => {
    total += chunk.length;
    if (total > maxDecodedBytes) throw new OutputLimitReached();
    if (chunk.length > 0) chunks.push(chunk);
  };
  /** Output ranges of the frames that carry a checksum, with that checksum. */
  const checked: { from: number; to: number; checksum: number; frame: number }[] = [];
  try {
    // One fzstd stream per frame, so that each frame's output is known; what the walk could not make
    // sense of (truncated, garbage after the frames) goes to fzstd as it is, which reports it.
    for (let n = 0; n < walk.frames.length; n++) {
      const f = walk.frames[n]!;
      const from = total;
      new Decompress(ondata).push(body.subarray(f.start, f.end), true);
      if (f.checksum) checked.push({ from, to: total, checksum: body.readUInt32LE(f.end - CHECKSUM_BYTES), frame: n + 1 });
    }
    if (walk.rest < body.length || walk.frames.length === 0) new Decompress(ondata).push(body.subarray(walk.rest), true);
  } catch (err) {
    if (err instanceof OutputLimitReached) {
      throw new DecodeError('HOPPER_DECODED_TOO_LARGE', `zstd body decompresses to more than maxDecodedBytes (${maxDecodedBytes} bytes)`);
    }
    throw new DecodeError('HOPPER_DECODE_FAILED', `zstd body is damaged or truncated: ${(err as Error).message}`, { cause: err });
  }
  const out = Buffer.concat(chunks, total);
  for (const c of checked) {
    if (xxh64Low32(out.subarray(c.from, c.to)) !== c.checksum) {
      throw new DecodeError('HOPPER_DECODE_FAILED', `zstd body is damaged: the content checksum of frame ${c.frame} does not match its data`);
    }
  }
  return out;
}
