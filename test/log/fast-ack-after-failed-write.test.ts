// A fast append is acknowledged when queued, before its write. Once a write has
// failed (a full disk), that would acknowledge every fast append and then drop
// it: fast appends wait for their write until a write lands again, so the ones
// that cannot be stored are refused (503 at ingest), never acknowledged and lost.
// ENOSPC is injected into write(2) (fs.writeSync, as the writer calls it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { isHopperError } from '../../src/errors.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';

test('after a failed write, fast appends are refused while the disk stays full and fast again once a write lands', async (t) => {
  const dir = tempDir();
  const log = openEmbedded(dir);
  t.after(async () => {
    await log.close().catch(() => undefined);
    removeDir(dir);
  });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  assert.equal((await log.append('s', 0, [makeRecord(0)], 'durable')).firstOffset, 0);

  const realWriteSync = fs.writeSync;
  let diskFull = true;
  fs.writeSync = ((...args: Parameters<typeof realWriteSync>) => {
    if (diskFull) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
    return realWriteSync(...args);
  }) as typeof realWriteSync;
  syncBuiltinESMExports();
  t.after(() => {
    fs.writeSync = realWriteSync;
    syncBuiltinESMExports();
  });

  // The disk just filled: the first failure is only seen by the write, so this one is not refused.
  await assert.rejects(log.append('s', 0, [makeRecord(1)], 'written'), (e: unknown) => isHopperError(e, 'HOPPER_LOG_UNAVAILABLE'));
  for (let i = 2; i < 5; i++) {
    await assert.rejects(
      log.append('s', 0, [makeRecord(i)], 'fast'),
      (e: unknown) => isHopperError(e, 'HOPPER_LOG_UNAVAILABLE') && /ENOSPC/.test((e as Error).message),
      'a fast append the full disk cannot store is refused, not acknowledged',
    );
  }
  assert.equal(log.lostFastRecords(), 0, 'no fast append was acknowledged and then dropped');

  diskFull = false;
  const stored = await log.append('s', 0, [makeRecord(5)], 'fast');
  assert.deepEqual({ ack: stored.ack, firstOffset: stored.firstOffset }, { ack: 'written', firstOffset: 1 }, 'the first one after the failure waits for its write');
  assert.deepEqual(await log.append('s', 0, [makeRecord(6)], 'fast'), { partition: 0, firstOffset: -1, ack: 'fast' }, 'then fast is fast again');
  await log.append('s', 0, [makeRecord(7)], 'durable'); // written after the fast one, in queue order
  const { records } = await log.read('s', 0, 0, { maxRecords: 100 });
  assert.deepEqual(
    records.map((r) => r.requestId),
    ['req-0', 'req-5', 'req-6', 'req-7'],
  );
});
