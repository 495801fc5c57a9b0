// Redis killed (SIGKILL) and restarted under a load of durable appends, with one
// Log open throughout: appends fail fast with HOPPER_LOG_UNAVAILABLE while Redis
// is down, every acknowledged record is still there byte for byte afterwards,
// and appends succeed again without reopening the Log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHopperError } from '../../src/errors.js';
import type { RedisLog } from '../../src/log/redis/redis-log.js';
import { redisServerMissing, TestRedisServer } from '../helpers/redis-server.js';
import { openRedisLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

const APPENDERS = 8;

test('redis restart during load: 503 while down, nothing acknowledged lost, recovery without reopening', { skip: redisServerMissing() }, async (t) => {
  const server = await TestRedisServer.start();
  let log: RedisLog | null = null;
  t.after(async () => {
    await log?.close().catch(() => undefined);
    await server.stop();
  });
  log = await openRedisLog('restart:', { url: server.url, commandTimeoutMs: 2000 });
  assert.equal(log.capabilities.durableIsFsync, true, 'appendfsync always must be detected');
  await log.ensureStream('load', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });

  const acked: { partition: number; offset: number; body: Buffer; atMs: number }[] = [];
  const failures: { code: string; latencyMs: number; atMs: number }[] = [];
  let stop = false;
  let seq = 0;
  const appender = async (): Promise<void> => {
    while (!stop) {
      const i = seq++;
      const partition = i % 2;
      const rec = makeRecord(i, 200);
      const t0 = Date.now();
      try {
        const r = await log!.append('load', partition, [rec], 'durable');
        assert.equal(r.ack, 'durable');
        acked.push({ partition, offset: r.firstOffset, body: rec.body, atMs: Date.now() });
      } catch (err) {
        assert.ok(isHopperError(err), `unexpected error ${String(err)}`);
        failures.push({ code: err.code, latencyMs: Date.now() - t0, atMs: Date.now() });
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  const load = Promise.all(Array.from({ length: APPENDERS }, appender));

  await waitFor(() => acked.length >= 300, 10_000, 'appends before the kill');
  await server.kill();
  const killedAtMs = Date.now();
  await waitFor(() => failures.length >= 50 && Date.now() - killedAtMs >= 500, 10_000, 'appends refused while Redis is down');
  const ackedWhileDown = acked.filter((a) => a.atMs > killedAtMs + 100).length;
  await server.startProcess();
  const restartedAtMs = Date.now();
  const before = acked.length;
  await waitFor(() => acked.length >= before + 300, 15_000, 'appends after the restart');
  stop = true;
  await load;

  assert.equal(ackedWhileDown, 0, 'nothing can be acknowledged while Redis is down');
  for (const f of failures) assert.equal(f.code, 'HOPPER_LOG_UNAVAILABLE');
  const downFailures = failures.filter((f) => f.atMs > killedAtMs && f.atMs < restartedAtMs);
  assert.ok(downFailures.length > 0);
  // Fail fast: no request waits for Redis to come back (commandTimeoutMs is 2000).
  assert.ok(Math.max(...downFailures.map((f) => f.latencyMs)) < 2500, 'appends during the outage must fail at once, not hang');

  for (const partition of [0, 1]) {
    const stored = new Map<number, Buffer>();
    for (let offset = 0; ; ) {
      const { records, nextOffset } = await log.read('load', partition, offset, { maxRecords: 1000 });
      if (records.length === 0) break;
      for (const r of records) stored.set(r.offset, r.body);
      offset = nextOffset;
    }
    const mine = acked.filter((a) => a.partition === partition);
    assert.ok(mine.length > 0);
    for (const a of mine) {
      const body = stored.get(a.offset);
      assert.ok(body, `acknowledged offset ${partition}:${a.offset} is missing after the restart`);
      assert.ok(body.equals(a.body), `acknowledged offset ${partition}:${a.offset} differs after the restart`);
    }
    assert.equal(new Set(mine.map((a) => a.offset)).size, mine.length, 'two appends acknowledged with the same offset');
  }
});

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

