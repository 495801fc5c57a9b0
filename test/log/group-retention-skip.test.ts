// A consumer group whose position lies in segments retention deleted goes on at the first stored
// record, and says which offsets it never got (src/log/embedded/group-consumer.ts); a group that never
// committed starts there without a word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listSegments } from '../../src/log/embedded/segment-files.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';

const SEGMENT_BYTES = 16 * 1024;

test('a group position in segments retention deleted is skipped with a warning naming the lost offsets', { timeout: 20_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const warnings: { message: string; fields: Record<string, unknown> }[] = [];
  const log = openEmbedded(dir, { segmentMaxBytes: SEGMENT_BYTES, warn: (fields, message) => void warnings.push({ message, fields }) });
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 3 * SEGMENT_BYTES });
  for (let i = 0; i < 10; i++) await log.append('s', 0, Array.from({ length: 40 }, (_, k) => makeRecord(i * 40 + k, 500)), 'durable');
  await log.commitPosition('g', 's', 0, 5);
  await log.enforceRetention();
  const start = (await listSegments(log.partitionDir('s', 0)))[0]!;
  assert.ok(start > 5, `retention deleted the group's records (first stored offset ${start})`);

  const behind = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => behind.close());
  const delivery = await behind.fetch(10, 1_000);
  assert.equal(delivery?.records[0]?.offset, start, 'it goes on at the first stored record');
  assert.deepEqual(warnings, [
    {
      message: 'consumer group skipped records that retention deleted before the group processed them',
      fields: { group: 'g', stream: 's', partition: 0, skippedOffsets: `5..${start - 1}` },
    },
  ]);
  await behind.commit(delivery!);
  assert.equal((await behind.fetch(10, 1_000))?.records[0]?.offset, start + 10);
  assert.equal(warnings.length, 1, 'warned once');

  const fresh = await log.openConsumer({ group: 'new', stream: 's', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => fresh.close());
  assert.equal((await fresh.fetch(10, 1_000))?.records[0]?.offset, start, 'a group without a position starts at the first stored record');
  assert.equal(warnings.length, 1, 'without a warning');
});
