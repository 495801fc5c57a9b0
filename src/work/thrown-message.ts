// What user code threw, as text for an error message. Processors and their modules may
// throw anything (throw null, throw "down", a revoked Proxy): reading `.message` off such a
// value would itself throw and hide the pipeline and processor the message is about.

import { types } from 'node:util';

/** Longest description of a thrown plain object (its JSON): the message stays one readable line. */
const MAX_DESCRIBED_CHARS = 1000;
/** Levels of objects described within a thrown object; deeper ones read {...} or [...]. */
const MAX_DESCRIBED_DEPTH = 4;
/** Keys of an object, items of an array described; the rest are counted. */
const MAX_DESCRIBED_ENTRIES = 50;

/** `<Buffer 67108864 bytes>` for bytes of any kind (their size says more than their content), else undefined. */
function bytesDescription(value: object): string | undefined {
  if (ArrayBuffer.isView(value)) {
    const kind = Buffer.isBuffer(value) ? 'Buffer' : Object.prototype.toString.call(value).slice(8, -1);
    return `<${kind} ${value.byteLength} bytes>`;
  }
  if (types.isAnyArrayBuffer(value)) {
    return `<${types.isSharedArrayBuffer(value) ? 'SharedArrayBuffer' : 'ArrayBuffer'} ${value.byteLength} bytes>`;
  }
  return undefined;
}

/**
 * A thrown object as JSON, cut to about MAX_DESCRIBED_CHARS as it is written. Not JSON.stringify: that threw at a
 * cycle or a BigInt (a client's error holding its connection or a row id), which lost the code with the rest, and it
 * calls toJSON before any replacer sees the value, so a response body held as a Buffer was first copied into an array
 * of its bytes (a 64 MB one took seconds and a gigabyte of heap), and a Uint8Array was listed key by key. Bytes are
 * written as their kind and size; toJSON, code of the object's own that may copy any amount of data, is not called:
 * a Date reads as JSON would write it, other objects by their own enumerable keys.
 */
function boundedJson(thrown: object): string {
  let left = MAX_DESCRIBED_CHARS;
  const out: string[] = [];
  // The objects from the root down to the one being written: one met again is a cycle.
  const path: object[] = [];
  const put = (text: string): void => {
    out.push(text);
    left -= text.length;
  };
  const putString = (text: string): void => put(JSON.stringify(text.slice(0, Math.max(left, 0))));
  // What JSON leaves out of an object and writes as null in an array.
  const skipped = (value: unknown): boolean => value === undefined || typeof value === 'function' || typeof value === 'symbol';

  const write = (value: unknown): void => {
    if (typeof value === 'bigint') return putString(`${value}n`);
    if (typeof value === 'string') return putString(value);
    if (typeof value === 'number') return put(Number.isFinite(value) ? String(value) : 'null');
    if (typeof value === 'boolean') return put(String(value));
    if (typeof value !== 'object' || value === null) return put('null');
    const bytes = bytesDescription(value);
    if (bytes !== undefined) return putString(bytes);
    if (types.isDate(value)) {
      const ms = Date.prototype.getTime.call(value);
      return Number.isFinite(ms) ? putString(Date.prototype.toISOString.call(value)) : put('null');
    }
    if (path.includes(value)) return putString('[Circular]');
    const isArray = Array.isArray(value);
    if (path.length >= MAX_DESCRIBED_DEPTH) return putString(isArray ? '[...]' : '{...}');
    path.push(value);
    if (isArray) {
      put('[');
      const length = value.length;
      for (let i = 0; i < Math.min(length, MAX_DESCRIBED_ENTRIES) && left > 0; i++) {
        if (i > 0) put(',');
        const item: unknown = value[i];
        if (skipped(item)) put('null');
        else write(item);
      }
      if (length > MAX_DESCRIBED_ENTRIES && left > 0) put(`,"... ${length - MAX_DESCRIBED_ENTRIES} more"`);
      put(']');
    } else {
      put('{');
      const keys = Object.keys(value);
      // An Error's name, message and cause are not enumerable: one a client wraps in its rejection read {}.
      if (value instanceof Error || types.isNativeError(value)) {
        const own = ['name', 'message', ...(Object.hasOwn(value, 'cause') ? ['cause'] : [])];
        keys.unshift(...own.filter((k) => !keys.includes(k)));
      }
      let first = true;
      for (const key of keys.slice(0, MAX_DESCRIBED_ENTRIES)) {
        if (left <= 0) break;
        const item: unknown = (value as Record<string, unknown>)[key];
        if (skipped(item)) continue;
        if (!first) put(',');
        first = false;
        putString(key);
        put(':');
        write(item);
      }
      if (keys.length > MAX_DESCRIBED_ENTRIES && left > 0) put(`${first ? '' : ','}"...":"${keys.length - MAX_DESCRIBED_ENTRIES} more keys"`);
      put('}');
    }
    path.pop();
  };
  write(thrown);
  return out.join('').slice(0, MAX_DESCRIBED_CHARS);
}

/** Errors of an AggregateError named in its description; the rest are counted. */
const MAX_DESCRIBED_ERRORS = 5;

/**
 * An Error without a message by its name, code and errors. Node's AggregateError for a connection refused at every
 * address of a name (net's autoSelectFamily: localhost as ::1 and 127.0.0.1, a database down) has no message and
 * read only "AggregateError"; its errors' messages are read one level down, not followed further.
 */
function emptyErrorText(err: Error): string {
  const { code, errors } = err as { code?: unknown; errors?: unknown };
  let text = String(err.name || 'Error');
  if (typeof code === 'string' || typeof code === 'number') text += ` [${code}]`;
  if (Array.isArray(errors) && errors.length > 0) {
    const inner = errors.slice(0, MAX_DESCRIBED_ERRORS).map((e: unknown) => {
      const message: unknown = e instanceof Error ? e.message : e;
      return typeof message === 'string' && message !== '' ? message : e instanceof Error ? String(e.name) : typeof e;
    });
    const more = errors.length > MAX_DESCRIBED_ERRORS ? `; ... ${errors.length - MAX_DESCRIBED_ERRORS} more` : '';
    text += `: ${inner.join('; ')}${more}`;
  }
  return text.slice(0, MAX_DESCRIBED_CHARS);
}

/** The message of an Error, a thrown string as is, any other value described; never throws. */
export function thrownMessage(thrown: unknown): string {
  try {
    if (thrown instanceof Error) {
      // A library may set message to a number or an object: returned as is, it was no string to callers.
      const message: unknown = thrown.message;
      if (typeof message === 'string' && message !== '') return message;
      if (typeof message === 'object' && message !== null) return boundedJson(message);
      if (message !== undefined && message !== null && message !== '') return String(message).slice(0, MAX_DESCRIBED_CHARS);
      return emptyErrorText(thrown);
    }
    if (typeof thrown === 'string' && thrown !== '') return thrown;
    // A plain object (what some clients reject with: { code, message }) read "[object Object]": its message, or its JSON.
    if (typeof thrown === 'object' && thrown !== null) {
      const text = (thrown as { message?: unknown }).message;
      if (typeof text === 'string' && text !== '') return text;
      // String() of bytes is all of them (a Buffer decoded whole, a Uint8Array's bytes joined by commas), of an
      // array all its items: a message as big as the response thrown.
      const bytes = bytesDescription(thrown);
      if (bytes !== undefined) return `${bytes} was thrown (not an Error)`;
      // Object.create(null) has no toString for String() to call.
      const described = Object.getPrototypeOf(thrown) === null || Array.isArray(thrown) ? '[object Object]' : String(thrown);
      if (described !== '[object Object]') return described.slice(0, MAX_DESCRIBED_CHARS);
      try {
        return `${boundedJson(thrown)} was thrown (not an Error)`;
      } catch {
        // A getter threw while it was written: its keys (listing them runs no code of the object) still
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
