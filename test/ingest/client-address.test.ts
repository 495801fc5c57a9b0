// The stored client address with and without trusted proxies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientAddress } from '../../src/ingest/client-address.js';

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
