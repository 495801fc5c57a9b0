// npm run bench:log — embedded log throughput with 250-byte records: appends in
// `durable` and `written` modes from many concurrent appenders, sequential reads,
// and in the same run a plain fs.writeSync + fdatasync of the same bytes with the
// same fsync cadence (the bandwidth to compare with). Each figure is the median of
// BENCH_ROUNDS rounds, the log and the plain writes alternating, because the disk's
// speed drifts between seconds (plain writes were seen from 0.4 to 1.4 GB/s here).
// Env: BENCH_RECORDS (default 1,000,000), BENCH_BODY_BYTES (default 250), BENCH_APPENDERS (records in flight, default 2000), BENCH_ROUNDS
// (default 3), BENCH_DIR, BENCH_PER_APPEND (records per append call, default 1; the ingest path appends
// one batch per event-loop turn, so 64 is its shape under wrk -c64), BENCH_MIN_FSYNC_MS (log.embedded.minFsyncIntervalMs) and
// BENCH_MAX_BATCH_BYTES (log.embedded.maxBatchBytes), both defaulting to the config's defaults.

import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load-config.js';
import { EmbeddedLog } from '../src/log/embedded/embedded-log.js';
import type { AckLevel, RecordInput } from '../src/log/types.js';
import type { PartitionWriter } from '../src/log/embedded/partition-writer.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const APPENDERS = Number(process.env.BENCH_APPENDERS ?? 2000);
const PER_APPEND = Math.max(1, Number(process.env.BENCH_PER_APPEND ?? 1));
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const BODY_BYTES = Math.max(16, Number(process.env.BENCH_BODY_BYTES ?? 250));
const root = process.env.BENCH_DIR ?? mkdtempSync(join(process.cwd(), '.bench-log-'));
/** The config's defaults (no file, no HOPPER_* variables), so the bench measures what `hopper serve` runs. */
const defaults = loadConfig({ env: {}, cwd: root }).log.embedded;

function record(i: number): RecordInput {
  const head = `{"id":${i},"v":"`;
  return {
    body: Buffer.from(head + 'x'.repeat(BODY_BYTES - head.length - 2) + '"}'),
    receivedAtUs: Date.now() * 1000,
    contentType: 'application/json',
    contentEncoding: '',
    remoteAddress: '127.0.0.1',
    requestId: `r${i.toString(36)}`,
    idempotencyKey: '',
  };
}

function openLog(dir: string): EmbeddedLog {
  return new EmbeddedLog({
    dataDir: dir,
    segmentMaxBytes: 128 * 1024 * 1024,
    indexIntervalBytes: 4096,
    flushIntervalMs: Number(process.env.BENCH_FLUSH_MS ?? 0),
    maxBatchBytes: Number(process.env.BENCH_MAX_BATCH_BYTES ?? defaults.maxBatchBytes),
    maxPendingBytes: 256 * 1024 * 1024,
    maxPendingRecords: 1_000_000,
    writtenFsyncIntervalMs: 1000,
    minFsyncIntervalMs: Number(process.env.BENCH_MIN_FSYNC_MS ?? defaults.minFsyncIntervalMs),
  });
}

interface AppendRun {
  recordsPerSec: number;
  mbPerSec: number;
  bytes: number;
  syncs: number;
  writes: number;
  seconds: number;
}

async function appendRun(dir: string, ack: AckLevel, perAppend: number): Promise<AppendRun> {
  const log = openLog(dir);
  await log.ensureStream('bench', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('bench', 0, [record(-1)], 'durable'); // open and recover outside the timing
  const pool = Array.from({ length: 1024 }, (_, i) => record(i));
  const batches = Array.from({ length: 1024 }, (_, i) => Array.from({ length: perAppend }, (_, j) => pool[(i * perAppend + j) & 1023]!));
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.max(1, Math.floor(APPENDERS / perAppend)) }, async () => {
      while (next < RECORDS) {
        const batch = batches[(next / perAppend) & 1023]!;
        next += batch.length;
        await log.append('bench', 0, batch, ack);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const writer = (log as unknown as { writers: Map<string, PartitionWriter> }).writers.get('bench/0')!;
  const { bytesWritten, syncs, writes } = writer.counters;
  await log.close();
  return { recordsPerSec: RECORDS / seconds, mbPerSec: bytesWritten / seconds / 1e6, bytes: bytesWritten, syncs, writes, seconds };
}

async function readRun(dir: string): Promise<{ recordsPerSec: number; mbPerSec: number }> {
  const log = openLog(dir);
  let offset = 0;
  let n = 0;
  let bytes = 0;
  const t0 = performance.now();
  for (;;) {
    const { records, nextOffset } = await log.read('bench', 0, offset, { maxRecords: 10_000 });
    if (records.length === 0) break;
    n += records.length;
    for (const r of records) bytes += r.body.length;
    offset = nextOffset;
  }
  const seconds = (performance.now() - t0) / 1000;
  await log.close();
  return { recordsPerSec: n / seconds, mbPerSec: bytes / seconds / 1e6 };
}

/** The same bytes, written sequentially with writeSync, one fdatasync per `chunk` bytes. */
function plainWriteRun(dir: string, totalBytes: number, syncs: number): { mbPerSec: number } {
  const chunkBytes = Math.max(4096, Math.floor(totalBytes / Math.max(1, syncs)));
  const buf = Buffer.alloc(chunkBytes, 0x61);
  const fd = openSync(join(dir, 'plain.bin'), 'w');
  const t0 = performance.now();
  for (let written = 0; written < totalBytes; written += chunkBytes) {
    writeSync(fd, buf);
    fdatasyncSync(fd);
  }
  const seconds = (performance.now() - t0) / 1000;
  closeSync(fd);
  return { mbPerSec: totalBytes / seconds / 1e6 };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function median<T>(runs: T[], key: (r: T) => number): T {
  return [...runs].sort((a, b) => key(a) - key(b))[Math.floor(runs.length / 2)]!;
}

try {
  console.log(`embedded log bench: ${fmt(RECORDS)} records of ${BODY_BYTES} B, ${APPENDERS} records in flight (${PER_APPEND} per append call), median of ${ROUNDS} rounds`);
  const durables: AppendRun[] = [];
  const plains: { mbPerSec: number }[] = [];
  const writtens: AppendRun[] = [];
  const reads: { recordsPerSec: number; mbPerSec: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const durableDir = join(root, `durable-${round}`);
    const writtenDir = join(root, `written-${round}`);
    const durable = await appendRun(durableDir, 'durable', PER_APPEND);
    const plain = plainWriteRun(root, durable.bytes, durable.syncs);
    const written = await appendRun(writtenDir, 'written', PER_APPEND);
    await readRun(durableDir); // warm-up pass: JIT and page cache, as a long-running worker would be
    const read = await readRun(durableDir);
    console.log(
      `  round ${round + 1}: durable ${fmt(durable.recordsPerSec)}/s ${durable.mbPerSec.toFixed(0)} MB/s, plain ${plain.mbPerSec.toFixed(0)} MB/s, written ${fmt(written.recordsPerSec)}/s, read ${fmt(read.recordsPerSec)}/s`,
    );
    durables.push(durable);
    plains.push(plain);
    writtens.push(written);
    reads.push(read);
    rmSync(durableDir, { recursive: true, force: true });
    rmSync(writtenDir, { recursive: true, force: true });
  }
  const durable = median(durables, (r) => r.recordsPerSec);
  const plain = median(plains, (r) => r.mbPerSec);
  const written = median(writtens, (r) => r.recordsPerSec);
  const read = median(reads, (r) => r.recordsPerSec);
  const perSync = durable.syncs > 0 ? RECORDS / durable.syncs : 0;
  console.log(`append durable : ${fmt(durable.recordsPerSec)} records/s, ${durable.mbPerSec.toFixed(1)} MB/s (${fmt(durable.syncs)} fsyncs, ${fmt(perSync)} records per fsync)`);
  console.log(`append written : ${fmt(written.recordsPerSec)} records/s, ${written.mbPerSec.toFixed(1)} MB/s`);
  console.log(`read sequential (2nd pass): ${fmt(read.recordsPerSec)} records/s, ${read.mbPerSec.toFixed(1)} MB/s of bodies`);
  console.log(`plain writeSync+fdatasync, same bytes and fsync cadence: ${plain.mbPerSec.toFixed(1)} MB/s`);
  console.log(`ratio durable/plain bandwidth (medians): ${(durable.mbPerSec / plain.mbPerSec).toFixed(2)}x (target >= 0.5)`);
  console.log(`targets: durable >= 500,000 records/s: ${durable.recordsPerSec >= 500_000 ? 'met' : 'MISSED'}; read >= 1,000,000 records/s: ${read.recordsPerSec >= 1_000_000 ? 'met' : 'MISSED'}`);
} finally {
  if (!process.env.BENCH_DIR) rmSync(root, { recursive: true, force: true });
}
