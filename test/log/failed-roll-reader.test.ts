// A reader in another process (a worker beside `hopper serve`) that sees the new segment file of a roll that
// failed half way (the writer removes it, or cannot, and goes on appending to the segment before it): no
// record of that older segment is skipped, neither by a sequential read nor by a seek into its offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { segmentPath } from '../../src/log/embedded/segment-files.js';
import { makeRecord } from './conformance.js';

const SEGMENTS = { segmentMaxBytes: 8 * 1024, indexIntervalBytes: 512 };

async function appendRange(log: ReturnType<typeof openEmbedded>, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 10) await log.append('s', 0, Array.from({ length: 10 }, (_, j) => makeRecord(i + j, 200)), 'durable');
}

test('a failed roll seen by a reader does not make it skip records appended after it', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const writer = openEmbedded(dir, SEGMENTS);
  t.after(() => writer.close());
  await writer.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await appendRange(writer, 0, 10);
  const warnings: string[] = [];
  const reader = openEmbedded(dir, { warn: (_f, m) => warnings.push(m) });
  t.after(() => reader.close());
  const pdir = writer.partitionDir('s', 0);

  // The roll's new segment is on disk while the reader reads: the segment before it looks sealed.
  writeFileSync(segmentPath(pdir, 10), '');
  const first = await reader.read('s', 0, 0, { maxRecords: 100 });
  assert.equal(first.nextOffset, 10);
  rmSync(segmentPath(pdir, 10)); // the writer removes it and appends on in segment 0, then rolls for real
  await appendRange(writer, 10, 100);

  const offsets: number[] = [];
  let from = first.nextOffset;
  for (let guard = 0; guard < 100; guard++) {
    const { records, nextOffset } = await reader.read('s', 0, from, { maxRecords: 7 });
    offsets.push(...records.map((r) => r.offset));
    if (nextOffset === from) break;
    from = nextOffset;
  }
  assert.deepEqual(offsets, Array.from({ length: 90 }, (_, i) => 10 + i));
  assert.deepEqual(warnings, [], 'nothing quarantined');
  assert.equal((await reader.stats()).streams[0]!.partitions[0]!.quarantinedRecords, 0);
});

test('an empty segment a failed roll left behind does not hide the offsets the segment before it holds', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const writer = openEmbedded(dir, SEGMENTS);
  t.after(() => writer.close());
  await writer.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await appendRange(writer, 0, 10);
  writeFileSync(segmentPath(writer.partitionDir('s', 0), 10), ''); // could not be removed: later rolls follow it
  await appendRange(writer, 10, 100);

  const warnings: string[] = [];
  const reader = openEmbedded(dir, { warn: (_f, m) => warnings.push(m) });
  t.after(() => reader.close());
  for (const at of [10, 15, 39]) {
    const { records } = await reader.read('s', 0, at, { maxRecords: 3 });
    assert.deepEqual(records.map((r) => r.offset), [at, at + 1, at + 2], `a read from ${at}`);
  }
  assert.deepEqual(warnings, [], 'nothing quarantined');
});
