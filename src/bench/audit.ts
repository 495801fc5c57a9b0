// The end-to-end loss audit: every event id the server acknowledged (2xx) must
// be found stored exactly once. Reads the stored bodies of the stream back
// (StoredBodySource), finds this run's ids in them (every line of an NDJSON
// batch, gzip undone), and reports acknowledged, stored, missing, duplicated.
// An event counts as stored only when its bytes are the ones sent (eventSuffix):
// a copy with its id intact and other bytes around it is corrupted, not stored.

import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { eventId, ID_SEQ_DIGITS } from './body-factory.js';
import { EventBitmap } from './event-bitmap.js';
import type { StoredBodySource, StreamMark } from './stored-body-source.js';

/** Ids named one by one in a report (all are counted). */
export const AUDIT_LISTED_IDS_MAX = 1000;
/** Between two reads of the stream while acknowledged ids are still missing. */
const AUDIT_RETRY_MS = 250;
/** A stored compressed body inflating past this is counted undecodable rather than read. */
const MAX_INFLATED_BYTES = 256 * 1024 * 1024;

export interface AuditInput {
  runId: string;
  stream: string;
  /** Per load thread: the acknowledged events and one past the highest sequence number sent. */
  threads: { bitmap: EventBitmap; seqLimit: number }[];
  /** Where the stream's partitions ended before the run (source.mark): bodies before it cannot hold this run's ids. */
  mark: StreamMark;
  /**
   * Keep re-reading this long while acknowledged ids are missing: a server acknowledging
   * `fast` or `written` may still be writing what it acknowledged.
   */
  waitMs: number;
  /** Aborted (Ctrl-C), the wait for missing ids ends: the result of the last read is the verdict. */
  signal?: AbortSignal;
  /**
   * The bytes each event of `thread` has after its sequence digits (from the closing quote of its id to its
   * closing brace): a stored event must be them, a whole body or a whole NDJSON line. Absent: ids only.
   */
  eventSuffix?: (thread: number) => Buffer;
}

export interface AuditResult {
  stream: string;
  source: string;
  streamExists: boolean;
  /** Events answered 2xx. */
  acknowledged: number;
  /** Distinct ids of this run found stored. */
  stored: number;
  /** Acknowledged and not stored: data loss. */
  missing: number;
  /** Copies beyond the first of ids stored more than once. */
  duplicated: number;
  /** Stored although not answered 2xx (timed-out or failed requests the server kept): not loss. */
  storedUnacknowledged: number;
  /** Ids of this run stored that were never sent: corruption or a mix-up of runs. */
  unexpected: number;
  /** Stored records whose compressed body could not be decoded. */
  undecodable: number;
  /** Stored copies of this run's events whose bytes differ from those sent (the id intact): not counted as stored. */
  corrupted: number;
  /** Records read. */
  recordsScanned: number;
  missingIds: string[];
  duplicatedIds: string[];
  corruptedIds: string[];
}

interface Tally {
  seen: EventBitmap[];
  duplicated: number;
  duplicatedIds: string[];
  unexpected: number;
  undecodable: number;
  corrupted: number;
  corruptedIds: string[];
  records: number;
}

function decode(body: Buffer, encoding: string): Buffer | null {
  const e = encoding.trim().toLowerCase();
  if (e === '' || e === 'identity') return body;
  try {
    if (e === 'gzip' || e === 'x-gzip') return gunzipSync(body, { maxOutputLength: MAX_INFLATED_BYTES });
    if (e === 'deflate') return inflateSync(body, { maxOutputLength: MAX_INFLATED_BYTES });
    if (e === 'br') return brotliDecompressSync(body, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch {
    return null;
  }
  return body;
}

/** Whether the event whose id starts at idAt and ends at closingQuoteAt is byte for byte the one sent: `{"id":"...` + suffix, alone on its line. */
function isIntact(body: Buffer, idAt: number, closingQuoteAt: number, suffix: Buffer): boolean {
  const start = idAt - 1;
  const end = closingQuoteAt + suffix.length;
  if (start < 0 || body[start] !== 0x7b || end > body.length) return false; // '{'
  if (start > 0 && body[start - 1] !== 0x0a) return false;
  if (end < body.length && body[end] !== 0x0a) return false;
  return suffix.compare(body, closingQuoteAt, end) === 0;
}

/**
 * Finds `"id":"<runId>-<thread>-<seq>"` occurrences in a body and calls found(thread, seq, idAt, closingQuoteAt)
 * for each: idAt is where `"id"` starts, closingQuoteAt where the id's closing quote is.
 */
export function forEachRunId(body: Buffer, runId: string, found: (thread: number, seq: number, idAt: number, closingQuoteAt: number) => void): void {
  const needle = Buffer.from(`"id":"${runId}-`);
  let at = body.indexOf(needle);
  while (at !== -1) {
    let p = at + needle.length;
    let thread = 0;
    let digits = 0;
    while (p < body.length && body[p]! >= 48 && body[p]! <= 57 && digits < 4) {
      thread = thread * 10 + (body[p]! - 48);
      p++;
      digits++;
    }
    let ok = digits > 0 && body[p] === 45; // '-'
    p++;
    let seq = 0;
    for (let d = 0; ok && d < ID_SEQ_DIGITS; d++, p++) {
      const c = body[p];
      if (c === undefined || c < 48 || c > 57) ok = false;
      else seq = seq * 10 + (c - 48);
    }
    if (ok && body[p] === 34) found(thread, seq, at, p); // closing '"'
    at = body.indexOf(needle, at + needle.length);
  }
}

async function scanOnce(source: StoredBodySource, input: AuditInput): Promise<{ exists: boolean; tally: Tally }> {
  const tally: Tally = {
    seen: input.threads.map(() => new EventBitmap()),
    duplicated: 0,
    duplicatedIds: [],
    unexpected: 0,
    undecodable: 0,
    corrupted: 0,
    corruptedIds: [],
    records: 0,
  };
  const exists = await source.scan(input.stream, input.mark, (raw, encoding) => {
    tally.records++;
    const body = decode(raw, encoding);
    if (body === null) {
      tally.undecodable++;
      return;
    }
    forEachRunId(body, input.runId, (thread, seq, idAt, closingQuoteAt) => {
      const t = input.threads[thread];
      if (!t || seq >= t.seqLimit) {
        tally.unexpected++;
        return;
      }
      if (input.eventSuffix && !isIntact(body, idAt, closingQuoteAt, input.eventSuffix(thread))) {
        tally.corrupted++;
        if (tally.corruptedIds.length < AUDIT_LISTED_IDS_MAX) tally.corruptedIds.push(eventId(input.runId, thread, seq));
        return;
      }
      if (tally.seen[thread]!.testAndSet(seq)) {
        tally.duplicated++;
        if (tally.duplicatedIds.length < AUDIT_LISTED_IDS_MAX) tally.duplicatedIds.push(eventId(input.runId, thread, seq));
      }
    });
  });
  return { exists, tally };
}

function summarize(input: AuditInput, source: StoredBodySource, exists: boolean, tally: Tally): AuditResult {
  let acknowledged = 0;
  let stored = 0;
  let missing = 0;
  let storedUnacknowledged = 0;
  const missingIds: string[] = [];
  input.threads.forEach((t, thread) => {
    const seen = tally.seen[thread]!;
    for (let seq = 0; seq < t.seqLimit; seq++) {
      const acked = t.bitmap.has(seq);
      const found = seen.has(seq);
      if (acked) acknowledged++;
      if (found) stored++;
      if (acked && !found) {
        missing++;
        if (missingIds.length < AUDIT_LISTED_IDS_MAX) missingIds.push(eventId(input.runId, thread, seq));
      }
      if (found && !acked) storedUnacknowledged++;
    }
  });
  return {
    stream: input.stream,
    source: source.description,
    streamExists: exists,
    acknowledged,
    stored,
    missing,
    duplicated: tally.duplicated,
    storedUnacknowledged,
    unexpected: tally.unexpected,
    undecodable: tally.undecodable,
    corrupted: tally.corrupted,
    recordsScanned: tally.records,
    missingIds,
    duplicatedIds: tally.duplicatedIds,
    corruptedIds: tally.corruptedIds,
  };
}

export async function audit(source: StoredBodySource, input: AuditInput): Promise<AuditResult> {
  const giveUpAt = Date.now() + input.waitMs;
  for (;;) {
    const { exists, tally } = await scanOnce(source, input);
    const result = summarize(input, source, exists, tally);
    if (result.missing === 0 || Date.now() >= giveUpAt || input.signal?.aborted === true) return result;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        input.signal?.removeEventListener('abort', wake);
        resolve();
      }, Math.min(AUDIT_RETRY_MS, Math.max(0, giveUpAt - Date.now())));
      input.signal?.addEventListener('abort', wake, { once: true });
    });
  }
}

/** The verdict, the last line of a run's output. */
export function auditVerdict(a: AuditResult): string {
  return `audit: acknowledged ${a.acknowledged}, stored ${a.stored}, missing ${a.missing}, duplicated ${a.duplicated}`;
}
