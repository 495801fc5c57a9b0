// Encodes records into checksummed frames and decodes them back. This is the
// on-disk record format of the embedded log (see DESIGN.md beside this file):
//
//   frame   = u32le payloadBytes | u32le crc32(payload) (IEEE, as zlib.crc32) | payload
//   payload = u8 version(=1) | u8 reserved(=0)
//           | u16le contentType | u16le contentEncoding | u16le remoteAddress
//           | u16le requestId | u16le idempotencyKey       (byte lengths)
//           | u32le offsetLow | u32le offsetHigh | f64le receivedAtUs
//           | the five strings, UTF-8, in that order | body bytes (the rest)

import { COPY_WINDOW_BYTES, Crc32Memory, crc32Range, crc32WithBody, WASM_MAX_BODY_BYTES, WASM_MAX_COPY_BYTES } from './crc32.js';
import { metadataBytes } from '../record-size.js';
import { MAX_METADATA_BYTES, type LogRecord, type RecordInput } from '../types.js';

export const FRAME_HEADER_BYTES = 8;
export const PAYLOAD_FIXED_BYTES = 28;
export const FRAME_VERSION = 1;
/** Longest stored metadata string, in UTF-8 bytes (declared with the log interface; ingest rejects longer values with 400). */
export { MAX_METADATA_BYTES };
/** Largest payload a reader accepts; anything larger is damage, not data. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024 + 8 * MAX_METADATA_BYTES;

const TWO_32 = 0x1_0000_0000;

/** Frame size of one record, or -1 when a metadata string is too long. */
export function frameBytes(r: RecordInput): number {
  const meta = metadataBytes(r);
  return meta < 0 ? -1 : FRAME_HEADER_BYTES + PAYLOAD_FIXED_BYTES + meta + r.body.length;
}

interface Latin1Writer {
  latin1Write(text: string, offset: number): number;
}

/** Below this length an ASCII string is stored byte by byte in JavaScript, cheaper than a call into C++. */
const INLINE_STRING_CHARS = 64;

/** Metadata is nearly always short ASCII (content type, address, request id): stored without a native call. */
function writeString(buf: Buffer, text: string, at: number): number {
  const n = text.length;
  if (n === 0) return 0;
  if (n <= INLINE_STRING_CHARS) {
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) return buf.write(text, at, 'utf8');
      buf[at + i] = c;
    }
    return n;
  }
  for (let i = 0; i < n; i++) if (text.charCodeAt(i) > 0x7f) return buf.write(text, at, 'utf8');
  return (buf as unknown as Latin1Writer).latin1Write(text, at);
}

function putU16(buf: Buffer, at: number, v: number): void {
  buf[at] = v;
  buf[at + 1] = v >>> 8;
}

function putU32(buf: Buffer, at: number, v: number): void {
  buf[at] = v;
  buf[at + 1] = v >>> 8;
  buf[at + 2] = v >>> 16;
  buf[at + 3] = v >>> 24;
}

/**
 * Writes one frame at `pos` (the caller sized `buf` with frameBytes). Returns the position after it.
 * When `buf` is the data area of `mem`, a frame with a body under WASM_MAX_BODY_BYTES is checksummed
 * there, in WebAssembly: at once, or with `deferCrc` at the caller's mem.finishFrames(), two frames at a
 * time. A longer body is checksummed natively, from its own buffer.
 */
export function writeFrame(buf: Buffer, pos: number, r: RecordInput, offset: number, mem: Crc32Memory | null = null, deferCrc = false): number {
  const p = pos + FRAME_HEADER_BYTES;
  let s = p + PAYLOAD_FIXED_BYTES;
  const ct = writeString(buf, r.contentType, s);
  s += ct;
  const ce = writeString(buf, r.contentEncoding, s);
  s += ce;
  const ra = writeString(buf, r.remoteAddress, s);
  s += ra;
  const rid = writeString(buf, r.requestId, s);
  s += rid;
  const idk = writeString(buf, r.idempotencyKey, s);
  s += idk;
  const bodyStart = s;
  // Uint8Array#set is a straight memcpy; Buffer#copy takes a slower generic path for small buffers.
  buf.set(r.body, s);
  s += r.body.length;
  buf[p] = FRAME_VERSION;
  buf[p + 1] = 0;
  // Plain byte stores: Buffer's write* methods check their arguments on every call.
  putU16(buf, p + 2, ct);
  putU16(buf, p + 4, ce);
  putU16(buf, p + 6, ra);
  putU16(buf, p + 8, rid);
  putU16(buf, p + 10, idk);
  putU32(buf, p + 12, offset % TWO_32);
  putU32(buf, p + 16, Math.floor(offset / TWO_32));
  buf.writeDoubleLE(r.receivedAtUs, p + 20);
  putU32(buf, pos, s - p);
  const inWasm = mem !== null && buf === mem.bytes && r.body.length < WASM_MAX_BODY_BYTES;
  if (inWasm && deferCrc) mem.deferFrameCrc(pos);
  else putU32(buf, pos + 4, inWasm ? mem.crcOf(p, s) : crc32WithBody(buf, p, bodyStart, r.body));
  return s;
}

export type FrameCheck =
  | { kind: 'ok'; end: number; offset: number; receivedAtUs: number }
  /** The frame runs past the end of the bytes available: read more (or it is a torn tail). */
  | { kind: 'short'; needBytes: number }
  | { kind: 'bad'; reason: string };

export const FRAME_OK = 0;
export const FRAME_SHORT = 1;
export const FRAME_BAD = 2;
export type FrameStatus = typeof FRAME_OK | typeof FRAME_SHORT | typeof FRAME_BAD;

/** What inspectFrame found, in fields of one object the caller reuses (scans check millions of frames). */
export interface FrameFacts {
  /** FRAME_OK: position after the frame, its offset and receivedAtUs. */
  end: number;
  offset: number;
  receivedAtUs: number;
  /** FRAME_SHORT: bytes from the frame's start needed to check it. */
  needBytes: number;
  /** FRAME_BAD: why. */
  reason: string;
}

export function newFrameFacts(): FrameFacts {
  return { end: 0, offset: 0, receivedAtUs: 0, needBytes: 0, reason: '' };
}

function u16(buf: Buffer, at: number): number {
  return buf[at]! | (buf[at + 1]! << 8);
}

function u32(buf: Buffer, at: number): number {
  return (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24)) >>> 0;
}

/** Readers' checksums: frames under WASM_MAX_COPY_BYTES through a WebAssembly copy of the buffer, a window at a time (null: no WebAssembly). */
const verifyMemory = Crc32Memory.create(COPY_WINDOW_BYTES);

/**
 * CRC-32 of a frame's payload. A mismatch is computed again from `buf` itself: the copy in verifyMemory
 * assumes `buf` did not change since it was made, and a stale copy must not make a good frame look damaged.
 */
function frameCrc(buf: Buffer, start: number, end: number): number {
  if (verifyMemory === null || end - start >= WASM_MAX_COPY_BYTES) return crc32Range(buf, start, end);
  const crc = verifyMemory.copyOf(buf, start, end);
  return crc === u32(buf, start - 4) ? crc : crc32Range(buf, start, end);
}

/** Checks the frame at `pos` of `buf` (length, checksum, version) without decoding it; fills `out`. */
export function inspectFrame(buf: Buffer, pos: number, end: number, out: FrameFacts): FrameStatus {
  if (end - pos < FRAME_HEADER_BYTES) {
    out.needBytes = FRAME_HEADER_BYTES;
    return FRAME_SHORT;
  }
  const payloadBytes = u32(buf, pos);
  if (payloadBytes < PAYLOAD_FIXED_BYTES || payloadBytes > MAX_PAYLOAD_BYTES) {
    out.reason = `impossible frame length ${payloadBytes}`;
    return FRAME_BAD;
  }
  const frameEnd = pos + FRAME_HEADER_BYTES + payloadBytes;
  if (frameEnd > end) {
    out.needBytes = FRAME_HEADER_BYTES + payloadBytes;
    return FRAME_SHORT;
  }
  const p = pos + FRAME_HEADER_BYTES;
  if (frameCrc(buf, p, frameEnd) !== u32(buf, pos + 4)) {
    out.reason = 'checksum mismatch';
    return FRAME_BAD;
  }
  if (buf[p] !== FRAME_VERSION) {
    out.reason = `unknown frame version ${buf[p]}`;
    return FRAME_BAD;
  }
  const strings = u16(buf, p + 2) + u16(buf, p + 4) + u16(buf, p + 6) + u16(buf, p + 8) + u16(buf, p + 10);
  if (PAYLOAD_FIXED_BYTES + strings > payloadBytes) {
    out.reason = 'metadata longer than frame';
    return FRAME_BAD;
  }
  out.end = frameEnd;
  out.offset = u32(buf, p + 12) + u32(buf, p + 16) * TWO_32;
  out.receivedAtUs = buf.readDoubleLE(p + 20);
  return FRAME_OK;
}

/** Checks the frame at `pos` of `buf` (length, checksum, version) without decoding it. */
export function checkFrame(buf: Buffer, pos: number, end: number): FrameCheck {
  const f = newFrameFacts();
  const status = inspectFrame(buf, pos, end, f);
  if (status === FRAME_OK) return { kind: 'ok', end: f.end, offset: f.offset, receivedAtUs: f.receivedAtUs };
  if (status === FRAME_SHORT) return { kind: 'short', needBytes: f.needBytes };
  return { kind: 'bad', reason: f.reason };
}

interface Utf8Slicer {
  utf8Slice(start: number, end: number): string;
}

/** buf.toString('utf8', start, end) without its argument handling: one string per record is decoded on every read. */
function utf8(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as Utf8Slicer).utf8Slice(start, end);
}

// Metadata values repeat from record to record (same content type, same proxy
// address): a tiny cache turns most string decodes into one byte comparison.
class RepeatedString {
  private bytes: Buffer = Buffer.alloc(0);
  private text = '';

  decode(buf: Buffer, start: number, len: number): string {
    if (len === 0) return '';
    if (len === this.bytes.length && sameBytes(this.bytes, buf, start, len)) return this.text;
    this.bytes = Buffer.from(buf.subarray(start, start + len));
    this.text = this.bytes.toString('utf8');
    return this.text;
  }
}

function sameBytes(a: Buffer, b: Buffer, start: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[i] !== b[start + i]) return false;
  return true;
}

const contentTypes = new RepeatedString();
const contentEncodings = new RepeatedString();
const remoteAddresses = new RepeatedString();

/** Decodes a frame already validated by checkFrame. The body is a view into `buf`, not a copy. */
export function decodeFrame(buf: Buffer, pos: number, stream: string, partition: number): LogRecord {
  const p = pos + FRAME_HEADER_BYTES;
  const end = p + u32(buf, pos);
  const ct = u16(buf, p + 2);
  const ce = u16(buf, p + 4);
  const ra = u16(buf, p + 6);
  const rid = u16(buf, p + 8);
  const idk = u16(buf, p + 10);
  let s = p + PAYLOAD_FIXED_BYTES;
  const contentType = contentTypes.decode(buf, s, ct);
  s += ct;
  const contentEncoding = contentEncodings.decode(buf, s, ce);
  s += ce;
  const remoteAddress = remoteAddresses.decode(buf, s, ra);
  s += ra;
  const requestId = rid === 0 ? '' : utf8(buf, s, s + rid);
  s += rid;
  const idempotencyKey = idk === 0 ? '' : utf8(buf, s, s + idk);
  s += idk;
  return {
    stream,
    partition,
    offset: u32(buf, p + 12) + u32(buf, p + 16) * TWO_32,
    receivedAtUs: buf.readDoubleLE(p + 20),
    contentType,
    contentEncoding,
    remoteAddress,
    requestId,
    idempotencyKey,
    body: buf.subarray(s, end),
  };
}
