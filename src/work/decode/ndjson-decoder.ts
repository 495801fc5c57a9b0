// application/x-ndjson (and jsonl): one JSON value per line; blank lines are
// skipped, \r\n is accepted. One bad line makes the whole record a dead letter
// (the line number is in the reason), so a record is never half-delivered.

import { DecodeError } from './decode-error.js';
import { MAX_JSON_DEPTH, nestedTooDeep } from './json-decoder.js';

export function decodeNdjson(text: string): unknown[] {
  const events: unknown[] = [];
  let start = 0;
  let line = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    line++;
    const raw = text.slice(start, end);
    if (raw.trim() !== '') {
      // Before parsing: JSON.parse builds every level first (see nestedTooDeep).
      if (nestedTooDeep(raw)) throw new DecodeError('HOPPER_DECODE_FAILED', `NDJSON line ${line} nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH)`);
      try {
        events.push(JSON.parse(raw));
      } catch (err) {
        throw new DecodeError('HOPPER_DECODE_FAILED', `malformed NDJSON at line ${line}: ${(err as Error).message}`, { cause: err });
      }
    }
    start = end + 1;
  }
  return events;
}
