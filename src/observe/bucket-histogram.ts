// A fixed-bucket latency histogram cheap enough for the ingest hot path: one
// observation is a few comparisons and two additions into a Float64Array, with
// no allocation. Its snapshot is plain data (it crosses the cluster IPC channel)
// and maps one to one onto a Prometheus histogram at scrape time.

/**
 * Upper bounds of the buckets, in seconds (Prometheus `le`), from 100 us (a `fast`
 * ack) to 30 s (a request stuck behind a stalled log). A last, implicit bucket is +Inf.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Observations per bucket (not cumulative; the last one is +Inf), their sum and count. */
export interface HistogramSnapshot {
  counts: number[];
  sum: number;
  count: number;
}

export class BucketHistogram {
  private readonly counts = new Float64Array(LATENCY_BUCKETS_SECONDS.length + 1);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    const bounds = LATENCY_BUCKETS_SECONDS;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += seconds;
    this.count += 1;
  }

  snapshot(): HistogramSnapshot {
    return { counts: Array.from(this.counts), sum: this.sum, count: this.count };
  }
}

export function emptyHistogram(): HistogramSnapshot {
  return { counts: new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0), sum: 0, count: 0 };
}

/** into += from (bucket by bucket). */
export function addHistogram(into: HistogramSnapshot, from: HistogramSnapshot): void {
  for (let i = 0; i < into.counts.length; i++) into.counts[i]! += from.counts[i] ?? 0;
  into.sum += from.sum;
  into.count += from.count;
}

/** later - earlier: the observations made between two snapshots of the same histogram. */
export function histogramDelta(later: HistogramSnapshot, earlier: HistogramSnapshot | null): HistogramSnapshot {
  if (earlier === null) return { counts: later.counts.slice(), sum: later.sum, count: later.count };
  // A smaller count means the source restarted: everything in `later` is new.
  if (later.count < earlier.count) return histogramDelta(later, null);
  return { counts: later.counts.map((c, i) => c - (earlier.counts[i] ?? 0)), sum: later.sum - earlier.sum, count: later.count - earlier.count };
}

/**
 * The q-quantile (0..1) estimated like Prometheus' histogram_quantile: linear
 * interpolation inside the bucket holding it. null when the histogram is empty.
 * A quantile in the +Inf bucket is reported as the highest finite bound.
 */
export function histogramQuantile(h: HistogramSnapshot, q: number): number | null {
  if (h.count <= 0) return null;
  const bounds = LATENCY_BUCKETS_SECONDS;
  const rank = q * h.count;
  let below = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i]!;
    if (c > 0 && below + c >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * ((rank - below) / c);
    }
    below += c;
  }
  return bounds[bounds.length - 1]!;
}
