// Redis consumer groups: deliveries held by a member that died are taken over
// (XAUTOCLAIM) by another member after leaseTimeoutMs, counted as redelivered.
import { test } from 'node:test';
import { openRedisTestLog } from '../helpers/redis.js';
import { abandonedDeliveriesAreRedelivered } from '../helpers/consumer-lease-scenario.js';

test('redis: a dead member’s deliveries go to another member after the lease', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await abandonedDeliveriesAreRedelivered(log, 'lease', 1000);
});
