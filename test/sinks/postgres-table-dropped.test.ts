// The default table dropped while the sink runs (createTable on): the next batch makes it again, as the
// first batch did, instead of sending every record to dead letters with 42P01 until a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import postgresSink from '../../src/sinks/postgres-sink.js';
import { makeBatch, makeCtx, makeItem, scratchTable, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

test('a default table dropped while running is created again; the batch lands, nothing is dead-lettered', { skip }, async (t) => {
  const { db, table } = await scratchTable(t, url, 'hopper_t');
  const sink = postgresSink({ url, table }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
  t.after(() => sink.stop?.(makeCtx()));
  assert.deepEqual((await sink.process(makeBatch([makeItem(0, '{"a":0}')]), makeCtx()))?.failed ?? [], []);
  await db.query(`DROP TABLE ${table}`);
  const result = await sink.process(makeBatch([makeItem(1, '{"a":1}'), makeItem(2, '{"a":2}')]), makeCtx());
  assert.deepEqual((result?.failed ?? []).map((f) => [f.item.offset, f.reason]), []);
  const { rows } = await db.query(`SELECT "offset"::int AS o, data FROM ${table} ORDER BY "offset"`);
  assert.deepEqual(rows, [{ o: 1, data: { a: 1 } }, { o: 2, data: { a: 2 } }]);
});

test('with columns the table is the user\'s: a missing one is still the batch\'s dead letters, never created', { skip }, async (t) => {
  const table = uniqueName('hopper_t');
  const sink = postgresSink({ url, table, columns: { v: 'v' } }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
  t.after(() => sink.stop?.(makeCtx()));
  const result = await sink.process(makeBatch([makeItem(0, '{"v":1}')]), makeCtx());
  assert.deepEqual((result?.failed ?? []).map((f) => f.reason), [`postgres 42P01: relation "${table}" does not exist`]);
});
