// /api/status of a real `hopper serve --workers 2 --with-workers`: its shape, figures that
// match the traffic (streams, partitions, offsets, groups and lag, dead letters, ack mode,
// backend, uptime, version), and `hopper status` printing it on one screen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import type { AdminStatus } from '../../src/observe/status-api.js';
import { CLI, cliEnv, getJson, httpRequest, sendWrites, startAdminServe, waitFor } from './serve-with-admin.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

test('/api/status describes the running server, and hopper status summarizes it', { timeout: 90_000 }, async (t) => {
  const srv = await startAdminServe(t, ['--workers', '2', '--with-workers']);
  const statuses = await sendWrites(srv.port, 'orders', 120, (i) => JSON.stringify({ order: i }), 8);
  assert.equal(statuses.get(202), 120);
  const bad = await httpRequest(`http://127.0.0.1:${srv.port}/v1/streams/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
  assert.equal(bad.status, 202, 'ingest stores without parsing; the worker dead-letters it');
  // A group that never consumes: its lag is every record of the stream.
  const log = new EmbeddedLog({ dataDir: srv.dataDir, segmentMaxBytes: 1 << 20, indexIntervalBytes: 4096, flushIntervalMs: 0, maxBatchBytes: 1 << 20, maxPendingBytes: 1 << 24, maxPendingRecords: 1000, writtenFsyncIntervalMs: 1000 });
  for (const p of await log.listPartitions('orders')) await log.commitPosition('audit', 'orders', p, 0);
  await log.close();

  const status = await waitFor(
    async () => {
      const s = await getJson<AdminStatus>(`${srv.admin}/api/status`);
      const done = s.totals?.acknowledged === 121 && s.deadLetters.pending === 1 && s.groups.some((g) => g.group === 'audit' && g.lag === 121);
      // The lag history is sampled once a second: it can trail the latest log figures by one tick.
      return done && s.rates !== null && s.lagHistory.some((h) => h.group === 'audit') ? s : undefined;
    },
    30_000,
    () => 'the status to show 121 writes, 1 dead letter and the audit group',
  );

  assert.equal(status.version, VERSION);
  assert.equal(status.role, 'serve');
  assert.equal(status.backend, 'embedded');
  assert.equal(status.durableIsFsync, true);
  assert.deepEqual(status.ack, { default: 'durable', streams: {} });
  assert.ok(status.uptimeSeconds > 0 && status.uptimeSeconds < 120);
  assert.ok(!Number.isNaN(Date.parse(status.startedAt)));
  assert.equal(status.dataDir, srv.dataDir);
  assert.deepEqual(status.listen, { ingest: [`http://127.0.0.1:${srv.port}`], admin: srv.admin });
  assert.deepEqual(status.ingestProcesses, { expected: 2, reporting: 2 });
  assert.deepEqual(status.processes.map((p) => p.process).sort(), ['ingest-0', 'ingest-1', 'primary']);
  for (const p of status.processes) assert.ok(p.pid > 0 && p.rssBytes > 0 && p.heapUsedBytes > 0 && p.eventLoopDelayP99Seconds >= 0);

  assert.equal(status.totals!.requests, 121);
  assert.deepEqual(status.totals!.requestsByStatus, { 202: 121 });
  assert.equal(status.totals!.appendFailures, 0);
  assert.equal(status.totals!.lastAppendError, null);
  assert.ok(status.rates!.windowSeconds > 0);
  for (const k of ['requestsPerSecond', 'recordsPerSecond', 'bytesInPerSecond', 'backpressurePerSecond'] as const) assert.equal(typeof status.rates![k], 'number');

  const orders = status.streams.find((s) => s.name === 'orders')!;
  assert.ok(orders, 'the stream is listed');
  assert.equal(orders.ack, 'durable');
  assert.deepEqual(orders.partitions.map((p) => p.partition), [0, 1]);
  assert.equal(orders.storedRecords, 121);
  assert.equal(orders.partitions.reduce((n, p) => n + p.endOffset, 0), 121);
  // The cluster may hand every connection to one child: a partition no write reached holds nothing yet.
  for (const p of orders.partitions) assert.ok(p.startOffset === 0 && (p.endOffset === 0 || (p.bytes > 0 && p.segments >= 1)), JSON.stringify(p));
  assert.equal(orders.requests, 121);
  assert.equal(orders.acknowledged, 121);
  assert.ok(!status.streams.some((s) => s.name.endsWith('.dlq')), 'dead-letter streams are reported under deadLetters');

  const audit = status.groups.find((g) => g.group === 'audit')!;
  assert.equal(audit.stream, 'orders');
  assert.deepEqual(audit.partitions.map((p) => p.position), [0, 0]);
  const files = await waitFor(
    async () => (await getJson<AdminStatus>(`${srv.admin}/api/status`)).groups.find((g) => g.group === 'files' && g.lag === 0),
    20_000,
    () => 'the files pipeline to catch up',
  );
  assert.equal(files.stream, 'orders');

  assert.deepEqual(status.deadLetters, { pending: 1, stored: 1, streams: [{ stream: 'orders', dlqStream: 'orders.dlq', stored: 1, pending: 1 }] });
  assert.ok(status.workers && status.workers.pipelines['orders.files'], 'the worker runtime of the primary reports its pipelines');
  assert.ok(status.disk && status.disk.totalBytes > 0 && status.disk.minFreeBytes > 0);
  assert.equal(status.logStats.error, null);
  const history = status.lagHistory.find((h) => h.group === 'audit')!;
  assert.equal(history.stream, 'orders');
  assert.ok(history.points.length >= 1 && history.points.every(([tMs, lag]) => tMs > 0 && lag >= 0));
  assert.ok(status.warnings.some((w) => w.includes('dead letter pending for stream orders')), status.warnings.join('\n'));
  // The dashboard's poll: the same status without the lag history (hundreds of KB at many groups), its warnings kept.
  const lean = await getJson<AdminStatus>(`${srv.admin}/api/status?lagHistory=0`);
  assert.deepEqual(lean.lagHistory, []);
  assert.ok(lean.warnings.some((w) => w.includes('dead letter pending for stream orders')), lean.warnings.join('\n'));
  const badHistory = await httpRequest(`${srv.admin}/api/status?lagHistory=no`);
  assert.equal(badHistory.status, 400);
  assert.match(badHistory.body, /HOPPER_USAGE/);

  const cli = spawnSync(process.execPath, [CLI, 'status', '--admin', srv.admin], { encoding: 'utf8', env: cliEnv(), timeout: 30_000 });
  assert.equal(cli.status, 0, cli.stderr);
  const out = cli.stdout;
  assert.match(out, new RegExp(`^hopper ${VERSION.replace(/\./g, '\\.')} · serve · embedded log · up .* · 2/2 ingest processes`));
  assert.match(out, /ack durable · data /);
  assert.match(out, /requests\/s .* ack p50 .* p99 /);
  assert.match(out, /\n {2}orders +durable +2 +121 /);
  assert.match(out, /\n {2}audit +orders +121\n/);
  assert.match(out, /dead letters: 1 pending \(orders: 1\), 1 stored/);
  assert.match(out, /warnings \(\d+\):\n {2}! 1 dead letter pending for stream orders/);
  assert.ok(out.split('\n').length <= 30, `one screen:\n${out}`);

  const json = spawnSync(process.execPath, [CLI, 'status', '--admin', srv.admin, '--json'], { encoding: 'utf8', env: cliEnv(), timeout: 30_000 });
  assert.equal(json.status, 0, json.stderr);
  assert.equal((JSON.parse(json.stdout) as AdminStatus).version, VERSION);
});
