// Reads of the embedded log at their edges (src/log/embedded/partition-reader.ts):
// a read that starts at a frame longer than its read size, a newest segment
// cut short below index entries, read by a process that is not its writer, and
// more concurrent reads of one partition than segment files it keeps open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, statSync, truncateSync } from 'node:fs';
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

/** Descriptors of this process open on files of `dir`. */
function openFilesIn(dir: string): string[] {
  const fds = readdirSync('/proc/self/fd');
  return fds.map((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  }).filter((target) => target.startsWith(dir + '/'));
}

test('concurrent reads of more segments than the reader keeps open all succeed, and idle handles are closed', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const opts = { segmentMaxBytes: 256 * 1024, indexIntervalBytes: 4096 };
  const log = openEmbedded(dir, opts);
  await log.ensureStream('s', STREAM_OPTS);
  for (let i = 0; i < 8000; i += 100) await log.append('s', 0, Array.from({ length: 100 }, (_, j) => makeRecord(i + j, 300)), 'durable');
  await log.close();
  const pdir = join(dir, 'streams', 's', '0');
  // The newest segment may be empty (just rolled): read the ones holding records.
  const bases = readdirSync(pdir).filter((n) => n.endsWith('.log')).map((n) => Number(n.slice(0, 20))).filter((base) => base + 20 < 8000);
  assert.ok(bases.length >= 8, `${bases.length} segments with records`);

  // Another process than the writer (several groups, admin record pages): one read per segment at once.
  // The reader keeps 4 segment files open; it used to close the oldest under a read still using it (EBADF).
  const reader = openEmbedded(dir, opts);
  t.after(() => reader.close());
  for (let round = 0; round < 10; round++) {
    const firsts = await Promise.all(bases.map(async (base) => (await reader.read('s', 0, base + 1 + round, { maxRecords: 600 })).records[0]?.offset));
    assert.deepEqual(firsts, bases.map((base) => base + 1 + round), `round ${round}`);
  }
  await new Promise((r) => setTimeout(r, 50)); // closes of idle handles are not awaited by the reads
  const open = openFilesIn(pdir).filter((f) => f.endsWith('.log'));
  assert.ok(open.length <= 4, `idle segment files open: ${open.length}`);
  await reader.close();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(openFilesIn(pdir), []);
});
