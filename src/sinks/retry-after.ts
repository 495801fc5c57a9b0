// Retry-After (RFC 9110 section 10.2.3): either delay-seconds, a non-negative
// integer, or an HTTP-date. Sent with 429 and 503 to say when to come back.
// Only those two forms are read: Date.parse accepts almost anything ("-1", "1.5" and
// "12 13" are dates in 2001), and a value read as a date in the past means no wait at all.
// Anything else is unreadable: the caller falls back to its own backoff.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** IMF-fixdate (RFC 9110 section 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT", the form senders must use. */
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$/;

/** Milliseconds since the epoch of an IMF-fixdate, or null when it is not one (or names a day that does not exist). */
export function parseImfFixdate(text: string): number | null {
  const m = IMF_FIXDATE.exec(text);
  if (!m) return null;
  const [day, month, year, hour, minute, second] = [Number(m[1]), MONTHS.indexOf(m[2]!), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])];
  // second 60 is a leap second (RFC 9110 allows it): read as 59.
  if (hour > 23 || minute > 59 || second > 60) return null;
  const at = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  if (new Date(at).getUTCDate() !== day) return null; // 31 Feb
  return at;
}

/** The wait in milliseconds the header asks for (0 for a date in the past), or null when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, nowMs: number): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Math.min(Number(text), 2 ** 31 / 1000) * 1000;
  const at = parseImfFixdate(text);
  if (at === null) return null;
  return Math.max(0, at - nowMs);
}
