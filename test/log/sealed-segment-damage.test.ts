// Damage inside an older, sealed segment must not block the partition or crash
// the process: the bad range is skipped, counted in stats, and reading goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';
import { readThrough, SMALL_SEGMENTS, writeSealedSegments } from './damage-fixture.js';

test('a bad checksum in a sealed segment is quarantined and reading continues after it', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const warnings: string[] = [];
  const { pdir, segs } = await writeSealedSegments(dir);
  const victim = join(pdir, segs[1]!);
  const buf = readFileSync(victim);
  buf[Math.floor(buf.length / 2)] ^= 0x5a;
  writeFileSync(victim, buf);

  const log = openEmbedded(dir, { ...SMALL_SEGMENTS, warn: (_f, m) => warnings.push(m) });
  t.after(() => log.close());
  const seen = (await readThrough(log, 37, 200)).offsets;
  assert.equal(seen[seen.length - 1], 299, 'reading reaches the end of the partition');
  const lost = 300 - seen.length;
  assert.ok(lost > 0 && lost < 40, `a small damaged range is skipped (skipped ${lost})`);
  const stats = await log.stats();
  const p = stats.streams[0]!.partitions[0]!;
  assert.equal(p.quarantinedRecords, lost);
  assert.ok(p.quarantinedBytes > 0);
  assert.ok(warnings.some((w) => w.includes('quarantined')));
  // Appends go on.
  const r = await log.append('s', 0, [makeRecord(300, 200)], 'durable');
  assert.equal(r.firstOffset, 300);
  await log.close();

  // Another process, which has read nothing, sees the range the first one found (quarantine.json):
  // hopper log stats and the admin server's metrics run in processes of their own.
  const fresh = openEmbedded(dir, { segmentMaxBytes: 8 * 1024, indexIntervalBytes: 512 });
  t.after(() => fresh.close());
  const again = (await fresh.stats()).streams[0]!.partitions[0]!;
  assert.equal(again.quarantinedRecords, lost);
  assert.equal(again.quarantinedBytes, p.quarantinedBytes);
  const file = JSON.parse(readFileSync(join(pdir, 'quarantine.json'), 'utf8')) as { ranges: { segment: number; reason: string }[] };
  assert.equal(file.ranges.length, 1);
  assert.equal(file.ranges[0]!.segment, Number(segs[1]!.replace('.log', '')));
  assert.match(file.ranges[0]!.reason, /checksum|length|bad/i);
  await fresh.close();

  // Once retention deleted the damaged segment (and the one before it), its range no longer counts.
  for (const name of segs.slice(0, 2)) for (const f of [name, name.replace('.log', '.idx')]) rmSync(join(pdir, f), { force: true });
  const trimmed = openEmbedded(dir, { segmentMaxBytes: 8 * 1024, indexIntervalBytes: 512 });
  t.after(() => trimmed.close());
  const last = (await trimmed.stats()).streams[0]!.partitions[0]!;
  assert.deepEqual([last.quarantinedRecords, last.quarantinedBytes], [0, 0]);
});
