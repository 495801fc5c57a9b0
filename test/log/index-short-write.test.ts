// A write(2) of index entries cut short (a disk filling up between two blocks of the index) left part of an
// entry at the end of the index, which is opened O_APPEND: every later entry landed out of step, and readers
// decoded garbage entries from there on. The part is cut off, so the index holds whole entries only.
// The short write and the failure after it are injected into write(2) (fs.writeSync, as the writer calls it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { decodeIndexEntries, indexPath } from '../../src/log/embedded/segment-files.js';
import { frameBytes } from '../../src/log/embedded/record-frame.js';
import { makeRecord } from './conformance.js';

test('a short write of index entries leaves the index aligned, and other processes see the true end', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const opts = { segmentMaxBytes: 1024 * 1024, indexIntervalBytes: 256 };
  const log = openEmbedded(dir, opts);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, Array.from({ length: 20 }, (_, i) => makeRecord(i, 200)), 'written');

  const realWriteSync = fs.writeSync;
  let shortWrites = 0;
  fs.writeSync = ((fd: number, buffer: Buffer, offset: number, length: number, position: number) => {
    const isIndex = fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith('.idx');
    if (isIndex && shortWrites === 0 && length > 16) {
      shortWrites++;
      return realWriteSync(fd, buffer, offset, 16 + 10, position); // one entry and a part of the next
    }
    if (isIndex && shortWrites === 1) {
      shortWrites++;
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' }); // the rest
    }
    return realWriteSync(fd, buffer, offset, length, position);
  }) as typeof realWriteSync;
  syncBuiltinESMExports();
  t.after(() => {
    fs.writeSync = realWriteSync;
    syncBuiltinESMExports();
  });
  await log.append('s', 0, Array.from({ length: 20 }, (_, i) => makeRecord(20 + i, 200)), 'written');
  assert.equal(shortWrites, 2, 'the test cut one index write short and failed the rest');
  fs.writeSync = realWriteSync;
  syncBuiltinESMExports();
  for (let i = 40; i < 200; i += 20) await log.append('s', 0, Array.from({ length: 20 }, (_, j) => makeRecord(i + j, 200)), 'written');

  // Every entry of the index, as the writer left it, names the record at its position.
  const { records } = await log.read('s', 0, 0, { maxRecords: 1000 });
  const bytes = fs.readFileSync(indexPath(join(dir, 'streams', 's', '0'), 0));
  assert.equal(bytes.length % 16, 0, 'whole entries');
  const positions = new Map<number, number>();
  let at = 0;
  for (const r of records) {
    positions.set(r.offset, at);
    at += frameBytes(r);
  }
  const entries = decodeIndexEntries(bytes);
  assert.ok(entries.length > 20);
  for (const e of entries) assert.equal(positions.get(e.relOffset), e.position, `entry ${JSON.stringify(e)}`);

  const other = openEmbedded(dir, opts); // reads as another process does: no writer of its own
  t.after(() => other.close());
  const p = (await other.stats()).streams[0]!.partitions[0]!;
  assert.equal(p.endOffset, 200, 'the end seen from another process');
  for (const offset of [199, 150, 77, 41, 5]) {
    assert.equal((await other.read('s', 0, offset, { maxRecords: 1 })).records[0]?.offset, offset);
  }
});
