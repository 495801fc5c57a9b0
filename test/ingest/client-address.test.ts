// The stored client address with and without trusted proxies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientAddress } from '../../src/ingest/client-address.js';
import { post, readAll, startIngest } from './ingest-fixture.js';

test('X-Forwarded-For is used only as far as proxies are trusted', () => {
  const xff = '203.0.113.9, 10.0.0.7, 10.0.0.8';
  assert.equal(clientAddress('127.0.0.1', xff, false), '127.0.0.1');
  assert.equal(clientAddress('127.0.0.1', xff, 0), '127.0.0.1');
  assert.equal(clientAddress('127.0.0.1', xff, 1), '10.0.0.8');
  assert.equal(clientAddress('127.0.0.1', xff, 2), '10.0.0.7');
  assert.equal(clientAddress('127.0.0.1', xff, 3), '203.0.113.9');
  assert.equal(clientAddress('127.0.0.1', xff, 10), '203.0.113.9', 'more trusted hops than entries: the leftmost');
  assert.equal(clientAddress('127.0.0.1', xff, true), '203.0.113.9');
  assert.equal(clientAddress('127.0.0.1', undefined, true), '127.0.0.1');
  assert.equal(clientAddress(undefined, undefined, false), '', 'a unix socket has no peer address');
});

test('a hop reported with its port (Azure Application Gateway) is stored without it, as the socket peer is', () => {
  assert.equal(clientAddress('10.0.0.1', '203.0.113.9:53124', 1), '203.0.113.9');
  assert.equal(clientAddress('10.0.0.1', '[2001:db8::1]:53124, 10.0.0.7', true), '2001:db8::1');
  assert.equal(clientAddress('10.0.0.1', '[2001:db8::1]', 1), '2001:db8::1');
  assert.equal(clientAddress('10.0.0.1', '2001:db8::1', 1), '2001:db8::1', 'an IPv6 address is not cut at a colon');
  assert.equal(clientAddress('10.0.0.1', '::ffff:203.0.113.9', 1), '::ffff:203.0.113.9');
  assert.equal(clientAddress('10.0.0.1', '203.0.113.9', 1), '203.0.113.9');
  assert.equal(clientAddress('10.0.0.1', '[]:80', 1), '[]:80', 'nothing inside the brackets: kept as sent');
});

test('behind a proxy that adds ports, a client is rate limited by its address, not per connection', async (t) => {
  const f = await startIngest(t, { overrides: { 'ingest.trustProxy': 1, streams: { r: { rateLimitPerSecond: 1 } } } });
  const first = await post(f.port, 'r', 'a', { 'x-forwarded-for': '203.0.113.9:1111' });
  assert.equal(first.status, 202);
  const second = await post(f.port, 'r', 'b', { 'x-forwarded-for': '203.0.113.9:2222' });
  assert.equal(second.status, 429, 'a new source port is the same client');
  assert.deepEqual((await readAll(f.log, 'r')).map((r) => r.remoteAddress), ['203.0.113.9']);
});
