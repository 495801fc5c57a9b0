// Compiles a stream's optional JSON Schema (config streams[name].schema) once,
// with ajv, into an EventValidator whose message names the failing path.

import { Ajv } from 'ajv';
import { HopperError } from '../../errors.js';
import type { EventValidator } from './decode-record.js';

/** Errors listed in one dead-letter reason; the rest are counted. */
const MAX_REPORTED_ERRORS = 5;

export function compileSchema(stream: string, schema: Record<string, unknown>): EventValidator {
  const ajv = new Ajv({ allErrors: true, strict: false });
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    throw new HopperError('HOPPER_CONFIG_INVALID', `config streams.${stream}.schema is not a valid JSON Schema: ${(err as Error).message}`, { cause: err });
  }
  return (event) => {
    if (validate(event)) return null;
    const errors = validate.errors ?? [];
    const parts = errors.slice(0, MAX_REPORTED_ERRORS).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`);
    if (errors.length > MAX_REPORTED_ERRORS) parts.push(`and ${errors.length - MAX_REPORTED_ERRORS} more`);
    return parts.join('; ');
  };
}
