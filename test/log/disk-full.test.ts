// A full disk is an operating condition: appends that cannot be stored are
// refused (never acknowledged), acknowledged data stays readable, and writing
// resumes once space is back. Uses a real, tiny tmpfs (needs root; skips otherwise).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { makeRecord } from './conformance.js';
import { isHopperError } from '../../src/errors.js';

function mountTmpfs(dir: string, size: string): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return null;
  } catch (err) {
    return `cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}): run as root to test a full disk`;
  }
}

/**
 * Logs (the first one writes; the others only read, as other processes do) on a data directory in a
 * 512 KiB tmpfs already holding 300 KiB of filler; null when the test was skipped (no tmpfs here).
 */
function logsOnTinyDisk(t: TestContext, count: number): { mnt: string; logs: EmbeddedLog[] } | null {
  const mnt = tempDir('hopper-full-');
  const why = mountTmpfs(mnt, '512k');
  if (why) {
    removeDir(mnt);
    t.skip(why);
    return null;
  }
  const dataDir = join(mnt, 'data');
  mkdirSync(dataDir);
  const logs = Array.from({ length: count }, () => openEmbedded(dataDir, { segmentMaxBytes: 1024 * 1024 }));
  t.after(async () => {
    for (const log of logs) await log.close().catch(() => undefined);
    execFileSync('umount', ['-l', mnt]);
    removeDir(mnt);
  });
  writeFileSync(join(mnt, 'filler'), Buffer.alloc(300 * 1024));
  return { mnt, logs };
}

test('ENOSPC refuses appends, keeps acknowledged data, and recovers when space returns', async (t) => {
  const disk = logsOnTinyDisk(t, 1);
  if (disk === null) return;
  const { mnt } = disk;
  const log = disk.logs[0]!;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });

  const acked: number[] = [];
  let refused = 0;
  for (let i = 0; i < 2000 && refused < 5; i++) {
    try {
      const r = await log.append('s', 0, [makeRecord(i, 1000)], 'durable');
      acked.push(r.firstOffset);
    } catch (e) {
      assert.ok(isHopperError(e, 'HOPPER_LOG_UNAVAILABLE'), `expected HOPPER_LOG_UNAVAILABLE, got ${String(e)}`);
      assert.match((e as Error).message, /ENOSPC/);
      refused++;
    }
  }
  assert.ok(acked.length > 10, 'some appends fit before the disk filled');
  assert.equal(refused, 5, 'the full disk was reached and appends were refused');

  rmSync(join(mnt, 'filler'));
  const after = await log.append('s', 0, [makeRecord(9999, 1000)], 'durable');
  assert.equal(after.firstOffset, acked.length, 'offsets stay dense: refused appends took none');
  const { records } = await log.read('s', 0, 0, { maxRecords: 10_000 });
  assert.equal(records.length, acked.length + 1);
  records.slice(0, acked.length).forEach((r, i) => assert.ok(r.body.equals(makeRecord(i, 1000).body)));
});

test('a batch cut short by ENOSPC keeps the whole frames that landed: no offset a reader saw is given to another record', async (t) => {
  // The second log reads without the writer, up to the file's size, as a worker in another process does.
  const disk = logsOnTinyDisk(t, 2);
  if (disk === null) return;
  const { mnt } = disk;
  const [log, reader] = disk.logs as [EmbeddedLog, EmbeddedLog];
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });

  const seen = new Map<number, string>(); // offset -> body, as the reader returned it
  let readerNext = 0;
  let writing = true;
  const readLoop = (async () => {
    while (writing) {
      const { records, nextOffset } = await reader.read('s', 0, readerNext, { maxRecords: 1000 });
      for (const r of records) seen.set(r.offset, r.body.toString());
      readerNext = nextOffset;
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();

  const acked = new Map<number, string>(); // offset -> body
  const refusedBodies = new Set<string>();
  let n = 0;
  let refusals = 0;
  for (let round = 0; round < 200 && refusals < 5; round++) {
    const batch = Array.from({ length: 8 }, () => makeRecord(n++, 3000 + (n % 5) * 500));
    try {
      const r = await log.append('s', 0, batch, 'durable');
      batch.forEach((b, i) => acked.set(r.firstOffset + i, b.body.toString()));
    } catch (e) {
      assert.ok(isHopperError(e, 'HOPPER_LOG_UNAVAILABLE'), `expected HOPPER_LOG_UNAVAILABLE, got ${String(e)}`);
      for (const b of batch) refusedBodies.add(b.body.toString());
      refusals++;
    }
  }
  assert.equal(refusals, 5, 'the disk filled');
  rmSync(join(mnt, 'filler'));
  const last = makeRecord(n++, 1000);
  const after = await log.append('s', 0, [last], 'durable');
  acked.set(after.firstOffset, last.body.toString());
  writing = false;
  await readLoop;

  const final = new Map<number, string>();
  for (let next = 0; ; ) {
    const { records, nextOffset } = await log.read('s', 0, next, { maxRecords: 1000 });
    if (records.length === 0) break;
    for (const r of records) final.set(r.offset, r.body.toString());
    next = nextOffset;
  }
  for (const [offset, body] of acked) assert.equal(final.get(offset), body, `acknowledged record at offset ${offset}`);
  for (const [offset, body] of seen) assert.equal(final.get(offset), body, `the record a reader saw at offset ${offset} is still there`);
  assert.deepEqual([...final.keys()], [...final.keys()].map((_, i) => i), 'offsets are dense');
  // Records of refused appends that did land are duplicates a retry adds: allowed, never lost acks.
  const landedRefused = [...final.values()].filter((b) => refusedBodies.has(b)).length;
  assert.equal(final.size, acked.size + landedRefused);
  // tmpfs takes a write in part up to its last free page, so some refused batch landed in part; cutting those
  // frames off again is what let a reader that read in between deliver records whose offsets then went to others.
  assert.ok(landedRefused > 0, 'the whole frames of a batch cut short stay in the log');
});
