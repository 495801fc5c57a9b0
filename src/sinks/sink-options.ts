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
  const validate: ValidateFunction = ajv.compile({ type: 'object', additionalProperties: false, ...schema });
  return (options, context) => {
    const copy = structuredClone(options ?? {});
    if (!validate(copy)) {
      const e = validate.errors![0]!;
      const extra = (e.params as { additionalProperty?: string; missingProperty?: string });
      const path = [e.instancePath.replace(/^\//, '').replace(/\//g, '.'), extra.additionalProperty ?? extra.missingProperty ?? '']
        .filter((s) => s !== '')
        .join('.');
      const what = extra.additionalProperty !== undefined ? 'is not a known option' : (e.message ?? 'has a bad value');
      throw new HopperError('HOPPER_CONFIG_INVALID', `config options.${path} of pipeline ${context.pipeline} (${sink} sink) ${what}.`);
    }
    return copy as T;
  };
}

/** A problem ajv cannot express (a cross-field rule): same message shape as the schema errors. */
export function optionError(sink: string, context: SinkContext, key: string, why: string): HopperError {
  return new HopperError('HOPPER_CONFIG_INVALID', `config options.${key} of pipeline ${context.pipeline} (${sink} sink) ${why}.`);
}
