// A reader in another process (a worker beside `hopper serve`) that sees the empty files of rolls that failed and
// could not remove them (the writer appended on into the segment before them) together with a roll that
// succeeded since, or several such files in a row: no record is skipped or counted as quarantined, by a read from
// any offset, the end offset (stats) or a time lookup; and damage at the end of a segment just rolled from is
// still skipped and reported, not waited on. A leftover that retention left first holds no offsets: stats and a
// consumer group see the partition start after it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { listSegments, segmentPath } from '../../src/log/embedded/segment-files.js';
import { frameBytes } from '../../src/log/embedded/record-frame.js';
import { makeRecord } from './conformance.js';

const SEGMENT_BYTES = 8 * 1024;
type Log = ReturnType<typeof openEmbedded>;

/** Records `from` up to `to`, stamped 1000 µs apart from 1 s on: a time lookup knows which one it should find. */
function stamped(from: number, to: number): ReturnType<typeof makeRecord>[] {
  return Array.from({ length: to - from }, (_, j) => ({ ...makeRecord(from + j, 200), receivedAtUs: stampOf(from + j) }));
}
const stampOf = (offset: number): number => 1_000_000 + offset * 1000;
const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

async function readAll(log: Log, from: number, maxRecords: number): Promise<number[]> {
  const offsets: number[] = [];
  for (let guard = 0; guard < 1000; guard++) {
    const { records, nextOffset } = await log.read('s', 0, from, { maxRecords });
    offsets.push(...records.map((r) => r.offset));
    if (nextOffset === from) break;
    from = nextOffset;
  }
  return offsets;
}

async function waitForSegment(pdir: string, base: number): Promise<void> {
  for (let guard = 0; guard < 500 && !(await listSegments(pdir)).includes(base); guard++) await new Promise((r) => setTimeout(r, 10));
}

/**
 * Segment 0 written by a writer, with an empty file at each of `leftovers` made when its records reached that offset
 * (a roll that failed and could not remove its file). With `roll`, the last write fills the segment and the writer
 * rolls at `end`, the new segment still empty; without, the records stop at `end - 1` and no roll succeeded.
 */
async function leftoverPartition(t: TestContext, leftovers: number[], roll: boolean, indexIntervalBytes = 512): Promise<{ dir: string; writer: Log; pdir: string; end: number }> {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const writer = openEmbedded(dir, { segmentMaxBytes: SEGMENT_BYTES, indexIntervalBytes });
  t.after(() => writer.close());
  await writer.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const pdir = writer.partitionDir('s', 0);
  let end = 0;
  for (let bytes = 0; bytes < SEGMENT_BYTES; end++) bytes += frameBytes(stamped(end, end + 1)[0]!);
  let at = 0;
  for (const n of leftovers) {
    await writer.append('s', 0, stamped(at, n), 'durable');
    writeFileSync(segmentPath(pdir, n), '');
    at = n;
  }
  const last = roll ? end : end - 1;
  await writer.append('s', 0, stamped(at, last), 'durable');
  if (roll) await waitForSegment(pdir, end);
  assert.deepEqual(await listSegments(pdir), roll ? [0, ...leftovers, end] : [0, ...leftovers]);
  if (roll) assert.equal(statSync(segmentPath(pdir, end)).size, 0, 'the new segment is still empty');
  return { dir, writer, pdir, end: last };
}

function openReader(t: TestContext, dir: string): { reader: Log; warnings: string[] } {
  const warnings: string[] = [];
  const reader = openEmbedded(dir, { warn: (_f, m) => warnings.push(m) });
  t.after(() => reader.close());
  return { reader, warnings };
}

/** Every way of reading the partition gives records 0 up to `end`, and nothing is quarantined. */
async function assertReadsAll(t: TestContext, dir: string, end: number, seeks: number[]): Promise<Log> {
  // The end offset first, in a reader that has read nothing yet: it alone had the records counted as damage.
  const { reader: statsReader, warnings: statsWarnings } = openReader(t, dir);
  const first = (await statsReader.stats()).streams[0]!.partitions[0]!;
  assert.equal(first.endOffset, end);
  assert.equal(first.quarantinedRecords, 0, 'stats counted records as quarantined');
  assert.deepEqual(statsWarnings, []);

  const { reader, warnings } = openReader(t, dir);
  for (const at of seeks) {
    const { records } = await reader.read('s', 0, at, { maxRecords: 3 });
    assert.deepEqual(records.map((r) => r.offset), range(at, at + 3), `a read from ${at}`);
  }
  for (const at of seeks) assert.deepEqual(await readAll(reader, at, 4), range(at, end), `a drain from ${at}`);
  assert.deepEqual(await readAll(reader, 0, 7), range(0, end), 'a drain from the start');
  for (const at of seeks) assert.equal(await reader.offsetForTime('s', 0, stampOf(at)), at, `a time lookup of ${at}`);
  assert.equal(await reader.offsetForTime('s', 0, stampOf(end + 100)), end, 'after every record: the end');
  const stats = (await reader.stats()).streams[0]!.partitions[0]!;
  assert.equal(stats.endOffset, end);
  assert.equal(stats.quarantinedRecords, 0);
  assert.deepEqual(warnings, [], 'nothing quarantined');
  return reader;
}

test('a failed roll\'s leftover before a roll that succeeded, still empty, does not hide the records between them', async (t) => {
  const { dir, writer, pdir, end } = await leftoverPartition(t, [10], true);
  const reader = await assertReadsAll(t, dir, end, [10, 15, 20, end - 3]);

  // The new segment gets its records: read on into it, the leftover still there.
  await writer.append('s', 0, stamped(end, end + 5), 'durable');
  assert.ok(statSync(segmentPath(pdir, end)).size > 0);
  assert.deepEqual(await readAll(reader, end - 2, 3), range(end - 2, end + 5));
  assert.deepEqual(await readAll(reader, 15, 100), range(15, end + 5));
  assert.equal((await reader.stats()).streams[0]!.partitions[0]!.endOffset, end + 5);
  assert.equal(await reader.offsetForTime('s', 0, stampOf(end + 1)), end + 1);
  assert.equal((await reader.stats()).streams[0]!.partitions[0]!.quarantinedRecords, 0);
});

test('several failed rolls\' leftovers in a row before a roll that succeeded', async (t) => {
  const { dir, end } = await leftoverPartition(t, [10, 11, 20], true);
  await assertReadsAll(t, dir, end, [10, 11, 15, 20, 25]);
});

test('several failed rolls\' leftovers in a row as the newest segments, no roll since', async (t) => {
  const { dir, writer, pdir, end } = await leftoverPartition(t, [10, 20], false);
  const reader = await assertReadsAll(t, dir, end, [10, 15, 20, 25]);

  // Appends go on in segment 0 until a roll succeeds.
  await writer.append('s', 0, stamped(end, end + 1), 'durable');
  await waitForSegment(pdir, end + 1);
  assert.deepEqual(await readAll(reader, 15, 4), range(15, end + 1));
  await writer.append('s', 0, stamped(end + 1, end + 4), 'durable');
  assert.deepEqual(await readAll(reader, end - 1, 2), range(end - 1, end + 4));
  assert.equal((await reader.stats()).streams[0]!.partitions[0]!.endOffset, end + 4);
  assert.equal((await reader.stats()).streams[0]!.partitions[0]!.quarantinedRecords, 0);
});

test('damage in a segment with a leftover after it is counted as the records it skipped', async (t) => {
  const { dir, writer, pdir, end } = await leftoverPartition(t, [10], true);
  await writer.append('s', 0, stamped(end, end + 5), 'durable'); // the new segment holds data: segment 0 is sealed
  // A bad byte in the body of record 25, with index entries past it (every 512 bytes).
  const seg = segmentPath(pdir, 0);
  const data = readFileSync(seg);
  let at = 0;
  for (let o = 0; o < 26; o++) at += frameBytes(stamped(o, o + 1)[0]!);
  data[at - 5] = data[at - 5]! ^ 0xff;
  writeFileSync(seg, data);

  const { reader, warnings } = openReader(t, dir);
  const offsets = await readAll(reader, 0, 100);
  assert.ok(!offsets.includes(25) && offsets.includes(26) && offsets.includes(end + 4), `read past the damage: ${JSON.stringify(offsets)}`);
  const skipped = range(0, end + 5).filter((o) => !offsets.includes(o)).length;
  assert.equal(warnings.length, 1, `the damage reported once: ${JSON.stringify(warnings)}`);
  assert.equal((await reader.stats()).streams[0]!.partitions[0]!.quarantinedRecords, skipped, 'the records skipped are the ones counted');
});

for (const leftovers of [[10], [10, 20]]) {
  test(`damage at the end of a segment just rolled from, leftovers at ${leftovers.join(', ')}: skipped and reported, not waited on`, async (t) => {
    const { dir, pdir, end } = await leftoverPartition(t, leftovers, true, 16 * 1024);
    // A bad byte in the body of the record before the last one, past the segment's only index entry.
    const seg = segmentPath(pdir, 0);
    const data = readFileSync(seg);
    const at = data.length - frameBytes(stamped(end - 1, end)[0]!) - 5;
    data[at] = data[at]! ^ 0xff;
    writeFileSync(seg, data);

    const { reader, warnings } = openReader(t, dir);
    assert.deepEqual(await readAll(reader, 0, 100), [...range(0, end - 2), end - 1], 'all but the damaged record');
    assert.equal((await reader.read('s', 0, end - 2, { maxRecords: 10 })).nextOffset, end, 'read on past the damage');
    assert.deepEqual(await readAll(reader, 15, 3), [...range(15, end - 2), end - 1]);
    assert.equal(warnings.length, 1, `the damage reported: ${JSON.stringify(warnings)}`);
    assert.equal((await reader.stats()).streams[0]!.partitions[0]!.quarantinedRecords, 1);
  });

  test(`a segment just rolled from that ends short, leftovers at ${leftovers.join(', ')}: the missing offsets reported, not waited for`, async (t) => {
    const { dir, pdir, end } = await leftoverPartition(t, leftovers, true, 16 * 1024);
    const seg = segmentPath(pdir, 0);
    truncateSync(seg, statSync(seg).size - frameBytes(stamped(end - 1, end)[0]!)); // its last record gone, at a frame boundary

    const { reader, warnings } = openReader(t, dir);
    assert.deepEqual(await readAll(reader, 0, 100), range(0, end - 1));
    assert.equal((await reader.read('s', 0, end - 1, { maxRecords: 10 })).nextOffset, end, 'read on past the gap');
    assert.deepEqual(await readAll(reader, 15, 100), range(15, end - 1));
    assert.equal(warnings.length, 1, `the gap reported: ${JSON.stringify(warnings)}`);
    assert.equal((await reader.stats()).streams[0]!.partitions[0]!.quarantinedRecords, 1);
    assert.equal(await reader.offsetForTime('s', 0, stampOf(end + 100)), end);
  });
}

test('a failed roll\'s leftover left first by retention holds no offsets: the partition starts after it', async (t) => {
  const { dir, writer, pdir, end } = await leftoverPartition(t, [10], true);
  await writer.append('s', 0, stamped(end, end + 5), 'durable');
  // Retention deletes the writer's segments from the front; the leftover is none of them, and stays.
  await writer.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 1 });
  await writer.enforceRetention();
  assert.deepEqual(await listSegments(pdir), [10, end]);

  const warnings: string[] = [];
  const skipped: unknown[] = [];
  const reader = openEmbedded(dir, { warn: (f, m) => void (warnings.push(m), skipped.push(f.skippedOffsets)) });
  t.after(() => reader.close());
  const stats = (await reader.stats()).streams[0]!.partitions[0]!;
  assert.equal(stats.startOffset, end, 'the first offset stored');
  assert.equal(stats.endOffset, end + 5);
  assert.deepEqual(await readAll(reader, 0, 3), range(end, end + 5));
  assert.deepEqual(await readAll(reader, 15, 3), range(end, end + 5));
  assert.equal(await reader.offsetForTime('s', 0, 0), end);
  assert.deepEqual(warnings, []);

  // A group whose position was in the deleted segment: told every offset it never got.
  await reader.commitPosition('g', 's', 0, 5);
  const consumer = await reader.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => consumer.close());
  assert.equal((await consumer.fetch(10, 1_000))?.records[0]?.offset, end);
  assert.deepEqual(warnings, ['consumer group skipped records that retention deleted before the group processed them']);
  assert.equal(skipped[0], `5..${end - 1}`);
});
