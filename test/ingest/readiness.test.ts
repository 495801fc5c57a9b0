// /readyz's disk check: a data directory the embedded log has not created yet is judged by the disk it
// will be created on, so a disk below ingest.minFreeDiskBytes is reported before the first write. And the
// window of a failed append, on a wall clock that may be stepped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Backpressure } from '../../src/ingest/backpressure.js';
import { IngestStats } from '../../src/ingest/ingest-stats.js';
import { Readiness } from '../../src/ingest/readiness.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

const calm = { overSoft: () => false } as unknown as Backpressure;
const PETABYTE = 1e15;

function readiness(dataDir: string, minFreeDiskBytes: number, logUsesDataDir = true): Readiness {
  return new Readiness({ dataDir, logUsesDataDir, minFreeDiskBytes, backpressure: calm, stats: new IngestStats(), isStopping: () => false });
}

test('a data directory not created yet is checked on the disk it will be created on', async (t) => {
  const dir = tempDir('hopper-readiness-');
  t.after(() => removeDir(dir));
  const missing = join(dir, 'not', 'yet', 'data');
  const reasons = await readiness(missing, PETABYTE).reasons();
  assert.equal(reasons.length, 1, JSON.stringify(reasons));
  assert.match(reasons[0]!, /^disk almost full: \d+ bytes free in .* \(where .*not\/yet\/data will be created\), below ingest\.minFreeDiskBytes/);
  assert.deepEqual(await readiness(missing, 0).reasons(), [], 'ready when the disk has room');
});

test('an existing data directory below the floor is not ready; a backend that keeps no data directory ignores a missing one', async (t) => {
  const dir = tempDir('hopper-readiness-');
  t.after(() => removeDir(dir));
  assert.match((await readiness(dir, PETABYTE).reasons())[0]!, new RegExp(`^disk almost full: \\d+ bytes free in ${dir}, below`));
  assert.deepEqual(await readiness(join(dir, 'missing'), PETABYTE, false).reasons(), []);
});

test('a failed append keeps the process unready for 5 s, not for as long as the clock was stepped back since', async (t) => {
  const dir = tempDir('hopper-readiness-');
  t.after(() => removeDir(dir));
  const stats = new IngestStats();
  const r = new Readiness({ dataDir: dir, logUsesDataDir: true, minFreeDiskBytes: 0, backpressure: calm, stats, isStopping: () => false });
  const failed = { code: 'HOPPER_LOG_UNAVAILABLE', message: 'down', untilRestart: false };
  stats.lastAppendError = { ...failed, atMs: Date.now() - 1000 };
  assert.match((await r.reasons())[0]!, /^log not writable: HOPPER_LOG_UNAVAILABLE/, 'a second ago: not ready');
  stats.lastAppendError = { ...failed, atMs: Date.now() - 10_000 };
  assert.deepEqual(await r.reasons(), [], 'ten seconds ago: ready again');
  stats.lastAppendError = { ...failed, atMs: Date.now() + 3_600_000 }; // recorded before the clock went back an hour
  assert.deepEqual(await r.reasons(), [], 'a clock stepped back an hour does not make it an hour younger');
});
