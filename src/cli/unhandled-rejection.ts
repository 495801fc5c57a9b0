// A promise rejected with nobody to handle it, in a process that runs processors: most
// likely processor code that let a promise float (an audit call nobody awaits). Node's
// default is to end the process; serve --with-workers logs it and keeps serving, hopper
// work stops cleanly with exit 1 (README: Failures and dead letters).

import { thrownMessage } from '../work/thrown-message.js';

/** Fields of the log line for an unhandled rejection: the HOPPER_PIPELINE_FAILED code, the message and, for an Error, its stack. */
export function unhandledRejectionFields(reason: unknown): { code: 'HOPPER_PIPELINE_FAILED'; err: string; stack?: string } {
  const fields: { code: 'HOPPER_PIPELINE_FAILED'; err: string; stack?: string } = { code: 'HOPPER_PIPELINE_FAILED', err: thrownMessage(reason) };
  try {
    if (reason instanceof Error && typeof reason.stack === 'string') fields.stack = reason.stack;
  } catch {
    // a revoked Proxy: the message says what can be said
  }
  return fields;
}

export const UNHANDLED_REJECTION_MESSAGE = 'unhandled promise rejection (a processor that does not await or catch a promise?)';
