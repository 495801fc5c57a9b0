// log.redis.connectTimeoutMs bounds the first connection. ioredis's connectTimeout covers the TCP connect only,
// so a server that accepts and never answers (hung, or not Redis) held every command's open, and `hopper serve`'s
// start, for connectTimeoutMs plus a commandTimeoutMs each for CLIENT SETNAME and the ready check (15 s at the
// defaults). The whole first connect now fails with HOPPER_LOG_UNAVAILABLE once connectTimeoutMs has passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { RedisLog } from '../../src/log/redis/redis-log.js';
import { TEST_REDIS_OPTIONS } from '../helpers/redis.js';
import { isHopperError } from '../../src/errors.js';

const CONNECT_TIMEOUT_MS = 1000;
/** Far above the connect timeout: the old code waited two of these on top of it. */
const COMMAND_TIMEOUT_MS = 10_000;

test('opening a Redis log on a server that accepts and never answers fails within log.redis.connectTimeoutMs', async (t) => {
  const sockets: Socket[] = [];
  const silent = createServer((s) => sockets.push(s)); // accepts, reads nothing, answers nothing
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const { port } = silent.address() as { port: number };

  const started = Date.now();
  const err = await RedisLog.open({
    ...TEST_REDIS_OPTIONS,
    url: `redis://127.0.0.1:${port}`,
    keyPrefix: 'unused:',
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
  }).then(
    async (log) => {
      await log.close();
      return assert.fail('opened a log on a server that never answered');
    },
    (e: unknown) => e,
  );
  const tookMs = Date.now() - started;
  assert.ok(isHopperError(err, 'HOPPER_LOG_UNAVAILABLE'), String(err));
  assert.match(err.message, /connectTimeoutMs/);
  // Generous for a loaded machine, and still below one command timeout.
  assert.ok(tookMs < COMMAND_TIMEOUT_MS, `took ${tookMs} ms`);
});
