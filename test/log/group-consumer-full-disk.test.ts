// A consumer opened on a full disk (its member and lease files cannot be written)
// used to fail the open, so `hopper work` and `hopper serve --with-workers` exited 1
// at start and were restarted into the same full disk. It now opens owning nothing
// and takes its partitions once space returns, without a restart.
// ENOSPC is injected into the consumer's file writes (fsp.writeFile).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EmbeddedGroupConsumer } from '../../src/log/embedded/group-consumer.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';

test('a consumer opened on a full disk starts owning nothing and takes its partitions once space returns', async (t) => {
  const dir = tempDir();
  const warnings: string[] = [];
  const log = openEmbedded(dir, { warn: (_fields, message) => warnings.push(message) });
  t.after(async () => {
    await log.close().catch(() => undefined);
    removeDir(dir);
  });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [makeRecord(0), makeRecord(1)], 'durable');

  const realWriteFile = fsp.writeFile;
  let diskFull = true;
  fsp.writeFile = ((...args: Parameters<typeof realWriteFile>) => {
    if (diskFull) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' }));
    return realWriteFile(...args);
  }) as typeof realWriteFile;
  t.after(() => {
    fsp.writeFile = realWriteFile;
  });

  const c = (await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c1', leaseTimeoutMs: 300 })) as EmbeddedGroupConsumer;
  t.after(() => c.close());
  assert.deepEqual(c.partitions(), [], 'nothing owned while no lease can be written');
  assert.ok(warnings.some((m) => /disk full/.test(m)), `the full disk is said: ${JSON.stringify(warnings)}`);

  diskFull = false;
  for (let i = 0; i < 50 && c.partitions().length === 0; i++) await sleep(20);
  assert.deepEqual(c.partitions(), [0], 'the heartbeat took the partition once space returned');
  const d = await c.fetch(10, 1000);
  assert.deepEqual(
    d?.records.map((r) => r.requestId),
    ['req-0', 'req-1'],
  );
});
