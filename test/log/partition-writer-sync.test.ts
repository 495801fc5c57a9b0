// The embedded writer's group commit around a slow fdatasync: durable appends that arrive
// while it runs are held back and written in one go when it ends. Holding must never leave
// an append unanswered, refuse one that writing at once would have taken, or let a close()
// called right after an ack strand the append queued just before it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FileHandle } from 'node:fs/promises';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import type { AppendResult } from '../../src/log/types.js';

interface WriterInternals {
  fh: FileHandle;
  append(records: ReturnType<typeof makeRecord>[], ack: 'durable'): Promise<AppendResult>;
  close(): Promise<void>;
  counters: { writes: number; syncs: number };
}

function writerOf(log: EmbeddedLog): WriterInternals {
  return (log as unknown as { writers: Map<string, WriterInternals> }).writers.get('s/0')!;
}

function slowFsync(w: WriterInternals, ms: number): void {
  const real = w.fh.datasync.bind(w.fh);
  w.fh.datasync = async () => {
    await new Promise((r) => setTimeout(r, ms));
    return real();
  };
}

function settlesWithin<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`not settled in ${ms} ms`)), ms))]);
}

test('durable appends trickling in during slow fsyncs are all acknowledged, densely, and none is refused near the limits', async (t) => {
  const dir = tempDir('hopper-sync-');
  t.after(() => removeDir(dir));
  // A record limit well above what writing at once keeps queued, but below what a careless hold would keep.
  const log = openEmbedded(dir, { flushIntervalMs: 0, maxPendingRecords: 20, segmentMaxBytes: 1024 * 1024 });
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [makeRecord(0)], 'durable');
  const w = writerOf(log);
  slowFsync(w, 30);
  const writesBefore = w.counters.writes;
  const pending: Promise<AppendResult>[] = [];
  for (let i = 1; i <= 150; i++) {
    pending.push(log.append('s', 0, [makeRecord(i)], 'durable'));
    await new Promise((r) => setTimeout(r, 1));
  }
  const results = await settlesWithin(Promise.all(pending), 10_000);
  assert.deepEqual(results.map((r) => r.firstOffset), results.map((_, i) => i + 1), 'every append acknowledged, in order, offsets dense');
  assert.ok(results.every((r) => r.ack === 'durable'));
  const writes = w.counters.writes - writesBefore;
  assert.ok(writes < 60, `appends held during each 30 ms fsync go out together: ${writes} writes for 150 appends`);
});

test('an append queued and a close() called in the continuation of a durable ack: the append is acknowledged durable', async (t) => {
  const dir = tempDir('hopper-sync-');
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir, { flushIntervalMs: 0, writtenFsyncIntervalMs: 60_000 });
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [makeRecord(0)], 'durable');
  const w = writerOf(log);
  let later!: Promise<AppendResult>;
  let closed!: Promise<void>;
  await w.append([makeRecord(1)], 'durable').then(() => {
    later = w.append([makeRecord(2)], 'durable');
    closed = w.close();
  });
  await settlesWithin(closed, 5_000);
  const r = await settlesWithin(later, 5_000);
  assert.equal(r.ack, 'durable');
  assert.equal(r.firstOffset, 2);
});

test('minFsyncIntervalMs spaces fdatasyncs under a steady trickle of durable appends', async (t) => {
  const dir = tempDir('hopper-sync-');
  t.after(() => removeDir(dir));
  const intervalMs = 40;
  const log = openEmbedded(dir, { flushIntervalMs: 0, minFsyncIntervalMs: intervalMs, segmentMaxBytes: 1024 * 1024 });
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [makeRecord(0)], 'durable');
  const w = writerOf(log);
  const starts: number[] = [];
  const real = w.fh.datasync.bind(w.fh);
  w.fh.datasync = () => {
    starts.push(performance.now());
    return real();
  };
  const pending: Promise<AppendResult>[] = [];
  const t0 = performance.now();
  for (let i = 1; performance.now() - t0 < 400; i++) {
    pending.push(log.append('s', 0, [makeRecord(i)], 'durable'));
    await new Promise((r) => setTimeout(r, 1));
  }
  const results = await settlesWithin(Promise.all(pending), 10_000);
  assert.deepEqual(results.map((r) => r.firstOffset), results.map((_, i) => i + 1), 'every append acknowledged, in order, offsets dense');
  assert.ok(results.every((r) => r.ack === 'durable'));
  // Back to back, each ~1 ms append would get an fsync of its own (hundreds); spaced, about one per interval.
  assert.ok(starts.length <= Math.ceil(400 / intervalMs) + 3, `${starts.length} fsyncs for ${results.length} appends in 400 ms`);
  for (let i = 1; i < starts.length; i++) {
    assert.ok(starts[i]! - starts[i - 1]! >= intervalMs - 1, `fsync ${i} began ${(starts[i]! - starts[i - 1]!).toFixed(1)} ms after the one before`);
  }
});

test('minFsyncIntervalMs holds a durable append that follows an fsync closely, and not one that comes after a quiet spell', async (t) => {
  const dir = tempDir('hopper-sync-');
  t.after(() => removeDir(dir));
  // Wide margins: on a loaded machine one fsync can take tens of milliseconds.
  const intervalMs = 1000;
  const log = openEmbedded(dir, { flushIntervalMs: 0, minFsyncIntervalMs: intervalMs });
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const first = performance.now();
  await log.append('s', 0, [makeRecord(0)], 'durable');
  await log.append('s', 0, [makeRecord(1)], 'durable');
  assert.ok(performance.now() - first >= intervalMs - 1, `the second fsync began ${(performance.now() - first).toFixed(0)} ms after the first`);

  await new Promise((r) => setTimeout(r, intervalMs * 1.1));
  const lone = performance.now();
  const r = await log.append('s', 0, [makeRecord(2)], 'durable');
  assert.equal(r.ack, 'durable');
  assert.ok(performance.now() - lone < intervalMs / 2, `a lone append after a quiet spell waited ${(performance.now() - lone).toFixed(0)} ms`);
});

test('the next fdatasync starts before the appends of the last one are answered, and none is answered before its own', async (t) => {
  const dir = tempDir('hopper-sync-');
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir, { flushIntervalMs: 0, minFsyncIntervalMs: 0 });
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [makeRecord(0)], 'durable');
  const w = writerOf(log);
  const events: string[] = [];
  let syncs = 0;
  const real = w.fh.datasync.bind(w.fh);
  w.fh.datasync = async () => {
    const n = ++syncs;
    events.push(`fsync ${n} started`);
    await new Promise((r) => setTimeout(r, 20));
    await real();
    events.push(`fsync ${n} done`);
  };
  const first = log.append('s', 0, [makeRecord(1)], 'durable').then(() => events.push('append 1 answered'));
  await new Promise((r) => setTimeout(r, 5)); // fsync 1 is running: append 2 is held back for fsync 2
  const second = log.append('s', 0, [makeRecord(2)], 'durable').then(() => events.push('append 2 answered'));
  await settlesWithin(Promise.all([first, second]), 5_000);
  assert.deepEqual(events, ['fsync 1 started', 'fsync 1 done', 'fsync 2 started', 'append 1 answered', 'fsync 2 done', 'append 2 answered']);
});
