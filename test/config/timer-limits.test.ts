// Every setting a timer waits is refused past setTimeout's range (2^31 - 1 ms), naming the key: Node fires
// a longer timer after 1 ms, so ingest.requestTimeoutMs of 3e9 cut every request off at once, a
// retentionCheckIntervalMs of 3e9 ran retention every millisecond, and ingest.shutdownTimeoutMs of 3e9
// killed the ingest children at once on a stop. The worker's own timers: test/work/worker-limits-config.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load-config.js';
import { isHopperError } from '../../src/errors.js';
import { MAX_TIMER_MS } from '../../src/config/schema.js';

const TIMER_KEYS = [
  'ingest.headersTimeoutMs',
  'ingest.requestTimeoutMs',
  'ingest.keepAliveTimeoutMs',
  'ingest.shutdownTimeoutMs',
  'log.embedded.writtenFsyncIntervalMs',
  'log.embedded.retentionCheckIntervalMs',
  'log.redis.retentionCheckIntervalMs',
];

test('timer settings past 2^31 - 1 ms are config errors naming the key; the largest one is taken', () => {
  for (const key of TIMER_KEYS) {
    assert.throws(
      () => loadConfig({ env: {}, cwd: '/nonexistent', overrides: { [key]: MAX_TIMER_MS + 1 } }),
      (err: unknown) => isHopperError(err, 'HOPPER_CONFIG_INVALID') && err.message.startsWith(`config ${key} = 2147483648 is invalid`),
      key,
    );
    const config = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { [key]: MAX_TIMER_MS } });
    const [section, a, b] = key.split('.') as [string, string, string?];
    const value = b === undefined ? (config as any)[section][a] : (config as any)[section][a][b];
    assert.equal(value, MAX_TIMER_MS, key);
  }
});
