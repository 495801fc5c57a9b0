// A time lookup (hopper replay/log read --from ISO-TIME) from a process that does not write the partition, when
// the newest segment's index is newer than its data (a backup that copied the index after the segment, a power
// cut that kept the index's blocks): the answer stays inside the data, the end at most, not where the index
// points past it (a read from there would skip the records the writer appends at the offsets in between).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { frameBytes } from '../../src/log/embedded/record-frame.js';
import { record } from '../work/work-helpers.js';

test('offsetForTime ignores index entries past the data of the newest segment', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir, { segmentMaxBytes: 1024 * 1024, indexIntervalBytes: 512 });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const records = Array.from({ length: 75 }, (_, i) => record('x'.repeat(60), { receivedAtUs: 1_000 + i * 10 }));
  await log.append('s', 0, records, 'durable');
  await log.close();
  const pdir = join(dir, 'streams', 's', '0');
  const seg = join(pdir, readdirSync(pdir).find((n) => n.endsWith('.log'))!);
  truncateSync(seg, records.slice(0, 30).reduce((sum, r) => sum + frameBytes(r), 0));

  const reader = openEmbedded(dir);
  t.after(() => reader.close());
  assert.equal((await reader.stats()).streams[0]!.partitions[0]!.endOffset, 30);
  assert.equal(await reader.offsetForTime('s', 0, 1_000 + 10 * 10), 10, 'a time inside the data');
  assert.equal(await reader.offsetForTime('s', 0, 1_000 + 50 * 10), 30, 'a time of a record lost with the data: the end');
  assert.equal(await reader.offsetForTime('s', 0, 1_000_000), 30, 'a time after every record: the end');
});
