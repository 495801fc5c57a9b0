// application/json: one JSON value per body. An array is a batch (one event per
// element, none for []); any other value is one event.

import { DecodeError } from './decode-error.js';

/**
 * Arrays and objects nested deeper than this are refused. JSON.parse builds any depth, but what comes after
 * recurses: JSON.stringify (every sink), structuredClone and ajv overflow the stack at a few thousand levels,
 * which made a 20 KB body a processor failure, retried, then a dead letter reading "Maximum call stack size
 * exceeded". Real documents stay far below (serde_json stops at 128, Go's encoding/json at 10000).
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * Whether `text` nests arrays and objects deeper than MAX_JSON_DEPTH. Counted before JSON.parse, which builds
 * every level first: 8 million levels (a 16 KB gzip body) took it seconds and a gigabyte of heap. Brackets in
 * strings do not count; on text that is not JSON the answer does not matter, as long as the scan ends.
 */
export function nestedTooDeep(text: string): boolean {
  // Each level takes an opening and a closing bracket: shorter JSON cannot be too deep (and parses quickly).
  if (text.length <= 2 * MAX_JSON_DEPTH) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: its end is the next quote after an even run of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i === -1) return false; // never closed: not JSON, as JSON.parse will say
        let slashes = 0;
        while (text.charCodeAt(i - 1 - slashes) === 0x5c) slashes++;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

export function decodeJson(text: string): unknown[] {
  if (nestedTooDeep(text)) throw new DecodeError('HOPPER_DECODE_FAILED', `JSON nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH)`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const what = text.trim() === '' ? 'empty body' : (err as Error).message;
    throw new DecodeError('HOPPER_DECODE_FAILED', `malformed JSON: ${what}`, { cause: err });
  }
  return Array.isArray(value) ? value : [value];
}
