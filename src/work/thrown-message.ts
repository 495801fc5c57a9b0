// What user code threw, as text for an error message. Processors and their modules may
// throw anything (throw null, throw "down", a revoked Proxy): reading `.message` off such a
// value would itself throw and hide the pipeline and processor the message is about.

/** Longest description of a thrown plain object (its JSON): the message stays one readable line. */
const MAX_DESCRIBED_CHARS = 1000;
/** Levels of objects described within a thrown object; deeper ones read {...} or [...]. */
const MAX_DESCRIBED_DEPTH = 4;
/** Keys of an object, items of an array described; the rest are counted. */
const MAX_DESCRIBED_ENTRIES = 50;

/**
 * A thrown object's JSON, cut to about MAX_DESCRIBED_CHARS as it is written: JSON.stringify of the whole object
 * threw at a cycle or a BigInt (a client's error holding its connection or a row id), which lost its code with the
 * rest, and wrote all of a huge object (a response, a table) to keep a thousand characters of it.
 */
function boundedJson(thrown: object): string {
  let left = MAX_DESCRIBED_CHARS;
  // The objects from the root down to the one being written: JSON.stringify calls the replacer with `this` the
  // object holding the value, so those below `this` are done with.
  const path: unknown[] = [];
  const text = JSON.stringify(thrown, function (this: unknown, key: string, value: unknown): unknown {
    while (path.length > 0 && path[path.length - 1] !== this) path.pop();
    if (left <= 0) return undefined;
    left -= key.length + 4;
    if (typeof value === 'bigint') value = `${value}n`;
    if (typeof value === 'string') {
      const kept = value.slice(0, Math.max(left, 0));
      left -= value.length;
      return kept;
    }
    if (typeof value !== 'object' || value === null) return value;
    if (path.includes(value)) return '[Circular]';
    if (path.length >= MAX_DESCRIBED_DEPTH) return Array.isArray(value) ? '[...]' : '{...}';
    let entries: unknown = value;
    if (Array.isArray(value) && value.length > MAX_DESCRIBED_ENTRIES) {
      entries = [...value.slice(0, MAX_DESCRIBED_ENTRIES), `... ${value.length - MAX_DESCRIBED_ENTRIES} more`];
    } else if (!Array.isArray(value)) {
      const keys = Object.keys(value);
      if (keys.length > MAX_DESCRIBED_ENTRIES) {
        // No prototype: a key named __proto__ stays a key.
        const kept = Object.create(null) as Record<string, unknown>;
        for (const k of keys.slice(0, MAX_DESCRIBED_ENTRIES)) kept[k] = (value as Record<string, unknown>)[k];
        kept['...'] = `${keys.length - MAX_DESCRIBED_ENTRIES} more keys`;
        entries = kept;
      }
    }
    path.push(entries);
    return entries;
  });
  return (text ?? String(thrown)).slice(0, MAX_DESCRIBED_CHARS);
}

/** The message of an Error, a thrown string as is, any other value described; never throws. */
export function thrownMessage(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return thrown.message || thrown.name;
    if (typeof thrown === 'string' && thrown !== '') return thrown;
    // A plain object (what some clients reject with: { code, message }) read "[object Object]": its message, or its JSON.
    if (typeof thrown === 'object' && thrown !== null) {
      const text = (thrown as { message?: unknown }).message;
      if (typeof text === 'string' && text !== '') return text;
      // Object.create(null) has no toString for String() to call.
      const described = Object.getPrototypeOf(thrown) === null ? '[object Object]' : String(thrown);
      if (described !== '[object Object]') return described;
      try {
        return `${boundedJson(thrown)} was thrown (not an Error)`;
      } catch {
        // A getter or toJSON threw while it was written: its keys (listing them runs no code of the object) still
        // tell which client it came from.
        const keys = Object.keys(thrown);
        const listed = keys.slice(0, MAX_DESCRIBED_ENTRIES).join(', ').slice(0, MAX_DESCRIBED_CHARS);
        return `an object with keys ${listed}${keys.length > MAX_DESCRIBED_ENTRIES ? ', ...' : ''} was thrown (not an Error; writing it as JSON threw)`;
      }
    }
    return `${typeof thrown === 'string' ? '""' : String(thrown)} was thrown (not an Error)`;
  } catch {
    return 'a value that cannot be described was thrown (reading or converting it threw)';
  }
}
