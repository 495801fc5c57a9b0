// CRC-32 (IEEE 802.3, the same value as zlib.crc32) of the log's frames. Short ranges go through
// slice-by-8 in plain JavaScript, long ones through zlib's native crc32: for a ~300-byte frame the
// native call (plus the subarray it needs) costs as much as the whole JavaScript loop, for a 4 KB body a third.

import * as zlib from 'node:zlib';

const TABLE = new Int32Array(256 * 8);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}
for (let n = 0; n < 256; n++) {
  for (let t = 1; t < 8; t++) TABLE[t * 256 + n] = (TABLE[(t - 1) * 256 + n]! >>> 8) ^ TABLE[TABLE[(t - 1) * 256 + n]! & 0xff]!;
}

/** zlib.crc32 (Node 20.15 and later); absent, every range takes the JavaScript loop. */
const nativeCrc32: ((data: Uint8Array, value?: number) => number) | undefined = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/**
 * From this many bytes zlib.crc32 wins (bench/crc32-bench.ts: 1.2x at 384, 1.8x at 1 KB, 3x at 4 KB): below it, the call into C++ costs
 * more than the bytes. A range of a larger buffer also pays for the subarray the native call needs.
 */
export const NATIVE_MIN_BYTES = 384;
export const NATIVE_MIN_RANGE_BYTES = 512;

/** CRC-32 of buf[start, end) continued from `crc` (the finished CRC-32 of the bytes before; 0 for none), in JavaScript. */
export function crc32UpdateJs(crc: number, buf: Uint8Array, start: number, end: number): number {
  const T = TABLE;
  let c = crc ^ -1;
  let i = start;
  const end8 = end - 7;
  for (; i < end8; i += 8) {
    c ^= buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24);
    c =
      T[1792 + (c & 0xff)]! ^
      T[1536 + ((c >>> 8) & 0xff)]! ^
      T[1280 + ((c >>> 16) & 0xff)]! ^
      T[1024 + (c >>> 24)]! ^
      T[768 + buf[i + 4]!]! ^
      T[512 + buf[i + 5]!]! ^
      T[256 + buf[i + 6]!]! ^
      T[buf[i + 7]!]!;
  }
  for (; i < end; i++) c = T[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** CRC-32 of buf[start, end). */
export function crc32Range(buf: Uint8Array, start: number, end: number): number {
  if (nativeCrc32 !== undefined && end - start >= NATIVE_MIN_RANGE_BYTES) return nativeCrc32(buf.subarray(start, end));
  return crc32UpdateJs(0, buf, start, end);
}

/**
 * CRC-32 of buf[start, bodyStart + body.length), where buf holds a copy of `body` from bodyStart (a frame
 * being written). A long body is checksummed from its own buffer: the native call needs no subarray then.
 */
export function crc32WithBody(buf: Uint8Array, start: number, bodyStart: number, body: Uint8Array): number {
  if (nativeCrc32 !== undefined && body.length >= NATIVE_MIN_BYTES) return nativeCrc32(body, crc32UpdateJs(0, buf, start, bodyStart));
  return crc32UpdateJs(0, buf, start, bodyStart + body.length);
}
