// A time lookup from a process that does not write the partition, while a segment between two others is empty
// (a failed roll's leftover, or a file a restore has created and not filled yet): its size is not remembered as
// a sealed segment's. Once the segment holds its records, a time lookup and a read from its offsets find them,
// rather than pass over it as empty for good (the segment's offsets skipped without a word).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { listSegments, segmentPath } from '../../src/log/embedded/segment-files.js';
import { makeRecord } from './conformance.js';

const stampOf = (offset: number): number => 1_000_000 + offset * 1000;

test('a time lookup does not keep an empty segment between two others as sealed', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const writer = openEmbedded(dir, { segmentMaxBytes: 4 * 1024, indexIntervalBytes: 512 });
  await writer.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const pdir = writer.partitionDir('s', 0);
  for (let i = 0; i < 500 && (await listSegments(pdir)).length < 3; i += 5) {
    await writer.append('s', 0, Array.from({ length: 5 }, (_, j) => ({ ...makeRecord(i + j, 200), receivedAtUs: stampOf(i + j) })), 'durable');
  }
  await writer.close();
  const [, mid, next] = await listSegments(pdir);
  assert.ok(mid !== undefined && next !== undefined && next - mid > 4, 'three segments');
  const saved = readFileSync(segmentPath(pdir, mid));
  writeFileSync(segmentPath(pdir, mid), '');

  const reader = openEmbedded(dir, { warn: () => undefined });
  t.after(() => reader.close());
  assert.equal(await reader.offsetForTime('s', 0, stampOf(next + 1)), next + 1, 'a lookup past the empty segment');
  writeFileSync(segmentPath(pdir, mid), saved); // its records are back

  assert.equal(await reader.offsetForTime('s', 0, stampOf(mid + 3)), mid + 3);
  const { records } = await reader.read('s', 0, mid, { maxRecords: 3 });
  assert.deepEqual(records.map((r) => r.offset), [mid, mid + 1, mid + 2]);
});
