// A sealed segment in the middle of a partition deleted by hand (or lost to the filesystem) while its writer
// runs: a read in the writer's process, whose segment list still names it, reports its offsets as quarantined
// like a reader in another process does, counted once, instead of skipping them without a word. A segment
// retention deleted (from the front) is skipped silently, as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { makeRecord } from './conformance.js';

async function readAll(log: EmbeddedLog): Promise<number[]> {
  const offsets: number[] = [];
  let from = 0;
  for (let guard = 0; guard < 200; guard++) {
    const { records, nextOffset } = await log.read('s', 0, from, { maxRecords: 13 });
    offsets.push(...records.map((r) => r.offset));
    if (nextOffset === from) break;
    from = nextOffset;
  }
  return offsets;
}

test('a segment deleted by hand is reported by the writer process as by any other', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const warnings: string[] = [];
  const writer = openEmbedded(dir, { segmentMaxBytes: 8 * 1024, indexIntervalBytes: 512, warn: (_f, m) => warnings.push(m) });
  t.after(() => writer.close());
  await writer.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < 200; i += 10) await writer.append('s', 0, Array.from({ length: 10 }, (_, j) => makeRecord(i + j, 200)), 'durable');
  const pdir = writer.partitionDir('s', 0);
  const segs = readdirSync(pdir).filter((n) => n.endsWith('.log')).sort();
  const [lostFrom, lostTo] = [Number(segs[1]!.slice(0, 20)), Number(segs[2]!.slice(0, 20))];
  for (const f of [segs[1]!, segs[1]!.replace('.log', '.idx')]) rmSync(join(pdir, f));

  const offsets = await readAll(writer);
  assert.equal(offsets.length, 200 - (lostTo - lostFrom));
  assert.equal(warnings.filter((w) => w.includes('quarantined')).length, 1, 'the writer process warns of the lost offsets');
  assert.equal((await writer.stats()).streams[0]!.partitions[0]!.quarantinedRecords, lostTo - lostFrom);

  // Another process, whose listing lacks the file, finds the same range: still counted once.
  const other = openEmbedded(dir);
  t.after(() => other.close());
  assert.equal((await readAll(other)).length, offsets.length);
  assert.equal((await other.stats()).streams[0]!.partitions[0]!.quarantinedRecords, lostTo - lostFrom);
  assert.equal((await writer.stats()).streams[0]!.partitions[0]!.quarantinedRecords, lostTo - lostFrom);
});

test('segments deleted from the front are not reported, even under a read that listed them', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const warnings: string[] = [];
  const writer = openEmbedded(dir, { segmentMaxBytes: 8 * 1024, indexIntervalBytes: 512 });
  t.after(() => writer.close());
  await writer.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < 200; i += 10) await writer.append('s', 0, Array.from({ length: 10 }, (_, j) => makeRecord(i + j, 200)), 'durable');
  const reader = openEmbedded(dir, { warn: (_f, m) => warnings.push(m) });
  t.after(() => reader.close());
  const pdir = writer.partitionDir('s', 0);
  const segs = readdirSync(pdir).filter((n) => n.endsWith('.log')).sort();
  // The reader lists the segments, then the oldest two go (as retention deletes them) before it opens them.
  const first = await reader.read('s', 0, 0, { maxRecords: 1 });
  assert.equal(first.records[0]?.offset, 0);
  await reader.close();
  const again = openEmbedded(dir, { warn: (_f, m) => warnings.push(m) });
  t.after(() => again.close());
  const listed = again.reader('s', 0);
  const originalSegments = listed.segments.bind(listed);
  let calls = 0;
  listed.segments = async () => {
    const bases = await originalSegments();
    if (calls++ === 0) for (const name of segs.slice(0, 2)) for (const f of [name, name.replace('.log', '.idx')]) rmSync(join(pdir, f));
    return bases;
  };
  const { records } = await again.read('s', 0, 0, { maxRecords: 5 });
  assert.equal(records[0]?.offset, Number(segs[2]!.slice(0, 20)));
  assert.deepEqual(warnings, []);
});
