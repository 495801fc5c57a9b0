// The check every backend runs on the offsets and positions it is handed. A
// fractional or NaN one (or a negative position) is a caller's bug, refused before
// it reaches storage: the embedded log wrote a position file it could not read back.

import { HopperError } from '../errors.js';

/** Throws HOPPER_INTERNAL unless `value` is a whole number (and, unless `negativeAllowed`, at least 0). */
export function assertOffset(value: number, what: string, negativeAllowed = false): void {
  if (!Number.isSafeInteger(value) || (!negativeAllowed && value < 0)) {
    throw new HopperError('HOPPER_INTERNAL', `Invalid ${what} ${value}: offsets are whole numbers from 0.`);
  }
}
