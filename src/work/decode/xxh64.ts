// XXH64 (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md), the hash of a zstd
// frame's content checksum (RFC 8878 section 3.1.1: the low 32 bits of XXH64, seed 0). fzstd
// does not verify it and no dependency has it. Written with BigInt.asUintN(64, ...), which V8
// compiles to plain 64-bit integer arithmetic in the hot loop: 64 MiB in well under 0.1 s, little
// next to the second fzstd takes to produce them.

const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const rotl = (x: bigint, r: bigint): bigint => u64((x << r) | (x >> (64n - r)));
const round = (acc: bigint, lane: bigint): bigint => u64(rotl(u64(acc + u64(lane * P2)), 31n) * P1);
const mergeRound = (h: bigint, v: bigint): bigint => u64(u64((h ^ round(0n, v)) * P1) + P4);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The 64-bit little-endian words of `bytes` (a multiple of 8 long), through a BigUint64Array: that needs
 * an 8-byte aligned start (else a copy is read) and reads in the platform's byte order (swapped on big-endian).
 */
function lanesOf(bytes: Uint8Array): BigUint64Array {
  let aligned = bytes;
  if (!LITTLE_ENDIAN) aligned = Buffer.from(new Uint8Array(bytes).buffer).swap64();
  else if (bytes.byteOffset % 8 !== 0) aligned = new Uint8Array(bytes); // a copy, at offset 0
  return new BigUint64Array(aligned.buffer, aligned.byteOffset, aligned.length / 8);
}

/** XXH64 of `data` with seed 0. */
export function xxh64(data: Uint8Array): bigint {
  const len = data.length;
  const lanes = lanesOf(data.subarray(0, len - (len % 8)));
  let i = 0; // in lanes
  let h: bigint;
  if (len >= 32) {
    let v1 = u64(P1 + P2);
    let v2 = P2;
    let v3 = 0n;
    let v4 = u64(-P1);
    // round() written out, BigInt.asUintN itself rather than u64(): V8 turns it into machine arithmetic
    // only when it sees the whole expression (about 10 times faster than through the helpers).
    for (const stripes = Math.floor(len / 32) * 4; i < stripes; i += 4) {
      v1 = BigInt.asUintN(64, v1 + BigInt.asUintN(64, lanes[i]! * P2));
      v1 = BigInt.asUintN(64, BigInt.asUintN(64, (v1 << 31n) | (v1 >> 33n)) * P1);
      v2 = BigInt.asUintN(64, v2 + BigInt.asUintN(64, lanes[i + 1]! * P2));
      v2 = BigInt.asUintN(64, BigInt.asUintN(64, (v2 << 31n) | (v2 >> 33n)) * P1);
      v3 = BigInt.asUintN(64, v3 + BigInt.asUintN(64, lanes[i + 2]! * P2));
      v3 = BigInt.asUintN(64, BigInt.asUintN(64, (v3 << 31n) | (v3 >> 33n)) * P1);
      v4 = BigInt.asUintN(64, v4 + BigInt.asUintN(64, lanes[i + 3]! * P2));
      v4 = BigInt.asUintN(64, BigInt.asUintN(64, (v4 << 31n) | (v4 >> 33n)) * P1);
    }
    h = u64(rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n));
    h = mergeRound(mergeRound(mergeRound(mergeRound(h, v1), v2), v3), v4);
  } else {
    h = P5;
  }
  h = u64(h + BigInt(len));
  for (; i < lanes.length; i++) h = u64(u64(rotl(h ^ round(0n, lanes[i]!), 27n) * P1) + P4);
  let at = i * 8;
  if (at + 4 <= len) {
    const word = (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16)) + data[at + 3]! * 2 ** 24;
    h = u64(u64(rotl(h ^ u64(BigInt(word) * P1), 23n) * P2) + P3);
    at += 4;
  }
  for (; at < len; at++) h = u64(rotl(h ^ u64(BigInt(data[at]!) * P5), 11n) * P1);
  h ^= h >> 33n;
  h = u64(h * P2);
  h ^= h >> 29n;
  h = u64(h * P3);
  h ^= h >> 32n;
  return h;
}

/** The low 32 bits of XXH64 (seed 0): what a zstd frame stores as its content checksum. */
export function xxh64Low32(data: Uint8Array): number {
  return Number(xxh64(data) & 0xffffffffn);
}
