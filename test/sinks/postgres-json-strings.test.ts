// An event field holding a JSON string, bound to a json or jsonb column, lands as that JSON string. COPY got
// the string's bare text, which the column parsed as JSON: "red" was dead-lettered (invalid input syntax for
// type json), "123" became the number 123 and "{\"admin\":true}" an object, in silence. The column types are
// read in the transaction that writes, so a column altered from jsonb to text mid-run gets the bare text again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgresSink from '../../src/sinks/postgres-sink.js';
import { makeBatch, makeCtx, makeItem, scratchTable, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

test('a JSON string bound to a json, jsonb or jsonb-domain column lands as a JSON string, in a text column as its text', { skip }, async (t) => {
  const { db, table } = await scratchTable(t, url, 'hopper_js');
  const domain = `${table}_d`;
  // Runs after scratchTable's hook (hooks run in the order they were added), once the table using it is gone.
  t.after(async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP DOMAIN IF EXISTS ${domain}`).finally(() => admin.end());
  });
  await db.query(`CREATE DOMAIN ${domain} AS jsonb`);
  await db.query(`CREATE TABLE ${table} (n int, jb jsonb, j json, d ${domain}, s text)`);
  const sink = postgresSink({ url, table, columns: { n: 'n', jb: 'v', j: 'v', d: 'v', s: 'v' } }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
  t.after(() => sink.stop?.(makeCtx()));
  const values: unknown[] = ['red', '123', '{"admin":true}', 'tab\there \\N', 7, { a: ['x'] }, null];
  const items = values.map((v, n) => makeItem(n, JSON.stringify({ n, v })));
  const result = await sink.process(makeBatch(items), makeCtx());
  assert.deepEqual((result?.failed ?? []).map((f) => f.reason), []);
  const { rows } = await db.query(`SELECT n, jb, j::text AS j, d, s FROM ${table} ORDER BY n`);
  assert.deepEqual(
    rows.map((r) => [r.jb, r.j === null ? null : JSON.parse(r.j as string), r.d, r.s]),
    values.map((v) => [v, v, v, v === null ? null : typeof v === 'string' ? v : JSON.stringify(v)]),
  );

  // Altered to text while the sink runs: the bare text again, not a quoted JSON string.
  await db.query(`ALTER TABLE ${table} ALTER COLUMN jb TYPE text USING jb::text`);
  const again = await sink.process(makeBatch([makeItem(100, '{"n":100,"v":"blue"}')]), makeCtx());
  assert.deepEqual((again?.failed ?? []).map((f) => f.reason), []);
  const { rows: after } = await db.query(`SELECT jb, s FROM ${table} WHERE n = 100`);
  assert.deepEqual(after, [{ jb: 'blue', s: 'blue' }]);
});
