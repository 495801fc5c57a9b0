// application/x-www-form-urlencoded: classic form posts and pixel query strings.
// One event per body: an object of fields; a repeated field becomes an array.
// `curl -d '{"a":1}'` sends JSON under this type: a body that starts with { or [
// and parses as JSON is decoded as JSON instead (documented in the README).

import { decodeJson } from './json-decoder.js';

export function decodeForm(text: string): unknown[] {
  const head = text.trimStart()[0];
  if (head === '{' || head === '[') {
    try {
      return decodeJson(text);
    } catch {
      // not JSON after all: a form body whose first field name starts with a brace
    }
  }
  const event: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const prev = event[key];
    if (prev === undefined) event[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else event[key] = [prev, value];
  }
  return [event];
}
