// Token buckets per key: burst, refill over time, Retry-After, and a bounded map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../src/ingest/rate-limiter.js';

test('a bucket allows the burst, then refills at the rate', () => {
  const rl = new RateLimiter(2, 3);
  assert.deepEqual([rl.take('k', 0), rl.take('k', 0), rl.take('k', 0)], [0, 0, 0]);
  assert.equal(rl.take('k', 0), 1, 'empty: retry after a second');
  assert.equal(rl.take('k', 500), 0, 'half a second at 2/s gives one token');
  assert.ok(rl.take('k', 500) >= 1);
  assert.equal(rl.take('other', 500), 0, 'keys are independent');
});

test('a slow rate tells the client to wait longer', () => {
  const rl = new RateLimiter(0.1, 1);
  assert.equal(rl.take('k', 0), 0);
  assert.equal(rl.take('k', 0), 10);
});

test('the map of keys is bounded: the oldest is dropped', () => {
  const rl = new RateLimiter(1, 1, 100);
  for (let i = 0; i < 1000; i++) rl.take(`k${i}`, 0);
  assert.equal(rl.size, 100);
});

test('scoped limits keep their own buckets in one bounded map', () => {
  const shared = new RateLimiter(1, 2, 100);
  const a = shared.scoped('a');
  const b = shared.scoped('b');
  assert.deepEqual([a.take('k', 0), a.take('k', 0)], [0, 0]);
  assert.equal(a.take('k', 0), 1, 'a spent its burst');
  assert.deepEqual([b.take('k', 0), b.take('k', 0)], [0, 0], 'the same key on another scope has its own bucket');
  for (let i = 0; i < 1000; i++) shared.scoped(`s${i}`).take('k', 0);
  assert.equal(shared.size, 100, 'every scope shares the one bound');
});
