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

/** Whether `text`, valid JSON, nests arrays and objects deeper than MAX_JSON_DEPTH. */
export function nestedTooDeep(text: string): boolean {
  // Each level takes an opening and a closing bracket: shorter texts cannot be too deep.
  if (text.length <= 2 * MAX_JSON_DEPTH) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string (the text parsed, so it is closed): its end is the next quote after an even run of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const what = text.trim() === '' ? 'empty body' : (err as Error).message;
    throw new DecodeError('HOPPER_DECODE_FAILED', `malformed JSON: ${what}`, { cause: err });
  }
  if (nestedTooDeep(text)) throw new DecodeError('HOPPER_DECODE_FAILED', `JSON nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH)`);
  return Array.isArray(value) ? value : [value];
}
