// A failed fdatasync may leave a hole on disk that the page cache hides and a later
// successful fsync does not rewrite. The embedded writer must then refuse everything
// (even once fsync works again); a restart keeps every record acknowledged durable and
// never hands out an offset twice. The failure is injected into the writer's file
// handle: no filesystem here fails fsync on demand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FileHandle } from 'node:fs/promises';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';
import { isHopperError, type HopperError } from '../../src/errors.js';
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';

/** Makes the partition's next fdatasync fail with EIO, once; later ones work. */
function failNextFsync(log: EmbeddedLog, stream: string, partition: number): void {
  const writer = (log as unknown as { writers: Map<string, { fh: FileHandle }> }).writers.get(`${stream}/${partition}`)!;
  const fh = writer.fh;
  const real = fh.datasync.bind(fh);
  let armed = true;
  fh.datasync = async () => {
    if (!armed) return real();
    armed = false;
    await new Promise((r) => setTimeout(r, 20)); // a slow failure: more appends queue behind it
    throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  };
}

function refusedForFsync(result: PromiseSettledResult<unknown>): boolean {
  return result.status === 'rejected' && isHopperError(result.reason, 'HOPPER_LOG_UNAVAILABLE') && /fsync/.test((result.reason as Error).message);
}

test('after a failed fsync nothing more is acknowledged; a restart keeps the durable records and reuses no offset', async (t) => {
  const dir = tempDir('hopper-fsync-');
  t.after(() => removeDir(dir));
  let log = openEmbedded(dir, { segmentMaxBytes: 1024 * 1024 });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < 3; i++) assert.equal((await log.append('s', 0, [makeRecord(i)], 'durable')).firstOffset, i);

  failNextFsync(log, 's', 0);
  // Appends in flight around the failing fsync: the one it covers and those behind it, in every mode that waits.
  const first = log.append('s', 0, [makeRecord(3)], 'durable');
  await new Promise((r) => setTimeout(r, 5));
  const behind = [log.append('s', 0, [makeRecord(4)], 'durable'), log.append('s', 0, [makeRecord(5), makeRecord(6)], 'durable')];
  const settled = await Promise.allSettled([first, ...behind]);
  for (const [i, r] of settled.entries()) assert.ok(refusedForFsync(r), `append ${i} must be refused, got ${r.status === 'fulfilled' ? JSON.stringify(r.value) : String(r.reason)}`);

  // fsync works again, but what the failed one covered may be a hole on disk: the partition stays stopped.
  const later = await Promise.allSettled([log.append('s', 0, [makeRecord(7)], 'durable'), log.append('s', 0, [makeRecord(8)], 'written')]);
  for (const r of later) assert.ok(refusedForFsync(r), `an append after the failure must be refused, got ${r.status}`);
  const err = (later[0] as PromiseRejectedResult).reason as Error;
  assert.match(err.message, /restart hopper/, 'the message says what to do');
  assert.equal((err as HopperError).untilRestart, true, 'ingest keeps /readyz false until the restart');

  // Records written before the failure stay readable here: a consumer may already hold their offsets.
  const { records: before } = await log.read('s', 0, 0, { maxRecords: 100 });
  assert.deepEqual(before.slice(0, 3).map((r) => r.requestId), ['req-0', 'req-1', 'req-2']);
  assert.ok(!before.some((r) => r.requestId === 'req-7' || r.requestId === 'req-8'), 'nothing was written after the failure');
  await log.close();

  log = openEmbedded(dir, { segmentMaxBytes: 1024 * 1024 });
  t.after(() => log.close());
  const { records } = await log.read('s', 0, 0, { maxRecords: 100 });
  assert.deepEqual(records.slice(0, 3).map((r) => [r.offset, r.requestId]), [[0, 'req-0'], [1, 'req-1'], [2, 'req-2']], 'every durable record survives');
  assert.deepEqual(records.map((r) => r.offset), records.map((_, i) => i));
  const next = await log.append('s', 0, [makeRecord(9)], 'durable');
  assert.equal(next.firstOffset, records.length, 'after a restart the partition takes writes again, after every offset it handed out');
});

test('an fsync that fails while the appends of the one before are being answered: those stay durable, the ones it covered are refused', async (t) => {
  const dir = tempDir('hopper-fsync-');
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir, { segmentMaxBytes: 1024 * 1024, minFsyncIntervalMs: 0 });
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [makeRecord(0)], 'durable');
  const fh = (log as unknown as { writers: Map<string, { fh: FileHandle }> }).writers.get('s/0')!.fh;
  const real = fh.datasync.bind(fh);
  let calls = 0;
  fh.datasync = async () => {
    const n = ++calls;
    await new Promise((r) => setTimeout(r, 20));
    if (n === 2) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    return real();
  };
  // Append 1 is covered by fsync 1; append 2 arrives while fsync 1 runs, so fsync 2 (which fails) covers it
  // and starts before append 1 is answered.
  const first = log.append('s', 0, [makeRecord(1)], 'durable');
  await new Promise((r) => setTimeout(r, 5));
  const second = log.append('s', 0, [makeRecord(2)], 'durable');
  const [a, b] = await Promise.allSettled([first, second]);
  assert.equal(calls, 2, 'two fsyncs ran');
  assert.equal(a.status, 'fulfilled', `append 1 was synced by fsync 1: ${a.status === 'rejected' ? String(a.reason) : ''}`);
  assert.deepEqual((a as PromiseFulfilledResult<{ firstOffset: number; ack: string }>).value, { partition: 0, firstOffset: 1, ack: 'durable' });
  assert.ok(refusedForFsync(b), `append 2 must be refused, got ${b.status}`);
  assert.ok(refusedForFsync((await Promise.allSettled([log.append('s', 0, [makeRecord(3)], 'durable')]))[0]!), 'the partition is stopped');
});

test('a durable append that arrives as the writer loop ends, then a failed fsync: close() still returns', async (t) => {
  // The append lands after the loop's last look at the queue and is held for the fsync in flight; that fsync
  // fails and refuses it. Whatever microtask the append comes in, the writer's close() must not wait forever.
  for (let depth = 0; depth < 4; depth++) {
    const dir = tempDir();
    t.after(() => removeDir(dir));
    const log = openEmbedded(dir, { flushIntervalMs: 0, minFsyncIntervalMs: 0 });
    t.after(() => log.close());
    await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    await log.append('s', 0, [makeRecord(0)], 'durable');
    const writer = (log as unknown as { writers: Map<string, { fh: FileHandle; close(): Promise<void> }> }).writers.get('s/0')!;
    const datasync = writer.fh.datasync.bind(writer.fh);
    let failNext = true;
    writer.fh.datasync = async () => {
      if (!failNext) return datasync();
      failNext = false;
      await new Promise((r) => setTimeout(r, 50));
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    };
    const first = log.append('s', 0, [makeRecord(1)], 'durable').then(() => 'durable', (e: HopperError) => e.code);
    const closed = new Promise<string>((resolve) => {
      void log.append('s', 0, [makeRecord(2)], 'written').then(async () => {
        for (let i = 0; i < depth; i++) await null;
        void log.append('s', 0, [makeRecord(3)], 'durable').catch(() => undefined);
        void writer.close().then(() => resolve('closed'));
      });
    });
    const outcome = await Promise.race([closed, new Promise((r) => setTimeout(() => r('close() still waiting after 3 s'), 3000))]);
    assert.equal(outcome, 'closed', `depth ${depth}`);
    assert.equal(await first, 'HOPPER_LOG_UNAVAILABLE');
  }
});
