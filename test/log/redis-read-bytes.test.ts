// Redis: a read's maxBytes bounds what is fetched from Redis, not only what is returned. The first XRANGE
// of a read asked for 256 entries whatever their size, so a read of at most 256 KiB of 256 KiB records (a
// page of the records API, hopper log read) brought 64 MiB into the process, and a stream of 16 MB bodies
// (ingest.maxBodyBytes allows 256 MB) 4 GB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openRedisTestLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

const RECORDS = 64;
const BODY_BYTES = 256 * 1024;

test('redis: a read fetches about maxBytes of records from Redis, not 256 records', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('big', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < RECORDS; i += 8) {
    await log.append('big', 0, Array.from({ length: 8 }, (_, j) => ({ ...makeRecord(i + j), body: Buffer.alloc(BODY_BYTES, i + j) })), 'durable');
  }
  // Every reply of the log's connection, counted in bytes of the buffers it holds.
  let fetchedBytes = 0;
  const count = (reply: unknown): void => {
    if (Buffer.isBuffer(reply)) fetchedBytes += reply.length;
    else if (Array.isArray(reply)) reply.forEach(count);
  };
  const callBuffer = log.redis.callBuffer.bind(log.redis) as (...args: unknown[]) => Promise<unknown>;
  (log.redis as unknown as { callBuffer: (...args: unknown[]) => Promise<unknown> }).callBuffer = async (...args) => {
    const reply = await callBuffer(...args);
    count(reply);
    return reply;
  };
  for (const [from, maxBytes, expected] of [
    [0, 1, [0]],
    [3, BODY_BYTES, [3]],
    [10, 4 * BODY_BYTES, [10, 11, 12, 13]],
    [60, 100 * BODY_BYTES, [60, 61, 62, 63]],
  ] as const) {
    fetchedBytes = 0;
    const r = await log.read('big', 0, from, { maxRecords: 1000, maxBytes });
    assert.deepEqual(r.records.map((x) => x.offset), expected);
    r.records.forEach((x) => assert.ok(x.body.equals(Buffer.alloc(BODY_BYTES, x.offset)), `record ${x.offset}`));
    assert.equal(r.nextOffset, expected[expected.length - 1]! + 1);
    assert.ok(fetchedBytes < (expected.length + 1) * BODY_BYTES, `read at ${from} of at most ${maxBytes} bytes fetched ${fetchedBytes} bytes`);
  }
});
