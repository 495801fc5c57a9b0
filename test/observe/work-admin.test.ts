// `hopper work` runs its own admin server: /metrics shows its pipelines' counters and
// /api/status describes a worker process (no ingest), read from a real run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import type { AdminStatus } from '../../src/observe/status-api.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';
import { CLI, cliEnv, getJson, httpRequest, tempDir, waitFor } from './serve-with-admin.js';

test('hopper work serves /metrics and /api/status for its pipelines', { timeout: 90_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const log = new EmbeddedLog({ dataDir, segmentMaxBytes: 1 << 20, indexIntervalBytes: 4096, flushIntervalMs: 0, maxBatchBytes: 1 << 20, maxPendingBytes: 1 << 24, maxPendingRecords: 1000, writtenFsyncIntervalMs: 1000 });
  await log.ensureStream('jobs', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const records = Array.from({ length: 30 }, (_, i) => ({
    body: Buffer.from(JSON.stringify({ i })),
    receivedAtUs: Date.now() * 1000,
    contentType: 'application/json',
    contentEncoding: '',
    remoteAddress: '127.0.0.1',
    requestId: `r${i}`,
    idempotencyKey: '',
  }));
  await log.append('jobs', 0, records, 'durable');
  await log.close();

  const child = spawn(process.execPath, [CLI, 'work', '--data-dir', dataDir], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: cliEnv() });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const admin = await waitFor(
    async () => /"admin":"(http:[^"]+)"/.exec(stderr)?.[1],
    30_000,
    () => `the "workers running" line:\n${stderr}`,
  );

  const metrics = await waitFor(
    async () => {
      const m = parsePrometheusText((await httpRequest(`${admin}/metrics`)).body);
      return sampleValue(m, 'hopper_worker_records_total', { pipeline: 'jobs.files' }) === 30 ? m : undefined;
    },
    30_000,
    () => 'the files pipeline to commit 30 records',
  );
  assert.ok(sampleValue(metrics, 'hopper_worker_batches_total', { pipeline: 'jobs.files' }) >= 1);
  assert.equal(sampleValue(metrics, 'hopper_worker_events_total', { pipeline: 'jobs.files' }), 30, 'one event decoded per JSON record');
  assert.equal(sampleValue(metrics, 'hopper_worker_batch_duration_seconds_count', { pipeline: 'jobs.files' }), sampleValue(metrics, 'hopper_worker_batches_total', { pipeline: 'jobs.files' }));
  assert.deepEqual(
    metrics.get('hopper_process_memory_bytes')!.samples.filter((s) => s.labels.type === 'rss').map((s) => s.labels.process),
    ['work'],
  );
  assert.equal(metrics.get('hopper_ingest_requests_total')!.samples.length, 0, 'no ingest here');

  const status = await waitFor(
    async () => {
      const s = await getJson<AdminStatus>(`${admin}/api/status`);
      return s.groups.some((g) => g.group === 'files' && g.lag === 0) ? s : undefined;
    },
    20_000,
    () => 'the files group to show lag 0',
  );
  assert.equal(status.role, 'work');
  assert.equal(status.ingestProcesses, null);
  assert.equal(status.totals, null);
  assert.equal(status.workers!.pipelines['jobs.files']!.records, 30);
  assert.deepEqual(status.streams.map((s) => [s.name, s.storedRecords]), [['jobs', 30]]);

  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
});
