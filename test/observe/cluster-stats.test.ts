// The primary's view of its ingest children: a child that stops reporting without exiting
// (a blocked event loop, SIGSTOP) no longer counts as reporting, and its last figures are not
// shown as current; its counters stay in the totals, which never go back. An exited child's
// counts stay too, but not its last append error: it no longer says anything about the log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { ClusterStats, emptyIngestSnapshot, STALE_REPORT_MS } from '../../src/observe/cluster-stats.js';
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

test("an exited child's counts stay in the totals, its last append error does not", (t) => {
  const stats = new ClusterStats();
  t.after(() => stats.close());
  const now = Date.now();
  const failing = emptyIngestSnapshot();
  failing.requestsByStatus = { 202: 5, 503: 2 };
  failing.appendFailures = 2;
  failing.lastAppendError = { code: 'HOPPER_LOG_UNAVAILABLE', message: 'disk failed', atMs: now, untilRestart: true };
  cluster.emit('message', { id: 7 } as Worker, { hopper: 'report', report: { ...report(0, now), ingest: failing } });
  assert.equal(stats.ingest().lastAppendError?.code, 'HOPPER_LOG_UNAVAILABLE', 'a live child that cannot write: the error shows');
  cluster.emit('exit', { id: 7 } as Worker);
  // Its replacement writes fine.
  const healthy = emptyIngestSnapshot();
  healthy.requestsByStatus = { 202: 3 };
  cluster.emit('message', { id: 8 } as Worker, { hopper: 'report', report: { ...report(0, now + 1000), ingest: healthy } });
  const total = stats.ingest();
  assert.deepEqual(total.requestsByStatus, { 202: 8, 503: 2 }, 'counts of the exited child are kept');
  assert.equal(total.appendFailures, 2);
  assert.equal(total.lastAppendError, null, 'the restarted child writes: no stale "log refused the last write" warning');
});
