// quarantine.json forgets the damaged ranges of the segments retention deleted (the file would keep every
// range ever found), keeps those of the segments still stored, and stats count only those.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { readThrough, SMALL_SEGMENTS, writeSealedSegments } from './damage-fixture.js';

function damage(path: string): void {
  const buf = readFileSync(path);
  buf[Math.floor(buf.length / 2)] ^= 0x5a;
  writeFileSync(path, buf);
}

function rangesIn(pdir: string): number[] {
  return (JSON.parse(readFileSync(join(pdir, 'quarantine.json'), 'utf8')) as { ranges: { segment: number }[] }).ranges.map((r) => r.segment);
}

test('retention drops the quarantined ranges of the segments it deletes', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const { pdir, segs } = await writeSealedSegments(dir);
  damage(join(pdir, segs[1]!));
  damage(join(pdir, segs[3]!));
  const base = (name: string): number => Number(name.replace('.log', ''));

  const log = openEmbedded(dir, { ...SMALL_SEGMENTS, warn: () => undefined });
  t.after(() => log.close());
  await readThrough(log, 50);
  assert.deepEqual(rangesIn(pdir), [base(segs[1]!), base(segs[3]!)]);
  const before = (await log.stats()).streams[0]!.partitions[0]!;

  // A byte budget that the first two segments exceed: retention deletes those two, the damaged segs[1] with them.
  const sizes = segs.map((name) => statSync(join(pdir, name)).size);
  const keepBytes = sizes.reduce((a, b) => a + b, 0) - sizes[0]! - sizes[1]!;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: keepBytes });
  await log.enforceRetention();
  const after = (await log.stats()).streams[0]!.partitions[0]!;
  assert.equal(after.startOffset, base(segs[2]!));
  assert.deepEqual(rangesIn(pdir), [base(segs[3]!)], 'only the range of a stored segment is left');
  assert.ok(after.quarantinedRecords > 0 && after.quarantinedRecords < before.quarantinedRecords);
  assert.ok(after.quarantinedBytes > 0 && after.quarantinedBytes < before.quarantinedBytes);
  await log.close();

  // Another process reading the file sees the same counts.
  const fresh = openEmbedded(dir, SMALL_SEGMENTS);
  t.after(() => fresh.close());
  const seen = (await fresh.stats()).streams[0]!.partitions[0]!;
  assert.deepEqual([seen.quarantinedRecords, seen.quarantinedBytes], [after.quarantinedRecords, after.quarantinedBytes]);
});
