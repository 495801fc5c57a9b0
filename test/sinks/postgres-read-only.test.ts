// A server that takes no writes for now (a primary demoted to a hot standby by a failover, a database set
// read-only for maintenance) fails each statement with 25006 read_only_sql_transaction: the records are not
// at fault, so the batch waits (HOPPER_SINK_UNAVAILABLE) instead of going to dead letters after maxAttempts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import postgresSink from '../../src/sinks/postgres-sink.js';
import { isHopperError } from '../../src/errors.js';
import { isRetriable } from '../../src/work/retriable-error.js';
import { makeBatch, makeCtx, makeItem, scratchTable, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

/** The same server, in sessions whose transactions are read-only, as on a hot standby. */
function readOnly(base: string): string {
  const u = new URL(base);
  u.searchParams.set('options', '-c default_transaction_read_only=on');
  return u.toString();
}

test('a read-only server (25006) is retriable HOPPER_SINK_UNAVAILABLE, for the default table and a mapped one', { skip }, async (t) => {
  const { db, table } = await scratchTable(t, url, 'hopper_ro');
  await db.query(`CREATE TABLE ${table} (v int)`);
  for (const options of [{ table: uniqueName('hopper_ro') }, { table, columns: { v: 'v' } }]) {
    const sink = postgresSink({ url: readOnly(url), ...options }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
    t.after(() => sink.stop?.(makeCtx()));
    await assert.rejects(
      Promise.resolve(sink.process(makeBatch([makeItem(0, '{"v":1}')]), makeCtx())),
      (err: unknown) => isHopperError(err, 'HOPPER_SINK_UNAVAILABLE') && isRetriable(err) && /25006/.test((err as Error).message),
    );
  }
  // Writable again: the batch lands.
  const sink = postgresSink({ url, table, columns: { v: 'v' } }, { ...sinkContext('events'), pipeline: uniqueName('pipe') });
  t.after(() => sink.stop?.(makeCtx()));
  assert.deepEqual((await sink.process(makeBatch([makeItem(0, '{"v":1}')]), makeCtx()))?.failed ?? [], []);
  assert.deepEqual((await db.query(`SELECT v FROM ${table}`)).rows, [{ v: 1 }]);
});
