// Token buckets per key: burst, refill over time, Retry-After, and a bounded map (in entries and in bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RateLimiter } from '../../src/ingest/rate-limiter.js';
import { errorCode, post, startIngest } from './ingest-fixture.js';

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

test('a wall clock stepped back refills nothing and refuses no more than the bucket does', () => {
  const rl = new RateLimiter(10, 10);
  const t = 1_800_000_000_000;
  for (let i = 0; i < 10; i++) rl.take('k', t);
  const hourBack = t - 3_600_000;
  assert.equal(rl.take('k', hourBack), 1, 'the empty bucket says a second, not the hour the clock went back');
  assert.equal(rl.take('k', hourBack + 1000), 0, 'a second later the rate has refilled it');
});

test('the map of keys is bounded: the oldest is dropped', () => {
  const rl = new RateLimiter(1, 1, 100);
  for (let i = 0; i < 1000; i++) rl.take(`k${i}`, 0);
  assert.equal(rl.size, 100);
});

test("a full map drops a refilled bucket, not an abuser's spent one", () => {
  const rl = new RateLimiter(1, 5, 100);
  const t = 1_800_000_000_000;
  for (let i = 0; i < 5; i++) assert.equal(rl.take('abuser', t), 0);
  assert.equal(rl.take('abuser', t), 1, 'the abuser spent its burst');
  // 99 addresses, one request each: the map is full. A second later their buckets have refilled, the abuser's has 1 token.
  for (let i = 0; i < 99; i++) rl.take(`k${i}`, t);
  for (let i = 0; i < 50; i++) rl.take(`late${i}`, t + 1000);
  assert.equal(rl.size, 100);
  // Before: the oldest bucket, the abuser's, was dropped first, and it came back with a full burst of 5.
  assert.equal(rl.take('abuser', t + 1000), 0, 'the one token a second gave it');
  assert.ok(rl.take('abuser', t + 1000) >= 1, 'still limited: the refilled buckets went first');
  // With nothing refilled, the oldest still goes: the map stays bounded.
  const full = new RateLimiter(1, 5, 10);
  for (let i = 0; i < 100; i++) full.take(`n${i}`, t);
  assert.equal(full.size, 10);
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

test('a bucket keeps only its key, not the request head the key was cut from', () => {
  // A header value is a V8 view into the whole request head; kept as a map key it would pin the head (up to
  // ingest.maxHeaderBytes) for as long as its bucket lives: 100k buckets of 16 KiB heads are 1.6 GB.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const rl = new RateLimiter(1, 1, 1000);
  const scoped = new RateLimiter(1, 1, 1000).scoped('s');
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 1000; i++) {
    const head = `X-Forwarded-For: 2001:db8::${i.toString(16)}\r\nX-Pad: ${'p'.repeat(64 * 1024)}`;
    const address = head.slice(17, head.indexOf('\r\n'));
    rl.take(address, 0);
    scoped.take(address, 0);
  }
  gc();
  const grownBytes = process.memoryUsage().heapUsed - before;
  assert.ok(grownBytes < 8 * 1024 * 1024, `2000 buckets hold ${grownBytes} bytes of heap`);
  assert.equal(rl.take('2001:db8::0', 0), 1, 'the copied key still finds its bucket');
});

test('a client address too long to store is refused before it takes a token or a bucket', async (t) => {
  const f = await startIngest(t, { overrides: { 'ingest.trustProxy': true, streams: { limited: { rateLimitPerSecond: 1, rateLimitBurst: 1 } } } });
  const headers = { 'x-forwarded-for': 'a'.repeat(2000) };
  for (let i = 0; i < 2; i++) {
    const r = await post(f.port, 'limited', '{}', headers);
    assert.equal(r.status, 400, `attempt ${i + 1}`);
    assert.equal(errorCode(r), 'HOPPER_METADATA_TOO_LARGE');
  }
  assert.equal((await post(f.port, 'limited', '{}')).status, 202);
  assert.equal((await post(f.port, 'limited', '{}')).status, 429);
});
