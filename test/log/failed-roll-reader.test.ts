// A reader in another process (a worker beside `hopper serve`) that sees the new segment file of a roll that
// failed half way (the writer removes it, or cannot, and goes on appending to the segment before it): no
// record of that older segment is skipped, neither by a sequential read nor by a seek into its offsets, also
// while that empty file is the newest segment. A roll that succeeded is read as before: from its new segment on,
// the one before it sealed (its damage skipped and reported, not waited on while the new segment is empty).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { listSegments, segmentPath } from '../../src/log/embedded/segment-files.js';
import { frameBytes } from '../../src/log/embedded/record-frame.js';
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

/** Records `from` up to `to`, stamped 1000 µs apart from 1 s on: a time lookup knows which one it should find. */
function stamped(from: number, to: number): ReturnType<typeof makeRecord>[] {
  return Array.from({ length: to - from }, (_, j) => ({ ...makeRecord(from + j, 200), receivedAtUs: 1_000_000 + (from + j) * 1000 }));
}

async function readAll(log: ReturnType<typeof openEmbedded>, from: number, maxRecords: number): Promise<number[]> {
  const offsets: number[] = [];
  for (let guard = 0; guard < 1000; guard++) {
    const { records, nextOffset } = await log.read('s', 0, from, { maxRecords });
    offsets.push(...records.map((r) => r.offset));
    if (nextOffset === from) break;
    from = nextOffset;
  }
  return offsets;
}

test('an empty newest segment a failed roll left behind does not hide the records appended after it', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const writer = openEmbedded(dir, { segmentMaxBytes: 1024 * 1024, indexIntervalBytes: 512 });
  t.after(() => writer.close());
  await writer.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await writer.append('s', 0, stamped(0, 10), 'durable');
  // The writer could not remove it, and no roll has succeeded since: it is the newest segment on disk.
  writeFileSync(segmentPath(writer.partitionDir('s', 0), 10), '');
  await writer.append('s', 0, stamped(10, 30), 'durable');

  const warnings: string[] = [];
  const reader = openEmbedded(dir, { warn: (_f, m) => warnings.push(m) });
  t.after(() => reader.close());
  const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);
  assert.deepEqual(await readAll(reader, 10, 100), range(10, 30), 'a read from the empty segment\'s base');
  assert.deepEqual(await readAll(reader, 0, 7), range(0, 30), 'a consumer draining the partition');
  assert.deepEqual(await readAll(reader, 17, 3), range(17, 30), 'a seek past the empty segment\'s base');
  const stats = (await reader.stats()).streams[0]!.partitions[0]!;
  assert.equal(stats.endOffset, 30);
  assert.equal(stats.quarantinedRecords, 0);
  assert.equal(await reader.offsetForTime('s', 0, 1_000_000 + 20 * 1000), 20);
  assert.equal(await reader.offsetForTime('s', 0, 1_000_000 + 10 * 1000 - 1), 10);
  assert.equal(await reader.offsetForTime('s', 0, 9_000_000), 30, 'after every record: the end');

  // Appends go on in the older segment: a reader that stopped at the end sees them.
  await writer.append('s', 0, stamped(30, 40), 'durable');
  assert.deepEqual(await readAll(reader, 30, 4), range(30, 40));
  assert.equal((await reader.stats()).streams[0]!.partitions[0]!.endOffset, 40);

  // A write in progress past the empty segment's base (a frame not all there yet) is waited for, not skipped.
  const seg = segmentPath(writer.partitionDir('s', 0), 0);
  const frameStart = statSync(seg).size;
  const head = Buffer.alloc(12);
  head.writeUInt32LE(300, 0);
  appendFileSync(seg, head);
  assert.deepEqual(await reader.read('s', 0, 40, { maxRecords: 10 }), { records: [], nextOffset: 40 });
  truncateSync(seg, frameStart);
  await writer.append('s', 0, stamped(40, 45), 'durable');
  assert.deepEqual(await readAll(reader, 40, 10), range(40, 45));
  assert.deepEqual(warnings, [], 'nothing quarantined');
});

/**
 * A partition whose writer has just rolled: segment 0 sealed with records 0 up to `end`, the new one (base `end`)
 * still empty. Just enough records fill the segment, in one write: the roll follows it, before any other write.
 */
async function rolledOnce(t: TestContext, indexIntervalBytes: number): Promise<{ dir: string; writer: ReturnType<typeof openEmbedded>; pdir: string; end: number }> {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const writer = openEmbedded(dir, { segmentMaxBytes: 4 * 1024, indexIntervalBytes });
  t.after(() => writer.close());
  await writer.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const pdir = writer.partitionDir('s', 0);
  let end = 0;
  for (let bytes = 0; bytes < 4 * 1024; end++) bytes += frameBytes(stamped(end, end + 1)[0]!);
  await writer.append('s', 0, stamped(0, end), 'durable');
  for (let guard = 0; guard < 500 && (await listSegments(pdir)).length < 2; guard++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(await listSegments(pdir), [0, end], 'rolled, the new segment named by the next offset');
  assert.equal(statSync(segmentPath(pdir, end)).size, 0);
  return { dir, writer, pdir, end };
}

test('a newest segment just rolled to, still empty, is where the next records are read from', async (t) => {
  const { dir, writer, pdir, end } = await rolledOnce(t, 512);
  const sealedBytes = statSync(segmentPath(pdir, 0)).size;

  const warnings: string[] = [];
  const reader = openEmbedded(dir, { warn: (_f, m) => warnings.push(m) });
  t.after(() => reader.close());
  const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);
  assert.deepEqual(await readAll(reader, 0, 3), range(0, end));
  assert.deepEqual((await reader.read('s', 0, end, { maxRecords: 10 })).records, []);
  assert.equal((await reader.read('s', 0, end, { maxRecords: 10 })).nextOffset, end);
  assert.equal((await reader.stats()).streams[0]!.partitions[0]!.endOffset, end);
  assert.equal(await reader.offsetForTime('s', 0, 9_000_000), end);

  await writer.append('s', 0, stamped(end, end + 5), 'durable');
  assert.ok(statSync(segmentPath(pdir, end)).size > 0, 'written to the new segment');
  assert.equal(statSync(segmentPath(pdir, 0)).size, sealedBytes, 'the sealed one is unchanged');
  assert.deepEqual(await readAll(reader, end, 2), range(end, end + 5));
  assert.deepEqual(await readAll(reader, end - 2, 100), range(end - 2, end + 5));
  assert.equal((await reader.stats()).streams[0]!.partitions[0]!.endOffset, end + 5);
  assert.equal(await reader.offsetForTime('s', 0, 1_000_000 + (end + 1) * 1000), end + 1);
  assert.deepEqual(warnings, [], 'nothing quarantined');
});

test('damage at the end of a segment just rolled from is skipped, not waited on as a write in progress', async (t) => {
  const { dir, pdir, end } = await rolledOnce(t, 2048);
  // A bad byte in the body of the record before the last one, past the segment's last index entry.
  const seg = segmentPath(pdir, 0);
  const data = readFileSync(seg);
  const at = data.length - frameBytes(stamped(end - 1, end)[0]!) - 5;
  data[at] = data[at]! ^ 0xff;
  writeFileSync(seg, data);

  const warnings: string[] = [];
  const reader = openEmbedded(dir, { warn: (_f, m) => warnings.push(m) });
  t.after(() => reader.close());
  const offsets = await readAll(reader, 0, 100);
  assert.deepEqual(offsets, [...Array.from({ length: end - 2 }, (_, i) => i), end - 1], 'all but the damaged record');
  assert.equal((await reader.read('s', 0, end - 2, { maxRecords: 10 })).nextOffset, end, 'read on past the damage');
  assert.equal(warnings.length, 1, `the damage reported: ${JSON.stringify(warnings)}`);
});

test('a segment just rolled from that ends short has the missing offsets reported, not waited for', async (t) => {
  const { dir, pdir, end } = await rolledOnce(t, 2048);
  const seg = segmentPath(pdir, 0);
  truncateSync(seg, statSync(seg).size - frameBytes(stamped(end - 1, end)[0]!)); // its last record gone, at a frame boundary

  const warnings: string[] = [];
  const reader = openEmbedded(dir, { warn: (_f, m) => warnings.push(m) });
  t.after(() => reader.close());
  assert.deepEqual(await readAll(reader, 0, 100), Array.from({ length: end - 1 }, (_, i) => i));
  assert.equal((await reader.read('s', 0, end - 1, { maxRecords: 10 })).nextOffset, end, 'read on past the gap');
  assert.equal(warnings.length, 1, `the gap reported: ${JSON.stringify(warnings)}`);
  assert.equal((await reader.stats()).streams[0]!.partitions[0]!.quarantinedRecords, 1);
});
