// CRC-32 (IEEE 802.3, the same value as zlib.crc32) over a range of a buffer,
// slice-by-8 in plain JavaScript. For the ~300-byte frames of the log it beats
// calling zlib.crc32, which needs a subarray object and a native call per frame.

const TABLE = new Int32Array(256 * 8);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}
for (let n = 0; n < 256; n++) {
  for (let t = 1; t < 8; t++) TABLE[t * 256 + n] = (TABLE[(t - 1) * 256 + n]! >>> 8) ^ TABLE[TABLE[(t - 1) * 256 + n]! & 0xff]!;
}

/** CRC-32 of buf[start, end). */
export function crc32Range(buf: Uint8Array, start: number, end: number): number {
  const T = TABLE;
  let c = -1;
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
