// A processor that throws for some records: the batch is retried with backoff
// (fake clock), then bisected, and exactly those records land in the dead-letter
// stream with their reasons; `hopper dlq requeue` appends them back to the stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { encodeDeadLetter, parseDeadLetter } from '../../src/work/dead-letter.js';
import { RetriableError } from '../../src/work/retriable-error.js';
import type { LogRecord } from '../../src/log/types.js';
import type { Log } from '../../src/log/types.js';
import { fakeClock, record, runCli, testConfig, waitFor } from './work-helpers.js';
import { HopperError } from '../../src/errors.js';

const logger = createLogger('silent');
const POISON = new Set([3, 11, 17]);

async function readAll(log: Log, stream: string, partition = 0): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let offset = 0;
  for (;;) {
    const { records, nextOffset } = await log.read(stream, partition, offset, { maxRecords: 1000 });
    if (records.length === 0) return out;
    out.push(...records);
    offset = nextOffset;
  }
}

test('poison records: retries with backoff, bisect, exactly those in the DLQ, then requeue brings them back', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  let log = openEmbedded(dir);
  await log.ensureStream('orders', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const inputs = Array.from({ length: 20 }, (_, n) => record(JSON.stringify({ n, poison: POISON.has(n) }), { requestId: `order-${n}`, idempotencyKey: `k-${n}` }));
  await log.append('orders', 0, inputs, 'durable');

  const config = testConfig(dir, {
    pipelines: [{ name: 'orders.test', stream: 'orders', group: 'g', processor: 'noop', batchMaxRecords: 20, batchMaxWaitMs: 0, maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 150 }],
  });
  const clock = fakeClock();
  const processed = new Set<number>();
  const attemptsSeen: number[] = [];
  const processor = defineProcessor({
    process(batch) {
      attemptsSeen.push(batch.attempt);
      for (const item of batch.items) {
        const [event] = item.events() as { n: number; poison: boolean }[];
        if (event!.poison) throw new Error(`order ${event!.n} is poison`);
      }
      for (const item of batch.items) processed.add((item.events()[0] as { n: number }).n);
    },
  });
  const workers = await startWorkers(config, log, logger, { clock, random: () => 0.5, processors: { 'orders.test': processor } });
  await waitFor('the group to commit all 20 records', async () => (await log.getPosition('g', 'orders', 0)) === 20);
  await workers.stop();

  // Whole batch: 3 attempts, waits 0.5 * 100 then 0.5 * min(150, 200); each poison record alone: the same again.
  assert.deepEqual(clock.sleeps, [50, 75, 50, 75, 50, 75, 50, 75]);
  assert.deepEqual(attemptsSeen.slice(0, 3), [1, 2, 3]);
  assert.deepEqual([...processed].sort((a, b) => a - b), [...Array(20).keys()].filter((n) => !POISON.has(n)));
  const snapshot = workers.metrics.snapshot().pipelines['orders.test']!;
  assert.equal(snapshot.deadLetters, 3);
  assert.equal(snapshot.records, 20);

  const letters = (await readAll(log, 'orders.dlq')).map((r) => parseDeadLetter(r)!);
  assert.equal(letters.length, 3);
  assert.deepEqual(letters.map((l) => l.info.offset), [3, 11, 17]);
  for (const l of letters) {
    const n = l.info.offset;
    assert.equal(l.info.kind, 'processor');
    assert.equal(l.info.reason, `order ${n} is poison`);
    assert.equal(l.info.stream, 'orders');
    assert.equal(l.info.pipeline, 'orders.test');
    assert.equal(l.info.requestId, `order-${n}`);
    assert.equal(l.info.idempotencyKey, `k-${n}`);
    assert.ok(l.info.attempts >= 6, `attempts ${l.info.attempts}: 3 with the batch, probes, 3 alone`);
    assert.ok(l.info.lastFailureAtMs > l.info.firstFailureAtMs);
    assert.ok(l.body.equals(inputs[n]!.body), 'the original bytes are kept');
  }
  await log.close();

  const list = runCli(['dlq', 'list', '--data-dir', dir, '--stream', 'orders']);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout.trim().split('\n').length, 3);
  assert.match(list.stdout, /0:1 .*processor .*orders\/0@11 .*order 11 is poison/);
  const show = runCli(['dlq', 'show', '--data-dir', dir, '--stream', 'orders', '--offset', '2']);
  assert.equal(show.code, 0, show.stderr);
  const shown = JSON.parse(show.stdout) as Record<string, unknown>;
  assert.equal(shown.reason, 'order 17 is poison');
  assert.equal(shown.body, inputs[17]!.body.toString());

  const requeue = runCli(['dlq', 'requeue', '--data-dir', dir, '--stream', 'orders']);
  assert.equal(requeue.code, 0, requeue.stderr);
  assert.match(requeue.stdout, /requeued 3 dead letters of orders/);
  assert.match(runCli(['dlq', 'list', '--data-dir', dir, '--stream', 'orders']).stdout, /no pending dead letters/);
  assert.equal(runCli(['dlq', 'list', '--data-dir', dir, '--stream', 'orders', '--all']).stdout.trim().split('\n').length, 3);

  log = openEmbedded(dir);
  t.after(() => log.close());
  const all = await readAll(log, 'orders');
  assert.equal(all.length, 23);
  for (const [i, n] of [3, 11, 17].entries()) {
    const back = all[20 + i]!;
    assert.ok(back.body.equals(inputs[n]!.body));
    assert.equal(back.requestId, `order-${n}`);
    assert.equal(back.idempotencyKey, `k-${n}`);
    assert.equal(back.receivedAtUs, inputs[n]!.receivedAtUs);
  }
  assert.equal(await log.getPosition('dlq-handled', 'orders.dlq', 0), 3);
});

test('items named in `failed` go to the DLQ with their reason; retriable errors never do', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('votes', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('votes', 0, Array.from({ length: 10 }, (_, n) => record(JSON.stringify({ n }))), 'durable');
  const config = testConfig(dir, {
    pipelines: [{ name: 'votes.test', stream: 'votes', group: 'g', processor: 'noop', batchMaxRecords: 10, batchMaxWaitMs: 0, maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 1000 }],
  });
  const clock = fakeClock();
  let outage = 6; // the first 6 calls fail as if the database were down
  const processor = defineProcessor({
    process(batch) {
      if (outage-- > 0) throw new RetriableError('database is down');
      return { failed: batch.items.filter((i) => (i.events()[0] as { n: number }).n % 4 === 0).map((item) => ({ item, reason: 'vote out of range' })) };
    },
  });
  const workers = await startWorkers(config, log, logger, { clock, random: () => 1, processors: { 'votes.test': processor } });
  await waitFor('all 10 committed', async () => (await log.getPosition('g', 'votes', 0)) === 10);
  await workers.stop();
  // Six retriable failures with growing backoff (capped at maxBackoffMs), more than maxAttempts, and no bisect.
  assert.deepEqual(clock.sleeps, [10, 20, 40, 80, 160, 320]);
  const letters = (await readAll(log, 'votes.dlq')).map((r) => parseDeadLetter(r)!);
  assert.deepEqual(letters.map((l) => l.info.offset), [0, 4, 8]);
  for (const l of letters) {
    assert.equal(l.info.kind, 'rejected');
    assert.equal(l.info.reason, 'vote out of range');
  }
});

test('a processor that throws what cannot be printed: retried and dead-lettered like any failure, the pipeline goes on', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('odd', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('odd', 0, [0, 1, 2, 3].map((n) => record(JSON.stringify({ n }))), 'durable');
  const config = testConfig(dir, {
    pipelines: [{ name: 'odd.test', stream: 'odd', group: 'g', processor: 'noop', batchMaxRecords: 4, batchMaxWaitMs: 0, maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 10 }],
  });
  // Record 1: a value with no toString; record 2: an Error whose message getter throws.
  const unprintable = [
    Object.create(null) as unknown,
    Object.defineProperty(new Error(), 'message', {
      get() {
        throw new TypeError('no message');
      },
    }),
  ];
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) {
        const { n } = item.events()[0] as { n: number };
        if (n === 1 || n === 2) throw unprintable[n - 1];
      }
    },
  });
  const workers = await startWorkers(config, log, logger, { clock: fakeClock(), random: () => 0.5, processors: { 'odd.test': processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit all 4 records', async () => (await log.getPosition('g', 'odd', 0)) === 4);
  const letters = (await readAll(log, 'odd.dlq')).map((r) => parseDeadLetter(r)!);
  assert.deepEqual(letters.map((l) => l.info.offset), [1, 2]);
  // The object with no prototype is written as the JSON it is; the Error whose message getter throws cannot be read.
  assert.equal(letters[0]!.info.reason, '{} was thrown (not an Error)');
  assert.match(letters[1]!.info.reason, /^a value that cannot be described was thrown/);
  assert.equal(workers.metrics.snapshot().pipelines['odd.test']!.state, 'running');
});

test('requeue while another process (a running hopper serve) writes every partition: the stream grows one for the requeued records', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('orders', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  // This process now holds partition 0 of orders, as an ingest child of hopper serve would.
  await log.append('orders', 0, [record('{"live":true}')], 'durable');
  await log.ensureStream('orders.dlq', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const originals = [0, 1].map((n) => record(`{"n":${n}}`, { requestId: `req-${n}`, idempotencyKey: `k-${n}` }));
  const letters = originals.map((r, n) =>
    encodeDeadLetter(
      { v: 1, stream: 'orders', partition: 0, offset: n, receivedAtUs: r.receivedAtUs, contentType: r.contentType, contentEncoding: '', remoteAddress: r.remoteAddress,
        requestId: r.requestId, idempotencyKey: r.idempotencyKey, pipeline: 'orders.test', group: 'g', kind: 'processor', reason: 'refused', attempts: 3,
        firstFailureAtMs: 1, lastFailureAtMs: 2 },
      r.body,
      Date.now() * 1000,
    ),
  );
  await log.append('orders.dlq', 0, letters, 'durable');

  const requeue = runCli(['dlq', 'requeue', '--data-dir', dir, '--stream', 'orders']);
  assert.equal(requeue.code, 0, requeue.stderr);
  assert.match(requeue.stdout, /requeued 2 dead letters of orders/);
  assert.deepEqual(await log.listPartitions('orders'), [0, 1], 'one partition more, written by the requeue');
  const back = await readAll(log, 'orders', 1);
  assert.deepEqual(back.map((r) => [r.body.toString(), r.requestId, r.idempotencyKey, r.receivedAtUs]), originals.map((r) => [r.body.toString(), r.requestId, r.idempotencyKey, r.receivedAtUs]));
  assert.deepEqual((await readAll(log, 'orders', 0)).map((r) => r.body.toString()), ['{"live":true}'], 'the held partition is untouched');
  assert.equal(await log.getPosition('dlq-handled', 'orders.dlq', 0), 2);
  // The held partition is still this process's: its writes go on.
  await log.append('orders', 0, [record('{"live":2}')], 'durable');
});

test('a dead letter too large for the dead-letter stream is stored without its body; requeue reads the original back', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const large = `{"big":"${'x'.repeat(50_000)}"`; // malformed JSON: a decode dead letter at once
  await log.append('s', 0, [record(large, { requestId: 'large' }), record('{"n":', { requestId: 'small' }), record('{"n":2}')], 'durable');
  // A backend whose messages hold at most 10 kB (NATS max_payload, in small): a permanent refusal.
  const limited = new Proxy(log, {
    get(target, key, receiver) {
      if (key !== 'append') return Reflect.get(target, key, receiver) as unknown;
      return (stream: string, partition: number, records: { body: Buffer }[], ack: string) => {
        if (stream.endsWith('.dlq') && records.some((r) => r.body.length > 10_000)) {
          return Promise.reject(new HopperError('HOPPER_BODY_TOO_LARGE', 'a record is larger than the backend takes'));
        }
        return (target.append as (...args: unknown[]) => Promise<unknown>)(stream, partition, records, ack);
      };
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', processor: 'noop', batchMaxRecords: 10, batchMaxWaitMs: 0 }] });
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) item.events();
    },
  });
  const workers = await startWorkers(config, limited, createLogger('silent'), { clock: fakeClock(), processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the batch to be committed', async () => (await log.getPosition('g', 's', 0)) === 3);
  await workers.stop();

  const letters = (await log.read('s.dlq', 0, 0, { maxRecords: 10 })).records.map((r) => parseDeadLetter(r)!);
  assert.deepEqual(
    letters.map((l) => [l.info.requestId, l.info.bodyOmittedBytes, l.body.length]),
    [
      ['large', Buffer.byteLength(large), 0],
      ['small', undefined, 5],
    ],
  );
  const requeue = runCli(['dlq', 'requeue', '--data-dir', dir, '--stream', 's']);
  assert.equal(requeue.code, 0, requeue.stderr);
  // This process still writes partition 0, so requeue appended to a partition of its own.
  const back: LogRecord[] = [];
  for (const p of await log.listPartitions('s')) back.push(...(await log.read('s', p, p === 0 ? 3 : 0, { maxRecords: 10 })).records);
  assert.deepEqual(back.map((r) => [r.requestId, r.body.length, r.body.toString() === (r.requestId === 'large' ? large : '{"n":')]), [
    ['large', Buffer.byteLength(large), true],
    ['small', 5, true],
  ]);
});
