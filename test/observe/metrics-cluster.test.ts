// /metrics of a real `hopper serve --workers 2`: valid Prometheus text whose counters,
// summed over both ingest processes, move by exactly the traffic sent; no line is
// logged per request; a crashed child's counts are kept when it is replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrometheusText, sampleValue, type PromFamily } from './prometheus-text.js';
import { httpRequest, sendWrites, startAdminServe, waitFor } from './serve-with-admin.js';

const WRITES = 1000;

async function scrape(admin: string): Promise<Map<string, PromFamily>> {
  const r = await httpRequest(`${admin}/metrics`);
  assert.equal(r.status, 200, r.body);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(r.body);
}

test('/metrics parses as Prometheus text and counts 1,000 writes across two ingest processes', { timeout: 90_000 }, async (t) => {
  const srv = await startAdminServe(t, ['--workers', '2']);
  const before = await scrape(srv.admin);
  for (const name of [
    'hopper_info',
    'hopper_ingest_requests_total',
    'hopper_ingest_ack_latency_seconds',
    'hopper_log_append_seconds',
    'hopper_process_memory_bytes',
    'hopper_event_loop_delay_seconds',
    'process_resident_memory_bytes',
  ]) {
    assert.ok(before.has(name), `family ${name} is exported`);
  }
  assert.equal(before.get('hopper_ingest_requests_total')!.type, 'counter');
  assert.equal(before.get('hopper_ingest_ack_latency_seconds')!.type, 'histogram');
  const base = sampleValue(before, 'hopper_ingest_requests_total', { stream: 'm', status: '202' });
  const linesBefore = srv.lines.length;

  const body = (i: number): string => JSON.stringify({ i, pad: 'x'.repeat(20) });
  const bytes = Array.from({ length: WRITES }, (_, i) => Buffer.byteLength(body(i))).reduce((a, b) => a + b, 0);
  const statuses = await sendWrites(srv.port, 'm', WRITES, body);
  assert.deepEqual([...statuses], [[202, WRITES]], 'every write acknowledged');

  // Children report once a second: the sum reaches +1,000 shortly after.
  const after = await waitFor(
    async () => {
      const m = await scrape(srv.admin);
      return sampleValue(m, 'hopper_ingest_requests_total', { stream: 'm', status: '202' }) >= base + WRITES ? m : undefined;
    },
    15_000,
    () => 'hopper_ingest_requests_total{stream="m",status="202"} to reach +1000',
  );
  assert.equal(sampleValue(after, 'hopper_ingest_requests_total', { stream: 'm', status: '202' }), base + WRITES, 'exactly +1000, not more');
  assert.equal(sampleValue(after, 'hopper_ingest_acknowledged_total', { stream: 'm' }), WRITES);
  assert.equal(sampleValue(after, 'hopper_ingest_bytes_total', { stream: 'm' }), bytes, 'bytes in = the bodies sent');
  assert.equal(sampleValue(after, 'hopper_ingest_ack_latency_seconds_count', { stream: 'm' }), WRITES, 'one latency observation per write');
  assert.equal(sampleValue(after, 'hopper_ingest_ack_latency_seconds_bucket', { stream: 'm', le: '+Inf' }), WRITES);
  assert.ok(sampleValue(after, 'hopper_ingest_ack_latency_seconds_sum', { stream: 'm' }) > 0);
  assert.ok(sampleValue(after, 'hopper_log_append_seconds_count', { ack: 'durable' }) > 0, 'durable appends are timed');
  assert.equal(sampleValue(after, 'hopper_ingest_backpressure_refusals_total', { stream: 'm' }), 0);

  // Both processes took part and report: memory per process, and records in both partitions of the log.
  const rss = after.get('hopper_process_memory_bytes')!.samples.filter((s) => s.labels.type === 'rss');
  assert.deepEqual(rss.map((s) => s.labels.process).sort(), ['ingest-0', 'ingest-1', 'primary']);
  for (const s of rss) assert.ok(s.value > 10 * 1024 * 1024, `${s.labels.process} reports its memory`);
  assert.equal(sampleValue(after, 'hopper_ingest_processes'), 2);
  const logEnd = await waitFor(
    async () => {
      const m = await scrape(srv.admin);
      return sampleValue(m, 'hopper_log_end_offset', { stream: 'm' }) === WRITES ? m : undefined;
    },
    10_000,
    () => 'the log stats to show 1000 records',
  );
  // Children accept from the shared socket themselves (SCHED_NONE), so the kernel may give all 16 connections
  // to one of them: which partition got the writes is its choice. Both partitions are reported, and they hold all.
  const ends = logEnd.get('hopper_log_end_offset')!.samples.filter((x) => x.labels.stream === 'm');
  assert.deepEqual(ends.map((x) => x.labels.partition).sort(), ['0', '1'], 'both partitions are reported');
  const p0 = sampleValue(logEnd, 'hopper_log_end_offset', { stream: 'm', partition: '0' });
  const p1 = sampleValue(logEnd, 'hopper_log_end_offset', { stream: 'm', partition: '1' });
  assert.equal(p0 + p1, WRITES, `the partitions hold every write (partition 0: ${p0}, partition 1: ${p1})`);
  assert.ok(sampleValue(logEnd, 'hopper_log_bytes', { stream: 'm' }) > bytes, 'log bytes cover the bodies and their framing');

  assert.equal(srv.lines.length, linesBefore, `nothing logged per request at the default level:\n${srv.lines.slice(linesBefore).join('\n')}`);
});

test('a crashed ingest process is replaced and the summed counters do not go back', { timeout: 90_000 }, async (t) => {
  const srv = await startAdminServe(t, ['--workers', '2']);
  const statuses = await sendWrites(srv.port, 'c', 200, (i) => `{"i":${i}}`, 4);
  assert.equal(statuses.get(202), 200);
  const requests = async (): Promise<number> => sampleValue(await scrape(srv.admin), 'hopper_ingest_requests_total', { stream: 'c', status: '202' });
  await waitFor(async () => ((await requests()) === 200 ? true : undefined), 10_000, () => 'the counts of 200 writes');
  // Both children have reported their 200 by now; kill one for real.
  const status = JSON.parse((await httpRequest(`${srv.admin}/api/status`)).body) as { processes: { process: string; pid: number }[] };
  const victim = status.processes.find((p) => p.process === 'ingest-0')!;
  process.kill(victim.pid, 'SIGKILL');
  await waitFor(
    async () => {
      const s = JSON.parse((await httpRequest(`${srv.admin}/api/status`)).body) as { processes: { process: string; pid: number }[] };
      const p = s.processes.find((x) => x.process === 'ingest-0');
      return p && p.pid !== victim.pid ? true : undefined;
    },
    20_000,
    () => 'a replacement ingest-0 to report',
  );
  assert.equal(await requests(), 200, 'the dead process counts are kept');
  await sendWrites(srv.port, 'c', 100, (i) => `{"j":${i}}`, 4);
  await waitFor(async () => ((await requests()) === 300 ? true : undefined), 10_000, () => 'the counts to reach 300');
});
