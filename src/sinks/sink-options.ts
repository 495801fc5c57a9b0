// Checks a built-in sink's options once, when its pipeline starts, against a JSON
// schema (ajv, defaults filled in, unknown keys rejected) and reports the first
// bad key as HOPPER_CONFIG_INVALID naming the pipeline, the sink and the path.

import { Ajv, type ValidateFunction } from 'ajv';
import { HopperError } from '../errors.js';
import type { SinkContext } from '../work/types.js';

const ajv = new Ajv({ useDefaults: true, strict: false, allErrors: false });

export type OptionsCheck<T> = (options: Record<string, unknown>, context: SinkContext) => T;

/** A checker for one sink's options; the returned object is a copy with defaults applied. */
export function optionsChecker<T>(sink: string, schema: Record<string, unknown>): OptionsCheck<T> {
  const full = { type: 'object', additionalProperties: false, ...schema };
  const validate: ValidateFunction = ajv.compile(full);
  return (options, context) => {
    const copy = structuredClone(options ?? {});
    if (!validate(copy)) {
      const e = validate.errors![0]!;
      const extra = e.params as { additionalProperty?: string; missingProperty?: string };
      const at = e.instancePath.split('/').slice(1);
      const path = [...at, extra.additionalProperty ?? extra.missingProperty ?? ''].filter((s) => s !== '').join('.');
      throw new HopperError('HOPPER_CONFIG_INVALID', `config options.${path} of pipeline ${context.pipeline} (${sink} sink) ${problem(e, full, at, copy)}.`);
    }
    return copy as T;
  };
}

/**
 * What is wrong and what is allowed: the known keys for an unknown one, the allowed values, and the bad value
 * when it is a number, boolean or null (a string, object or array may carry a password; the key is enough).
 */
function problem(
  e: { keyword: string; message?: string; params: { additionalProperty?: string; allowedValues?: unknown[] } },
  schema: Record<string, unknown>,
  at: string[],
  options: unknown,
): string {
  if (e.params.additionalProperty !== undefined) {
    const known = Object.keys(subSchema(schema, at)?.properties ?? {});
    return known.length > 0 ? `is not a known option (known: ${known.join(', ')})` : 'is not a known option';
  }
  const value = valueAt(options, at);
  const got = e.keyword === 'required' || typeof value === 'string' ? '' : ` (got ${shown(value)})`;
  if (e.keyword === 'enum' && e.params.allowedValues) return `must be one of ${e.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}${got}`;
  return `${e.message ?? 'has a bad value'}${got}`;
}

/** The schema of the value at `path` (object properties and array items), or undefined where it has none. */
function subSchema(schema: Record<string, unknown>, path: string[]): { properties?: Record<string, unknown> } | undefined {
  let node: Record<string, unknown> | undefined = schema;
  for (const key of path) {
    if (node === undefined) return undefined;
    const props = node.properties as Record<string, Record<string, unknown>> | undefined;
    node = /^\d+$/.test(key) && node.items !== undefined ? (node.items as Record<string, unknown>) : props?.[key];
  }
  return node as { properties?: Record<string, unknown> } | undefined;
}

function valueAt(value: unknown, path: string[]): unknown {
  let v = value;
  for (const key of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

/** A number, boolean or null as it is; an object or array by its kind alone (it may hold a secret). */
function shown(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

/** A problem ajv cannot express (a cross-field rule): same message shape as the schema errors. */
export function optionError(sink: string, context: SinkContext, key: string, why: string): HopperError {
  return new HopperError('HOPPER_CONFIG_INVALID', `config options.${key} of pipeline ${context.pipeline} (${sink} sink) ${why}.`);
}
