// The active segment file deleted by hand (rm, a cleanup script) while its partition is written: writes went on
// into the open, nameless file and durable appends were acknowledged, then lost at the next restart. The
// writer now sees it after the fsync and refuses them, and every later append, until a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isHopperError } from '../../src/errors.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';

function assertDeletedSegment(e: unknown): true {
  assert.ok(isHopperError(e, 'HOPPER_LOG_UNAVAILABLE'), String(e));
  assert.match((e as Error).message, /was deleted while partition 0 was writing it/);
  return true;
}

test('a durable append into an active segment deleted by hand is refused, not acknowledged, and so is every later one', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('gone', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('gone', 0, [makeRecord(0)], 'durable');
  const partitionDir = log.partitionDir('gone', 0);
  for (const f of readdirSync(partitionDir)) if (f.endsWith('.log')) rmSync(join(partitionDir, f));

  await assert.rejects(log.append('gone', 0, [makeRecord(1)], 'durable'), assertDeletedSegment);
  await assert.rejects(log.append('gone', 0, [makeRecord(2)], 'written'), assertDeletedSegment);
  assert.match(log.lastWriteError()?.message ?? '', /was deleted/, 'readiness and status see why');
  await log.close();

  // A restart goes on from what is left, taking appends again.
  const again = openEmbedded(dir);
  t.after(() => again.close());
  const r = await again.append('gone', 0, [makeRecord(3)], 'durable');
  assert.equal(r.ack, 'durable');
});
