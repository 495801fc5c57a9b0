// SIGKILL a `hopper work` process mid-batch, again and again: after a final clean
// run every record was processed (none lost), and records processed twice are
// bounded by what was in flight at each kill ((concurrency + COMMIT_WINDOW_BATCHES) x batchMaxRecords).
// The scenario is shared with the redis and nats runs: test/helpers/worker-crash-scenario.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, cleanEnv, record, waitFor, writeConfigFile } from './work-helpers.js';
import { workerSurvivesSigkillMidBatch } from '../helpers/worker-crash-scenario.js';

const KILLS = 5;
const FIXTURE = fileURLToPath(new URL('./fixtures/offset-recorder.mjs', import.meta.url));

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

test('SIGKILL mid-batch, repeatedly: nothing lost, duplicates bounded by the batches in flight', async (t) => {
  await workerSurvivesSigkillMidBatch(t, 'embedded', KILLS);
});

test('two hopper work processes in one group share the partitions and process each record once', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('jobs', { partitions: 4, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let p = 0; p < 4; p++) await log.append('jobs', p, Array.from({ length: 500 }, (_, i) => record(`{"job":${i}}`)), 'durable');
  await log.close();
  const configFile = writeConfigFile(dir, {
    dataDir: dir,
    logLevel: 'warn',
    work: { leaseTimeoutMs: 600 },
    pipelines: [{ name: 'jobs.recorder', stream: 'jobs', group: 'rec', processor: FIXTURE, batchMaxRecords: 20, batchMaxWaitMs: 0 }],
  });
  const recorded = join(dir, 'recorded.txt');
  const workers = [0, 1].map(() => {
    const child = spawn(process.execPath, [CLI, 'work', '--config', configFile], {
      cwd: dir,
      env: { ...cleanEnv(), RECORDER_FILE: recorded, RECORDER_DELAY_MS: '25', RECORDER_WITH_PID: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    return { child, exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))), stderr: () => err };
  });
  t.after(() => workers.forEach((w) => w.child.exitCode === null && w.child.kill('SIGKILL')));
  await waitFor('all 2000 records to be processed', () => lines(recorded).length >= 2000, 60_000);
  for (const w of workers) w.child.kill('SIGTERM');
  for (const w of workers) assert.equal(await w.exited, 0, w.stderr());
  const all = lines(recorded).map((l) => l.split(' '));
  const keys = all.map(([key]) => key!);
  assert.equal(new Set(keys).size, 2000, 'every record processed');
  assert.equal(keys.length, 2000, 'no record processed twice');
  const byPid = new Map<string, number>();
  for (const [, pid] of all) byPid.set(pid!, (byPid.get(pid!) ?? 0) + 1);
  assert.equal(byPid.size, 2, `both processes took part: ${JSON.stringify([...byPid])}`);
});
