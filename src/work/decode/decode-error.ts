// The error a body's decoding raises: a HopperError whose code says why
// (malformed, unsupported, too large once decompressed, schema violation).
// The runtime sends such records to the dead-letter stream without retrying.

import { HopperError, type ErrorCode } from '../../errors.js';

export type DecodeErrorCode = Extract<ErrorCode, 'HOPPER_DECODE_FAILED' | 'HOPPER_DECODE_UNSUPPORTED' | 'HOPPER_DECODED_TOO_LARGE' | 'HOPPER_SCHEMA_INVALID'>;

export class DecodeError extends HopperError {
  declare readonly code: DecodeErrorCode;

  constructor(code: DecodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DecodeError';
  }
}

export function isDecodeError(err: unknown): err is DecodeError {
  return err instanceof DecodeError;
}
