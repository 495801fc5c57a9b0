// npm run bench:redis-stall — how long a consumer group's large fetches hold Redis: a member drains BENCH_RECORDS
// (default 100,000) records of 100 B with fetch(BENCH_RECORDS) while another connection PINGs Redis every
// millisecond. Prints the longest PING then, and over as long a time with no fetch running (the baseline of the
// same invocation). Redis runs one command at a time: a PING waits for whatever script or read runs before it.
// Env: HOPPER_TEST_REDIS_URL (default redis://127.0.0.1:6379), BENCH_RECORDS.

import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { RedisLog } from '../src/log/redis/redis-log.js';
import type { RecordInput } from '../src/log/types.js';

const URL = process.env.HOPPER_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000);
const prefix = `hopper-bench-${randomBytes(4).toString('hex')}:`;

function record(i: number): RecordInput {
  return { body: Buffer.alloc(100, 0x61), receivedAtUs: Date.now() * 1000, contentType: 'text/plain', contentEncoding: '', remoteAddress: '127.0.0.1', requestId: `r${i}`, idempotencyKey: '' };
}

/**
 * Longest PING round trip while `during` runs, from a worker thread: PINGs sent
 * from this thread would also wait for its own event loop, busy decoding what the fetches return.
 */
async function longestPing(during: () => Promise<unknown>): Promise<number> {
  const pinger = new Worker(PINGER_SOURCE, { eval: true, workerData: { url: URL } });
  await new Promise((resolve) => pinger.once('message', resolve)); // connected
  await during();
  const longest = new Promise<number>((resolve) => pinger.once('message', resolve));
  pinger.postMessage('stop');
  const longestMs = await longest;
  await pinger.terminate();
  return longestMs;
}

const PINGER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Redis } = require('ioredis');
const redis = new Redis(workerData.url);
let stop = false;
parentPort.on('message', () => (stop = true));
(async () => {
  await redis.ping();
  parentPort.postMessage('ready');
  let longestMs = 0;
  while (!stop) {
    const t0 = performance.now();
    await redis.ping();
    longestMs = Math.max(longestMs, performance.now() - t0);
    await new Promise((r) => setTimeout(r, 1));
  }
  redis.disconnect();
  parentPort.postMessage(longestMs);
})();
`;

const log = await RedisLog.open({
  url: URL,
  keyPrefix: prefix,
  connectTimeoutMs: 2000,
  commandTimeoutMs: 30_000,
  maxBatchBytes: 4 * 1024 * 1024,
  maxPendingBytes: 256 * 1024 * 1024,
  maxPendingRecords: 1_000_000,
  retentionCheckIntervalMs: 3_600_000,
});
try {
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < RECORDS; i += 5000) await log.append('s', 0, Array.from({ length: Math.min(5000, RECORDS - i) }, (_, j) => record(i + j)), 'durable');
  const consumer = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 60_000 });
  let got = 0;
  let drainMs = 0;
  const duringMs = await longestPing(async () => {
    const t0 = performance.now();
    while (got < RECORDS) {
      const d = await consumer.fetch(RECORDS, 0);
      if (!d) break;
      got += d.records.length;
      await consumer.commit(d);
    }
    drainMs = performance.now() - t0;
  });
  const idleMs = await longestPing(() => new Promise((r) => setTimeout(r, drainMs)));
  await consumer.close();
  console.log(`redis group stall bench: ${RECORDS.toLocaleString('en-US')} records of 100 B, fetch(${RECORDS})`);
  console.log(`drained ${got.toLocaleString('en-US')} records in ${drainMs.toFixed(0)} ms (${Math.round(got / (drainMs / 1000)).toLocaleString('en-US')} records/s)`);
  console.log(`longest PING while draining: ${duringMs.toFixed(1)} ms; with nothing running, as long: ${idleMs.toFixed(1)} ms; ratio ${(duringMs / idleMs).toFixed(1)}x`);
} finally {
  await log.close();
  const cleanup = new Redis(URL);
  let cursor = '0';
  do {
    const [next, keys] = await cleanup.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await cleanup.del(...keys);
  } while (cursor !== '0');
  cleanup.disconnect();
}
