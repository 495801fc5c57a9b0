// Exponential backoff with full jitter (AWS architecture blog, "Exponential
// Backoff And Jitter"): the wait before retry n is uniform in
// [0, min(maxBackoffMs, initialBackoffMs * 2^(n-1))], so many workers failing
// together do not retry together.

export interface BackoffPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/** Exponents past this cannot change the result (2^30 ms is 12 days): keeps the power finite. */
const MAX_EXPONENT = 30;

/** The ceiling of the wait after failed attempt `attempt` (1-based). */
export function backoffCeilingMs(attempt: number, policy: BackoffPolicy): number {
  const exp = Math.min(Math.max(0, attempt - 1), MAX_EXPONENT);
  return Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** exp);
}

export function backoffMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeilingMs(attempt, policy));
}
