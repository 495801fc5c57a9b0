// Builds the bytes of each load request: head plus a body of one event (JSON) or
// K events (NDJSON), every event carrying a unique id the audit looks for later.
// Ids have a fixed width per thread, so a connection keeps one request buffer
// and only rewrites the id digits in place: no allocation per request.

import { gzipSync } from 'node:zlib';

/** Digits of the per-thread event sequence number in an id (zero-padded: fixed width). */
export const ID_SEQ_DIGITS = 10;
/** Highest sequence number an id can carry. */
export const MAX_EVENT_SEQ = 10 ** ID_SEQ_DIGITS - 1;
/** Largest request body the generator builds (events x bytes). */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024 * 1024;
/** Run ids are 8 lower-case hex digits. */
export const RUN_ID_RE = /^[0-9a-f]{8}$/;

/** `<runid>-<thread>-<seq>`: unique per run, thread and event. */
export function eventId(runId: string, thread: number, seq: number): string {
  return `${runId}-${thread}-${String(seq).padStart(ID_SEQ_DIGITS, '0')}`;
}

/** What each event looks like; the same for every thread. */
export interface BodySpec {
  /** Exact bytes of one generated event (without the NDJSON newline); ignored with templateFields. */
  eventBytes: number;
  /** Members of the --body-file object without its braces and without "id" ('"a":1,"b":[2]'), or null. */
  templateFields: string | null;
  /** Events per request: 1 sends application/json, more send application/x-ndjson. */
  batch: number;
  gzip: boolean;
}

/** The smallest --body-bytes that still holds the id and the padding field, for any thread number up to maxThread. */
export function minEventBytes(maxThread: number): number {
  return generatedSkeleton(eventId('00000000', maxThread, 0)).length;
}

function generatedSkeleton(id: string): string {
  return `{"id":"${id}","pad":""}`;
}

/** Deterministic filler (letters and digits), so a gzip run compresses like text rather than like one repeated byte. */
function filler(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let state = 0x9e3779b9;
  let out = '';
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out += alphabet[(state >>> 0) % alphabet.length];
  }
  return out;
}

/** One event's text with the sequence digits set to zeros, and where those digits sit. */
function eventText(spec: BodySpec, runId: string, thread: number): { text: string; seqAt: number } {
  const id = eventId(runId, thread, 0);
  const seqAt = `{"id":"${id}`.length - ID_SEQ_DIGITS;
  if (spec.templateFields !== null) {
    return { text: spec.templateFields === '' ? `{"id":"${id}"}` : `{"id":"${id}",${spec.templateFields}}`, seqAt };
  }
  const padBytes = spec.eventBytes - generatedSkeleton(id).length;
  if (padBytes < 0) throw new RangeError(`event of ${spec.eventBytes} bytes cannot hold id ${id}`);
  return { text: `{"id":"${id}","pad":"${filler(padBytes)}"}`, seqAt };
}

/** The bytes of thread `thread`'s events, sequence digits zeroed at seqByteAt: what the audit compares each stored event with. */
export function eventTemplate(spec: BodySpec, runId: string, thread: number): { bytes: Buffer; seqByteAt: number } {
  const { text, seqAt } = eventText(spec, runId, thread);
  return { bytes: Buffer.from(text), seqByteAt: Buffer.byteLength(text.slice(0, seqAt)) };
}

export interface RequestTarget {
  /** Request target (path and query), e.g. /v1/streams/bench. */
  path: string;
  /** Host header value, e.g. 127.0.0.1:8080. */
  host: string;
}

/** Request bytes for one connection. */
export class RequestFactory {
  readonly events: number;
  readonly contentType: string;
  /** Body bytes of every request (before gzip). */
  readonly bodyBytes: number;
  private readonly headPrefix: string;
  private template: Buffer;
  /** Offsets, in `template`, of each event's sequence digits. */
  private readonly seqOffsets: number[];
  private readonly bodyStart: number;

  constructor(target: RequestTarget, private readonly spec: BodySpec, runId: string, thread: number) {
    if (!RUN_ID_RE.test(runId)) throw new RangeError(`bad run id ${runId}`);
    this.events = spec.batch;
    this.contentType = spec.batch > 1 ? 'application/x-ndjson' : 'application/json';
    const { text, seqAt } = eventText(spec, runId, thread);
    const eventLen = Buffer.byteLength(text);
    const seqByteAt = Buffer.byteLength(text.slice(0, seqAt));
    const body = spec.batch > 1 ? `${text}\n`.repeat(spec.batch) : text;
    this.bodyBytes = Buffer.byteLength(body);
    if (this.bodyBytes > MAX_REQUEST_BODY_BYTES) throw new RangeError(`request body of ${this.bodyBytes} bytes is over ${MAX_REQUEST_BODY_BYTES}`);
    this.headPrefix = `POST ${target.path} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: ${this.contentType}\r\n`;
    const head = spec.gzip ? '' : `${this.headPrefix}Content-Length: ${this.bodyBytes}\r\n\r\n`;
    this.bodyStart = Buffer.byteLength(head);
    this.template = Buffer.from(head + body);
    const lineLen = spec.batch > 1 ? eventLen + 1 : eventLen;
    this.seqOffsets = [];
    for (let i = 0; i < spec.batch; i++) this.seqOffsets.push(this.bodyStart + i * lineLen + seqByteAt);
  }

  /**
   * The request carrying events firstSeq .. firstSeq + events - 1. Without gzip the returned buffer is
   * this factory's own and is rewritten by the next call: call detach() first if it may still be queued.
   */
  build(firstSeq: number): Buffer {
    const t = this.template;
    for (let e = 0; e < this.seqOffsets.length; e++) {
      let seq = firstSeq + e;
      const at = this.seqOffsets[e]!;
      for (let d = ID_SEQ_DIGITS - 1; d >= 0; d--) {
        t[at + d] = 48 + (seq % 10);
        seq = Math.floor(seq / 10);
      }
    }
    if (!this.spec.gzip) return t;
    const gz = gzipSync(t.subarray(this.bodyStart), { level: 1 });
    const head = Buffer.from(`${this.headPrefix}Content-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`, 'latin1');
    return Buffer.concat([head, gz]);
  }

  /** Gives up the current buffer to a write still in flight; the next build uses a fresh copy. */
  detach(): void {
    this.template = Buffer.from(this.template);
  }
}
