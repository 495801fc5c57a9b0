// A damaged frame in a sealed segment whose index is missing must cost only that frame: recovery's rebuilt
// index and a reader with no index both search forward for the next valid frame instead of dropping the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';
import { readThrough, SMALL_SEGMENTS, writeSealedSegments } from './damage-fixture.js';
import { open } from 'node:fs/promises';
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { findNextFrame } from '../../src/log/embedded/frame-scanner.js';
import { writeFrame } from '../../src/log/embedded/record-frame.js';

const OPTS = SMALL_SEGMENTS;

async function writeAll(dir: string): Promise<string[]> {
  const { pdir, segs } = await writeSealedSegments(dir);
  return segs.map((n) => join(pdir, n));
}

/** Deletes the segment's index and flips a byte in the middle of its data. */
function damage(segment: string): void {
  rmSync(segment.replace(/\.log$/, '.idx'), { force: true });
  const buf = readFileSync(segment);
  buf[Math.floor(buf.length / 2)] ^= 0x5a;
  writeFileSync(segment, buf);
}

async function readAll(log: EmbeddedLog): Promise<number[]> {
  return (await readThrough(log, 37, 200)).offsets;
}

async function checkOnlyOneLost(log: EmbeddedLog, warnings: string[]): Promise<void> {
  const seen = await readAll(log);
  assert.equal(seen[seen.length - 1], 299, 'reading reaches the end of the partition');
  assert.deepEqual(seen, [...new Set(seen)].sort((a, b) => a - b), 'each record once, in order');
  assert.equal(300 - seen.length, 1, 'only the damaged record is lost, not the rest of its segment');
  const p = (await log.stats()).streams[0]!.partitions[0]!;
  assert.equal(p.quarantinedRecords, 1);
  assert.ok(p.quarantinedBytes > 0);
  assert.ok(warnings.some((w) => w.includes('quarantined')));
}

test('recovery rebuilds a missing sealed index past damage, and reads resume after it', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const segs = await writeAll(dir);
  damage(segs[1]!);
  const warnings: string[] = [];
  const log = openEmbedded(dir, { ...OPTS, warn: (_f, m) => warnings.push(m) });
  t.after(() => log.close());
  await log.openForWriting('s', 0); // recovery: the missing index is rebuilt by a scan
  assert.ok(warnings.includes('rebuilt a missing segment index'));
  await checkOnlyOneLost(log, warnings);
  // The rebuilt index covers the rest of the segment: its last entry lies past the damage.
  const idx = readFileSync(segs[1]!.replace(/\.log$/, '.idx'));
  const lastPosition = idx.readUInt32LE(idx.length - 12);
  assert.ok(lastPosition > readFileSync(segs[1]!).length / 2, `the rebuilt index stops at ${lastPosition}`);
});

test('a reader with no index for a damaged sealed segment searches forward past the damage', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const segs = await writeAll(dir);
  const warnings: string[] = [];
  const log = openEmbedded(dir, { ...OPTS, warn: (_f, m) => warnings.push(m) });
  t.after(() => log.close());
  await log.openForWriting('s', 0); // recovered; the segment is damaged and its index lost afterwards
  damage(segs[1]!);
  await checkOnlyOneLost(log, warnings);
  // A read starting past the damage, inside the same segment, finds its records too (and does not loop).
  const base = Number(segs[1]!.replace(/.*\//, '').replace('.log', ''));
  const next = Number(segs[2]!.replace(/.*\//, '').replace('.log', ''));
  const { records } = await log.read('s', 0, next - 2, { maxRecords: 2 });
  assert.deepEqual(records.map((r) => r.offset), [next - 2, next - 1]);
  assert.ok(base < next - 2);
});

test('the forward search skips a whole frame copied inside a record body and stops at the real next frame', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const frameOf = (r: ReturnType<typeof makeRecord>, offset: number): Buffer => {
    const b = Buffer.alloc(4096);
    return b.subarray(0, writeFrame(b, 0, r, offset));
  };
  // Record 1's body holds a valid frame claiming offset 2: taken for the next frame, it would hand out a fake record.
  const frames = [frameOf(makeRecord(0), 0), frameOf({ ...makeRecord(1), body: frameOf(makeRecord(9), 2) }, 1), frameOf(makeRecord(2), 2), frameOf(makeRecord(3), 3)];
  const data = Buffer.concat(frames);
  const badPos = frames[0]!.length;
  data[badPos + 4] ^= 0xff; // record 1's checksum
  const path = join(dir, 'seg.log');
  writeFileSync(path, data);
  const fh = await open(path, 'r');
  t.after(() => fh.close());
  for (const chunkBytes of [64, 100, 1 << 20]) {
    const found = await findNextFrame(fh, badPos + 1, data.length, 1, 10, chunkBytes);
    assert.deepEqual(found, { position: badPos + frames[1]!.length, offset: 2 }, `chunks of ${chunkBytes} bytes`);
  }
  assert.equal(await findNextFrame(fh, badPos + frames[1]!.length + frames[2]!.length + 1, data.length, 1, 10), null, 'no frame after the last');
});
