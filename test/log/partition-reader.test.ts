// Reads of the embedded log at their edges (src/log/embedded/partition-reader.ts):
// a read that starts at a frame longer than its read size, and a newest segment
// cut short below index entries, read by a process that is not its writer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';

const STREAM_OPTS = { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 };

test('a read starting at a frame longer than its read size returns that frame', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const warnings: string[] = [];
  const warn = (_: object, message: string): void => void warnings.push(message);
  const log = openEmbedded(dir, { warn });
  await log.ensureStream('s', STREAM_OPTS);
  // 200 small records fill the first 16 KiB segment: the big one is the first frame of the next,
  // so a read from its offset starts exactly at it (the smallest read is 64 KiB).
  await log.append('s', 0, Array.from({ length: 200 }, (_, i) => makeRecord(i, 100)), 'durable');
  const big = makeRecord(200, 200_000);
  await log.append('s', 0, [big, makeRecord(201, 100)], 'durable');
  await log.close();

  for (const reader of [openEmbedded(dir, { warn }), openEmbedded(dir, { warn })]) {
    t.after(() => reader.close());
    const one = await reader.read('s', 0, 200, { maxRecords: 1 });
    assert.deepEqual(one.records.map((r) => r.offset), [200]);
    assert.ok(one.records[0]!.body.equals(big.body));
    assert.equal(one.nextOffset, 201);
    const rest = await reader.read('s', 0, 201, { maxRecords: 10 });
    assert.deepEqual(rest.records.map((r) => r.offset), [201]);
  }
  assert.deepEqual(warnings, [], 'nothing was quarantined');
});

test('a newest segment cut short below its index entries ends the read at the cut', { timeout: 20_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir, { segmentMaxBytes: 1024 * 1024, indexIntervalBytes: 512 });
  await log.ensureStream('s', STREAM_OPTS);
  const records = Array.from({ length: 75 }, (_, i) => makeRecord(i, 60));
  await log.append('s', 0, records, 'durable');
  await log.close();
  const pdir = join(dir, 'streams', 's', '0');
  const seg = join(pdir, readdirSync(pdir).find((n) => n.endsWith('.log'))!);
  // Halfway through a frame, with index entries (every 512 bytes) pointing past the cut.
  const frame = statSync(seg).size / records.length;
  truncateSync(seg, Math.floor(frame * 30.5));

  const reader = openEmbedded(dir);
  t.after(() => reader.close());
  const got: number[] = [];
  let offset = 0;
  for (let calls = 0; calls < 100; calls++) {
    const r = await reader.read('s', 0, offset, { maxRecords: 500 });
    if (r.records.length === 0) break;
    got.push(...r.records.map((x) => x.offset));
    offset = r.nextOffset;
  }
  assert.deepEqual(got, Array.from({ length: 30 }, (_, i) => i), 'every whole frame before the cut, nothing after it');
  assert.equal(offset, 30);
});
