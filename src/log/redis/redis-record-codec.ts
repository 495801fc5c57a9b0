// One Hopper record as the field/value pairs of one Redis stream entry:
//   at = receivedAtUs (decimal), ct = content type, ce = content encoding,
//   ra = remote address, rq = request id, ik = idempotency key, b = body bytes.
// Every entry has the same fields in the same order, which Redis stores once
// per listpack node, so the names cost nothing per record.

import type { LogRecord, RecordInput } from '../types.js';
import { metadataBytes } from '../record-size.js';

export const FIELDS_PER_RECORD = 7;

/** Bytes an entry adds to a Redis request (for batching and backpressure), or -1 when metadata is too long. */
export function recordBytes(r: RecordInput): number {
  const meta = metadataBytes(r);
  return meta < 0 ? -1 : 64 + meta + r.body.length;
}

/** Appends the values of one record, in field order, to a script's arguments. */
export function pushRecordArgs(args: (string | Buffer | number)[], r: RecordInput): void {
  args.push(String(r.receivedAtUs), r.contentType, r.contentEncoding, r.remoteAddress, r.requestId, r.idempotencyKey, r.body);
}

/** Decodes the flat [field, value, ...] list of an entry read with a Buffer reply. */
export function decodeEntry(fields: Buffer[], stream: string, partition: number, offset: number): LogRecord {
  const rec: LogRecord = {
    stream,
    partition,
    offset,
    body: Buffer.alloc(0),
    receivedAtUs: 0,
    contentType: '',
    contentEncoding: '',
    remoteAddress: '',
    requestId: '',
    idempotencyKey: '',
  };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (name.length === 1) {
      if (name[0] === 0x62 /* b */) rec.body = value;
      continue;
    }
    switch (name.toString('latin1')) {
      case 'at':
        rec.receivedAtUs = Number(value.toString('latin1'));
        break;
      case 'ct':
        rec.contentType = value.toString('utf8');
        break;
      case 'ce':
        rec.contentEncoding = value.toString('utf8');
        break;
      case 'ra':
        rec.remoteAddress = value.toString('utf8');
        break;
      case 'rq':
        rec.requestId = value.toString('utf8');
        break;
      case 'ik':
        rec.idempotencyKey = value.toString('utf8');
        break;
    }
  }
  return rec;
}
