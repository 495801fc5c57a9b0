// Redis consumer groups: deliveries held by a member that died are taken over
// (XAUTOCLAIM) by another member after leaseTimeoutMs, counted as redelivered.
import { test } from 'node:test';
import { deleteRedisPrefix, openRedisLog, redisSkipReason, uniqueRedisPrefix } from '../helpers/redis.js';
import { abandonedDeliveriesAreRedelivered } from '../helpers/consumer-lease-scenario.js';
import type { Log, LogConsumer } from '../../src/log/types.js';
import type { RedisGroupConsumer } from '../../src/log/redis/redis-group-consumer.js';

/**
 * The scenario's first member ("dead") does nothing after its first fetch. Renewals run on a timer,
 * not in fetch(), so in this process it must also stop renewing, as a killed process would.
 */
function crashDeadAfterFirstFetch(log: Log): Log {
  const openConsumer: Log['openConsumer'] = async (options) => {
    const consumer = await log.openConsumer(options);
    if (options.consumerName !== 'dead') return consumer;
    const crashing: LogConsumer = {
      fetch: async (...args) => {
        const d = await consumer.fetch(...args);
        (consumer as RedisGroupConsumer).simulateCrash();
        return d;
      },
      commit: (d) => consumer.commit(d),
      close: () => consumer.close(),
    };
    return crashing;
  };
  return new Proxy(log, {
    get: (target, prop) => {
      if (prop === 'openConsumer') return openConsumer;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

test('redis: a dead member’s deliveries go to another member after the lease', async (t) => {
  const reason = await redisSkipReason();
  if (reason) return t.skip(reason);
  const prefix = uniqueRedisPrefix();
  const log = await openRedisLog(prefix);
  t.after(async () => {
    await log.close();
    await deleteRedisPrefix(prefix);
  });
  await abandonedDeliveriesAreRedelivered(crashDeadAfterFirstFetch(log), 'lease', 1000);
});
