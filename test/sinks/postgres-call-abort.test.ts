// Each processor call has its own ctx.signal (it fires at the shutdown deadline or at processTimeoutMs).
// The postgres sink destroyed every session on loan when any signal fired: one call past its timeout
// broke the queries of the calls running beside it. Now only the aborted call's sessions go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import postgresSink from '../../src/sinks/postgres-sink.js';
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
