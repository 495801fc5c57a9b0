// A log-linear latency histogram in the manner of HdrHistogram: integer
// microseconds, exact below 2^SUB_BITS, then 2^SUB_BITS linear buckets per
// power of two, so every recorded value is kept within 1/2^SUB_BITS (< 0.8 %).
//
//   value:   0 .. 127 | 128 .. 255 (step 1) | 256 .. 510 (step 2) | 512 .. 1020 (step 4) | ...
//   index:   0 .. 127 | 128 .. 255          | 256 .. 383           | 384 .. 511           | ...
//
// Counts live in one Float64Array so a worker thread can hand its histogram to
// the main thread (transfer or copy) and the main thread merges by addition.

/** Linear sub-buckets per power of two: relative precision 2^-SUB_BITS. */
const SUB_BITS = 7;
const SUB_COUNT = 1 << SUB_BITS;
/** Highest value kept exactly in range: 2^32 - 1 µs (about 71 minutes); larger values are clamped to it. */
export const HISTOGRAM_MAX_US = 2 ** 32 - 1;
/** Number of counters: the exact range, then one row of SUB_COUNT per power of two from 2^SUB_BITS to 2^31. */
export const HISTOGRAM_BUCKETS = SUB_COUNT + (32 - SUB_BITS) * SUB_COUNT;
/** Relative precision of a reported value (half a bucket would do; a whole one is the honest bound). */
export const HISTOGRAM_RELATIVE_PRECISION = 1 / SUB_COUNT;

function indexOf(valueUs: number): number {
  if (valueUs < SUB_COUNT) return valueUs;
  const exponent = 31 - Math.clz32(valueUs);
  const shift = exponent - SUB_BITS;
  return SUB_COUNT + shift * SUB_COUNT + ((valueUs >>> shift) - SUB_COUNT);
}

/** Highest value that lands in bucket `index` (what HdrHistogram calls the highest equivalent value). */
function highestValueAt(index: number): number {
  if (index < SUB_COUNT) return index;
  const shift = Math.floor((index - SUB_COUNT) / SUB_COUNT);
  const sub = (index - SUB_COUNT) % SUB_COUNT;
  return (SUB_COUNT + sub + 1) * 2 ** shift - 1;
}

export const PERCENTILES = [50, 90, 99, 99.9] as const;

export interface LatencySummaryUs {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  'p99.9': number;
  max: number;
}

export class LatencyHistogram {
  readonly counts: Float64Array;
  count = 0;
  min = Infinity;
  max = 0;
  sum = 0;

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(HISTOGRAM_BUCKETS);
    if (counts) this.recomputeTotals();
  }

  /** Records one latency in microseconds (fractions truncated, negatives as 0, huge values clamped). */
  record(valueUs: number): void {
    let v = valueUs > 0 ? Math.floor(valueUs) : 0;
    if (v > HISTOGRAM_MAX_US) v = HISTOGRAM_MAX_US;
    this.counts[indexOf(v)]! += 1;
    this.count += 1;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  add(other: LatencyHistogram): void {
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = 0;
  }

  /**
   * The smallest recorded value v such that at least `percentile` % of the values are <= v,
   * reported as its bucket's highest value clamped to the recorded min and max.
   */
  valueAtPercentile(percentile: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, percentile)) / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, highestValueAt(i)));
    }
    return this.max;
  }

  summary(): LatencySummaryUs {
    return {
      count: this.count,
      min: this.count === 0 ? 0 : this.min,
      mean: this.count === 0 ? 0 : this.sum / this.count,
      p50: this.valueAtPercentile(50),
      p90: this.valueAtPercentile(90),
      p99: this.valueAtPercentile(99),
      'p99.9': this.valueAtPercentile(99.9),
      max: this.max,
    };
  }

  /** Min, max and sum are not in the counters; a copy received from a worker carries them along. */
  toTransfer(): HistogramTransfer {
    return { counts: this.counts, count: this.count, min: this.min, max: this.max, sum: this.sum };
  }

  static fromTransfer(t: HistogramTransfer): LatencyHistogram {
    const h = new LatencyHistogram(t.counts);
    h.count = t.count;
    h.min = t.min;
    h.max = t.max;
    h.sum = t.sum;
    return h;
  }

  private recomputeTotals(): void {
    this.count = 0;
    this.sum = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      const c = this.counts[i]!;
      if (c === 0) continue;
      this.count += c;
      this.sum += c * highestValueAt(i);
      if (this.min === Infinity) this.min = highestValueAt(i);
      this.max = highestValueAt(i);
    }
  }
}

export interface HistogramTransfer {
  counts: Float64Array;
  count: number;
  min: number;
  max: number;
  sum: number;
}
