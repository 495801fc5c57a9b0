// The dead-letter record format. A dead letter of stream S is a normal record of
// stream `S.dlq` whose body is one line of JSON (why it failed, and the original
// record's metadata) followed by "\n" and the original body bytes, unchanged:
//
//   {"v":1,"stream":"events","partition":0,"offset":42,...,"reason":"..."}\n<original bytes>
//
// The dead letter's own metadata: content type DEAD_LETTER_CONTENT_TYPE, the
// original remote address and request id, idempotency key "S/partition/offset",
// received-at = when it became a dead letter. `hopper dlq` reads this format.

import { DEAD_LETTER_SUFFIX, type LogRecord, type RecordInput } from '../log/types.js';

export { DEAD_LETTER_SUFFIX };
export const DEAD_LETTER_CONTENT_TYPE = 'application/vnd.hopper.dead-letter.v1';
/** The consumer group whose position on S.dlq marks dead letters as handled (requeued or dropped). */
export const DLQ_HANDLED_GROUP = 'dlq-handled';
/** Longest reason kept; the rest is cut (a stack or a huge schema report is not needed whole). */
export const MAX_REASON_CHARS = 4096;

/**
 * decode: the body could not be decoded; schema: an event failed the stream's schema;
 * processor: the processor kept throwing for this record alone (maxAttempts times);
 * rejected: the processor named the record in `failed`;
 * redelivery: the record was delivered maxDeliveries times and never finished (its worker died on it?).
 */
export type DeadLetterKind = 'decode' | 'schema' | 'processor' | 'rejected' | 'redelivery';

export interface DeadLetterInfo {
  v: 1;
  stream: string;
  partition: number;
  offset: number;
  receivedAtUs: number;
  contentType: string;
  contentEncoding: string;
  remoteAddress: string;
  requestId: string;
  idempotencyKey: string;
  pipeline: string;
  group: string;
  kind: DeadLetterKind;
  /** The HOPPER_* code of decoding failures. */
  code?: string;
  reason: string;
  attempts: number;
  firstFailureAtMs: number;
  lastFailureAtMs: number;
  /**
   * Set when the letter could not hold the original body (larger than the dead-letter stream's backend
   * takes, e.g. NATS max_payload): its size in bytes. The body is then read back from the source stream.
   */
  bodyOmittedBytes?: number;
}

export function deadLetterStream(stream: string): string {
  return stream + DEAD_LETTER_SUFFIX;
}

export function isDeadLetterStream(stream: string): boolean {
  return stream.endsWith(DEAD_LETTER_SUFFIX);
}

/** The same letter without the original body, for a backend that cannot store it with its head. */
export function withoutBody(letter: RecordInput): RecordInput {
  const nl = letter.body.indexOf(0x0a);
  const info = JSON.parse(letter.body.toString('utf8', 0, nl)) as DeadLetterInfo;
  const head = Buffer.from(JSON.stringify({ ...info, bodyOmittedBytes: letter.body.length - nl - 1 }) + '\n');
  return { ...letter, body: head };
}

export function encodeDeadLetter(info: DeadLetterInfo, body: Buffer, nowUs: number): RecordInput {
  const reason = info.reason.length > MAX_REASON_CHARS ? info.reason.slice(0, MAX_REASON_CHARS) + '...' : info.reason;
  const head = Buffer.from(JSON.stringify({ ...info, reason }) + '\n');
  return {
    body: Buffer.concat([head, body]),
    receivedAtUs: nowUs,
    contentType: DEAD_LETTER_CONTENT_TYPE,
    contentEncoding: '',
    remoteAddress: info.remoteAddress,
    requestId: info.requestId,
    idempotencyKey: `${info.stream}/${info.partition}/${info.offset}`,
  };
}

/** The dead letter held by a record of a .dlq stream, or null when the record is not one. */
export function parseDeadLetter(record: LogRecord): { info: DeadLetterInfo; body: Buffer } | null {
  if (record.contentType !== DEAD_LETTER_CONTENT_TYPE) return null;
  const nl = record.body.indexOf(0x0a);
  if (nl === -1) return null;
  try {
    const info = JSON.parse(record.body.toString('utf8', 0, nl)) as DeadLetterInfo;
    if (info.v !== 1 || typeof info.stream !== 'string') return null;
    return { info, body: record.body.subarray(nl + 1) };
  } catch {
    return null;
  }
}

/**
 * Whether `record`, read at the place in its stream a letter stored without its body names, is that body's record.
 * Offsets start again in a stream deleted and created again (or on a backend restarted without its data): the
 * record found there then is another client's, and was requeued and shown as the letter's own. Its size, request id
 * and time received must match the letter's: the request id is the client's X-Request-Id when it sends one (the same
 * one on every request, or on a retry), events of one form often have one size, but the time is the server's, in
 * microseconds, and kept by a requeue.
 */
export function isOmittedOriginal(info: DeadLetterInfo, record: LogRecord | undefined): record is LogRecord {
  return (
    record !== undefined &&
    record.offset === info.offset &&
    record.body.length === info.bodyOmittedBytes &&
    record.requestId === info.requestId &&
    record.receivedAtUs === info.receivedAtUs
  );
}

/** The original record, ready to be appended back to its stream (`hopper dlq requeue`). */
export function originalRecord(info: DeadLetterInfo, body: Buffer): RecordInput {
  return {
    body: Buffer.from(body),
    receivedAtUs: info.receivedAtUs,
    contentType: info.contentType,
    contentEncoding: info.contentEncoding,
    remoteAddress: info.remoteAddress,
    requestId: info.requestId,
    idempotencyKey: info.idempotencyKey,
  };
}
