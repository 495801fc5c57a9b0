// Faults around segment files that recovery and the writer must survive without
// giving an offset out twice: a roll that fails half way, an empty segment left by
// one, a misnamed newest segment, a torn index entry; and the time index across
// segment boundaries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, appendFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isHopperError } from '../../src/errors.js';
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { segmentName } from '../../src/log/embedded/segment-files.js';
import type { LogRecord, RecordInput } from '../../src/log/types.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';

const SMALL = { segmentMaxBytes: 4096, indexIntervalBytes: 512 };
const T0 = 1_700_000_000_000_000;

function rec(n: number, receivedAtUs = T0 + n * 10, bodyBytes = 200): RecordInput {
  const head = JSON.stringify({ n });
  return {
    body: Buffer.concat([Buffer.from(head), Buffer.alloc(Math.max(0, bodyBytes - head.length), 0x20)]),
    receivedAtUs,
    contentType: 'application/json',
    contentEncoding: '',
    remoteAddress: '127.0.0.1',
    requestId: `r${n}`,
    idempotencyKey: '',
  };
}

const nOf = (r: LogRecord): number => (JSON.parse(r.body.toString()) as { n: number }).n;

async function readAll(log: EmbeddedLog): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for (let next = 0; ; ) {
    const { records, nextOffset } = await log.read('s', 0, next, { maxRecords: 1000 });
    if (records.length === 0) return out;
    out.push(...records);
    next = nextOffset;
  }
}

function segmentFiles(log: EmbeddedLog): string[] {
  return readdirSync(log.partitionDir('s', 0))
    .filter((f) => f.endsWith('.log'))
    .sort();
}

async function withLog(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    await fn(dir);
  } finally {
    removeDir(dir);
  }
}

test('a roll that fails half way leaves no segment behind; after a restart every offset is still unique', async () => {
  await withLog(async (dir) => {
    let log = openEmbedded(dir, SMALL);
    await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    await log.append('s', 0, [rec(0)], 'durable');
    // The new segment's data file opens, its index does not (as with EMFILE): every roll fails after creating a file.
    const realOpen = fsp.open;
    fsp.open = (async (path: Parameters<typeof realOpen>[0], flags?: Parameters<typeof realOpen>[1], mode?: Parameters<typeof realOpen>[2]) => {
      if (String(path).endsWith('.idx') && flags === 'a+') throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
      return realOpen(path, flags, mode);
    }) as typeof realOpen;
    try {
      for (let n = 1; n < 60; n++) assert.equal((await log.append('s', 0, [rec(n)], 'durable')).firstOffset, n);
    } finally {
      fsp.open = realOpen;
    }
    assert.deepEqual(segmentFiles(log), [`${segmentName(0)}.log`], 'the failed rolls left no file');
    await log.close();

    log = openEmbedded(dir, SMALL);
    assert.equal((await log.append('s', 0, [rec(1000)], 'durable')).firstOffset, 60, 'appends go on after the last acknowledged offset');
    assert.deepEqual((await readAll(log)).map(nOf), [...Array.from({ length: 60 }, (_, i) => i), 1000]);
    await log.close();
  });
});

test('an empty segment below the end of the one before it (left by a failed roll) is removed at open', async () => {
  await withLog(async (dir) => {
    let log = openEmbedded(dir, SMALL);
    await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    for (let n = 0; n < 10; n++) await log.append('s', 0, [rec(n)], 'durable');
    await log.close();
    // What the old roll left: an empty newest file named after offset 4, while offsets 4..9 went on into segment 0.
    writeFileSync(join(log.partitionDir('s', 0), `${segmentName(4)}.log`), '');
    log = openEmbedded(dir, SMALL);
    assert.equal((await log.append('s', 0, [rec(1000)], 'durable')).firstOffset, 10);
    assert.deepEqual(segmentFiles(log), [`${segmentName(0)}.log`]);
    assert.deepEqual((await log.read('s', 0, 4, { maxRecords: 2 })).records.map(nOf), [4, 5], 'nothing is skipped at the old base');
    await log.close();
  });
});

test('an empty segment left by a failed roll is removed at open also once later segments follow it', async () => {
  await withLog(async (dir) => {
    let log = openEmbedded(dir, SMALL);
    await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    for (let n = 0; n < 40; n++) await log.append('s', 0, [rec(n)], 'durable');
    await log.close();
    const before = segmentFiles(log);
    assert.ok(before.length >= 2, 'the test needs a roll');
    // A failed roll at offset 4 that could not remove its file; offsets 4.. went on into segment 0, later rolls followed.
    writeFileSync(join(log.partitionDir('s', 0), `${segmentName(4)}.log`), '');
    log = openEmbedded(dir, SMALL);
    await log.openForWriting('s', 0);
    assert.deepEqual(segmentFiles(log), before, 'the empty segment is gone');
    assert.deepEqual((await log.read('s', 0, 4, { maxRecords: 2 })).records.map(nOf), [4, 5], 'nothing is skipped at its base');
    assert.deepEqual((await readAll(log)).map(nOf), Array.from({ length: 40 }, (_, n) => n));
    assert.equal((await log.stats()).streams[0]!.partitions[0]!.quarantinedRecords, 0);
    await log.close();
  });
});

test('an empty newest segment right after the one before it is kept (a roll that succeeded)', async () => {
  await withLog(async (dir) => {
    let log = openEmbedded(dir, SMALL);
    await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    for (let n = 0; n < 10; n++) await log.append('s', 0, [rec(n)], 'durable');
    await log.close();
    writeFileSync(join(log.partitionDir('s', 0), `${segmentName(10)}.log`), '');
    log = openEmbedded(dir, SMALL);
    assert.equal((await log.append('s', 0, [rec(1000)], 'durable')).firstOffset, 10);
    assert.deepEqual(segmentFiles(log), [`${segmentName(0)}.log`, `${segmentName(10)}.log`]);
    await log.close();
  });
});

test('a newest segment whose first frame carries another offset than its name stops the open and stays intact', async () => {
  await withLog(async (dir) => {
    let log = openEmbedded(dir, SMALL);
    await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    for (let n = 0; n < 30; n++) await log.append('s', 0, [rec(n)], 'durable');
    await log.close();
    const files = segmentFiles(log);
    assert.ok(files.length >= 2);
    const newest = files[files.length - 1]!;
    const base = Number(newest.slice(0, 20));
    const pdir = log.partitionDir('s', 0);
    const misnamed = join(pdir, `${segmentName(base + 2)}.log`);
    renameSync(join(pdir, newest), misnamed);
    renameSync(join(pdir, newest.replace('.log', '.idx')), misnamed.replace('.log', '.idx'));
    const bytes = statSync(misnamed).size;
    log = openEmbedded(dir, SMALL);
    await assert.rejects(log.append('s', 0, [rec(1000)], 'durable'), (e: unknown) => {
      assert.ok(isHopperError(e, 'HOPPER_LOG_CORRUPT'), String(e));
      assert.match((e as Error).message, new RegExp(`starts with offset ${base} but its name says ${base + 2}`));
      return true;
    });
    assert.equal(statSync(misnamed).size, bytes, 'no good record was cut');
    await log.close();
  });
});

test('a torn entry at the end of the newest index is dropped at open, so the entries written after it stay aligned', async () => {
  await withLog(async (dir) => {
    const oneSegment = { segmentMaxBytes: 1 << 20, indexIntervalBytes: 1024 };
    let log = openEmbedded(dir, oneSegment);
    await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    for (let n = 0; n < 100; n += 10) await log.append('s', 0, Array.from({ length: 10 }, (_, i) => rec(n + i)), 'durable');
    await log.close();
    appendFileSync(join(log.partitionDir('s', 0), `${segmentName(0)}.idx`), Buffer.alloc(8));
    log = openEmbedded(dir, oneSegment);
    for (let n = 100; n < 300; n += 10) await log.append('s', 0, Array.from({ length: 10 }, (_, i) => rec(n + i)), 'durable');
    const other = openEmbedded(dir, oneSegment); // reads the index from the file, as another process does
    try {
      assert.equal(await log.offsetForTime('s', 0, T0 + 200 * 10), 200);
      assert.equal(await other.offsetForTime('s', 0, T0 + 200 * 10), 200);
      assert.equal((await other.stats()).streams[0]!.partitions[0]!.endOffset, 300);
    } finally {
      await other.close();
      await log.close();
    }
  });
});

/** The offset of the last record of segment 0, found by filling a scratch log of the same shape. */
async function lastOfFirstSegment(): Promise<number> {
  let last = 0;
  await withLog(async (dir) => {
    const log = openEmbedded(dir, SMALL);
    await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    for (let n = 0; segmentFiles(log).length < 2; n++) await log.append('s', 0, [rec(n)], 'durable');
    last = Number(segmentFiles(log)[1]!.slice(0, 20)) - 1;
    await log.close();
  });
  return last;
}

/**
 * Appends records stamped 10 us apart until `done`, except record `late` (the end of segment 0), which came
 * in a little after its two successors (a slower upload). Returns every stamp, by offset.
 */
async function appendWithLateStamp(log: EmbeddedLog, late: number, done: (n: number) => boolean): Promise<number[]> {
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const stamps: number[] = [];
  for (let n = 0; !done(n); n++) {
    const t = n === late ? T0 + n * 10 + 25 : T0 + n * 10;
    stamps.push(t);
    await log.append('s', 0, [rec(n, t)], 'durable');
  }
  return stamps;
}

test('a time lookup finds a late-stamped record at the end of a segment when the next one starts earlier', async () => {
  const last = await lastOfFirstSegment();
  await withLog(async (dir) => {
    const log = openEmbedded(dir, SMALL);
    const stamps = await appendWithLateStamp(log, last, (n) => n >= last + 10);
    assert.ok(segmentFiles(log).length >= 2);
    const t = stamps[last]!;
    assert.equal(await log.offsetForTime('s', 0, t), stamps.findIndex((s) => s >= t));
    await log.close();
    // The same answer after a restart (recovery seeds the newest segment's index from the one before).
    const reopened = openEmbedded(dir, SMALL);
    await reopened.append('s', 0, [rec(5000, T0 + 5000 * 10)], 'durable');
    assert.equal(await reopened.offsetForTime('s', 0, t), stamps.findIndex((s) => s >= t));
    await reopened.close();
  });
});

test('a sealed index rebuilt by recovery carries the late stamp of the segment before it, as the writer does', async () => {
  const last = await lastOfFirstSegment();
  await withLog(async (dir) => {
    const log = openEmbedded(dir, SMALL);
    const stamps = await appendWithLateStamp(log, last, () => segmentFiles(log).length >= 3);
    await log.close();
    // Segment 1 is sealed now: its index is lost, and recovery rebuilds it.
    rmSync(join(log.partitionDir('s', 0), segmentFiles(log)[1]!.replace('.log', '.idx')));
    const reopened = openEmbedded(dir, SMALL);
    await reopened.append('s', 0, [rec(5000, T0 + 5000 * 10)], 'durable');
    const t = stamps[last]!;
    assert.equal(await reopened.offsetForTime('s', 0, t), stamps.findIndex((s) => s >= t));
    await reopened.close();
  });
});

test('a crash inside a retention deletion or an atomic write leaves a readable log: leftovers are removed, a torn sealed index rebuilt', async () => {
  await withLog(async (dir) => {
    let log = openEmbedded(dir, SMALL);
    await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    for (let n = 0; n < 80; n++) await log.append('s', 0, [rec(n)], 'durable');
    await log.close();
    const pdir = log.partitionDir('s', 0);
    const segs = segmentFiles(log);
    assert.ok(segs.length >= 4, 'the test needs several segments');
    // Retention unlinks a segment's data file, then its index: a crash in between leaves the index alone.
    await fsp.rm(join(pdir, segs[0]!));
    // An atomic write (index rewrite, quarantine report) killed before its rename leaves its temp file.
    writeFileSync(join(pdir, `${segs[2]!.replace('.log', '.idx')}.4242.1.0.tmp`), 'half an index');
    // A sealed segment's index cut inside an entry (written, not yet whole) is rebuilt.
    const torn = join(pdir, segs[2]!.replace('.log', '.idx'));
    await fsp.truncate(torn, statSync(torn).size - 5);

    log = openEmbedded(dir, SMALL);
    const firstKept = Number(segs[1]!.replace('.log', ''));
    const records = await readAll(log);
    assert.deepEqual(records.map(nOf), Array.from({ length: 80 - firstKept }, (_, i) => firstKept + i), 'every record of the segments kept, in order');
    assert.equal((await log.append('s', 0, [rec(80)], 'durable')).firstOffset, 80);
    const names = readdirSync(pdir);
    assert.ok(!names.some((n) => n.endsWith('.tmp')), `no temp file left: ${names.join(' ')}`);
    assert.ok(!names.includes(segs[0]!.replace('.log', '.idx')), 'the orphan index is removed');
    assert.equal(statSync(torn).size % 16, 0, 'the torn index was rebuilt whole');
    assert.deepEqual((await log.read('s', 0, firstKept + 30, { maxRecords: 2 })).records.map(nOf), [firstKept + 30, firstKept + 31], 'seeks through the rebuilt index land right');
    await log.close();
  });
});
