// During a rolling restart (SIGHUP) the replacement of ingest process i reports before the old
// one has exited, so for a moment two live children say "partition i". /metrics must still give
// each series once (hopper_process_memory_bytes{process="ingest-0",...} twice is a duplicate
// sample Prometheus drops with an error), and the status must not say 2 of 1 ingest processes
// report: the newer child is the one shown. The counters of both still add up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { startAdmin } from '../../src/observe/admin-runtime.js';
import { ClusterStats, emptyIngestSnapshot } from '../../src/observe/cluster-stats.js';
import { createLogger } from '../../src/observe/logger.js';
import type { ProcessReport } from '../../src/observe/process-probe.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';
import { httpRequest, tempDir } from './serve-with-admin.js';

function report(pid: number, uptimeSeconds: number, rssBytes: number, requests: number): ProcessReport {
  const ingest = emptyIngestSnapshot();
  ingest.requestsByStatus = { 202: requests };
  return {
    role: 'ingest',
    partition: 0,
    pid,
    atMs: Date.now(),
    uptimeSeconds,
    memory: { rssBytes, heapUsedBytes: 1, heapTotalBytes: 2, externalBytes: 3 },
    eventLoopDelay: { p50Seconds: 0.001, p99Seconds: 0.002, maxSeconds: 0.003 },
    ingest,
  };
}

test('an old and a new child of the same partition: each series once, the newer one shown', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stats = new ClusterStats();
  t.after(() => stats.close());
  const config = loadConfig({ env: {}, cwd: dir, overrides: { dataDir: join(dir, 'data'), 'admin.port': 0 } });
  const admin = await startAdmin({ config, logger: createLogger('silent'), role: 'serve', cluster: stats, expectedIngestProcesses: 1, workers: () => null });
  assert.ok(admin, 'the admin server started');
  t.after(() => admin.stop());

  cluster.emit('message', { id: 1 } as Worker, { hopper: 'report', report: report(101, 3600, 111_000_000, 40) });
  cluster.emit('message', { id: 2 } as Worker, { hopper: 'report', report: report(102, 1, 222_000_000, 2) });

  const r = await httpRequest(`${admin.url}/metrics`);
  assert.equal(r.status, 200, r.body);
  const series = r.body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.slice(0, l.lastIndexOf(' ')));
  assert.deepEqual(series.filter((s, i) => series.indexOf(s) !== i), [], 'no series twice');
  const families = parsePrometheusText(r.body);
  assert.equal(sampleValue(families, 'hopper_process_memory_bytes', { process: 'ingest-0', type: 'rss' }), 222_000_000, 'the replacement');
  assert.equal(sampleValue(families, 'hopper_ingest_processes'), 1);
  assert.equal(sampleValue(families, 'hopper_ingest_requests_total', { status: '202' }), 42, 'both children count');

  const status = JSON.parse((await httpRequest(`${admin.url}/api/status`)).body) as { ingestProcesses: { expected: number; reporting: number }; processes: { process: string; pid: number }[] };
  assert.deepEqual(status.ingestProcesses, { expected: 1, reporting: 1 });
  assert.deepEqual(status.processes.filter((p) => p.process === 'ingest-0').map((p) => p.pid), [102]);
});
