// A table COPY cannot write at all: row-level security on, for a role it applies to (0A000 "COPY FROM not supported
// with row-level security"). Sorted as an unknown failure, the runtime retried the batch, bisected it, and gave
// every record maxAttempts calls of its own before its dead letter (minutes per batch). Like a missing table or
// column (class 42), the statement cannot work for any row: the batch's records fail at once with PostgreSQL's
// message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgresSink from '../../src/sinks/postgres-sink.js';
import { makeBatch, makeCtx, makeItem, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

test('a table with row-level security, written by a role it applies to: every record fails at once', { skip }, async (t) => {
  const table = uniqueName('hopper_rls');
  const role = uniqueName('hopper_r');
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  let sink: ReturnType<typeof postgresSink> | null = null;
  t.after(async () => {
    await sink?.stop?.(makeCtx());
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.query(`DROP ROLE IF EXISTS ${role}`);
    await db.end();
  });
  await db.query(`CREATE TABLE ${table} (n int)`);
  await db.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
  await db.query(`CREATE POLICY everyone ON ${table} USING (true) WITH CHECK (true)`);
  // Trust authentication in the test server: the role logs in without a password.
  await db.query(`CREATE ROLE ${role} LOGIN`);
  await db.query(`GRANT SELECT, INSERT ON ${table} TO ${role}`);
  const asRole = new URL(url);
  asRole.username = role;
  asRole.password = '';
  sink = postgresSink({ url: asRole.toString(), table, columns: { n: 'n' } }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
  const result = await sink.process(makeBatch([makeItem(0, '{"n":0}'), makeItem(1, '{"n":1}')]), makeCtx());
  const failed = result?.failed ?? [];
  assert.deepEqual(
    failed.map((f) => f.item.offset),
    [0, 1],
  );
  for (const f of failed) assert.match(f.reason, /^postgres 0A000: COPY FROM not supported with row-level security/);
});
