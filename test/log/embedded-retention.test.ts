// Retention on the embedded log runs by itself, every retentionCheckIntervalMs, in the
// process that writes a partition; partitions this process does not write are left to
// their writer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { utimesSync } from 'node:fs';
import { listSegments, segmentPath } from '../../src/log/embedded/segment-files.js';
import type { RecordInput } from '../../src/log/types.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';

const SEGMENT_BYTES = 16 * 1024;

function records(n: number): RecordInput[] {
  return Array.from({ length: n }, (_, i) => ({
    body: Buffer.alloc(500, 0x61 + (i % 26)),
    receivedAtUs: Date.now() * 1000,
    contentType: 'text/plain',
    contentEncoding: '',
    remoteAddress: '127.0.0.1',
    requestId: `r${i}`,
    idempotencyKey: '',
  }));
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

test('retention trims the partitions this process writes every retentionCheckIntervalMs, and only those', async () => {
  const dir = tempDir();
  try {
    const stream = { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 4 * SEGMENT_BYTES };
    // Partition 1 is written by another log (as another process would), then closed: this process never writes it.
    const other = openEmbedded(dir, { segmentMaxBytes: SEGMENT_BYTES });
    await other.ensureStream('s', stream);
    for (let i = 0; i < 10; i++) await other.append('s', 1, records(40), 'durable');
    await other.close();
    const p1Segments = await listSegments(openEmbedded(dir).partitionDir('s', 1));
    assert.ok(p1Segments.length > 3, `partition 1 has ${p1Segments.length} segments`);

    const log = openEmbedded(dir, { segmentMaxBytes: SEGMENT_BYTES, retentionCheckIntervalMs: 50 });
    try {
      for (let i = 0; i < 10; i++) await log.append('s', 0, records(40), 'durable');
      const p0 = log.partitionDir('s', 0);
      // 400 records of ~540 bytes fill about 13 segments; a budget of 2 segments per partition (4 segments
      // over 2 partitions) keeps the newest 3 files at most.
      await waitFor('retention of partition 0', async () => (await listSegments(p0)).length <= 3);
      const after = await listSegments(p0);
      assert.ok(after[0]! > 0, 'old segments are gone');
      const last = await log.read('s', 0, 399, { maxRecords: 1 });
      assert.equal(last.records[0]?.offset, 399, 'the newest records are kept');
      // Retention keeps running every 50 ms, and a roll may still follow the last append's answer: a read is
      // judged against the segment list taken just before and just after it, once both agree.
      await waitFor('a read from 0 between two equal segment lists', async () => {
        const listed = await listSegments(p0);
        const read = await log.read('s', 0, 0, { maxRecords: 1 });
        if ((await listSegments(p0)).join() !== listed.join()) return false;
        assert.equal(read.records[0]?.offset, listed[0], 'a read from 0 starts at the first retained segment');
        return true;
      });
      assert.deepEqual(await listSegments(log.partitionDir('s', 1)), p1Segments, 'a partition written elsewhere is not touched');
    } finally {
      await log.close();
    }
  } finally {
    removeDir(dir);
  }
});

test('without retentionCheckIntervalMs nothing is deleted until enforceRetention() is called', async () => {
  const dir = tempDir();
  try {
    const log = openEmbedded(dir, { segmentMaxBytes: SEGMENT_BYTES });
    try {
      await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 2 * SEGMENT_BYTES });
      for (let i = 0; i < 10; i++) await log.append('s', 0, records(40), 'durable');
      await sleep(100); // a roll may follow the last append's answer
      const before = await listSegments(log.partitionDir('s', 0));
      await sleep(200);
      assert.deepEqual(await listSegments(log.partitionDir('s', 0)), before);
      await log.enforceRetention();
      assert.ok((await listSegments(log.partitionDir('s', 0))).length < before.length);
    } finally {
      await log.close();
    }
  } finally {
    removeDir(dir);
  }
});

test('retention by age deletes the sealed segments last written before the limit, oldest first, never the newest', async () => {
  const dir = tempDir();
  try {
    const log = openEmbedded(dir, { segmentMaxBytes: SEGMENT_BYTES });
    try {
      const hourMs = 3_600_000;
      await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: hourMs, retentionMaxBytes: 0 });
      for (let i = 0; i < 10; i++) await log.append('s', 0, records(40), 'durable');
      await sleep(100); // a roll may follow the last append's answer
      const pdir = log.partitionDir('s', 0);
      const bases = await listSegments(pdir);
      assert.ok(bases.length >= 5, 'the test needs several segments');
      const nowMs = Date.now();
      const age = (base: number, ms: number): void => utimesSync(segmentPath(pdir, base), (nowMs - ms) / 1000, (nowMs - ms) / 1000);
      // The two oldest were last written two hours ago, the third 59 minutes ago: only the two go.
      age(bases[0]!, 2 * hourMs);
      age(bases[1]!, 2 * hourMs);
      age(bases[2]!, hourMs - 60_000);
      await log.enforceRetention(nowMs);
      assert.deepEqual(await listSegments(pdir), bases.slice(2));
      const { records: first } = await log.read('s', 0, 0, { maxRecords: 1 });
      assert.equal(first[0]?.offset, bases[2], 'reads below the first segment start at it');
      // All past the limit: all go but the newest, which is (or may be) being written.
      for (const base of bases.slice(2)) age(base, 2 * hourMs);
      await log.enforceRetention(nowMs);
      assert.deepEqual(await listSegments(pdir), bases.slice(-1));
      assert.equal((await log.append('s', 0, records(1), 'durable')).firstOffset, 400);
    } finally {
      await log.close();
    }
  } finally {
    removeDir(dir);
  }
});
