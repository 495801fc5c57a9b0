// Redis consumer groups: deliveries held by a member that died are taken over
// (XAUTOCLAIM) by another member after leaseTimeoutMs, counted as redelivered.
import { test } from 'node:test';
import { deleteRedisPrefix, openRedisLog, redisSkipReason, uniqueRedisPrefix } from '../helpers/redis.js';
import { abandonedDeliveriesAreRedelivered } from '../helpers/consumer-lease-scenario.js';

test('redis: a dead member’s deliveries go to another member after the lease', async (t) => {
  const reason = await redisSkipReason();
  if (reason) return t.skip(reason);
  const prefix = uniqueRedisPrefix();
  const log = await openRedisLog(prefix);
  t.after(async () => {
    await log.close();
    await deleteRedisPrefix(prefix);
  });
  await abandonedDeliveriesAreRedelivered(log, 'lease', 1000);
});
