// A batch whose write runs past statementTimeoutMs (57014) because of its size (a slow trigger here) was retried
// whole as "unavailable", failed the same way every time, and its partition stopped for good with nothing written.
// The sink now tries halves at once; a record too slow alone is retriable, never a dead letter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgresSink from '../../src/sinks/postgres-sink.js';
import { isHopperError } from '../../src/errors.js';
import { isRetriable } from '../../src/work/retriable-error.js';
import { makeBatch, makeCtx, makeItem, scratchTable, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

test('a batch too slow for statementTimeoutMs is written in halves; a record too slow alone is retriable', { skip, timeout: 60_000 }, async (t) => {
  const { db, table } = await scratchTable(t, url, 'hopper_st');
  await db.query(`CREATE TABLE ${table} (n int)`);
  // 25 ms a row, 1 s for n = 99: 16 rows take 400 ms, past the 150 ms limit; 4 rows take 100 ms.
  await db.query(
    `CREATE FUNCTION ${table}_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(CASE WHEN NEW.n = 99 THEN 1 ELSE 0.025 END); RETURN NEW; END $$`,
  );
  // Runs after scratchTable's hook (in the order added), whose client is closed by then.
  t.after(async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP FUNCTION IF EXISTS ${table}_slow() CASCADE`).finally(() => admin.end());
  });
  await db.query(`CREATE TRIGGER slow BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_slow()`);
  const sink = postgresSink({ url, table, columns: { n: 'n' }, statementTimeoutMs: 150 }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
  t.after(() => sink.stop?.(makeCtx()));

  const items = Array.from({ length: 16 }, (_, n) => makeItem(n, JSON.stringify({ n })));
  const result = await sink.process(makeBatch(items), makeCtx());
  assert.deepEqual(result?.failed ?? [], []);
  const { rows } = await db.query<{ n: number }>(`SELECT n FROM ${table} ORDER BY n`);
  assert.deepEqual(
    rows.map((r) => r.n),
    items.map((_, n) => n),
  );

  await assert.rejects(
    Promise.resolve(sink.process(makeBatch([makeItem(99, '{"n":99}')]), makeCtx())),
    (err: unknown) => isHopperError(err, 'HOPPER_SINK_UNAVAILABLE') && isRetriable(err) && /57014/.test((err as Error).message),
  );
});

test('a record too slow alone: the retries of its batch do not write again the records its halves wrote', { skip, timeout: 60_000 }, async (t) => {
  const { db, table } = await scratchTable(t, url, 'hopper_sd');
  // No unique key: nothing tells a row written twice.
  await db.query(`CREATE TABLE ${table} (n int)`);
  await db.query(
    `CREATE FUNCTION ${table}_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(CASE WHEN NEW.n = 99 THEN 1 ELSE 0 END); RETURN NEW; END $$`,
  );
  t.after(async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP FUNCTION IF EXISTS ${table}_slow() CASCADE`).finally(() => admin.end());
  });
  await db.query(`CREATE TRIGGER slow BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_slow()`);
  const sink = postgresSink({ url, table, columns: { n: 'n' }, statementTimeoutMs: 150 }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
  t.after(() => sink.stop?.(makeCtx()));

  // The runtime retries a batch thrown back as unavailable with the same records, for as long as it fails.
  const items = [0, 1, 2, 99, 4, 5, 6, 7].map((n) => makeItem(n, JSON.stringify({ n })));
  for (let retry = 0; retry < 3; retry++) {
    await assert.rejects(Promise.resolve(sink.process(makeBatch(items), makeCtx())), (err: unknown) => isHopperError(err, 'HOPPER_SINK_UNAVAILABLE'));
  }
  const { rows } = await db.query<{ n: number }>(`SELECT n FROM ${table} ORDER BY n`);
  // Halves depth first: [0, 1], [2], then 99 alone throws the batch back (4 to 7 wait for it).
  assert.deepEqual(
    rows.map((r) => r.n),
    [0, 1, 2],
    'each record written once over three retries',
  );
  await db.query(`DROP TRIGGER slow ON ${table}`);
  assert.deepEqual((await sink.process(makeBatch(items), makeCtx()))?.failed ?? [], []);
  const after = await db.query<{ n: number }>(`SELECT n FROM ${table} ORDER BY n`);
  assert.deepEqual(
    after.rows.map((r) => r.n),
    [0, 1, 2, 4, 5, 6, 7, 99],
  );
});
