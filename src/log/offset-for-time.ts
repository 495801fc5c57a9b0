// Finds the first offset received at or after a time in a log that can only be
// probed by offset (the Redis and NATS backends keep no time index of their own).
// Used by backends whose storage has no time index; the embedded log has one.

/** Reads up to `maxRecords` (offset, receivedAtUs) pairs at or after `offset`, in offset order. */
export type TimeProbe = (offset: number, maxRecords: number) => Promise<{ offset: number; receivedAtUs: number }[]>;

/**
 * How far before the binary search's answer the exact scan starts. receivedAt is
 * stamped by ingest processes, so it rises with offsets except for small
 * reorderings between concurrent writers; an earlier record received after the
 * time but stored more than this many records before the answer can be missed.
 */
export const TIME_SKEW_RECORDS = 256;
/** Upper bound on probes of the binary search (2^64 offsets). */
const MAX_PROBES = 64;

/** First offset in [start, end) whose record was received at or after timeUs; end when none. */
export async function searchOffsetForTime(start: number, end: number, timeUs: number, probe: TimeProbe): Promise<number> {
  let lo = start;
  let hi = end;
  for (let probes = 0; lo < hi && probes < MAX_PROBES; probes++) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const [first] = await probe(mid, 1);
    if (!first || first.offset >= hi) hi = mid;
    else if (first.receivedAtUs < timeUs) lo = first.offset + 1;
    else hi = mid;
  }
  let from = Math.max(start, lo - TIME_SKEW_RECORDS);
  while (from < end) {
    const records = await probe(from, TIME_SKEW_RECORDS + 1);
    if (records.length === 0) return end;
    for (const r of records) if (r.receivedAtUs >= timeUs) return r.offset;
    from = records[records.length - 1]!.offset + 1;
    // Past the binary search's answer every record was checked: nothing later can be earlier in the scan.
    if (from > lo) break;
  }
  return Math.min(end, Math.max(lo, from));
}
