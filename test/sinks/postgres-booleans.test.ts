// A JSON boolean lands in every column type that can hold it: boolean, jsonb and text. COPY got
// PostgreSQL's short form t/f, which jsonb refuses ("Token "t" is invalid"): every event with a
// boolean bound to a jsonb column was dead-lettered, and a text column stored "t".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import postgresSink from '../../src/sinks/postgres-sink.js';
import { makeBatch, makeCtx, makeItem, scratchTable, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

test('JSON true and false land in boolean, jsonb and text columns as true and false', { skip }, async (t) => {
  const { db, table } = await scratchTable(t, url, 'hopper_b');
  await db.query(`CREATE TABLE ${table} (n int, b boolean, j jsonb, s text)`);
  const sink = postgresSink({ url, table, columns: { n: 'n', b: 'flag', j: 'flag', s: 'flag' } }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
  t.after(() => sink.stop?.(makeCtx()));
  const result = await sink.process(makeBatch([makeItem(0, '{"n":0,"flag":true}'), makeItem(1, '{"n":1,"flag":false}')]), makeCtx());
  assert.deepEqual((result?.failed ?? []).map((f) => f.reason), []);
  const { rows } = await db.query(`SELECT n, b, j, s FROM ${table} ORDER BY n`);
  assert.deepEqual(rows, [
    { n: 0, b: true, j: true, s: 'true' },
    { n: 1, b: false, j: false, s: 'false' },
  ]);
});
