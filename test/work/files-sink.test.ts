// The files sink: one NDJSON line per event, a file per UTC hour of receipt,
// rolled past maxFileBytes, optional metadata, options checked at start, and the
// sink_* metrics every built-in sink reports.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import filesSink from '../../src/sinks/files-sink.js';
import { RecordItem } from '../../src/work/batch-item.js';
import { createLogger } from '../../src/observe/logger.js';
import { WorkerMetrics } from '../../src/work/worker-metrics.js';
import { isHopperError } from '../../src/errors.js';
import type { LogRecord } from '../../src/log/types.js';
import type { ProcessContext } from '../../src/work/types.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

const HOUR_US = 3_600_000_000;
const T0 = Date.UTC(2026, 10, 25, 10, 0, 0) * 1000;
const sharedCtx: ProcessContext = { logger: createLogger('silent'), metrics: new WorkerMetrics().handle('t'), signal: new AbortController().signal, pipeline: 't', options: {} };
const context = (dataDir: string) => ({ dataDir, pipeline: 'p', stream: 'ev', group: 'files' });

/** The sink_* series of pipeline "t": counter totals, and the histogram's observation count. */
function sinkSeries(metrics: WorkerMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics.snapshot().custom) {
    if (!m.name.startsWith('sink_')) continue;
    assert.deepEqual(m.labels, { sink: 'files', pipeline: 't' });
    out[m.name] = m.kind === 'histogram' ? m.count : m.value;
  }
  return out;
}

function item(offset: number, body: string, receivedAtUs: number, contentType = 'application/json'): RecordItem {
  const record: LogRecord = { stream: 'ev', partition: 0, offset, body: Buffer.from(body), receivedAtUs, contentType, contentEncoding: '', remoteAddress: '', requestId: '', idempotencyKey: '' };
  return new RecordItem(record, { maxDecodedBytes: 1 << 20, validate: null });
}

test('files by hour of receipt, rolled by size, undecodable records reported as failed', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const sink = filesSink({ maxFileBytes: 1024, sync: true }, context(dir));
  const metrics = new WorkerMetrics();
  const ctx = { ...sharedCtx, metrics: metrics.handle('t') };
  const items = [item(0, '{"a":1}', T0), item(1, '[{"a":2},{"a":3}]', T0 + 5), item(2, '{"late":true}', T0 + HOUR_US), item(3, '{"bad', T0 + 7)];
  const result = await sink.process({ stream: 'ev', partition: 0, items, attempt: 1 }, ctx);
  assert.deepEqual(result && result.failed!.map((f) => [f.item.offset, /malformed JSON/.test(f.reason)]), [[3, true]]);
  // 4 events from 3 records written, the undecodable record one failed event, one batch timed.
  assert.deepEqual(sinkSeries(metrics), { sink_batches_total: 1, sink_events_written_total: 4, sink_failed_events_total: 1, sink_write_seconds: 1 });
  const out = join(dir, 'out', 'ev');
  assert.deepEqual(readdirSync(out).sort(), ['2026-11-25T10.ndjson', '2026-11-25T11.ndjson']);
  assert.equal(readFileSync(join(out, '2026-11-25T10.ndjson'), 'utf8'), '{"a":1}\n{"a":2}\n{"a":3}\n');
  // 60 lines of ~50 bytes into 1 KiB files: rolls to .1, .2 ...
  const pad = 'x'.repeat(40);
  for (let b = 0; b < 6; b++) {
    const batch = Array.from({ length: 10 }, (_, i) => item(10 + b * 10 + i, JSON.stringify({ i: b * 10 + i, pad }), T0 + 10));
    await sink.process({ stream: 'ev', partition: 0, items: batch, attempt: 1 }, ctx);
  }
  await sink.stop!(ctx);
  assert.deepEqual(sinkSeries(metrics), { sink_batches_total: 7, sink_events_written_total: 64, sink_failed_events_total: 1, sink_write_seconds: 7 });
  const hourFiles = readdirSync(out).filter((f) => f.startsWith('2026-11-25T10'));
  assert.ok(hourFiles.length >= 3, `rolled into ${hourFiles.join(', ')}`);
  const order = (f: string): number => Number(/T10(?:\.(\d+))?\.ndjson$/.exec(f)![1] ?? 0);
  const lines = hourFiles.sort((a, b) => order(a) - order(b)).flatMap((f) => readFileSync(join(out, f), 'utf8').split('\n').filter(Boolean));
  assert.equal(lines.length, 3 + 60);
  assert.deepEqual(lines.slice(3).map((l) => (JSON.parse(l) as { i: number }).i), [...Array(60).keys()]);
  for (const f of hourFiles.filter((f) => order(f) < order(hourFiles[hourFiles.length - 1]!))) {
    assert.ok(readFileSync(join(out, f)).length <= 1024, `${f} is over maxFileBytes`);
  }
});

test('includeMetadata wraps each event; a bad option stops the pipeline at start', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const sink = filesSink({ dir: join(dir, 'elsewhere'), includeMetadata: true }, context(dir));
  await sink.process({ stream: 'ev', partition: 0, items: [item(7, 'a=1', T0, 'application/x-www-form-urlencoded')], attempt: 1 }, sharedCtx);
  await sink.stop!(sharedCtx);
  const line = JSON.parse(readFileSync(join(dir, 'elsewhere', 'ev', '2026-11-25T10.ndjson'), 'utf8'));
  assert.deepEqual(line, { partition: 0, offset: 7, receivedAt: '2026-11-25T10:00:00.000Z', event: { a: '1' } });
  assert.throws(() => filesSink({ maxFileBytes: 10 }, context(dir)), (e) => isHopperError(e, 'HOPPER_CONFIG_INVALID') && /options\.maxFileBytes/.test(e.message));
  assert.throws(() => filesSink({ colour: 'red' }, context(dir)), (e) => isHopperError(e, 'HOPPER_CONFIG_INVALID') && /colour/.test(e.message));
});

test('a write that fails counts as a sink error, not a batch, and is thrown back for a retry', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  // A regular file where the output directory should be: mkdir fails with ENOTDIR.
  writeFileSync(join(dir, 'blocked'), '');
  const sink = filesSink({ dir: join(dir, 'blocked') }, context(dir));
  const metrics = new WorkerMetrics();
  const ctx = { ...sharedCtx, metrics: metrics.handle('t') };
  await assert.rejects(async () => sink.process({ stream: 'ev', partition: 0, items: [item(0, '{"a":1}', T0)], attempt: 1 }, ctx), /ENOTDIR/);
  assert.deepEqual(sinkSeries(metrics), { sink_errors_total: 1 });
  await sink.stop!(ctx);
});

/**
 * A files sink in a temp dir, with every FileHandle.datasync first running `before(n)` (n counts the calls)
 * and failing with EIO when it returns true. Restored after the test.
 */
async function sinkWithDatasync(t: TestContext, before: (n: number) => Promise<boolean>) {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const sink = filesSink({}, context(dir));
  t.after(() => sink.stop?.(sharedCtx));
  const probe = await fsp.open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  const datasync = proto.datasync;
  t.after(() => (proto.datasync = datasync));
  let calls = 0;
  proto.datasync = async function (this: unknown) {
    if (await before(++calls)) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    return datasync.call(this);
  };
  return { sink, dir };
}

test('a batch whose writes a failed fdatasync covered fails, even when another batch started that sync', async (t) => {
  const { sink } = await sinkWithDatasync(t, async (n) => {
    // The first takes a while and succeeds, the second fails (EIO), later ones succeed.
    await new Promise((r) => setTimeout(r, n === 1 ? 50 : 5));
    return n === 2;
  });
  // A's sync runs while B and C are written; B starts the sync covering B and C, which fails.
  const batch = (offset: number) => ({ stream: 'ev', partition: 0, items: [item(offset, `{"n":${offset}}`, T0)], attempt: 1 });
  const results = await Promise.allSettled([sink.process(batch(0), sharedCtx), sink.process(batch(1), sharedCtx), sink.process(batch(2), sharedCtx)]);
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? 'ok' : String(((r.reason as Error).cause as Error).message))),
    ['ok', 'EIO: i/o error, fdatasync', 'EIO: i/o error, fdatasync'],
    'B and C are written again, never committed on a failed sync',
  );
});

test('a batch spanning two files, whose first file a failing fdatasync covered while it wrote the second, fails', async (t) => {
  // Sync 1 (A's) ends once B wrote its hour-11 file; sync 2 (X's, over hours 10 and 11) fails while B opens hour 12.
  let release1!: () => void;
  const gate1 = new Promise<void>((r) => (release1 = r));
  let release2!: () => void;
  const gate2 = new Promise<void>((r) => (release2 = r));
  const { sink } = await sinkWithDatasync(t, async (n) => {
    if (n === 1) await gate1;
    if (n === 2) release2();
    await new Promise((r) => setTimeout(r, 5));
    return n === 2 || n === 3;
  });
  const open = fsp.open;
  t.after(() => (fsp.open = open));
  fsp.open = (async (path: Parameters<typeof open>[0], ...rest: unknown[]) => {
    if (String(path).includes('T12')) {
      release1();
      await gate2;
    }
    return (open as (...a: unknown[]) => ReturnType<typeof open>)(path, ...rest);
  }) as typeof open;
  const batch = (items: RecordItem[]) => ({ stream: 'ev', partition: 0, items, attempt: 1 });
  const results = await Promise.allSettled([
    sink.process(batch([item(0, '{"n":0}', T0)]), sharedCtx), // A: hour 10
    sink.process(batch([item(1, '{"n":1}', T0)]), sharedCtx), // X: hour 10
    sink.process(batch([item(2, '{"n":2}', T0 + HOUR_US), item(3, '{"n":3}', T0 + 2 * HOUR_US)]), sharedCtx), // B: hours 11 and 12
  ]);
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? 'ok' : String(((r.reason as Error).cause as Error).message))),
    ['ok', 'EIO: i/o error, fdatasync', 'EIO: i/o error, fdatasync'],
    'B had its hour-11 line in the failed sync: it is written again, not committed',
  );
});
