// Each processor call has its own ctx.signal (it fires at the shutdown deadline or at processTimeoutMs).
// The postgres sink destroyed every session on loan when any signal fired: one call past its timeout
// broke the queries of the calls running beside it. Now only the aborted call's sessions go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import postgresSink from '../../src/sinks/postgres-sink.js';
import pg from 'pg';
import { lockedDefaultTable, makeBatch, makeCtx, makeItem, sinkContext, testPgUrl, uniqueName } from './sink-harness.js';
import { waitFor } from '../work/work-helpers.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

test("an aborted call's connection is destroyed, the concurrent call's is not", { skip, timeout: 60_000 }, async (t) => {
  const pipeline = uniqueName('pgabort').slice(0, 40);
  const { admin, locker, table, waitingOn } = await lockedDefaultTable(t, url, 'hopper_abort');
  const sink = postgresSink({ url, table, statementTimeoutMs: 30_000 }, { ...sinkContext('events'), pipeline });
  t.after(() => sink.stop?.(makeCtx()));
  const aborted = new AbortController();
  const first = Promise.resolve(sink.process(makeBatch([makeItem(0, '{"a":0}')]), { ...makeCtx(), signal: aborted.signal }));
  const second = sink.process(makeBatch([makeItem(1, '{"a":1}')]), makeCtx());
  const firstOutcome = first.then(
    () => 'resolved',
    () => 'rejected',
  );
  await waitFor('both calls to wait on the lock', () => waitingOn(pipeline, 2));

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

test("a call aborted while it creates the table does not fail the calls waiting for that table", { skip, timeout: 60_000 }, async (t) => {
  const table = uniqueName('hopper_abort_create');
  const pipeline = uniqueName('pgabortc').slice(0, 40);
  const other = new pg.Client({ connectionString: url });
  await other.connect();
  t.after(async () => {
    await other.query('ROLLBACK').catch(() => undefined);
    await other.query(`DROP TABLE IF EXISTS ${table}`);
    await other.end();
  });
  // Another session's CREATE of the same table, not yet committed: the sink's own CREATE waits for it.
  const probe = new pg.Client({ connectionString: url });
  await probe.connect();
  t.after(() => probe.end());
  await other.query('BEGIN');
  await other.query(`CREATE TABLE ${table} (stream text, partition integer, "offset" bigint, idx integer, received_at timestamptz, data jsonb, PRIMARY KEY (stream, partition, "offset", idx))`);
  const sink = postgresSink({ url, table, statementTimeoutMs: 30_000 }, { ...sinkContext('events'), pipeline });
  t.after(() => sink.stop?.(makeCtx()));
  const aborted = new AbortController();
  const first = Promise.resolve(sink.process(makeBatch([makeItem(0, '{"a":0}')]), { ...makeCtx(), signal: aborted.signal })).then(
    () => 'resolved',
    () => 'rejected',
  );
  const second = Promise.resolve(sink.process(makeBatch([makeItem(1, '{"a":1}')]), makeCtx()));
  const waiting = async (): Promise<boolean> => {
    const { rows } = await probe.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [`hopper:${pipeline}`]);
    return rows[0]!.n >= 1;
  };
  await waitFor('the CREATE to wait for the other session', waiting);
  aborted.abort(new Error('timed out'));
  assert.equal(await first, 'rejected');
  await other.query('COMMIT');
  await second;
  const { rows } = await other.query(`SELECT "offset" FROM ${table} ORDER BY "offset"`);
  assert.deepEqual(
    rows.map((r) => Number(r.offset)),
    [1],
  );
});
