// The end of a partition seen from a process that does not write it (hopper lag, log stats, a worker's
// group member) when the newest segment's index is newer than its data: a backup that copied the index
// after the segment, or a power cut that kept the index's blocks and not the data's. The end is where the
// data ends, not where the index points: a group position past it moves back to it, so the records the
// writer appends at those offsets are delivered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { frameBytes } from '../../src/log/embedded/record-frame.js';
import { makeRecord } from './conformance.js';

test('an index entry past the newest segment data does not move the end offset past it', { timeout: 20_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir, { segmentMaxBytes: 1024 * 1024, indexIntervalBytes: 512 });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const records = Array.from({ length: 75 }, (_, i) => makeRecord(i, 60));
  await log.append('s', 0, records, 'durable');
  await log.commitPosition('g', 's', 0, 75);
  await log.close();
  // The segment as a backup copied it after its first 30 records (whole frames), with the index of all 75.
  const pdir = join(dir, 'streams', 's', '0');
  const seg = join(pdir, readdirSync(pdir).find((n) => n.endsWith('.log'))!);
  truncateSync(seg, records.slice(0, 30).reduce((sum, r) => sum + frameBytes(r), 0));

  const warnings: object[] = [];
  const worker = openEmbedded(dir, { warn: (fields) => void warnings.push(fields) });
  t.after(() => worker.close());
  const [p] = (await worker.stats()).streams[0]!.partitions;
  assert.equal(p!.endOffset, 30, 'log stats: the end of the data');
  assert.deepEqual(p!.groups, [{ group: 'g', position: 75, lag: 0 }]);

  const consumer = await worker.openConsumer({ group: 'g', stream: 's', consumerName: 'w', leaseTimeoutMs: 30_000 });
  t.after(() => consumer.close());
  assert.deepEqual(warnings, [{ group: 'g', stream: 's', partition: 0, position: 75, endOffset: 30 }], 'the position moved back to the end of the data');
  assert.equal(await worker.getPosition('g', 's', 0), 30);

  // The writer (another process) recovers the partition and appends at 30..: the group gets every new record.
  const writer = openEmbedded(dir);
  t.after(() => writer.close());
  await writer.append('s', 0, Array.from({ length: 60 }, (_, i) => makeRecord(100 + i, 60)), 'durable');
  const delivery = await consumer.fetch(100, 2_000);
  assert.deepEqual(delivery?.records.map((r) => r.offset), Array.from({ length: 60 }, (_, i) => 30 + i));
});
