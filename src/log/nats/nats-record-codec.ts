// One Hopper record as one NATS message: the body is the payload, metadata
// rides in headers (absent when empty):
//   Hopper-Received-At-Us, Content-Type, Content-Encoding,
//   Hopper-Remote-Address, Hopper-Request-Id, Idempotency-Key.
// NATS header values cannot hold CR/LF and are trimmed (String.prototype.trim,
// so any Unicode whitespace at either edge is lost): '%', control characters
// and edge whitespace are escaped as %XX (or %uXXXX above 0xFF); every other
// character, UTF-8 included, passes through unchanged.

import { headers as createHeaders, MsgHdrsImpl, type MsgHdrs } from '@nats-io/transport-node';
import type { LogRecord, RecordInput } from '../types.js';
import { metadataBytes } from '../record-size.js';

const H_AT = 'Hopper-Received-At-Us';
const H_CT = 'Content-Type';
const H_CE = 'Content-Encoding';
const H_RA = 'Hopper-Remote-Address';
const H_RQ = 'Hopper-Request-Id';
const H_IK = 'Idempotency-Key';

/** Bytes a record adds to what is in flight (for backpressure), or -1 when metadata is too long. */
export function recordBytes(r: RecordInput): number {
  const meta = metadataBytes(r);
  return meta < 0 ? -1 : 160 + meta + r.body.length;
}

/**
 * Encoded headers take at most this many bytes besides their values: "NATS/1.0", six names with
 * their separators, the received-at number and the closing blank line (about 170).
 */
const HEADERS_FIXED_MAX_BYTES = 200;

/**
 * Size of the record's NATS message (body plus encoded headers, what nats.js compares with the
 * server's max_payload) when it exceeds maxPayload, else 0. Exact only near the limit: escaping
 * turns a metadata byte into at most 3, so most records are cleared without encoding their headers
 * a second time (nats.js encodes them when it publishes).
 */
export function oversizeBytes(r: RecordInput, h: MsgHdrs, maxPayload: number): number {
  if (r.body.length + HEADERS_FIXED_MAX_BYTES + 3 * metadataBytes(r) <= maxPayload) return 0;
  const size = r.body.length + (h instanceof MsgHdrsImpl ? h.encode().length : HEADERS_FIXED_MAX_BYTES + 3 * metadataBytes(r));
  return size > maxPayload ? size : 0;
}

// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[%\x00-\x1f\x7f]|^\s|\s$/;
const WHITESPACE = /\s/;

function escapeChar(c: number): string {
  return c < 0x100 ? `%${c.toString(16).toUpperCase().padStart(2, '0')}` : `%u${c.toString(16).toUpperCase().padStart(4, '0')}`;
}

function escapeValue(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  // Escaping the first and last character is enough: trim stops at the '%'.
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    const edgeSpace = (i === 0 || i === v.length - 1) && WHITESPACE.test(v[i]!);
    out += c === 0x25 || c < 0x20 || c === 0x7f || edgeSpace ? escapeChar(c) : v[i];
  }
  return out;
}

function unescapeValue(v: string): string {
  if (v.indexOf('%') < 0) return v;
  return v.replace(/%(?:u([0-9A-F]{4})|([0-9A-F]{2}))/g, (_, wide: string | undefined, hex: string | undefined) =>
    String.fromCharCode(parseInt(wide ?? hex!, 16)),
  );
}

export function encodeHeaders(r: RecordInput): MsgHdrs {
  const h = createHeaders();
  h.set(H_AT, String(r.receivedAtUs));
  if (r.contentType) h.set(H_CT, escapeValue(r.contentType));
  if (r.contentEncoding) h.set(H_CE, escapeValue(r.contentEncoding));
  if (r.remoteAddress) h.set(H_RA, escapeValue(r.remoteAddress));
  if (r.requestId) h.set(H_RQ, escapeValue(r.requestId));
  if (r.idempotencyKey) h.set(H_IK, escapeValue(r.idempotencyKey));
  return h;
}

export function decodeMessage(h: MsgHdrs | undefined, data: Uint8Array, stream: string, partition: number, offset: number): LogRecord {
  const get = (k: string): string => (h?.has(k) ? unescapeValue(h.get(k)) : '');
  return {
    stream,
    partition,
    offset,
    body: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    receivedAtUs: Number(h?.get(H_AT) ?? 0),
    contentType: get(H_CT),
    contentEncoding: get(H_CE),
    remoteAddress: get(H_RA),
    requestId: get(H_RQ),
    idempotencyKey: get(H_IK),
  };
}
