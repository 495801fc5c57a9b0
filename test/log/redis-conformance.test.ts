// Runs the shared log conformance suite against the Redis Streams backend
// (HOPPER_TEST_REDIS_URL or 127.0.0.1:6379), under a key prefix unique to this run.
import { runLogConformance } from './conformance.js';
import { deleteRedisPrefix, openRedisLog, redisSkipReason, uniqueRedisPrefix } from '../helpers/redis.js';

runLogConformance('redis', async () => {
  const reason = await redisSkipReason();
  if (reason) return reason;
  const prefix = uniqueRedisPrefix();
  return {
    open: () => openRedisLog(prefix),
    cleanup: () => deleteRedisPrefix(prefix),
    holderArgs: ['redis', prefix],
  };
});
