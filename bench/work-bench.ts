// npm run bench:work — how fast workers drain the embedded log, 250-byte NDJSON
// records in one partition: the noop processor (the runtime's own cost), NDJSON
// decoding into the files sink, a bare log.read loop (the log's read path alone),
// and in the same run a plain sequential fs.read of the same segment files in
// 1 MiB chunks: the baseline every ratio is printed against.
// Env: BENCH_RECORDS (default 1,000,000), BENCH_BATCH (batchMaxRecords, default 1000),
// BENCH_CONCURRENCY (default 2), BENCH_DIR (kept when given), BENCH_SKIP_FILES=1.

import { mkdtempSync, openSync, readSync, closeSync, rmSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedLog } from '../src/log/embedded/embedded-log.js';
import type { HopperConfig } from '../src/config/schema.js';
import type { RecordInput } from '../src/log/types.js';
import { loadConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/observe/logger.js';
import { startWorkers } from '../src/work/worker-runtime.js';
import { loadSink } from '../src/sinks/registry.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2);
const BODY_BYTES = 250;
const keep = process.env.BENCH_DIR !== undefined;
const root = process.env.BENCH_DIR ?? mkdtempSync(join(process.cwd(), '.bench-work-'));
const STREAM = 'bench';

const WRITER = {
  segmentMaxBytes: 128 * 1024 * 1024,
  indexIntervalBytes: 4096,
  flushIntervalMs: 0,
  maxBatchBytes: 4 * 1024 * 1024,
  maxPendingBytes: 256 * 1024 * 1024,
  maxPendingRecords: 1_000_000,
  writtenFsyncIntervalMs: 1000,
};

function record(i: number): RecordInput {
  // Two NDJSON lines per record, padded to 250 bytes.
  const head = `{"id":${i},"kind":"a"}\n{"id":${i},"kind":"b","pad":"`;
  return {
    body: Buffer.from(head + 'x'.repeat(BODY_BYTES - head.length - 3) + '"}\n'),
    receivedAtUs: Date.now() * 1000,
    contentType: 'application/x-ndjson',
    contentEncoding: '',
    remoteAddress: '127.0.0.1',
    requestId: `r${i.toString(36)}`,
    idempotencyKey: '',
  };
}

async function fill(log: EmbeddedLog): Promise<void> {
  await log.ensureStream(STREAM, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const chunk = 1000;
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < RECORDS; i += chunk) {
    const n = Math.min(chunk, RECORDS - i);
    inFlight.push(log.append(STREAM, 0, Array.from({ length: n }, (_, k) => record(i + k)), 'written'));
    if (inFlight.length >= 32) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
}

function plainRead(dir: string): { seconds: number; bytes: number } {
  const files = readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
  const buf = Buffer.allocUnsafe(1024 * 1024);
  let bytes = 0;
  const t0 = performance.now();
  for (const f of files) {
    const fd = openSync(join(dir, f), 'r');
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) bytes += n;
    closeSync(fd);
  }
  return { seconds: (performance.now() - t0) / 1000, bytes };
}

async function logReadLoop(log: EmbeddedLog): Promise<number> {
  const t0 = performance.now();
  let offset = 0;
  let n = 0;
  for (;;) {
    const { records, nextOffset } = await log.read(STREAM, 0, offset, { maxRecords: BATCH });
    if (records.length === 0) break;
    n += records.length;
    offset = nextOffset;
  }
  if (n !== RECORDS) throw new Error(`log.read returned ${n} records, expected ${RECORDS}`);
  return (performance.now() - t0) / 1000;
}

async function drain(log: EmbeddedLog, processor: 'noop' | 'files'): Promise<number> {
  const config: HopperConfig = loadConfig({
    env: {},
    cwd: root,
    overrides: {
      dataDir: root,
      logLevel: 'warn',
      pipelines: [{ name: `drain-${processor}`, stream: STREAM, group: `bench-${processor}`, processor, batchMaxRecords: BATCH, batchMaxWaitMs: 0, concurrency: CONCURRENCY }],
    },
  });
  const t0 = performance.now();
  const workers = await startWorkers(config, log, createLogger('warn'));
  const counters = (): number => workers.metrics.snapshot().pipelines[`drain-${processor}`]?.records ?? 0;
  while (counters() < RECORDS) await new Promise((r) => setTimeout(r, 2));
  const seconds = (performance.now() - t0) / 1000;
  await workers.stop();
  return seconds;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const log = new EmbeddedLog({ dataDir: root, ...WRITER });
  try {
    process.stdout.write(`work bench: ${fmt(RECORDS)} records of ${BODY_BYTES} B (NDJSON, 2 lines each), batchMaxRecords ${BATCH}, concurrency ${CONCURRENCY}\n`);
    const tf = performance.now();
    await fill(log);
    process.stdout.write(`filled in ${((performance.now() - tf) / 1000).toFixed(1)} s\n\n`);
    const partDir = log.partitionDir(STREAM, 0);
    const segBytes = readdirSync(partDir).filter((f) => f.endsWith('.log')).reduce((s, f) => s + statSync(join(partDir, f)).size, 0);

    // Load the sink modules before any timing (module loading is not draining).
    await loadSink('noop');
    await loadSink('files');
    const base = plainRead(partDir);
    const baseRate = RECORDS / base.seconds;
    const rows: [string, number][] = [['plain fs.read of the segment files (baseline)', base.seconds]];
    rows.push(['log.read loop (log read path alone)', await logReadLoop(log)]);
    rows.push(['hopper work, noop processor', await drain(log, 'noop')]);
    if (process.env.BENCH_SKIP_FILES !== '1') rows.push(['hopper work, NDJSON decode -> files sink', await drain(log, 'files')]);

    process.stdout.write(`segment bytes: ${(segBytes / 1e6).toFixed(0)} MB\n`);
    for (const [name, seconds] of rows) {
      const rate = RECORDS / seconds;
      process.stdout.write(`${name.padEnd(48)} ${fmt(rate).padStart(12)} records/s  ${(seconds).toFixed(2).padStart(7)} s  ${(rate / baseRate).toFixed(3)}x baseline\n`);
    }
    const noop = RECORDS / rows.find(([n]) => n.includes('noop'))![1];
    process.stdout.write(`\nnoop target 500,000 records/s: ${noop >= 500_000 ? 'met' : 'NOT met'} (${fmt(noop)})\n`);
  } finally {
    await log.close();
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
}

await main();
