// X-Request-Id: a short, plain id from the client is kept (echoed and stored); anything else
// (too long, spaces, quotes, control or non-ASCII characters) is replaced by a generated one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_REQUEST_ID_CHARS, requestIdFrom } from '../../src/ingest/request-id.js';

test('a sane client id is kept; an odd or oversized one is replaced by a fresh generated id', () => {
  for (const sane of ['req-123', 'a', 'trace:abc/def+1=@x.y_z', 'x'.repeat(MAX_REQUEST_ID_CHARS)]) assert.equal(requestIdFrom(sane), sane);
  const generated = new Set<string>();
  for (const odd of [undefined, '', 'x'.repeat(MAX_REQUEST_ID_CHARS + 1), 'has space', 'quote"d', 'new\nline', 'tab\there', 'ünï', '<script>', 'a,b']) {
    const id = requestIdFrom(odd);
    assert.notEqual(id, odd);
    assert.match(id, /^[A-Za-z0-9_-]+-[0-9a-z]+$/);
    generated.add(id);
  }
  assert.equal(generated.size, 10, 'every generated id is new');
});
