// Encodes records into checksummed frames and decodes them back. This is the
// on-disk record format of the embedded log (see DESIGN.md beside this file):
//
//   frame   = u32le payloadBytes | u32le crc32(payload) | payload
//   payload = u8 version(=1) | u8 reserved(=0)
//           | u16le contentType | u16le contentEncoding | u16le remoteAddress
//           | u16le requestId | u16le idempotencyKey       (byte lengths)
//           | u32le offsetLow | u32le offsetHigh | f64le receivedAtUs
//           | the five strings, UTF-8, in that order | body bytes (the rest)

import { crc32 } from 'node:zlib';
import type { LogRecord, RecordInput } from '../types.js';

export const FRAME_HEADER_BYTES = 8;
export const PAYLOAD_FIXED_BYTES = 28;
export const FRAME_VERSION = 1;
/** Longest stored metadata string, in UTF-8 bytes; ingest rejects longer values with 400. */
export const MAX_METADATA_BYTES = 1024;
/** Largest payload a reader accepts; anything larger is damage, not data. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024 + 8 * MAX_METADATA_BYTES;

const TWO_32 = 0x1_0000_0000;

/** Frame size of one record, or -1 when a metadata string is too long. */
export function frameBytes(r: RecordInput): number {
  const ct = Buffer.byteLength(r.contentType);
  const ce = Buffer.byteLength(r.contentEncoding);
  const ra = Buffer.byteLength(r.remoteAddress);
  const rid = Buffer.byteLength(r.requestId);
  const idk = Buffer.byteLength(r.idempotencyKey);
  if (ct > MAX_METADATA_BYTES || ce > MAX_METADATA_BYTES || ra > MAX_METADATA_BYTES || rid > MAX_METADATA_BYTES || idk > MAX_METADATA_BYTES) {
    return -1;
  }
  return FRAME_HEADER_BYTES + PAYLOAD_FIXED_BYTES + ct + ce + ra + rid + idk + r.body.length;
}

/** Writes one frame at `pos` (the caller sized `buf` with frameBytes). Returns the position after it. */
export function writeFrame(buf: Buffer, pos: number, r: RecordInput, offset: number): number {
  const p = pos + FRAME_HEADER_BYTES;
  let s = p + PAYLOAD_FIXED_BYTES;
  const ct = buf.write(r.contentType, s, 'utf8');
  s += ct;
  const ce = buf.write(r.contentEncoding, s, 'utf8');
  s += ce;
  const ra = buf.write(r.remoteAddress, s, 'utf8');
  s += ra;
  const rid = buf.write(r.requestId, s, 'utf8');
  s += rid;
  const idk = buf.write(r.idempotencyKey, s, 'utf8');
  s += idk;
  s += r.body.copy(buf, s);
  buf[p] = FRAME_VERSION;
  buf[p + 1] = 0;
  buf.writeUInt16LE(ct, p + 2);
  buf.writeUInt16LE(ce, p + 4);
  buf.writeUInt16LE(ra, p + 6);
  buf.writeUInt16LE(rid, p + 8);
  buf.writeUInt16LE(idk, p + 10);
  buf.writeUInt32LE(offset % TWO_32, p + 12);
  buf.writeUInt32LE(Math.floor(offset / TWO_32), p + 16);
  buf.writeDoubleLE(r.receivedAtUs, p + 20);
  const payloadBytes = s - p;
  buf.writeUInt32LE(payloadBytes, pos);
  buf.writeUInt32LE(crc32(buf.subarray(p, s)), pos + 4);
  return s;
}

export type FrameCheck =
  | { kind: 'ok'; end: number; offset: number; receivedAtUs: number }
  /** The frame runs past the end of the bytes available: read more (or it is a torn tail). */
  | { kind: 'short'; needBytes: number }
  | { kind: 'bad'; reason: string };

/** Checks the frame at `pos` of `buf` (length, checksum, version) without decoding it. */
export function checkFrame(buf: Buffer, pos: number, end: number): FrameCheck {
  if (end - pos < FRAME_HEADER_BYTES) return { kind: 'short', needBytes: FRAME_HEADER_BYTES };
  const payloadBytes = buf.readUInt32LE(pos);
  if (payloadBytes < PAYLOAD_FIXED_BYTES || payloadBytes > MAX_PAYLOAD_BYTES) {
    return { kind: 'bad', reason: `impossible frame length ${payloadBytes}` };
  }
  const frameEnd = pos + FRAME_HEADER_BYTES + payloadBytes;
  if (frameEnd > end) return { kind: 'short', needBytes: FRAME_HEADER_BYTES + payloadBytes };
  const p = pos + FRAME_HEADER_BYTES;
  if (crc32(buf.subarray(p, frameEnd)) !== buf.readUInt32LE(pos + 4)) return { kind: 'bad', reason: 'checksum mismatch' };
  if (buf[p] !== FRAME_VERSION) return { kind: 'bad', reason: `unknown frame version ${buf[p]}` };
  const strings = buf.readUInt16LE(p + 2) + buf.readUInt16LE(p + 4) + buf.readUInt16LE(p + 6) + buf.readUInt16LE(p + 8) + buf.readUInt16LE(p + 10);
  if (PAYLOAD_FIXED_BYTES + strings > payloadBytes) return { kind: 'bad', reason: 'metadata longer than frame' };
  return {
    kind: 'ok',
    end: frameEnd,
    offset: buf.readUInt32LE(p + 12) + buf.readUInt32LE(p + 16) * TWO_32,
    receivedAtUs: buf.readDoubleLE(p + 20),
  };
}

// Metadata values repeat from record to record (same content type, same proxy
// address): a tiny cache turns most string decodes into one byte comparison.
let lastCtBytes: Buffer = Buffer.alloc(0);
let lastCt = '';

function decodeContentType(buf: Buffer, start: number, len: number): string {
  if (len === lastCtBytes.length && buf.compare(lastCtBytes, 0, len, start, start + len) === 0) return lastCt;
  lastCtBytes = Buffer.from(buf.subarray(start, start + len));
  lastCt = lastCtBytes.toString('utf8');
  return lastCt;
}

/** Decodes a frame already validated by checkFrame. The body is a view into `buf`, not a copy. */
export function decodeFrame(buf: Buffer, pos: number, stream: string, partition: number): LogRecord {
  const p = pos + FRAME_HEADER_BYTES;
  const end = p + buf.readUInt32LE(pos);
  const ct = buf.readUInt16LE(p + 2);
  const ce = buf.readUInt16LE(p + 4);
  const ra = buf.readUInt16LE(p + 6);
  const rid = buf.readUInt16LE(p + 8);
  const idk = buf.readUInt16LE(p + 10);
  let s = p + PAYLOAD_FIXED_BYTES;
  const contentType = decodeContentType(buf, s, ct);
  s += ct;
  const contentEncoding = ce === 0 ? '' : buf.toString('utf8', s, s + ce);
  s += ce;
  const remoteAddress = buf.toString('utf8', s, s + ra);
  s += ra;
  const requestId = buf.toString('utf8', s, s + rid);
  s += rid;
  const idempotencyKey = idk === 0 ? '' : buf.toString('utf8', s, s + idk);
  s += idk;
  return {
    stream,
    partition,
    offset: buf.readUInt32LE(p + 12) + buf.readUInt32LE(p + 16) * TWO_32,
    receivedAtUs: buf.readDoubleLE(p + 20),
    contentType,
    contentEncoding,
    remoteAddress,
    requestId,
    idempotencyKey,
    body: buf.subarray(s, end),
  };
}
