// A segment index whose read failed once (EMFILE, EIO) was marked read, with no entries, for the reader's
// lifetime: every seek in that segment then scanned from its start, and damage in it skipped every record to the
// segment's end. The next read of the segment reads the index again.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { decodeIndexEntries } from '../../src/log/embedded/segment-files.js';
import { makeRecord } from './conformance.js';

test('a failed read of a sealed index is retried, so damage in the segment costs one index interval, not the segment', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const opts = { segmentMaxBytes: 8 * 1024, indexIntervalBytes: 512 };
  const writer = openEmbedded(dir, opts);
  await writer.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < 300; i += 10) await writer.append('s', 0, Array.from({ length: 10 }, (_, j) => makeRecord(i + j, 200)), 'durable');
  await writer.close();
  const pdir = join(dir, 'streams', 's', '0');
  const seg = join(pdir, readdirSync(pdir).filter((n) => n.endsWith('.log')).sort()[1]!);
  const entries = decodeIndexEntries(readFileSync(seg.replace(/\.log$/, '.idx')));
  assert.ok(entries.length >= 8, 'the test needs a segment with several index entries');
  const data = readFileSync(seg);
  data[entries[2]!.position + 30]! ^= 0x5a; // inside the frame of the third entry
  writeFileSync(seg, data);
  const base = Number(seg.slice(-24, -4));

  const log = openEmbedded(dir, opts);
  t.after(() => log.close());
  let failures = 0;
  const realOpen = fsp.open.bind(fsp);
  const open = mock.method(fsp, 'open', async (...args: Parameters<typeof fsp.open>) => {
    if (String(args[0]).endsWith('.idx') && failures++ === 0) throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
    return realOpen(...args);
  });
  t.after(() => open.mock.restore());
  await assert.rejects(log.read('s', 0, base + entries[5]!.relOffset, { maxRecords: 1 }), /EMFILE/);

  const { records } = await log.read('s', 0, base, { maxRecords: 1000 });
  const lost = 300 - base - records.length;
  assert.ok(lost > 0 && lost <= entries[3]!.relOffset - entries[2]!.relOffset, `lost ${lost} records: only those up to the next index entry`);
});
