// npm run bench:sinks — throughput of the built-in sinks, each against a baseline
// run in the same invocation:
//   postgres  the sink's COPY path (COPY into the keyed table; on a key already there, the
//             temp stage and INSERT ... ON CONFLICT DO NOTHING; one transaction per batch) with 250-byte
//             events, vs a plain COPY of the same rows into a table of the same shape and
//             key, with the same client (a pg.Pool connection and pg-copy-streams), one
//             transaction per batch of the same size. Target: sink >= 0.7x plain COPY.
//   statsd    the gateway's metrics/s (JSON metric events to DogStatsD datagrams over UDP
//             to a local socket), vs a loop sending the same pre-formatted datagrams.
// Events are decoded before timing (decoding is the runtime's work, not the sink's).
// Env: BENCH_SECONDS per phase (default 10), BENCH_BATCH records per batch (default 1000),
// HOPPER_BENCH_PG_URL (else HOPPER_TEST_PG_URL, else postgres://root@127.0.0.1:5432/test).

import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { pino } from 'pino';
import postgresSink from '../src/sinks/postgres-sink.js';
import statsdSink from '../src/sinks/statsd-sink.js';
import { copyIn } from '../src/sinks/postgres-copy.js';
import { defaultTableDdl, DEFAULT_COLUMNS, rowEncoder } from '../src/sinks/postgres-columns.js';
import { RecordItem } from '../src/work/batch-item.js';
import type { MetricsHandle, ProcessContext, SinkContext } from '../src/work/types.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const EVENT_BYTES = 250;
const PG_URL = process.env.HOPPER_BENCH_PG_URL ?? process.env.HOPPER_TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';

const noMetrics: MetricsHandle = { increment() {}, gauge() {}, observe() {} };
const ctx: ProcessContext = { logger: pino({ level: 'silent' }), metrics: noMetrics, signal: new AbortController().signal, pipeline: 'bench', options: {} };
const sinkContext: SinkContext = { dataDir: '/tmp', pipeline: 'bench.sinks', stream: 'bench', group: 'bench' };

/** A 250-byte JSON event body, decoded (as the runtime would have done before the sink runs). */
function item(offset: number, body: string): RecordItem {
  const it = new RecordItem(
    { stream: 'bench', partition: 0, offset, body: Buffer.from(body), receivedAtUs: Date.now() * 1000, contentType: 'application/json', contentEncoding: '', remoteAddress: '127.0.0.1', requestId: `r${offset}`, idempotencyKey: '' },
    { maxDecodedBytes: 1 << 20, validate: null },
  );
  it.events();
  return it;
}

function eventBody(i: number): string {
  const head = `{"id":${i},"user":"u${i % 9973}","action":"click","v":"`;
  return head + 'x'.repeat(EVENT_BYTES - head.length - 2) + '"}';
}

function batches(count: number, firstOffset: number, make: (offset: number) => RecordItem): RecordItem[][] {
  return Array.from({ length: count }, (_, b) => Array.from({ length: BATCH }, (_, i) => make(firstOffset + b * BATCH + i)));
}

/** Runs `step` (one batch of BATCH events) over and over for SECONDS; returns events/s. */
async function timed(label: string, step: (round: number) => Promise<void>, eventsPerStep = BATCH): Promise<number> {
  const until = performance.now() + SECONDS * 1000;
  const started = performance.now();
  let rounds = 0;
  while (performance.now() < until) await step(rounds++);
  const perSec = (rounds * eventsPerStep) / ((performance.now() - started) / 1000);
  console.log(`  ${label.padEnd(44)} ${Math.round(perSec).toLocaleString('en-US').padStart(12)} events/s  (${rounds} batches)`);
  return perSec;
}

async function benchPostgres(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch (err) {
    console.log(`postgres: skipped, cannot connect to ${PG_URL}: ${(err as Error).message}`);
    return;
  }
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const sinkTable = `hopper_bench_sink_${suffix}`;
  const copyTable = `hopper_bench_copy_${suffix}`;
  await admin.query(defaultTableDdl(copyTable));
  console.log(`postgres (${BATCH} events of ${EVENT_BYTES} bytes per batch and transaction, ${SECONDS} s per phase)`);
  // Enough distinct batches that both phases write new keys every time (a repeated batch would only hit conflicts).
  const pool = Array.from({ length: 8 }, (_, i) => batches(1, i * BATCH, (o) => item(o, eventBody(o)))[0]!);
  const sink = postgresSink({ url: PG_URL, table: sinkTable, poolMax: 1 }, sinkContext);
  const encode = rowEncoder(Object.values(DEFAULT_COLUMNS));
  const copyPool = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const copySql = `COPY ${copyTable} (stream, partition, "offset", idx, received_at, data) FROM STDIN`;
  try {
    // Each round shifts the offsets, so every batch writes fresh keys (the common case: no redelivery).
    const shifted = (round: number): RecordItem[] => {
      const base = pool[round % pool.length]!;
      const shift = Math.floor(round / pool.length) * pool.length * BATCH;
      return shift === 0 ? base : base.map((it) => shiftedItem(it, shift));
    };
    await sink.process({ stream: 'bench', partition: 0, items: pool[0]!.map((it) => shiftedItem(it, -10 * BATCH)), attempt: 1 }, ctx); // warm-up
    const copyRate = await timed('plain COPY (baseline)', async (round) => {
      const rows = shifted(round).map((it) => encode(it, it.events()));
      const client = await copyPool.connect();
      try {
        await client.query('BEGIN');
        await copyIn(client, copySql, [rows.join('')]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    });
    const sinkRate = await timed('postgres sink (fresh keys: straight COPY)', async (round) => {
      const result = await sink.process({ stream: 'bench', partition: 0, items: shifted(round), attempt: 1 }, ctx);
      if (result?.failed?.length) throw new Error(`bench rows failed: ${result.failed[0]!.reason}`);
    });
    const redeliveryRate = await timed('postgres sink, redelivered (all dups: stage)', async (round) => {
      await sink.process({ stream: 'bench', partition: 0, items: shifted(round), attempt: 2 }, ctx);
    });
    console.log(`  ratio sink / plain COPY: ${(sinkRate / copyRate).toFixed(2)}x (target >= 0.70x); redelivery ${(redeliveryRate / copyRate).toFixed(2)}x`);
  } finally {
    await sink.stop?.(ctx);
    await copyPool.end();
    await admin.query(`DROP TABLE IF EXISTS ${sinkTable}`);
    await admin.query(`DROP TABLE IF EXISTS ${copyTable}`);
    await admin.end();
  }
}

/** The same record at another offset (a new key), already decoded. */
function shiftedItem(it: RecordItem, shift: number): RecordItem {
  const copy = new RecordItem({ ...it.record, offset: it.offset + shift }, { maxDecodedBytes: 1 << 20, validate: null });
  copy.events();
  return copy;
}

async function benchStatsd(): Promise<void> {
  const receiver = dgram.createSocket('udp4');
  let received = 0;
  receiver.on('message', () => received++);
  await new Promise<void>((r) => receiver.bind(0, '127.0.0.1', r));
  const port = (receiver.address() as AddressInfo).port;
  const perItem = 10;
  const items = Array.from({ length: BATCH / perItem }, (_, r) =>
    item(
      r,
      JSON.stringify(
        Array.from({ length: perItem }, (_, i) => ({ name: `api.request.duration_${i}`, value: (r * 7 + i) % 500, type: 'timer', sampleRate: 0.5, tags: { route: `/r${i}`, status: '200' } })),
      ),
    ),
  );
  const sink = statsdSink({ port, flavor: 'dogstatsd', prefix: 'app.', globalTags: ['env:bench'] }, sinkContext);
  console.log(`statsd (${BATCH} JSON metrics per batch, DogStatsD with tags, 1432-byte datagrams, ${SECONDS} s per phase)`);
  try {
    // Baseline: the datagrams the sink would send, pre-formatted, sent the same way (one send per datagram).
    const sender = dgram.createSocket('udp4');
    const sample: Buffer[] = [];
    const capture = dgram.createSocket('udp4');
    capture.on('message', (m) => sample.push(m));
    await new Promise<void>((r) => capture.bind(0, '127.0.0.1', r));
    const once = statsdSink({ port: (capture.address() as AddressInfo).port, flavor: 'dogstatsd', prefix: 'app.', globalTags: ['env:bench'] }, sinkContext);
    await once.process({ stream: 'bench', partition: 0, items, attempt: 1 }, ctx);
    await new Promise((r) => setTimeout(r, 200));
    await once.stop?.(ctx);
    capture.close();
    const sendRate = await timed('plain dgram send of the same datagrams', async () => {
      await new Promise<void>((resolve, reject) => {
        let left = sample.length;
        for (const d of sample) sender.send(d, port, '127.0.0.1', (err) => (err ? reject(err) : --left === 0 && resolve()));
      });
    });
    sender.close();
    received = 0;
    const sinkRate = await timed('statsd sink', async () => {
      await sink.process({ stream: 'bench', partition: 0, items, attempt: 1 }, ctx);
    });
    console.log(`  ratio sink / plain send: ${(sinkRate / sendRate).toFixed(2)}x; ${sample.length} datagrams per ${BATCH} metrics`);
  } finally {
    await sink.stop?.(ctx);
    receiver.close();
  }
}

await benchPostgres();
await benchStatsd();
