// Sequential reads of the embedded log go on from a read-ahead cursor
// (src/log/embedded/read-ahead.ts): frames cut by chunk ends are stitched, readers
// at different places keep their own cursors, and bytes read ahead while another
// process was still writing them are read again, never taken for damage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, openSync, readdirSync, writeSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import type { RecordInput } from '../../src/log/types.js';
import { frameBytes, writeFrame, FRAME_HEADER_BYTES } from '../../src/log/embedded/record-frame.js';

const STREAM_OPTS = { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 };

/** Deterministic sizes from 1 byte to 40 KiB (past the 16 KiB head room), mostly small. */
function sizes(n: number): number[] {
  let x = 12345;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x % 10 === 0 ? 16_000 + (x % 25_000) : 1 + (x % 900);
  });
}

async function readAll(log: EmbeddedLog, from: number, maxRecords: number): Promise<{ offset: number; body: Buffer }[]> {
  const out: { offset: number; body: Buffer }[] = [];
  let offset = from;
  for (;;) {
    const r = await log.read('s', 0, offset, { maxRecords });
    if (r.records.length === 0) return out;
    out.push(...r.records.map((x) => ({ offset: x.offset, body: Buffer.from(x.body) })));
    offset = r.nextOffset;
  }
}

test('small sequential reads return every record of every size, frames across chunk ends included', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir, { segmentMaxBytes: 4 * 1024 * 1024 });
  t.after(() => log.close());
  await log.ensureStream('s', STREAM_OPTS);
  const records = sizes(1500).map((n, i) => makeRecord(i, n));
  for (let i = 0; i < records.length; i += 100) await log.append('s', 0, records.slice(i, i + 100), 'written');
  for (const maxRecords of [1, 7, 64, 1000]) {
    const got = await readAll(log, 0, maxRecords);
    assert.equal(got.length, records.length, `maxRecords ${maxRecords}`);
    got.forEach((r, i) => {
      assert.equal(r.offset, i);
      assert.ok(r.body.equals(records[i]!.body), `maxRecords ${maxRecords}: body of offset ${i}`);
    });
  }
});

test('readers at different places, and one-off reads between them, each get their own records', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', STREAM_OPTS);
  const records = sizes(1200).map((n, i) => makeRecord(i, n % 2000));
  await log.append('s', 0, records, 'written');
  const cursors = [0, 400, 800];
  const seen: number[][] = [[], [], []];
  for (let turn = 0; cursors.some((c, k) => c < 400 * (k + 1)); turn++) {
    for (let k = 0; k < 3; k++) {
      if (cursors[k]! >= 400 * (k + 1)) continue;
      const r = await log.read('s', 0, cursors[k]!, { maxRecords: 9 });
      for (const x of r.records) {
        assert.ok(x.body.equals(records[x.offset]!.body), `reader ${k}: body of offset ${x.offset}`);
        if (x.offset < 400 * (k + 1)) seen[k]!.push(x.offset);
      }
      cursors[k] = r.nextOffset;
    }
    const oneOff = (turn * 37) % records.length;
    const r = await log.read('s', 0, oneOff, { maxRecords: 2 });
    assert.equal(r.records[0]!.offset, oneOff);
  }
  for (let k = 0; k < 3; k++) assert.deepEqual(seen[k], Array.from({ length: 400 }, (_, i) => 400 * k + i));
});

test('a process reading while another appends sees every record once, in order, and quarantines nothing', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const writer = openEmbedded(dir);
  t.after(() => writer.close());
  await writer.ensureStream('s', STREAM_OPTS);
  const warnings: string[] = [];
  // Another EmbeddedLog on the same directory is not the writer: it reads as another process would.
  const reader = openEmbedded(dir, { warn: (_, message) => void warnings.push(message) });
  t.after(() => reader.close());

  const total = 6000;
  const bodies: Buffer[] = [];
  const sizeOf = sizes(total);
  const write = async (): Promise<void> => {
    for (let i = 0; i < total; ) {
      const n = Math.min(total - i, 1 + (i % 37));
      const batch: RecordInput[] = [];
      for (let k = 0; k < n; k++) batch.push(makeRecord(i + k, sizeOf[i + k]! % 3000));
      const { firstOffset } = await writer.append('s', 0, batch, 'written');
      batch.forEach((r, k) => (bodies[firstOffset + k] = r.body));
      i += n;
    }
  };
  const got: number[] = [];
  const read = async (): Promise<void> => {
    let offset = 0;
    const deadline = Date.now() + 60_000;
    while (got.length < total) {
      assert.ok(Date.now() < deadline, `read ${got.length} of ${total} records`);
      const r = await reader.read('s', 0, offset, { maxRecords: 50 });
      for (const x of r.records) {
        got.push(x.offset);
        assert.ok(x.body.equals(makeRecord(x.offset, sizeOf[x.offset]! % 3000).body), `body of offset ${x.offset}`);
      }
      offset = r.nextOffset;
      if (r.records.length === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await Promise.all([write(), read()]);
  assert.deepEqual(got, Array.from({ length: total }, (_, i) => i));
  assert.equal(bodies.length, total);
  assert.deepEqual(warnings, []);
});

test('a frame read ahead while another process was still writing it is read again once written', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s', STREAM_OPTS);
  await log.append('s', 0, Array.from({ length: 10 }, (_, i) => makeRecord(i, 100)), 'durable');
  await log.close();
  const pdir = join(dir, 'streams', 's', '0');
  const seg = join(pdir, readdirSync(pdir).find((n) => n.endsWith('.log'))!);
  // Record 10 as a write in progress would leave it: its length and checksum, then zeros.
  const last = makeRecord(10, 100);
  const frame = Buffer.alloc(frameBytes(last));
  writeFrame(frame, 0, last, 10);
  const at = statSync(seg).size;
  appendFileSync(seg, Buffer.concat([frame.subarray(0, FRAME_HEADER_BYTES), Buffer.alloc(frame.length - FRAME_HEADER_BYTES)]));

  const warnings: string[] = [];
  const reader = openEmbedded(dir, { warn: (_, message) => void warnings.push(message) });
  t.after(() => reader.close());
  const first = await reader.read('s', 0, 0, { maxRecords: 5 }); // its chunk holds the zeros too
  assert.deepEqual(first.records.map((r) => r.offset), [0, 1, 2, 3, 4]);
  const fd = openSync(seg, 'r+');
  writeSync(fd, frame, FRAME_HEADER_BYTES, frame.length - FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES);
  closeSync(fd);
  const rest = await reader.read('s', 0, first.nextOffset, { maxRecords: 100 });
  assert.deepEqual(rest.records.map((r) => r.offset), [5, 6, 7, 8, 9, 10]);
  assert.ok(rest.records[5]!.body.equals(last.body));
  assert.deepEqual(warnings, []);
});
