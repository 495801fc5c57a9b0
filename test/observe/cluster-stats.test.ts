// The primary's view of its ingest children: a child that stops reporting without exiting
// (a blocked event loop, SIGSTOP) no longer counts as reporting, and its last figures are not
// shown as current; its counters stay in the totals, which never go back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { ClusterStats, STALE_REPORT_MS } from '../../src/observe/cluster-stats.js';
import type { ProcessReport } from '../../src/observe/process-probe.js';

function report(partition: number, atMs: number): ProcessReport {
  return {
    role: 'ingest',
    partition,
    pid: 1000 + partition,
    atMs,
    uptimeSeconds: 10,
    memory: { rssBytes: 1, heapUsedBytes: 1, heapTotalBytes: 1, externalBytes: 1 },
    eventLoopDelay: { p50Seconds: 0.001, p99Seconds: 0.002, maxSeconds: 0.003 },
    ingest: null,
  };
}

test('a child whose last report is older than STALE_REPORT_MS is not reporting', (t) => {
  const stats = new ClusterStats();
  t.after(() => stats.close());
  const now = Date.now();
  cluster.emit('message', { id: 1 } as Worker, { hopper: 'report', report: report(0, now) });
  cluster.emit('message', { id: 2 } as Worker, { hopper: 'report', report: report(1, now - STALE_REPORT_MS - 1) });
  assert.deepEqual(stats.processes(now).map((r) => r.partition), [0], 'the stuck child (partition 1) is left out');
  assert.deepEqual(stats.processes(now - 10).map((r) => r.partition), [0, 1]);
  cluster.emit('message', { id: 2 } as Worker, { hopper: 'report', report: report(1, now) });
  assert.deepEqual(stats.processes(now).map((r) => r.partition), [0, 1], 'reporting again');
});
