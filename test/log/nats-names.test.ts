// NATS name mapping: every valid Hopper stream/group name maps to a legal JetStream
// name and subject token, two different names never map to the same one, and the
// mapping reads back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { escapeName, jsStreamName, parseSubject, partitionSubject, unescapeName } from '../../src/log/nats/nats-names.js';

const hopperName = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/).filter((s) => s !== '.' && s !== '..');
const prefix = fc.stringMatching(/^[A-Za-z0-9_-]{1,8}(\.[A-Za-z0-9_-]{1,8}){0,2}$/);
const partition = fc.integer({ min: 0, max: 999_999 });

test('escaped names are legal JetStream names and read back', () => {
  fc.assert(
    fc.property(hopperName, (name) => {
      const e = escapeName(name);
      assert.match(e, /^[A-Za-z0-9_-]+$/);
      assert.equal(unescapeName(e), name);
    }),
  );
});

test('stream names and subjects are injective and subjects parse back', () => {
  fc.assert(
    fc.property(prefix, hopperName, partition, prefix, hopperName, partition, (p1, s1, n1, p2, s2, n2) => {
      const same = p1 === p2 && s1 === s2 && n1 === n2;
      assert.equal(jsStreamName(p1, s1, n1) === jsStreamName(p2, s2, n2), same);
      assert.equal(partitionSubject(p1, s1, n1) === partitionSubject(p2, s2, n2), same);
      assert.deepEqual(parseSubject(p1, partitionSubject(p1, s1, n1)), { stream: s1, partition: n1 });
    }),
  );
});

test('names that were not written by Hopper do not parse', () => {
  assert.equal(parseSubject('hopper', 'other.events.0'), null);
  assert.equal(parseSubject('hopper', 'hopper.events.x'), null);
  assert.equal(parseSubject('hopper', 'hopper.a_2Xb.0'), null);
  assert.equal(parseSubject('hopper', 'hopper.a.b.0'), null);
});
