// Names of the locks of Log.acquireLock: stream-like names joined by '/', checked
// here once for every backend, which then maps the parts onto directories (embedded),
// a key (redis) or subject tokens (nats) with no escaping of '/' of their own.

import { HopperError, isValidName } from '../errors.js';

/** Parts of a lock name; a few suffice (`dlq/{stream}`), and the bound keeps keys and paths short. */
const MAX_LOCK_NAME_PARTS = 4;

/** Default lease of redis and nats locks: how long a holder that died without releasing blocks others. */
export const DEFAULT_LOCK_LEASE_MS = 30_000;

/** The parts of a valid lock name; throws HOPPER_INTERNAL otherwise (callers build names from checked names: a bad one is a bug). */
export function lockNameParts(name: string): string[] {
  const parts = name.split('/');
  if (parts.length > MAX_LOCK_NAME_PARTS || !parts.every(isValidName)) {
    throw new HopperError('HOPPER_INTERNAL', `Invalid lock name ${JSON.stringify(name)}: up to ${MAX_LOCK_NAME_PARTS} names (^[A-Za-z0-9_.-]{1,64}$) joined by '/'.`);
  }
  return parts;
}
