// Retry-After is read as delay-seconds or an IMF-fixdate only; anything else is unreadable
// (null: the http sink falls back to its backoff), never a date in 2001 that means "no wait".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryAfterMs } from '../../src/sinks/retry-after.js';

const now = Date.parse('2026-01-01T00:00:00Z');

test('delay-seconds and IMF-fixdate are read', () => {
  assert.equal(retryAfterMs('0', now), 0);
  assert.equal(retryAfterMs(' 120 ', now), 120_000);
  assert.equal(retryAfterMs(['7', '9'], now), 7_000);
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
  assert.equal(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:60 GMT', now), 59_000);
});

test('values that are neither are unreadable, not dates in the past', () => {
  for (const v of ['-1', '1.5', '12 13', '+5', '1e3', 'soon', '2026-01-01T00:01:00Z', 'Thursday, 01-Jan-26 00:00:30 GMT',
    'Thu Jan  1 00:00:30 2026', 'Thu, 01 Jan 2026 00:00:30 UTC', 'Thu, 1 Jan 2026 00:00:30 GMT', 'Thu, 31 Feb 2026 00:00:30 GMT',
    'Thu, 01 Jan 2026 24:00:00 GMT', 'Thu, 01 Jan 2026 00:00:30 GMT junk']) {
    assert.equal(retryAfterMs(v, now), null, JSON.stringify(v));
  }
  assert.equal(retryAfterMs(undefined, now), null);
  assert.equal(retryAfterMs('', now), null);
});
