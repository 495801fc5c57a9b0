// Redis configured as a cache (maxmemory with an allkeys-* policy) deletes whole keys when full: Hopper's
// partitions with their acknowledged records and group positions, silently. Opening the log says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { redisServerMissing, TestRedisServer } from '../helpers/redis-server.js';
import { openRedisLog } from '../helpers/redis.js';

test('redis: opening the log warns when Redis may evict its keys (allkeys-* maxmemory-policy), not otherwise', { skip: redisServerMissing() }, async (t) => {
  const server = await TestRedisServer.start();
  t.after(() => server.stop());
  const admin = new Redis(server.url);
  t.after(() => admin.disconnect());
  const warningsWith = async (policy: string, maxmemory: string): Promise<string[]> => {
    await admin.config('SET', 'maxmemory-policy', policy);
    await admin.config('SET', 'maxmemory', maxmemory);
    const warnings: string[] = [];
    const log = await openRedisLog('evict:', { url: server.url, warn: (_o, msg) => warnings.push(msg) });
    await log.close();
    return warnings.filter((w) => w.includes('maxmemory'));
  };
  const [lru] = await warningsWith('allkeys-lru', '64mb');
  assert.match(lru ?? '', /allkeys-lru.*noeviction/);
  assert.equal((await warningsWith('allkeys-random', '64mb')).length, 1);
  assert.deepEqual(await warningsWith('noeviction', '64mb'), []);
  assert.deepEqual(await warningsWith('volatile-lru', '64mb'), [], 'volatile-* takes only keys with a TTL: of Hopper\'s only a held lock, never partitions or group positions');
  assert.deepEqual(await warningsWith('allkeys-lru', '0'), [], 'no maxmemory: nothing is evicted');
});
