// Which unique key of a table the postgres sink treats as its redelivery key: only one that names a
// single event (stream + partition + offset + index, or stream + idempotency key + index), never a
// constraint of the user's data, nor a key several events share (ON CONFLICT DO NOTHING would drop them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_COLUMNS, redeliveryKey } from '../../src/sinks/postgres-columns.js';

const mapping = { part: '$partition', off: '$offset', idx: '$index', code: 'code', ik: '$idempotencyKey', s: '$stream', at: '$receivedAt' };

test('the redelivery key is the first unique key fed only by position or idempotency sources that names one event', () => {
  assert.deepEqual(redeliveryKey(DEFAULT_COLUMNS, [['stream', 'partition', 'offset', 'idx']]), ['stream', 'partition', 'offset', 'idx']);
  // Column order does not matter; the first qualifying key wins, the primary key being listed first.
  assert.deepEqual(redeliveryKey(mapping, [['off', 'idx', 's', 'part'], ['s', 'ik', 'idx']]), ['off', 'idx', 's', 'part']);
  assert.deepEqual(redeliveryKey(mapping, [['idx', 'ik', 's']]), ['idx', 'ik', 's']);
  // More redelivery columns than needed still name one event.
  assert.deepEqual(redeliveryKey(mapping, [['s', 'part', 'off', 'idx', 'ik']]), ['s', 'part', 'off', 'idx', 'ik']);
  // A key over a data column is the user's constraint, whatever columns it shares with the position.
  assert.deepEqual(redeliveryKey(mapping, [['code'], ['s', 'part', 'off', 'idx', 'code'], ['s', 'off', 'idx', 'part']]), ['s', 'off', 'idx', 'part']);
  assert.equal(redeliveryKey(mapping, [['s', 'part', 'off', 'idx', 'at']]), null);
});

test('keys that several events share are no redelivery key: (off), (part, off), (ik), and any key without the index or the stream', () => {
  // The events of one NDJSON record share the offset; other partitions repeat it; one request's events share the key.
  for (const key of [['off'], ['part', 'off'], ['ik'], ['s', 'ik'], ['ik', 'idx'], ['s', 'part', 'off'], ['off', 'idx'], ['part', 'off', 'idx'], ['s', 'off', 'idx']]) {
    assert.equal(redeliveryKey(mapping, [key]), null, key.join(','));
  }
  // The default table's columns without the stream column: another pipeline's stream could write the same position.
  assert.equal(redeliveryKey({ partition: '$partition', offset: '$offset', idx: '$index' }, [['partition', 'offset', 'idx']]), null);
  // Stream and partition alone do not tell one record from another.
  assert.equal(redeliveryKey(mapping, [['s', 'part']]), null);
  // A column the mapping does not feed (a serial id, say) cannot be repeated by a redelivery.
  assert.equal(redeliveryKey(mapping, [['id'], ['id', 's', 'part', 'off', 'idx']]), null);
  assert.equal(redeliveryKey(mapping, []), null);
  // A rejected key before a qualifying one is passed over.
  assert.deepEqual(redeliveryKey(mapping, [['part', 'off'], ['s', 'part', 'off', 'idx']]), ['s', 'part', 'off', 'idx']);
});
