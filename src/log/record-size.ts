// The metadata size of a record, shared by every backend: each refuses a record
// whose metadata strings are longer than MAX_METADATA_BYTES, and sizes its
// batches and backpressure from the same sum.

import { MAX_METADATA_BYTES, type RecordInput } from './types.js';

/** UTF-8 bytes of the five metadata strings, or -1 when any of them is longer than MAX_METADATA_BYTES. */
export function metadataBytes(r: RecordInput): number {
  const ct = Buffer.byteLength(r.contentType);
  const ce = Buffer.byteLength(r.contentEncoding);
  const ra = Buffer.byteLength(r.remoteAddress);
  const rq = Buffer.byteLength(r.requestId);
  const ik = Buffer.byteLength(r.idempotencyKey);
  if (ct > MAX_METADATA_BYTES || ce > MAX_METADATA_BYTES || ra > MAX_METADATA_BYTES || rq > MAX_METADATA_BYTES || ik > MAX_METADATA_BYTES) {
    return -1;
  }
  return ct + ce + ra + rq + ik;
}
