// /metrics of a real `hopper serve --workers 2 --with-workers` after real activity: every family
// a dashboard alerts on shows the figure the activity made, not just its name. The log's fsync
// histogram stays at zero while only `written` appends ran (they wait for no fsync) and moves with
// `durable` ones; 503s from a tiny ingest.maxPendingBytes, dead letters of a statsd pipeline, the
// lag of a group that does not consume, rolled segments, events decoded and the sink_* families all
// match what the test did. With the Redis backend (no fsync of Hopper's own) the fsync family is empty.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { parsePrometheusText, sampleValue, type PromFamily } from './prometheus-text.js';
import { httpRequest, sendWrites, startAdminServe, tempDir, waitFor } from './serve-with-admin.js';
import { deleteRedisPrefix, redisSkipReason, uniqueRedisPrefix } from '../helpers/redis.js';

const STREAM = 'metrics';
const PIPELINE = 'metrics.statsd';
const SEGMENT_MAX_BYTES = 4096;
/** ingest.maxPendingBytes (its minimum); maxBodyBytes follows it down, so a larger body is refused with 413. */
const MAX_PENDING_BYTES = 4096;
const WRITTEN_WRITES = 10;
const DURABLE_WRITES = 300;
const OVERSIZED_WRITES = 20;

type Metrics = Map<string, PromFamily>;

async function scrape(admin: string): Promise<Metrics> {
  const r = await httpRequest(`${admin}/metrics`);
  assert.equal(r.status, 200, r.body);
  return parsePrometheusText(r.body);
}

function metric(i: number): string {
  return JSON.stringify({ name: 'hits', value: 1 + (i % 5), type: 'counter' });
}

/** POSTs one body until it is accepted (a 503 from the tiny pending budget is retried). */
async function postAccepted(port: number, body: string, headers: Record<string, string> = {}): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const r = await httpRequest(`http://127.0.0.1:${port}/v1/streams/${STREAM}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    if (r.status === 202) return;
    assert.equal(r.status, 503, r.body);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${body} was never accepted`);
}

test('/metrics shows fsyncs, 503s, lag, dead letters, segments, events and sink figures from real activity', { timeout: 120_000 }, async (t) => {
  const udp = dgram.createSocket('udp4');
  let statsdLines = 0;
  udp.on('message', (m) => (statsdLines += m.toString().split('\n').filter((l) => l !== '').length));
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  t.after(() => udp.close());

  const dir = tempDir();
  const configFile = join(dir, 'hopper.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      log: { embedded: { segmentMaxBytes: SEGMENT_MAX_BYTES, writtenFsyncIntervalMs: 600_000 } },
      ingest: { maxPendingBytes: MAX_PENDING_BYTES, softPendingBytes: MAX_PENDING_BYTES },
      pipelines: [{ stream: STREAM, processor: 'statsd', options: { host: '127.0.0.1', port: udp.address().port } }],
    }),
  );
  const srv = await startAdminServe(t, ['--workers', '2', '--with-workers', '--config', configFile]);

  // 1. `written` only: appends are timed, no fsync ran (the written-fsync timer is ten minutes away).
  for (let i = 0; i < WRITTEN_WRITES; i++) await postAccepted(srv.port, metric(i), { 'hopper-ack': 'written' });
  const written = await waitFor(
    async () => {
      const m = await scrape(srv.admin);
      return sampleValue(m, 'hopper_log_append_seconds_count', { ack: 'written' }) > 0 &&
        sampleValue(m, 'hopper_ingest_acknowledged_total', { stream: STREAM }) === WRITTEN_WRITES
        ? m
        : undefined;
    },
    15_000,
    () => 'the written appends to be reported',
  );
  assert.equal(written.get('hopper_log_fsync_seconds')?.type, 'histogram', 'the embedded log reports its fsyncs');
  assert.equal(sampleValue(written, 'hopper_log_fsync_seconds_count'), 0, '`written` appends run no fsync');

  // 2. `durable` load, with oversized bodies among it (over maxBodyBytes, which follows maxPendingBytes down).
  const [small, big] = await Promise.all([
    sendWrites(srv.port, STREAM, DURABLE_WRITES, metric, 16),
    sendWrites(srv.port, STREAM, OVERSIZED_WRITES, (i) => JSON.stringify({ name: 'big', value: i, type: 'gauge', pad: 'x'.repeat(MAX_PENDING_BYTES) }), 4),
  ]);
  assert.deepEqual([...big], [[413, OVERSIZED_WRITES]], 'a body over ingest.maxPendingBytes is refused as too large, not as a wait');
  const refused = small.get(503) ?? 0;
  assert.equal((small.get(202) ?? 0) + (small.get(503) ?? 0), DURABLE_WRITES, `only 202 and 503: ${JSON.stringify([...small])}`);

  // 3. Two dead letters: a body that is not JSON (decode) and a metric the statsd sink refuses.
  await postAccepted(srv.port, '{oops');
  await postAccepted(srv.port, JSON.stringify({ name: 'hits', value: 'lots', type: 'counter' }));
  const accepted = WRITTEN_WRITES + (small.get(202) ?? 0) + 2;
  const validMetrics = accepted - 2;

  // 4. A group that never consumes, at position 0 of every partition: its lag is everything stored.
  const log = new EmbeddedLog({ dataDir: srv.dataDir, segmentMaxBytes: SEGMENT_MAX_BYTES, indexIntervalBytes: 4096, flushIntervalMs: 0, maxBatchBytes: 1 << 20, maxPendingBytes: 1 << 24, maxPendingRecords: 1000, writtenFsyncIntervalMs: 1000 });
  const partitions = await log.listPartitions(STREAM);
  assert.equal(partitions.length, 2);
  for (const p of partitions) await log.commitPosition('reporting', STREAM, p, 0);
  await log.close();

  const m = await waitFor(
    async () => {
      const s = await scrape(srv.admin);
      const done =
        sampleValue(s, 'hopper_log_end_offset', { stream: STREAM }) === accepted &&
        sampleValue(s, 'hopper_group_lag', { group: 'reporting', stream: STREAM }) === accepted &&
        sampleValue(s, 'hopper_worker_records_total', { pipeline: PIPELINE }) === accepted &&
        sampleValue(s, 'hopper_dead_letters_pending', { stream: STREAM }) === 2 &&
        sampleValue(s, 'hopper_ingest_backpressure_refusals_total', { stream: STREAM }) === refused;
      return done ? s : undefined;
    },
    30_000,
    () => `${accepted} records stored, processed and lagging for "reporting", 2 dead letters, ${refused} refusals`,
  );

  // fsync: durable appends ran real fdatasyncs, summed over both ingest processes.
  assert.ok(sampleValue(m, 'hopper_log_fsync_seconds_count') > 0, 'durable appends ran fsyncs');
  assert.ok(sampleValue(m, 'hopper_log_fsync_seconds_sum') > 0, 'and took time');
  assert.equal(sampleValue(m, 'hopper_log_fsync_seconds_bucket', { le: '+Inf' }), sampleValue(m, 'hopper_log_fsync_seconds_count'));

  // Backpressure and refusals: the counters are what clients saw.
  assert.equal(sampleValue(m, 'hopper_ingest_requests_total', { stream: STREAM, status: '503' }), refused);
  assert.equal(sampleValue(m, 'hopper_ingest_requests_total', { stream: STREAM, status: '413' }), OVERSIZED_WRITES);

  // Lag: per partition, the reporting group lags by the partition's end offset; the pipeline's group caught up.
  for (const p of partitions) {
    const partition = String(p);
    const end = sampleValue(m, 'hopper_log_end_offset', { stream: STREAM, partition });
    assert.ok(end > 0, `partition ${p} holds records`);
    assert.equal(sampleValue(m, 'hopper_group_lag', { group: 'reporting', stream: STREAM, partition }), end);
    assert.equal(sampleValue(m, 'hopper_group_position', { group: 'reporting', stream: STREAM, partition }), 0);
  }
  const otherLag = m.get('hopper_group_lag')!.samples.filter((s) => s.labels.stream === STREAM && s.labels.group !== 'reporting');
  assert.ok(otherLag.length > 0 && otherLag.every((s) => s.value === 0), `the statsd pipeline's group caught up: ${JSON.stringify(otherLag)}`);

  // Dead letters: stored, pending, and counted by the workers.
  assert.equal(sampleValue(m, 'hopper_dead_letters_stored', { stream: STREAM }), 2);
  assert.equal(sampleValue(m, 'hopper_worker_dead_letters_total', { pipeline: PIPELINE }), 2);

  // Segments: 4 KB segments rolled, each sealed one holding at least 4 KB.
  const segments = sampleValue(m, 'hopper_log_segments', { stream: STREAM });
  const bytes = sampleValue(m, 'hopper_log_bytes', { stream: STREAM });
  assert.ok(segments > partitions.length, `segments rolled: ${segments}`);
  assert.ok(segments <= Math.floor(bytes / SEGMENT_MAX_BYTES) + partitions.length, `${segments} segments for ${bytes} bytes`);

  // Events: one per valid metric; the undecodable record has none, the refused metric's event was not processed.
  assert.equal(sampleValue(m, 'hopper_worker_events_total', { pipeline: PIPELINE }), validMetrics);

  // The statsd sink's figures, reported through the pipeline's metrics handle.
  const sink = { sink: 'statsd', pipeline: PIPELINE };
  assert.equal(sampleValue(m, 'hopper_sink_events_written_total', sink), validMetrics);
  assert.equal(sampleValue(m, 'hopper_sink_failed_events_total', sink), 2);
  const batches = sampleValue(m, 'hopper_sink_batches_total', sink);
  assert.ok(batches >= 1);
  assert.equal(sampleValue(m, 'hopper_sink_write_seconds_count', sink), batches, 'one write timing per batch');
  assert.ok(sampleValue(m, 'hopper_sink_datagrams_total', { sink: 'statsd' }) >= 1);
  assert.ok(statsdLines > 0, 'the statsd daemon got metric lines');
});

const redisSkip = await redisSkipReason();

test('with the Redis backend the fsync family is empty: Hopper runs no fsync of its own there', { skip: redisSkip ?? false, timeout: 90_000 }, async (t) => {
  const prefix = uniqueRedisPrefix();
  t.after(() => deleteRedisPrefix(prefix));
  const srv = await startAdminServe(t, ['--workers', '1'], { HOPPER_LOG_BACKEND: 'redis', HOPPER_LOG_REDIS_KEY_PREFIX: prefix });
  assert.deepEqual([...(await sendWrites(srv.port, 'r', 50, (i) => `{"i":${i}}`, 4))], [[202, 50]]);
  const m = await waitFor(
    async () => {
      const s = await scrape(srv.admin);
      return sampleValue(s, 'hopper_log_append_seconds_count', { ack: 'durable' }) > 0 ? s : undefined;
    },
    15_000,
    () => 'durable appends to be reported',
  );
  assert.deepEqual(m.get('hopper_log_fsync_seconds')?.samples ?? [], [], 'no fsync samples from a backend that syncs on its server');
});
