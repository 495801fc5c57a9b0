// application/json: one JSON value per body. An array is a batch (one event per
// element, none for []); any other value is one event.

import { DecodeError } from './decode-error.js';

export function decodeJson(text: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const what = text.trim() === '' ? 'empty body' : (err as Error).message;
    throw new DecodeError('HOPPER_DECODE_FAILED', `malformed JSON: ${what}`, { cause: err });
  }
  return Array.isArray(value) ? value : [value];
}
