// application/x-www-form-urlencoded: classic form posts and pixel query strings.
// One event per body: an object of fields; a repeated field becomes an array.
// `curl -d '{"a":1}'` sends JSON under this type: a body that starts with { or [
// and parses as JSON (or as NDJSON) is decoded as such instead, and one that does
// not and holds no "=" is malformed JSON, not a form (documented in the README).
//
// Parsed as the WHATWG URL standard's urlencoded parser does (section 5.1: split on
// "&", name and value at the first "=", "+" is a space, %XX is a byte, a "%" not
// followed by two hex digits is kept), with two differences: the percent-decoded
// bytes are read in the content type's charset (a page in ISO-8859-1 sends "é" as
// %E9), and bytes that are not valid in it fail the record instead of becoming
// U+FFFD in silence. URLSearchParams would do neither.

import { TextDecoder } from 'node:util';
import { decodeJson } from './json-decoder.js';
import { decodeNdjson } from './ndjson-decoder.js';
import { DecodeError } from './decode-error.js';

/**
 * Fields (name=value pairs, repeated names included) one form body may hold. Each costs a Map entry and an
 * own property of the event, some 2 us together: a 1.3 MB brotli body of 8 million distinct names held the
 * worker's event loop for 17 s (and its sink's JSON.stringify 7 s more). Real forms and pixel query strings
 * hold tens of fields; PHP stops at 1,000 (max_input_vars), qs at 1,000 (parameterLimit).
 */
export const MAX_FORM_FIELDS = 100_000;

/**
 * Names and values at least this long are unescaped byte by byte under UTF-8, in one pass: replace() with a
 * callback per run of escapes, or replaceAll("+", " "), costs some 0.3 us per match, and a 64 MB value of
 * "%41b" or "+" (a 60 KB gzip body) held the worker's event loop for 5 to 12 s.
 */
const BYTE_LEVEL_MIN_CHARS = 1024;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `raw` with "+" as a space and %XX as bytes, read as UTF-8; null when the bytes are not valid UTF-8. */
function unescapeUtf8Bytes(raw: string): string | null {
  const bytes = Buffer.from(raw, 'utf8');
  let out = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x2b) {
      bytes[out++] = 0x20;
    } else if (b === 0x25 && i + 2 < bytes.length && hexValue(bytes[i + 1]!) >= 0 && hexValue(bytes[i + 2]!) >= 0) {
      bytes[out++] = hexValue(bytes[i + 1]!) * 16 + hexValue(bytes[i + 2]!);
      i += 2;
    } else {
      bytes[out++] = b;
    }
  }
  try {
    return utf8Strict.decode(bytes.subarray(0, out));
  } catch {
    return null;
  }
}

/**
 * The WHATWG single-byte encodings (TextDecoder's canonical names): one byte is one character, whatever the bytes
 * around it, so a run of escapes decodes byte by byte through a table. A client picks the charset: without this,
 * "; charset=iso-8859-1" put a long value of "%41b" back on the per-run path and its seconds of event loop.
 */
const SINGLE_BYTE_ENCODINGS = new Set([
  'ibm866', 'iso-8859-2', 'iso-8859-3', 'iso-8859-4', 'iso-8859-5', 'iso-8859-6', 'iso-8859-7', 'iso-8859-8', 'iso-8859-8-i',
  'iso-8859-10', 'iso-8859-13', 'iso-8859-14', 'iso-8859-15', 'iso-8859-16', 'koi8-r', 'koi8-u', 'macintosh', 'windows-874',
  'windows-1250', 'windows-1251', 'windows-1252', 'windows-1253', 'windows-1254', 'windows-1255', 'windows-1256',
  'windows-1257', 'windows-1258', 'x-mac-cyrillic',
]);

const byteTables = new Map<string, Int32Array>();

/** The UTF-16 code unit of each byte in a single-byte encoding, -1 where the byte is not valid in it. */
function byteTable(decoder: TextDecoder): Int32Array {
  let table = byteTables.get(decoder.encoding);
  if (table !== undefined) return table;
  table = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    try {
      const c = decoder.decode(Uint8Array.of(b));
      table[b] = c.length === 1 ? c.charCodeAt(0) : -1;
    } catch {
      table[b] = -1;
    }
  }
  byteTables.set(decoder.encoding, table);
  return table;
}

/** `raw` with "+" as a space and %XX as the character of that byte in `table`'s encoding; null for a byte not in it. */
function unescapeSingleBytes(raw: string, table: Int32Array): string | null {
  const units = new Uint16Array(raw.length);
  let out = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x2b) {
      units[out++] = 0x20;
    } else if (c === 0x25 && i + 2 < raw.length && hexValue(raw.charCodeAt(i + 1)) >= 0 && hexValue(raw.charCodeAt(i + 2)) >= 0) {
      const unit = table[hexValue(raw.charCodeAt(i + 1)) * 16 + hexValue(raw.charCodeAt(i + 2))]!;
      if (unit < 0) return null;
      units[out++] = unit;
      i += 2;
    } else {
      units[out++] = c;
    }
  }
  return Buffer.from(units.buffer, 0, out * 2).toString('utf16le');
}

/** `raw` with every "+" as a space, in one pass over its UTF-16 code units (see BYTE_LEVEL_MIN_CHARS). */
function plusToSpace(raw: string): string {
  if (raw.length < BYTE_LEVEL_MIN_CHARS) return raw.replaceAll('+', ' ');
  const units = Buffer.from(raw, 'utf16le');
  for (let i = 0; i < units.length; i += 2) {
    if (units[i] === 0x2b && units[i + 1] === 0) units[i] = 0x20;
  }
  return units.toString('utf16le');
}

/** Runs of %XX escapes: the bytes of one run are decoded together, so a multi-byte character may span escapes. */
const PERCENT_RUN = /(?:%[0-9A-Fa-f]{2})+/g;

/** The encodings with a byte order mark, the only ones TextDecoder's ignoreBOM is about. */
const BOM_ENCODINGS = new Set(['utf-8', 'utf-16le', 'utf-16be']);

function percentDecoder(charset: string): TextDecoder {
  try {
    // ignoreBOM: a leading EF BB BF stays part of the value, as in URLSearchParams. Only where there is a BOM:
    // Node 20's windows-1252 decoder (iso-8859-1, latin1, ascii) with ignoreBOM drops a leading byte FF, so "%FF"
    // ("ÿ") came out as nothing.
    const decoder = new TextDecoder(charset, { fatal: true, ignoreBOM: true });
    return BOM_ENCODINGS.has(decoder.encoding) ? decoder : new TextDecoder(charset, { fatal: true });
  } catch (err) {
    throw new DecodeError('HOPPER_DECODE_UNSUPPORTED', `charset ${JSON.stringify(charset)} is not supported`, { cause: err });
  }
}

/** A DecodeError for text JSON.parse refused (not one for JSON nesting too deep, which stays refused). */
function isSyntaxFailure(err: unknown): boolean {
  return err instanceof DecodeError && err.cause instanceof SyntaxError;
}

/** Whether the first non-blank line parses as JSON: the text is NDJSON with a bad line further down. */
function firstLineParses(text: string): boolean {
  const trimmed = text.trimStart();
  const end = trimmed.indexOf('\n');
  const line = end === -1 ? trimmed : trimmed.slice(0, end);
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

/** `text` is the body already read in `charset`: only the %XX escapes are left to decode. */
export function decodeForm(text: string, charset = 'utf-8'): unknown[] {
  const head = text.trimStart()[0];
  if (head === '{' || head === '[') {
    try {
      return decodeJson(text);
    } catch (jsonErr) {
      // JSON.parse refused it: not JSON after all, a form body whose first field name starts with a brace.
      // JSON that parsed but nests too deep stays refused, as it is under the JSON types: read as a form, it
      // became one field named by the whole text.
      if (!isSyntaxFailure(jsonErr)) throw jsonErr;
      // `curl --data-binary @events.ndjson` sends NDJSON under this type: it was one event, a field named by the
      // whole text. And without a "=" it is no form at all (`curl -d @events.ndjson` drops the newlines:
      // {...}{...}), so it fails as the malformed JSON or NDJSON it is instead.
      try {
        return decodeNdjson(text);
      } catch (ndjsonErr) {
        if (!isSyntaxFailure(ndjsonErr)) throw ndjsonErr;
        if (!text.includes('=')) throw firstLineParses(text) ? ndjsonErr : jsonErr;
      }
    }
  }
  let decoder: TextDecoder | null = null;
  const unescapeRuns = (raw: string, field: number, part: 'name' | 'value'): string => {
    const spaced = raw.includes('+') ? plusToSpace(raw) : raw;
    if (!spaced.includes('%')) return spaced;
    return spaced.replace(PERCENT_RUN, (run) => {
      const bytes = new Uint8Array(run.length / 3);
      for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
      decoder ??= percentDecoder(charset);
      try {
        return decoder.decode(bytes);
      } catch (err) {
        throw new DecodeError('HOPPER_DECODE_FAILED', `form field ${field} ${part}: ${run.slice(0, 36)} is not valid ${charset} (send the charset in the content type)`, { cause: err });
      }
    });
  };
  const unescape = (raw: string, field: number, part: 'name' | 'value'): string => {
    if (raw.length < BYTE_LEVEL_MIN_CHARS || !raw.includes('%')) return unescapeRuns(raw, field, part);
    decoder ??= percentDecoder(charset);
    // By its canonical name: "utf8", "unicode-1-1-utf-8" and "latin1" are labels of the same encodings.
    const encoding = decoder.encoding;
    let decoded: string | null;
    if (encoding === 'utf-8') {
      // In UTF-8 a run of escapes is valid alone exactly when it is valid among the literal characters around it
      // (those are whole characters), so the whole value decodes at once. Its reason does not quote the bad run:
      // finding it would take the per-run path, as slow here as before on millions of valid runs ahead of it.
      decoded = unescapeUtf8Bytes(raw);
    } else if (SINGLE_BYTE_ENCODINGS.has(encoding)) {
      decoded = unescapeSingleBytes(raw, byteTable(decoder));
    } else {
      return unescapeRuns(raw, field, part);
    }
    if (decoded === null) {
      throw new DecodeError('HOPPER_DECODE_FAILED', `form field ${field} ${part}: a run of %XX escapes in it is not valid ${charset} (send the charset in the content type)`);
    }
    return decoded;
  };
  // A Map, not an object: field names like "constructor" or "__proto__" are data, never Object.prototype's.
  const fields = new Map<string, string | string[]>();
  // A leading "?" is dropped, as URLSearchParams does: a query string posted as it was in the URL.
  const body = text.startsWith('?') ? text.slice(1) : text;
  let field = 0;
  // Pairs are cut one at a time, not with split('&'): a body over MAX_FORM_FIELDS is refused before it became
  // millions of strings.
  for (let start = 0; start <= body.length; ) {
    let end = body.indexOf('&', start);
    if (end === -1) end = body.length;
    const pair = body.slice(start, end);
    start = end + 1;
    if (pair === '') continue;
    if (++field > MAX_FORM_FIELDS) {
      throw new DecodeError('HOPPER_DECODE_FAILED', `form body has more than ${MAX_FORM_FIELDS} fields (MAX_FORM_FIELDS): send many values as JSON or NDJSON`);
    }
    const eq = pair.indexOf('=');
    const key = unescape(eq === -1 ? pair : pair.slice(0, eq), field, 'name');
    const value = eq === -1 ? '' : unescape(pair.slice(eq + 1), field, 'value');
    const prev = fields.get(key);
    if (prev === undefined) fields.set(key, value);
    else if (Array.isArray(prev)) prev.push(value);
    else fields.set(key, [prev, value]);
  }
  // fromEntries defines own properties, so a "__proto__" field is a field, not the prototype.
  return [Object.fromEntries(fields)];
}
