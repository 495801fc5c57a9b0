// Undoes zstd Content-Encoding with fzstd (pure JS, so it works on Node 20, where
// node:zlib has no zstd) under the same hard limit as the zlib codings: frame
// headers are checked before fzstd allocates a window, and output stops at the limit.

import { Decompress } from 'fzstd';
import { DecodeError } from './decode-error.js';

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames use the 16 magic numbers 0x184D2A50..0x184D2A5F. */
const SKIPPABLE_MAGIC_HIGH_BITS = 0x184d2a5;
const FRAME_CONTENT_SIZE_BYTES = [0, 2, 4, 8] as const;
const DICTIONARY_ID_BYTES = [0, 1, 2, 4] as const;
const BLOCK_HEADER_BYTES = 3;
const CHECKSUM_BYTES = 4;
const BLOCK_TYPE_RLE = 1;
/**
 * zstd levels 1-19 use windows of at most 8 MiB; only --long and --ultra go beyond. fzstd moves its
 * whole window once per 128 KiB block, so this also bounds the CPU a small body can cost.
 */
export const ZSTD_MAX_WINDOW_BYTES = 8 * 1024 * 1024;

/** Little-endian unsigned; bytes past the end read as 0, as fzstd reads them. */
function readLE(body: Buffer, pos: number, bytes: number): number {
  let value = 0;
  for (let i = bytes - 1; i >= 0; i--) value = value * 256 + (body[pos + i] ?? 0);
  return value;
}

/**
 * fzstd allocates each frame's declared window up front (up to 2 GiB from a 6-byte header), so every
 * frame header is read here first: a declared content size over the limit or a window over
 * ZSTD_MAX_WINDOW_BYTES is refused before any allocation. Blocks are skipped by their sizes to reach
 * the next frame; a truncated or malformed structure ends the walk and fzstd reports it as damaged.
 */
function checkFrameHeaders(body: Buffer, maxDecodedBytes: number): void {
  let at = 0;
  while (at + 4 < body.length) {
    const magic = readLE(body, at, 4);
    if (magic >>> 4 === SKIPPABLE_MAGIC_HIGH_BITS) {
      at += 8 + readLE(body, at + 4, 4);
      continue;
    }
    if (magic !== ZSTD_MAGIC) return;
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
    for (let last = 0; !last; ) {
      if (pos + BLOCK_HEADER_BYTES > body.length) return;
      const header = readLE(body, pos, BLOCK_HEADER_BYTES);
      last = header & 1;
      pos += BLOCK_HEADER_BYTES + (((header >> 1) & 3) === BLOCK_TYPE_RLE ? 1 : header >>> 3);
    }
    at = pos + (hasChecksum ? CHECKSUM_BYTES : 0);
  }
}

/** Raised from fzstd's ondata callback to stop decoding as soon as the output passes the limit. */
class OutputLimitReached extends Error {}

/** The decompressed body; memory held is at most maxDecodedBytes of output plus one block and the window. */
export function zstdDecompress(body: Buffer, maxDecodedBytes: number): Buffer {
  checkFrameHeaders(body, maxDecodedBytes);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const stream = new Decompress((chunk) => {
    total += chunk.length;
    if (total > maxDecodedBytes) throw new OutputLimitReached();
    if (chunk.length > 0) chunks.push(chunk);
  });
  try {
    stream.push(body, true);
  } catch (err) {
    if (err instanceof OutputLimitReached) {
      throw new DecodeError('HOPPER_DECODED_TOO_LARGE', `zstd body decompresses to more than maxDecodedBytes (${maxDecodedBytes} bytes)`);
    }
    throw new DecodeError('HOPPER_DECODE_FAILED', `zstd body is damaged or truncated: ${(err as Error).message}`, { cause: err });
  }
  return Buffer.concat(chunks, total);
}
