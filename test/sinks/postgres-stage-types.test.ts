// The stage a redelivered batch goes through (COPY into it, INSERT ... ON CONFLICT DO NOTHING from it)
// has the table's column types of now: after an ALTER TABLE ... TYPE, a value the table takes is not
// refused by a stage made before it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import postgresSink from '../../src/sinks/postgres-sink.js';
import { makeBatch, makeCtx, makeItem, scratchTable, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

test('a column whose type changed mid-run: a redelivered batch goes through a stage of the new type, nothing is dead-lettered', { skip }, async (t) => {
  const { db, table } = await scratchTable(t, url, 'hopper_t');
  await db.query(`CREATE TABLE ${table} (s text, p integer, o bigint, i integer, v integer, PRIMARY KEY (s, p, o, i))`);
  // One connection, so the redelivered batch meets the session that wrote the first one.
  const sink = postgresSink({ url, table, poolMax: 1, columns: { s: '$stream', p: '$partition', o: '$offset', i: '$index', v: 'v' } }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
  t.after(() => sink.stop?.(makeCtx()));
  assert.deepEqual((await sink.process(makeBatch([makeItem(0, '{"v":1}')]), makeCtx()))?.failed ?? [], []);
  await db.query(`ALTER TABLE ${table} ALTER COLUMN v TYPE text`);
  // Record 0 is stored already (so the batch takes the stage); record 1's value is fine for a text column.
  const result = await sink.process(makeBatch([makeItem(0, '{"v":1}'), makeItem(1, '{"v":"abc"}')]), makeCtx());
  assert.deepEqual((result?.failed ?? []).map((f) => [f.item.offset, f.reason]), []);
  const { rows } = await db.query(`SELECT o::int, v FROM ${table} ORDER BY o`);
  assert.deepEqual(rows, [
    { o: 0, v: '1' },
    { o: 1, v: 'abc' },
  ]);
});
