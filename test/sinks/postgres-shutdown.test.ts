// SIGTERM semantics with the postgres sink: a batch whose COPY waits on a lock held by
// another session is abandoned at work.shutdownTimeoutMs (its connection destroyed when
// ctx.signal fires), not at statementTimeoutMs; it is not committed, and the next run
// writes it once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { record, testConfig, waitFor } from '../work/work-helpers.js';
import { lockedDefaultTable, testPgUrl, uniqueName } from './sink-harness.js';

const pgTarget = await testPgUrl();
const skip = pgTarget.skip ?? false;
const url = pgTarget.url ?? '';

test('a COPY stuck on a lock is abandoned at the shutdown deadline, then written once by the next run', { skip, timeout: 120_000 }, async (t) => {
  const pipeline = uniqueName('pgstop').slice(0, 40);
  const { admin, locker, table, waitingOn } = await lockedDefaultTable(t, url, 'hopper_shutdown');
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const config = testConfig(dir, {
    'work.shutdownTimeoutMs': 500,
    pipelines: [{ name: pipeline, stream: 's', group: 'g', processor: 'postgres', batchMaxWaitMs: 0, options: { url, table, statementTimeoutMs: 30_000 } }],
  });
  const workers = await startWorkers(config, log, createLogger('silent'));
  t.after(() => workers.stop());
  await log.append('s', 0, [record('{"a":1}')], 'durable');
  await waitFor('the COPY to wait on the lock', () => waitingOn(pipeline, 1));
  const t0 = Date.now();
  await workers.stop();
  const stopMs = Date.now() - t0;
  // statementTimeoutMs is 30 s: far below it, the deadline ended the COPY, not the statement timeout.
  assert.ok(stopMs < 15_000, `workers.stop() took ${stopMs} ms`);
  assert.equal(await log.getPosition('g', 's', 0), null, 'the abandoned batch is not committed');
  await locker.query('ROLLBACK');

  const again = await startWorkers(config, log, createLogger('silent'));
  t.after(() => again.stop());
  await waitFor('the next run to commit the record', async () => (await log.getPosition('g', 's', 0)) === 1, 30_000);
  await again.stop();
  const { rows } = await admin.query(`SELECT data FROM ${table}`);
  assert.deepEqual(rows.map((r) => r.data as unknown), [{ a: 1 }]);
});
