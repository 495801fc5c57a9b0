// Rows refused by the table for their own content, outside classes 22 and 23: a validating trigger's RAISE
// EXCEPTION (P0001) and a value too large for its index (54000, "index row size exceeds maximum"). Thrown as unknown
// failures, each batch holding one was retried maxAttempts times, bisected, and the row got maxAttempts calls of its
// own before its dead letter (seconds per bad row, the rest of its batch waiting). Like a bad value, the COPY error
// names its line: the record is a dead letter at once, the rest of the batch is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import postgresSink from '../../src/sinks/postgres-sink.js';
import { makeBatch, makeCtx, makeItem, scratchTable, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

test("a trigger's RAISE EXCEPTION and a value too large for its index make that record a dead letter at once", { skip }, async (t) => {
  const { db, table } = await scratchTable(t, url, 'hopper_rr');
  // Runs after scratchTable's hook (in the order added), whose client is closed by then.
  t.after(async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP FUNCTION IF EXISTS ${table}_check() CASCADE`).finally(() => admin.end());
  });
  await db.query(`CREATE TABLE ${table} (n int, tag text)`);
  await db.query(`CREATE INDEX ON ${table} (tag)`);
  await db.query(
    `CREATE FUNCTION ${table}_check() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.n < 0 THEN RAISE EXCEPTION 'n must not be negative, got %', NEW.n; END IF; RETURN NEW; END $$`,
  );
  await db.query(`CREATE TRIGGER check_n BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_check()`);
  const sink = postgresSink({ url, table, columns: { n: 'n', tag: 'tag' } }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
  t.after(() => sink.stop?.(makeCtx()));

  const huge = randomBytes(10_000).toString('hex'); // incompressible: past btree's 2704-byte limit
  const events = [{ n: 0 }, { n: -1 }, { n: 2 }, { n: 3, tag: huge }, { n: 4 }];
  const result = await sink.process(makeBatch(events.map((e, i) => makeItem(i, JSON.stringify(e)))), makeCtx());
  const failed = (result?.failed ?? []).map((f) => [f.item.offset, f.reason.slice(0, 60)]);
  assert.deepEqual(failed.map(([offset]) => offset).sort(), [1, 3]);
  assert.match(String(failed.find(([o]) => o === 1)?.[1]), /^postgres P0001: n must not be negative, got -1/);
  assert.match(String(failed.find(([o]) => o === 3)?.[1]), /^postgres 54000: index row/);
  const { rows } = await db.query<{ n: number }>(`SELECT n FROM ${table} ORDER BY n`);
  assert.deepEqual(
    rows.map((r) => r.n),
    [0, 2, 4],
  );
});

test('a RAISE EXCEPTION naming no row (a statement trigger pausing writes) is no dead letter: the batch is thrown back', { skip }, async (t) => {
  const { db, table } = await scratchTable(t, url, 'hopper_rp');
  t.after(async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP FUNCTION IF EXISTS ${table}_paused() CASCADE`).finally(() => admin.end());
  });
  await db.query(`CREATE TABLE ${table} (n int)`);
  await db.query(`CREATE FUNCTION ${table}_paused() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'writes paused for maintenance'; END $$`);
  await db.query(`CREATE TRIGGER paused BEFORE INSERT ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${table}_paused()`);
  const sink = postgresSink({ url, table, columns: { n: 'n' } }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
  t.after(() => sink.stop?.(makeCtx()));

  const items = [0, 1, 2, 3].map((n) => makeItem(n, JSON.stringify({ n })));
  // Not a row's fault: bisected as one, every record of the batch was a dead letter at once.
  await assert.rejects(Promise.resolve(sink.process(makeBatch(items), makeCtx())), /writes paused for maintenance/);
  await db.query(`DROP TRIGGER paused ON ${table}`);
  const result = await sink.process(makeBatch(items), makeCtx());
  assert.deepEqual(result?.failed ?? [], []);
  const { rows } = await db.query<{ n: number }>(`SELECT n FROM ${table} ORDER BY n`);
  assert.deepEqual(
    rows.map((r) => r.n),
    [0, 1, 2, 3],
  );
});
