// The default table made by someone else (a DBA, a migration) and written by a role that may insert into it but
// not create tables in its schema: the least-privilege setup, and PostgreSQL 15's default for the public schema.
// CREATE TABLE IF NOT EXISTS checks the schema privilege before it looks for the table, so the sink's start of
// every batch failed with 42501, nothing was ever written, and the records went to dead letters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgresSink from '../../src/sinks/postgres-sink.js';
import { defaultTableDdl } from '../../src/sinks/postgres-columns.js';
import { makeBatch, makeCtx, makeItem, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

test('an existing default table is written by a role that may insert but not create', { skip }, async (t) => {
  const schema = uniqueName('hopper_s');
  const role = uniqueName('hopper_r');
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  let sink: ReturnType<typeof postgresSink> | null = null;
  t.after(async () => {
    await sink?.stop?.(makeCtx());
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.query(`DROP ROLE IF EXISTS ${role}`);
    await db.end();
  });
  await db.query(`CREATE SCHEMA ${schema}`);
  await db.query(defaultTableDdl(`${schema}.events`));
  // Trust authentication in the test server: the role logs in without a password.
  await db.query(`CREATE ROLE ${role} LOGIN`);
  await db.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
  await db.query(`GRANT SELECT, INSERT ON ${schema}.events TO ${role}`);
  const asRole = new URL(url);
  asRole.username = role;
  asRole.password = '';
  sink = postgresSink({ url: asRole.toString(), table: `${schema}.events` }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
  const result = await sink.process(makeBatch([makeItem(0, '{"a":1}')]), makeCtx());
  assert.deepEqual(result?.failed ?? [], []);
  const { rows } = await db.query(`SELECT data FROM ${schema}.events`);
  assert.deepEqual(rows, [{ data: { a: 1 } }]);
});
