// Turns one stored record into zero or more events: decompress (Content-Encoding),
// decode the text (charset), pick the format from the media type, then check each
// event against the stream's JSON Schema. Runs in workers only, never at ingest.
//
//   content type                                   events
//   application/json, */*+json                     the value, or each element of an array
//   application/x-ndjson, application/jsonl, ...   one per non-blank line
//   application/x-www-form-urlencoded              one object of fields (JSON-looking bodies as JSON)
//   text/plain                                     one string per non-blank line
//   (none)                                         JSON if it starts with { or [, else text lines
//   anything else                                  HOPPER_DECODE_UNSUPPORTED

import { constants } from 'node:buffer';
import type { LogRecord } from '../../log/types.js';
import { DecodeError } from './decode-error.js';
import { decompress } from './decompress.js';
import { decodeJson } from './json-decoder.js';
import { decodeNdjson } from './ndjson-decoder.js';
import { decodeForm } from './form-decoder.js';
import { decodeText } from './text-decoder.js';

/** Checks one decoded event; returns an error message, or null when it is valid. */
export type EventValidator = (event: unknown) => string | null;

/**
 * Decompressed bytes one processor call may decode over all its records. Each record is bounded by
 * maxDecodedBytes, but a batch of a thousand near-limit bombs would not fit in memory: past the budget,
 * events() throws DecodeBudgetExceeded and the runner splits the batch (no record is at fault).
 */
export class DecodeBudget {
  constructor(private remainingBytes: number) {}

  take(bytes: number): void {
    if (bytes > this.remainingBytes) throw new DecodeBudgetExceeded();
    this.remainingBytes -= bytes;
  }
}

export class DecodeBudgetExceeded extends Error {
  constructor() {
    super('the decoded records of this batch exceed maxBatchDecodedBytes: the batch is split and processed again in parts');
  }
}

export interface DecodeSettings {
  maxDecodedBytes: number;
  /** The stream's JSON Schema check, when one is configured. */
  validate: EventValidator | null;
}

/** `charset` is what the text was read from (form bodies need it for their %XX escapes). */
type FormatDecoder = (text: string, charset: string) => unknown[];

const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines', 'application/json-lines']);

/** Whether the first non-blank line of `text` decodes on its own: the body is NDJSON, not one JSON value. */
function firstLineDecodes(text: string): boolean {
  const start = text.length - text.trimStart().length;
  const end = text.indexOf('\n', start);
  try {
    decodeNdjson(end === -1 ? text.slice(start) : text.slice(start, end));
    return true;
  } catch {
    return false;
  }
}

function decodeSniffed(text: string): unknown[] {
  const head = text.trimStart()[0];
  if (head !== '{' && head !== '[') return decodeText(text);
  try {
    return decodeJson(text);
  } catch (jsonErr) {
    try {
      return decodeNdjson(text);
    } catch (ndjsonErr) {
      // NDJSON with a bad line further down: its error names that line, where JSON.parse's points at line 2.
      throw firstLineDecodes(text) ? ndjsonErr : jsonErr;
    }
  }
}

function formatFor(mediaType: string): FormatDecoder | null {
  if (mediaType === 'application/json' || mediaType === 'text/json' || mediaType.endsWith('+json')) return decodeJson;
  if (NDJSON_TYPES.has(mediaType)) return decodeNdjson;
  if (mediaType === 'application/x-www-form-urlencoded') return decodeForm;
  if (mediaType === 'text/plain') return decodeText;
  if (mediaType === '') return decodeSniffed;
  return null;
}

/**
 * One `;name=value` parameter (RFC 9110 section 5.6.6), value a quoted string (with \-escapes) or a token. Read
 * one by one from the start: a regex over the whole list took "charset=" inside another one's quoted value.
 */
const PARAMETER = /;[ \t]*([^;=\s]*)[ \t]*(?:=[ \t]*(?:"((?:[^"\\]|\\.)*)"?|([^;]*)))?[^;]*/y;

/** Media type (lowercase, without parameters) and charset (the first one, lowercase; utf-8 when none) of a Content-Type value. */
export function parseContentType(value: string): { mediaType: string; charset: string } {
  const semi = value.indexOf(';');
  const mediaType = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (semi !== -1) {
    PARAMETER.lastIndex = semi;
    for (let m = PARAMETER.exec(value); m !== null; m = PARAMETER.exec(value)) {
      if (m[1]!.toLowerCase() !== 'charset') continue;
      const charset = (m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '')).trim().toLowerCase();
      if (charset !== '') return { mediaType, charset };
    }
  }
  return { mediaType, charset: 'utf-8' };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** V8's longest string, in UTF-16 code units (0x1fffffe8 on 64-bit Node 20): text past it cannot become events. */
const MAX_TEXT_CHARS = constants.MAX_STRING_LENGTH;

/** Labels of UTF-16 that name no byte order: TextDecoder reads them all little-endian. */
const UTF16_EITHER_ORDER = new Set(['utf-16', 'ucs-2', 'unicode', 'unicodefeff', 'csunicode', 'iso-10646-ucs-2']);

function toText(bytes: Buffer, charset: string): string {
  let decoder = utf8;
  if (charset !== 'utf-8' && charset !== 'utf8') {
    // RFC 2781: under such a label the byte order mark decides. Java's "UTF-16" writes FE FF and big-endian,
    // which read little-endian became garbage text, delivered as such.
    const label = UTF16_EITHER_ORDER.has(charset) && bytes[0] === 0xfe && bytes[1] === 0xff ? 'utf-16be' : charset;
    try {
      decoder = new TextDecoder(label, { fatal: true });
    } catch (err) {
      throw new DecodeError('HOPPER_DECODE_UNSUPPORTED', `charset ${JSON.stringify(charset)} is not supported`, { cause: err });
    }
  }
  try {
    return decoder.decode(bytes);
  } catch (err) {
    // maxDecodedBytes goes up to 4 GiB: valid text past the string limit is too large, not invalid.
    if ((err as NodeJS.ErrnoException).code === 'ERR_STRING_TOO_LONG') {
      throw new DecodeError(
        'HOPPER_DECODED_TOO_LARGE',
        `body is ${bytes.length} bytes of text, more than one JavaScript string holds (${MAX_TEXT_CHARS} characters): keep maxDecodedBytes below that, or read item.body in a processor`,
        { cause: err },
      );
    }
    throw new DecodeError('HOPPER_DECODE_FAILED', `body is not valid ${charset} text`, { cause: err });
  }
}

export function decodeRecord(record: LogRecord, settings: DecodeSettings, budget?: DecodeBudget): unknown[] {
  const { mediaType, charset } = parseContentType(record.contentType);
  const format = formatFor(mediaType);
  if (!format) {
    throw new DecodeError('HOPPER_DECODE_UNSUPPORTED', `no decoder for content type ${JSON.stringify(mediaType)}: read item.body in a processor instead`);
  }
  const bytes = decompress(record.body, record.contentEncoding, settings.maxDecodedBytes);
  budget?.take(bytes.length);
  const events = format(toText(bytes, charset), charset);
  if (settings.validate) {
    for (let i = 0; i < events.length; i++) {
      const problem = settings.validate(events[i]);
      if (problem !== null) throw new DecodeError('HOPPER_SCHEMA_INVALID', `event ${i} fails the stream schema: ${problem}`);
    }
  }
  return events;
}
