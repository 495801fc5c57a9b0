// The worker at-least-once scenario, on any log backend: SIGKILL a `hopper work` process mid-batch, again
// and again; after a final clean run every record was processed (none lost), and records processed twice
// are bounded by what was in flight at each kill ((concurrency + COMMIT_WINDOW_BATCHES) x batchMaxRecords).
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, cleanEnv, record, waitFor, writeConfigFile } from '../work/work-helpers.js';
import { COMMIT_WINDOW_BATCHES } from '../../src/work/pipeline-runner.js';
import { workerTestTarget, type BackendName } from './log-backend-target.js';

const PARTITIONS = 2;
const PER_PARTITION = 2000;
const BATCH = 50;
const CONCURRENCY = 2;
/**
 * Time the fixture takes per batch. It sets the pace of the work: at most about
 * CONCURRENCY x BATCH records per BATCH_DELAY_MS, so the kills (each up to 150 ms after the
 * first progress of a run) cannot finish the whole stream before the last one, on any machine.
 */
const BATCH_DELAY_MS = 40;
const FIXTURE = fileURLToPath(new URL('../work/fixtures/offset-recorder.mjs', import.meta.url));

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/** Skips `t` with the reason when the backend's server is not reachable. */
export async function workerSurvivesSigkillMidBatch(t: TestContext, backend: BackendName, kills: number): Promise<void> {
  const w = await workerTestTarget(t, backend);
  if (!w) return;
  const { target, children } = w;
  const dir = target.dataDir;
  const log = await target.openLog();
  await log.ensureStream('jobs', { partitions: PARTITIONS, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let p = 0; p < PARTITIONS; p++) {
    for (let i = 0; i < PER_PARTITION; i += 500) {
      await log.append('jobs', p, Array.from({ length: 500 }, (_, k) => record(`{"job":${i + k}}`)), 'durable');
    }
  }
  await log.close();
  const configFile = writeConfigFile(dir, {
    dataDir: dir,
    logLevel: 'warn',
    ...(Object.keys(target.logConfig).length > 0 ? { log: target.logConfig } : {}),
    work: { leaseTimeoutMs: 2000, shutdownTimeoutMs: 5000 },
    pipelines: [{ name: 'jobs.recorder', stream: 'jobs', group: 'rec', processor: FIXTURE, batchMaxRecords: BATCH, batchMaxWaitMs: 0, concurrency: CONCURRENCY }],
  });
  const recorded = join(dir, 'recorded.txt');
  const startWorker = (): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } => {
    const child = spawn(process.execPath, [CLI, 'work', '--config', configFile], {
      cwd: dir,
      env: { ...cleanEnv(), RECORDER_FILE: recorded, RECORDER_DELAY_MS: String(BATCH_DELAY_MS) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))), stderr: () => err };
  };

  for (let k = 0; k < kills; k++) {
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
  const position = await w.openCheckLog();
  await waitFor(
    'the last worker to commit everything',
    async () => {
      for (let p = 0; p < PARTITIONS; p++) if ((await position.getPosition('rec', 'jobs', p)) !== PER_PARTITION) return false;
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
  const bound = kills * (CONCURRENCY + COMMIT_WINDOW_BATCHES) * BATCH;
  assert.ok(duplicates <= bound, `${duplicates} duplicates, more than ${bound} (in flight at ${kills} kills)`);
  t.diagnostic(`${duplicates} duplicates over ${kills} kills (bound ${bound})`);
}
