// A sealed segment whose records end before the next segment's base (cut short at a frame boundary, or a
// whole segment missing between two) loses the offsets in between: readers must report and count them as
// quarantined, as they do for a bad checksum, not skip them without a word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { readThrough, RECORDS, SMALL_SEGMENTS, writeSealedSegments } from './damage-fixture.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { decodeIndexEntries } from '../../src/log/embedded/segment-files.js';

const OPTS = SMALL_SEGMENTS;
const TOTAL = RECORDS;

async function drainAndCount(dir: string, maxRecords: number): Promise<{ seen: number; quarantined: number; warnings: Record<string, unknown>[] }> {
  const warnings: Record<string, unknown>[] = [];
  const log = openEmbedded(dir, { ...OPTS, warn: (fields, message) => void (message.includes('damaged range') && warnings.push(fields)) });
  try {
    const { offsets, end } = await readThrough(log, maxRecords);
    const seen = offsets.length;
    assert.equal(end, TOTAL, 'reading reaches the end');
    const quarantined = (await log.stats()).streams[0]!.partitions[0]!.quarantinedRecords;
    return { seen, quarantined, warnings };
  } finally {
    await log.close();
  }
}

test('a sealed segment cut short at a frame boundary: the offsets up to the next segment are reported and counted', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const { pdir, segs } = await writeSealedSegments(dir);
  const victim = join(pdir, segs[1]!);
  // Cut at an index entry in the middle: a whole-frame boundary, so no frame is torn.
  const entries = decodeIndexEntries(readFileSync(victim.replace(/\.log$/, '.idx')));
  const cut = entries[Math.floor(entries.length / 2)]!;
  truncateSync(victim, cut.position);
  const nextBase = Number(segs[2]!.slice(0, 20));
  const lost = nextBase - (Number(segs[1]!.slice(0, 20)) + cut.relOffset);
  assert.ok(lost > 0);

  for (const maxRecords of [7, 1000]) {
    const { seen, quarantined, warnings } = await drainAndCount(dir, maxRecords);
    assert.equal(seen, TOTAL - lost);
    assert.equal(quarantined, lost, 'log stats count the lost records');
    if (maxRecords === 7) assert.equal(warnings.length, 1, 'the first reader warns once');
  }
});

test('a segment missing between two others: its offsets are reported and counted', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const { pdir, segs } = await writeSealedSegments(dir);
  rmSync(join(pdir, segs[2]!));
  rmSync(join(pdir, segs[2]!.replace(/\.log$/, '.idx')));
  const lost = Number(segs[3]!.slice(0, 20)) - Number(segs[2]!.slice(0, 20));

  const { seen, quarantined, warnings } = await drainAndCount(dir, 7);
  assert.equal(seen, TOTAL - lost);
  assert.equal(quarantined, lost);
  assert.deepEqual(
    warnings.map((w) => w.skippedOffsets),
    [`${Number(segs[2]!.slice(0, 20))}..${Number(segs[3]!.slice(0, 20)) - 1}`],
  );
});
