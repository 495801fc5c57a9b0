// The histogram's percentiles against known latency distributions, within its stated precision.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HISTOGRAM_MAX_US, HISTOGRAM_RELATIVE_PRECISION, LatencyHistogram } from '../../src/bench/latency-histogram.js';

/** The exact percentile of a sorted sample, by the same definition: the smallest value with >= p % at or below it. */
/** Nearest rank, in integers: (99.9 / 100) * 3000 is 2997.0000000000005 in floating point, and its ceiling one rank too far. */
function exactPercentile(sorted: number[], p: number): number {
  const rank = Math.ceil((Math.round(p * 1000) * sorted.length) / 100_000);
  return sorted[Math.max(1, rank) - 1]!;
}

function assertClose(actual: number, expected: number, what: string): void {
  const tolerance = Math.max(1, expected * HISTOGRAM_RELATIVE_PRECISION);
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: got ${actual}, expected ${expected} within ${tolerance}`);
}

test('uniform latencies 1 µs .. 100 ms: every percentile within the precision', () => {
  const h = new LatencyHistogram();
  const n = 100_000;
  for (let v = 1; v <= n; v++) h.record(v);
  for (const p of [50, 90, 99, 99.9]) assertClose(h.valueAtPercentile(p), Math.ceil((p / 100) * n), `p${p}`);
  const s = h.summary();
  assert.equal(s.count, n);
  assert.equal(s.min, 1);
  assert.equal(s.max, n);
  assert.equal(s.mean, (n + 1) / 2);
  assert.equal(h.valueAtPercentile(100), n);
});

test('below 2048 µs every value is its own bucket: percentiles are exact', () => {
  const h = new LatencyHistogram();
  const sorted: number[] = [];
  for (let v = 0; v < 2048; v++) for (let k = 0; k < 1 + (v % 3); k++) {
    h.record(v);
    sorted.push(v);
  }
  for (const p of [1, 25, 50, 90, 99, 99.9]) assert.equal(h.valueAtPercentile(p), exactPercentile(sorted, p), `p${p}`);
});

test('constant latency: every percentile is the value itself', () => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 10_000; i++) h.record(1234);
  const s = h.summary();
  assert.deepEqual([s.p50, s.p90, s.p99, s['p99.9'], s.max, s.min], [1234, 1234, 1234, 1234, 1234, 1234]);
});

test('bimodal latency (90 % at 200 µs, 10 % at 50 ms): percentiles land in the right mode', () => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 9000; i++) h.record(200);
  for (let i = 0; i < 1000; i++) h.record(50_000);
  const s = h.summary();
  assert.equal(s.p50, 200);
  assert.equal(s.p90, 200, 'rank 9000 of 10000 is still the fast mode');
  assertClose(s.p99, 50_000, 'p99');
  assertClose(s['p99.9'], 50_000, 'p99.9');
  assert.equal(s.max, 50_000);
  assert.equal(h.valueAtPercentile(90.01), 50_000, 'one rank further is the slow mode');
});

test('random log-normal samples: percentiles within the precision of the exact ones, and merging equals recording all (also across a transfer)', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 18, noNaN: true }), { minLength: 1, maxLength: 3000, size: 'max' }), (logs) => {
      const values = logs.map((l) => Math.floor(Math.exp(l)));
      const whole = new LatencyHistogram();
      const left = new LatencyHistogram();
      const right = new LatencyHistogram();
      values.forEach((v, i) => {
        whole.record(v);
        (i % 2 === 0 ? left : right).record(v);
      });
      left.add(LatencyHistogram.fromTransfer(structuredClone(right.toTransfer())));
      const sorted = [...values].sort((a, b) => a - b);
      for (const p of [50, 90, 99, 99.9]) {
        assertClose(whole.valueAtPercentile(p), exactPercentile(sorted, p), `p${p}`);
        assert.equal(left.valueAtPercentile(p), whole.valueAtPercentile(p));
      }
      assert.equal(whole.summary().max, sorted[sorted.length - 1]);
    }),
    { numRuns: 200 },
  );
});

test('out-of-range values are clamped, not lost; a transfer round trip keeps everything', () => {
  const h = new LatencyHistogram();
  h.record(-5);
  h.record(0.7);
  h.record(HISTOGRAM_MAX_US * 4);
  assert.equal(h.count, 3);
  assert.equal(h.min, 0);
  assert.equal(h.max, HISTOGRAM_MAX_US);
  const copy = LatencyHistogram.fromTransfer(structuredClone(h.toTransfer())); // what postMessage does
  assert.deepEqual(copy.summary(), h.summary());
  assert.equal(new LatencyHistogram().valueAtPercentile(99), 0, 'empty histogram reports 0');
});
