// What a test does when a service it needs (PostgreSQL, Redis, NATS, or their binaries) is absent:
// on a user's machine it skips with the reason; under HOPPER_CI=1 (set by .ci/run)
// it fails, so CI never goes green with the service tests silently skipped.
export const IN_CI = process.env.HOPPER_CI === '1';

/** The reason unchanged (null or false: nothing missing), or a thrown error in CI. */
export function skipOutsideCi<T extends string | null | false>(reason: T): T {
  if (typeof reason === 'string' && IN_CI) throw new Error(`${reason}; HOPPER_CI=1 requires the tests that need it to run`);
  return reason;
}
