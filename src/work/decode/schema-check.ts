// Compiles a stream's optional JSON Schema (config streams[name].schema) once,
// with ajv, into an EventValidator whose message names the failing path.
// ajv itself checks no `format`: without ajv-formats, {"format": "email"} was ignored (a console.warn, not
// a log line) and every event passed. The standard formats are checked (ajv-formats, "full" mode); a format
// neither knows stops the start naming it, rather than let events through unchecked.

import { Ajv, type ErrorObject } from 'ajv';
import formatsPlugin from 'ajv-formats';
import { HopperError } from '../../errors.js';
import type { EventValidator } from './decode-record.js';

/** Errors listed in one dead-letter reason; the rest are counted. */
const MAX_REPORTED_ERRORS = 5;
/**
 * Values (the event, and every array item and object property in it) of the largest event whose errors are all
 * collected. ajv's allErrors builds an error object per failing value: an event of 3 million wrong items took
 * 3.6 s and ~400 MB to describe. Larger events are described by their first error.
 */
export const MAX_DESCRIBED_VALUES = 10_000;

/** Whether `value` holds at most `limit` values, nested ones included; stops counting past the limit. */
function hasAtMostValues(value: unknown, limit: number): boolean {
  let left = limit;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (--left < 0) return false;
    if (typeof v !== 'object' || v === null) continue;
    const inner = Array.isArray(v) ? v : Object.values(v);
    if (inner.length > left) return false;
    for (const x of inner) pending.push(x);
  }
  return true;
}

/**
 * A text equal for two values exactly when JSON Schema calls them equal (deep, object keys in any order,
 * 1 and 1.0 alike, types never mixed). Events nest at most MAX_JSON_DEPTH levels, so recursion is safe.
 */
function canonical(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value !== 'object' || value === null) return String(value); // numbers (Infinity too), booleans, null
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/**
 * "uniqueItems" in one pass. ajv's own compares every pair of items unless their type is a known scalar: an
 * event holding 10,000 small objects held the worker's event loop for seconds, a body of maxDecodedBytes for
 * hours. Same verdict and message as ajv's.
 */
function uniqueItems(this: unknown, schema: boolean, data: unknown[]): boolean {
  if (!schema) return true;
  const seen = new Map<string, number>();
  for (let i = 0; i < data.length; i++) {
    const key = canonical(data[i]);
    const j = seen.get(key);
    if (j !== undefined) {
      uniqueItems.errors = [{ keyword: 'uniqueItems', message: `must NOT have duplicate items (items ## ${j} and ${i} are identical)`, params: { i, j } }];
      return false;
    }
    seen.set(key, i);
  }
  return true;
}
uniqueItems.errors = undefined as Partial<ErrorObject>[] | undefined;

/** `key` is where the schema sits in the config, for messages (defaultStream.schema for streams without their own). */
export function compileSchema(stream: string, schema: Record<string, unknown>, key = `streams.${stream}.schema`): EventValidator {
  const unknownFormats: string[] = [];
  // With strict off, ajv reports an unknown format only through logger.warn, then ignores the keyword.
  const logger = { log: () => undefined, warn: (msg: unknown) => void unknownFormats.push(String(msg)), error: () => undefined };
  const newAjv = (allErrors: boolean): Ajv => {
    const ajv = new Ajv({ allErrors, strict: false, logger });
    // A CommonJS module: under NodeNext the default import is its module.exports, the plugin is on .default.
    formatsPlugin.default(ajv);
    ajv.removeKeyword('uniqueItems');
    ajv.addKeyword({ keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', errors: true, validate: uniqueItems });
    return ajv;
  };
  // Two validators: one that stops at the first error, for the verdict, and one that collects them all
  // (allErrors), to describe a failed event that is small enough (see MAX_DESCRIBED_VALUES).
  let validate;
  let describe;
  try {
    validate = newAjv(false).compile(schema);
    describe = newAjv(true).compile(schema);
  } catch (err) {
    throw new HopperError('HOPPER_CONFIG_INVALID', `config ${key} is not a valid JSON Schema: ${(err as Error).message}`, { cause: err });
  }
  // An asynchronous validator answers with a promise, which `if (validate(event))` would take as a pass.
  if ((validate as { $async?: boolean }).$async === true) {
    throw new HopperError('HOPPER_CONFIG_INVALID', `config ${key} is asynchronous ($async): events are checked one by one as they decode, so remove "$async" from the schema.`);
  }
  const unknown = unknownFormats.find((m) => m.startsWith('unknown format'));
  if (unknown !== undefined) {
    throw new HopperError(
      'HOPPER_CONFIG_INVALID',
      `config ${key}: ${unknown.replace(' ignored in schema', ' in schema')}, which would check nothing: use a standard format (email, date-time, uuid, uri, ...) or a "pattern".`,
    );
  }
  const text = (e: ErrorObject): string => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`;
  return (event) => {
    if (validate(event)) return null;
    if (!hasAtMostValues(event, MAX_DESCRIBED_VALUES)) {
      const first = validate.errors?.[0];
      return `${first ? text(first) : '(root) is invalid'} (the first error: events of more than ${MAX_DESCRIBED_VALUES} values are not checked further)`;
    }
    describe(event);
    const errors = describe.errors ?? [];
    const parts = errors.slice(0, MAX_REPORTED_ERRORS).map(text);
    if (errors.length > MAX_REPORTED_ERRORS) parts.push(`and ${errors.length - MAX_REPORTED_ERRORS} more`);
    return parts.join('; ');
  };
}
