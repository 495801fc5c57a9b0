// Each processor call has its own ctx.signal (it fires at the shutdown deadline or at processTimeoutMs).
// The postgres sink destroyed every session on loan when any signal fired: one call past its timeout
// broke the queries of the calls running beside it. Now only the aborted call's sessions go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgresSink from '../../src/sinks/postgres-sink.js';
import { makeBatch, makeCtx, makeItem, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

test("an aborted call's connection is destroyed, the concurrent call's is not", { skip, timeout: 60_000 }, async (t) => {
  const table = uniqueName('hopper_abort');
  const pipeline = uniqueName('pgabort').slice(0, 40);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const locker = new pg.Client({ connectionString: url });
  await locker.connect();
  t.after(async () => {
    await locker.end().catch(() => undefined);
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.end();
  });
  await admin.query(`CREATE TABLE ${table} (stream text, partition integer, "offset" bigint, idx integer, received_at timestamptz, data jsonb, PRIMARY KEY (stream, partition, "offset", idx))`);
  const sink = postgresSink({ url, table, statementTimeoutMs: 30_000 }, { ...sinkContext('events'), pipeline });
  t.after(() => sink.stop?.(makeCtx()));

  await locker.query('BEGIN');
  await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  const aborted = new AbortController();
  const first = Promise.resolve(sink.process(makeBatch([makeItem(0, '{"a":0}')]), { ...makeCtx(), signal: aborted.signal }));
  const second = sink.process(makeBatch([makeItem(1, '{"a":1}')]), makeCtx());
  const firstOutcome = first.then(
    () => 'resolved',
    () => 'rejected',
  );
  const waiting = async (): Promise<number> =>
    (await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [`hopper:${pipeline}`])).rows[0]!.n;
  for (let i = 0; i < 200 && (await waiting()) < 2; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await waiting(), 2, 'both calls wait on the lock');

  aborted.abort(new Error('timed out'));
  assert.equal(await firstOutcome, 'rejected', 'the aborted call fails at once (its connection destroyed)');
  await locker.query('ROLLBACK');
  await second; // with every session destroyed, this one failed too
  const { rows } = await admin.query(`SELECT "offset" FROM ${table} ORDER BY "offset"`);
  assert.deepEqual(
    rows.map((r) => Number(r.offset)),
    [1],
  );
});
