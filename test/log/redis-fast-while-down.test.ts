// Redis down (killed, no Hopper crash): appends of every ack level, `fast`
// included, are refused at once with HOPPER_LOG_UNAVAILABLE instead of being
// acknowledged and then lost; once Redis is back, `fast` appends are stored again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHopperError } from '../../src/errors.js';
import type { RedisLog } from '../../src/log/redis/redis-log.js';
import { ACK_LEVELS } from '../../src/log/types.js';
import { redisServerMissing, TestRedisServer } from '../helpers/redis-server.js';
import { openRedisLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';


test('redis down: fast appends are refused (503), not acknowledged and lost', { skip: redisServerMissing() }, async (t) => {
  const server = await TestRedisServer.start();
  let log: RedisLog | null = null;
  t.after(async () => {
    await log?.close().catch(() => undefined);
    await server.stop();
  });
  log = await openRedisLog('fastdown:', { url: server.url, commandTimeoutMs: 2000 });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [makeRecord(0)], 'durable');

  await server.kill();
  await waitFor(() => log!.redis.status !== 'ready', 5000, 'the client to notice Redis is gone');
  for (const ack of ACK_LEVELS) {
    for (let i = 0; i < 10; i++) {
      await assert.rejects(
        log.append('s', 0, [makeRecord(100 + i)], ack),
        (err) => isHopperError(err, 'HOPPER_LOG_UNAVAILABLE') && err.retryAfterSeconds === 1,
        `${ack} append while Redis is down`,
      );
    }
  }
  assert.equal(log.lostFastRecords(), 0, 'nothing was acknowledged, so nothing acknowledged was lost');

  await server.startProcess();
  await waitFor(() => log!.redis.status === 'ready', 10_000, 'the client to reconnect');
  const r = await log.append('s', 0, [makeRecord(1)], 'fast');
  assert.equal(r.ack, 'fast');
  await log.append('s', 0, [makeRecord(2)], 'durable'); // answered after the fast one: both are stored
  const { records } = await log.read('s', 0, 0, { maxRecords: 100 });
  assert.deepEqual(
    records.map((x) => x.requestId),
    ['req-0', 'req-1', 'req-2'],
    'only the appends made while Redis was up are stored',
  );
});

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
