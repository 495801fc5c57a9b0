// A segment whose index holds more entries than a call may take arguments (about 120,000 here: a 1 GiB
// segment at the default indexIntervalBytes of 4 KiB has 262,144) is read like any other: the reader
// used to append the decoded entries with push(...entries), which threw "Maximum call stack size
// exceeded" on every read of that segment from a process that was not its writer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';

const ENTRIES = 200_000;

test('a reader opens a segment index of 200,000 entries and seeks with it', { timeout: 120_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  // The smallest index interval: every ~300-byte frame gets an entry.
  const opts = { indexIntervalBytes: 256, segmentMaxBytes: 1024 * 1024 * 1024, maxPendingRecords: 1_000_000, maxPendingBytes: 1024 * 1024 * 1024 };
  const writer = openEmbedded(dir, opts);
  await writer.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const batch = Array.from({ length: 5000 }, (_, i) => makeRecord(i, 220));
  for (let n = 0; n < ENTRIES; n += batch.length) await writer.append('s', 0, batch, 'written');
  await writer.close();

  const reader = openEmbedded(dir, opts);
  t.after(() => reader.close());
  const far = ENTRIES - 10;
  const { records } = await reader.read('s', 0, far, { maxRecords: 3 });
  assert.deepEqual(records.map((r) => r.offset), [far, far + 1, far + 2]);
  assert.ok(records[0]!.body.equals(batch[far % batch.length]!.body));
});
