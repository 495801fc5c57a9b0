// CRC-32 (IEEE 802.3, the same value as zlib.crc32) of the log's frames. Short ranges go through
// slice-by-8 in plain JavaScript, long ones through zlib's native crc32: for a ~300-byte frame the
// native call (plus the subarray it needs) costs as much as the whole JavaScript loop, for a 4 KB body a third.
// Crc32Memory runs the same loop in WebAssembly (crc32.wat), twice as fast, on bytes in its own memory,
// and a writer's frames there two at a time (deferFrameCrc, finishFrames), faster again.

import * as zlib from 'node:zlib';
import { CRC32_WASM_BASE64 } from './crc32-wasm-bytes.js';

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

/** The eight tables of the loop, at the start of a Crc32Memory. */
const TABLES_BYTES = 8 * 256 * 4;
/**
 * Frames deferred to finishFrames, listed after the tables (one u32 address each): a full list is
 * checksummed at once, so a batch of any length fits.
 */
const FRAME_LIST_CAPACITY = 4096;
/** Where the data area of a Crc32Memory starts: after the tables and the frame list. */
const DATA_START = TABLES_BYTES + 4 * FRAME_LIST_CAPACITY;
const WASM_PAGE_BYTES = 64 * 1024;
/**
 * From these sizes zlib.crc32 beats the WebAssembly loop (bench/crc32-bench.ts: in place, even at about
 * 1.5 KB and 1.3x faster at 4 KB; through the reader's copy, even at about 1 KB).
 */
export const WASM_MAX_BODY_BYTES = 2048;
export const WASM_MAX_COPY_BYTES = 1024;
/** Bytes of a foreign buffer copied in at once by copyOf: one copy serves the ~200 frames after it. */
export const COPY_WINDOW_BYTES = 64 * 1024;

let wasmModule: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly is unavailable (node --jitless): callers fall back to JavaScript. */
function crc32Module(): WebAssembly.Module | null {
  if (wasmModule === undefined) {
    try {
      wasmModule = new WebAssembly.Module(Buffer.from(CRC32_WASM_BASE64, 'base64'));
    } catch {
      wasmModule = null;
    }
  }
  return wasmModule;
}

/**
 * One instance of the WebAssembly CRC loop with a memory of its own: `bytes` is its data area, where a
 * log writer encodes its frames and checksums them in place (crcOf). Bytes of another buffer are
 * checksummed through a copy (copyOf), made a window at a time, so a reader pays one memcpy per window.
 */
export class Crc32Memory {
  /** The data area; a new Buffer after reserve() grows the memory (the old one is detached, length 0). */
  bytes: Buffer;
  private readonly memory: WebAssembly.Memory;
  private readonly crc32: (crc: number, at: number, length: number) => number;
  private readonly crcFrames: (list: number, count: number) => void;
  /** Over the frame list; made again when the memory grows (the old view is detached). */
  private frameList: DataView;
  private framesListed = 0;
  /** What copyOf last copied into bytes[0, copiedEnd - copiedStart): copied[copiedStart, copiedEnd). */
  private copied: Uint8Array | null = null;
  private copiedStart = 0;
  private copiedEnd = 0;

  private constructor(instance: WebAssembly.Instance, dataBytes: number) {
    const exports = instance.exports as unknown as {
      memory: WebAssembly.Memory;
      crc32: (crc: number, at: number, length: number) => number;
      crcFrames: (list: number, count: number) => void;
    };
    this.memory = exports.memory;
    this.crc32 = exports.crc32;
    this.crcFrames = exports.crcFrames;
    this.bytes = Buffer.alloc(0);
    this.frameList = new DataView(this.memory.buffer, TABLES_BYTES, 4 * FRAME_LIST_CAPACITY);
    this.reserve(dataBytes);
    // Little-endian whatever the host, as WebAssembly loads are.
    const tables = new DataView(this.memory.buffer, 0, TABLES_BYTES);
    for (let i = 0; i < TABLE.length; i++) tables.setInt32(i * 4, TABLE[i]!, true);
  }

  /**
   * A memory with at least `dataBytes` of data area, or null without WebAssembly, or when V8 cannot give
   * one: it reserves ~10 GiB of address space per WebAssembly memory, which `ulimit -v` may not allow.
   */
  static create(dataBytes: number): Crc32Memory | null {
    const mod = crc32Module();
    if (mod === null) return null;
    try {
      return new Crc32Memory(new WebAssembly.Instance(mod), dataBytes);
    } catch {
      return null;
    }
  }

  /** Grows the data area to at least `dataBytes` (never shrinks); throws a RangeError when the memory cannot grow. */
  reserve(dataBytes: number): void {
    const have = this.memory.buffer.byteLength;
    const need = DATA_START + dataBytes;
    if (need > have) this.memory.grow(Math.ceil((need - have) / WASM_PAGE_BYTES));
    if (this.bytes.length < dataBytes || this.bytes.buffer !== this.memory.buffer) {
      this.bytes = Buffer.from(this.memory.buffer, DATA_START, this.memory.buffer.byteLength - DATA_START);
      this.frameList = new DataView(this.memory.buffer, TABLES_BYTES, 4 * FRAME_LIST_CAPACITY);
      this.copied = null;
    }
  }

  /** CRC-32 of bytes[start, end). */
  crcOf(start: number, end: number): number {
    return this.crc32(0, DATA_START + start, end - start) >>> 0;
  }

  /** Starts a batch of frames in `bytes`: frames listed by deferFrameCrc and not finished are forgotten. */
  beginFrames(): void {
    this.framesListed = 0;
  }

  /**
   * Lists the whole frame at bytes[pos] (u32le payload length, checksum slot, payload) for finishFrames,
   * which stores its payload's CRC-32 in the slot. The frame must not change until then.
   */
  deferFrameCrc(pos: number): void {
    this.frameList.setUint32(4 * this.framesListed, DATA_START + pos, true);
    if (++this.framesListed === FRAME_LIST_CAPACITY) this.finishFrames();
  }

  /** Checksums the frames listed since beginFrames (or the last finishFrames). */
  finishFrames(): void {
    if (this.framesListed > 0) this.crcFrames(TABLES_BYTES, this.framesListed);
    this.framesListed = 0;
  }

  /**
   * CRC-32 of buf[start, end) through a copy. The copy is reused while later ranges fall inside it, so
   * `buf` must not change between calls; a caller that finds a mismatch checks again with crc32Range.
   */
  copyOf(buf: Uint8Array, start: number, end: number): number {
    if (buf !== this.copied || start < this.copiedStart || end > this.copiedEnd) {
      const copyEnd = Math.min(buf.length, Math.max(end, start + COPY_WINDOW_BYTES));
      this.reserve(copyEnd - start);
      this.bytes.set(buf.subarray(start, copyEnd), 0);
      this.copied = buf;
      this.copiedStart = start;
      this.copiedEnd = copyEnd;
    }
    return this.crcOf(start - this.copiedStart, end - this.copiedStart);
  }
}

let writersMemory: Crc32Memory | null | undefined;

/**
 * The one Crc32Memory in which every log writer of this process encodes its batches (null without
 * WebAssembly). One is enough: a writer encodes a batch and write(2)s it with no await in between, so
 * no two batches ever use it at once; and one per writer would cost ~10 GiB of address space each.
 */
export function writersCrc32Memory(): Crc32Memory | null {
  if (writersMemory === undefined) writersMemory = Crc32Memory.create(0);
  return writersMemory;
}
