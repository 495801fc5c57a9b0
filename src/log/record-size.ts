// The metadata size of a record, shared by every backend: each refuses a record
// whose metadata strings are longer than MAX_METADATA_BYTES, and sizes its
// batches and backpressure from the same sum.

import { MAX_METADATA_BYTES, type RecordInput } from './types.js';

/** UTF-8 bytes of the five metadata strings, or -1 when any of them is longer than MAX_METADATA_BYTES. */
export function metadataBytes(r: RecordInput): number {
  const ct = utf8Bytes(r.contentType);
  const ce = utf8Bytes(r.contentEncoding);
  const ra = utf8Bytes(r.remoteAddress);
  const rq = utf8Bytes(r.requestId);
  const ik = utf8Bytes(r.idempotencyKey);
  if (ct > MAX_METADATA_BYTES || ce > MAX_METADATA_BYTES || ra > MAX_METADATA_BYTES || rq > MAX_METADATA_BYTES || ik > MAX_METADATA_BYTES) {
    return -1;
  }
  return ct + ce + ra + rq + ik;
}

/** Content encoding and idempotency key are usually empty: no call into Buffer for them (~30 ns a record). */
function utf8Bytes(text: string): number {
  return text.length === 0 ? 0 : Buffer.byteLength(text);
}
