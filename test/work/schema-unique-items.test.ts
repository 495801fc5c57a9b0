// ajv checks "uniqueItems" by comparing every pair of items unless their type is a known scalar: with such a
// schema, an event holding 10,000 small objects (100 KB of JSON) held the worker's event loop for seconds,
// a larger body for hours. Items are now compared in one pass, with the same notion of equality.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSchema } from '../../src/work/decode/schema-check.js';

const validate = compileSchema('s', { type: 'object', properties: { tags: { type: 'array', uniqueItems: true } } });

test('a large array under uniqueItems is checked in one pass over its items', () => {
  // Property reads counted through a Proxy, not time: a pairwise check reads each item's fields ~n times.
  let reads = 0;
  const counted = <T extends object>(o: T): T =>
    new Proxy(o, {
      get(target, key, receiver) {
        reads++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
  const n = 2000;
  const tags = Array.from({ length: n }, (_, i) => counted({ i, name: `tag-${i}` }));
  assert.equal(validate({ tags }), null);
  tags.push(counted({ i: 17, name: 'tag-17' }));
  assert.match(validate({ tags }) ?? '', /^\/tags must NOT have duplicate items \(items ## 17 and 2000 are identical\)/);
  assert.ok(reads < 20 * n, `${reads} property reads for ${n} items`);
});

test('items are equal as JSON Schema says: deep, whatever the key order; of different types never', () => {
  const dup = (tags: unknown[]): boolean => validate({ tags }) !== null;
  assert.equal(dup([{ a: 1, b: [2, { c: 3 }] }, { b: [2, { c: 3 }], a: 1 }]), true);
  assert.equal(dup([[1, 2], [1, 2]]), true);
  assert.equal(dup([1, 1.0]), true);
  assert.equal(dup(['x', 'y', 'x']), true);
  assert.equal(dup([1, '1', true, 'true', null, 'null', {}, [], '{}', '[]', Infinity, 'Infinity', [1, 2], [2, 1], { a: 1 }, { a: '1' }]), false);
  const lenient = compileSchema('s', { type: 'array', uniqueItems: false });
  assert.equal(lenient([1, 1]), null);
  const nested = compileSchema('s', { type: 'object', properties: { a: { type: 'object', properties: { b: { uniqueItems: true } } } } });
  assert.equal(nested({ a: { b: [{ x: 1 }, { x: 1 }] } }), '/a/b must NOT have duplicate items (items ## 0 and 1 are identical)');
  assert.equal(nested({ a: { b: 'not an array' } }), null);
});
