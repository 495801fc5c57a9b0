// Retry-After (RFC 9110 section 10.2.3): either delay-seconds, a non-negative
// integer, or an HTTP-date. Sent with 429 and 503 to say when to come back.

/** The wait in milliseconds the header asks for (0 for a date in the past), or null when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, nowMs: number): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Math.min(Number(text), 2 ** 31 / 1000) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}
