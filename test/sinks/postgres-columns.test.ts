// Which unique key of a table the postgres sink treats as its redelivery key:
// only one over position / idempotency columns, never a constraint of the user's data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_COLUMNS, redeliveryKey } from '../../src/sinks/postgres-columns.js';

test('the redelivery key is the first unique key fed only by position or idempotency sources', () => {
  assert.deepEqual(redeliveryKey(DEFAULT_COLUMNS, [['stream', 'partition', 'offset', 'idx']]), ['stream', 'partition', 'offset', 'idx']);
  const mapping = { part: '$partition', off: '$offset', idx: '$index', code: 'code', ik: '$idempotencyKey', s: '$stream' };
  // A key over a data column is the user's constraint, whatever columns it shares with the position.
  assert.deepEqual(redeliveryKey(mapping, [['code'], ['part', 'off', 'code'], ['off', 'idx', 'part']]), ['off', 'idx', 'part']);
  assert.deepEqual(redeliveryKey(mapping, [['ik']]), ['ik']);
  // Stream and partition alone do not tell one record from another.
  assert.equal(redeliveryKey(mapping, [['s', 'part']]), null);
  // A column the mapping does not feed (a serial id, say) cannot be repeated by a redelivery.
  assert.equal(redeliveryKey(mapping, [['id'], ['id', 'off']]), null);
  assert.equal(redeliveryKey(mapping, []), null);
});
