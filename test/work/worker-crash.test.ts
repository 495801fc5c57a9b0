// SIGKILL a `hopper work` process mid-batch, again and again: after a final clean
// run every record was processed (none lost), and records processed twice are
// bounded by what was in flight at each kill ((concurrency + COMMIT_WINDOW_BATCHES) x batchMaxRecords).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, cleanEnv, record, waitFor } from './work-helpers.js';
import { COMMIT_WINDOW_BATCHES } from '../../src/work/pipeline-runner.js';

const PARTITIONS = 2;
const PER_PARTITION = 2000;
const BATCH = 50;
const CONCURRENCY = 2;
const KILLS = 5;
const FIXTURE = fileURLToPath(new URL('./fixtures/offset-recorder.mjs', import.meta.url));

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

test('SIGKILL mid-batch, repeatedly: nothing lost, duplicates bounded by the batches in flight', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('jobs', { partitions: PARTITIONS, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let p = 0; p < PARTITIONS; p++) {
    for (let i = 0; i < PER_PARTITION; i += 500) {
      await log.append('jobs', p, Array.from({ length: 500 }, (_, k) => record(`{"job":${i + k}}`)), 'durable');
    }
  }
  await log.close();
  const configFile = join(dir, 'hopper.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      dataDir: dir,
      logLevel: 'warn',
      work: { leaseTimeoutMs: 2000, shutdownTimeoutMs: 5000 },
      pipelines: [{ name: 'jobs.recorder', stream: 'jobs', group: 'rec', processor: FIXTURE, batchMaxRecords: BATCH, batchMaxWaitMs: 0, concurrency: CONCURRENCY }],
    }),
  );
  const recorded = join(dir, 'recorded.txt');
  const children: ChildProcess[] = [];
  t.after(() => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));
  const startWorker = (): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } => {
    const child = spawn(process.execPath, [CLI, 'work', '--config', configFile], {
      cwd: dir,
      env: { ...cleanEnv(), RECORDER_FILE: recorded, RECORDER_DELAY_MS: '15' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))), stderr: () => err };
  };

  for (let k = 0; k < KILLS; k++) {
    const before = lines(recorded).length;
    const w = startWorker();
    await waitFor(`worker ${k} to process a batch`, () => lines(recorded).length > before, 20_000);
    await new Promise((r) => setTimeout(r, Math.random() * 150));
    w.child.kill('SIGKILL');
    await w.exited;
  }
  const progressBeforeLastRun = new Set(lines(recorded)).size;
  assert.ok(progressBeforeLastRun < PARTITIONS * PER_PARTITION, 'the kills must happen before the work is done');

  const last = startWorker();
  const check = openEmbedded(dir);
  t.after(() => check.close());
  await waitFor(
    'the last worker to commit everything',
    async () => {
      for (let p = 0; p < PARTITIONS; p++) if ((await check.getPosition('rec', 'jobs', p)) !== PER_PARTITION) return false;
      return true;
    },
    30_000,
  );
  last.child.kill('SIGTERM');
  assert.equal(await last.exited, 0, last.stderr());

  const all = lines(recorded);
  const unique = new Set(all);
  for (let p = 0; p < PARTITIONS; p++) for (let i = 0; i < PER_PARTITION; i++) assert.ok(unique.has(`${p}:${i}`), `record ${p}:${i} was never processed`);
  assert.equal(unique.size, PARTITIONS * PER_PARTITION);
  const duplicates = all.length - unique.size;
  const bound = KILLS * (CONCURRENCY + COMMIT_WINDOW_BATCHES) * BATCH;
  assert.ok(duplicates <= bound, `${duplicates} duplicates, more than ${bound} (in flight at ${KILLS} kills)`);
  t.diagnostic(`${duplicates} duplicates over ${KILLS} kills (bound ${bound})`);
});

test('two hopper work processes in one group share the partitions and process each record once', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('jobs', { partitions: 4, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let p = 0; p < 4; p++) await log.append('jobs', p, Array.from({ length: 500 }, (_, i) => record(`{"job":${i}}`)), 'durable');
  await log.close();
  const configFile = join(dir, 'hopper.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      dataDir: dir,
      logLevel: 'warn',
      work: { leaseTimeoutMs: 600 },
      pipelines: [{ name: 'jobs.recorder', stream: 'jobs', group: 'rec', processor: FIXTURE, batchMaxRecords: 20, batchMaxWaitMs: 0 }],
    }),
  );
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
