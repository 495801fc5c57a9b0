// The files sink when its destination misbehaves: a disk that fails (full, read-only, I/O
// error) is never the records' fault, and a file taken away from under the sink (deleted
// by hand or by a cleanup job) is not written into the void.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import filesSink from '../../src/sinks/files-sink.js';
import { isHopperError } from '../../src/errors.js';
import { isRetriable } from '../../src/work/retriable-error.js';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { makeCtx, makeItem } from './sink-harness.js';

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0) * 1000;
const context = (dataDir: string) => ({ dataDir, pipeline: 'p', stream: 'ev', group: 'files' });
const batch = (offset: number, body = `{"n":${offset}}`) => ({ stream: 'ev', partition: 0, items: [makeItem(offset, body, 'application/json', { stream: 'ev', receivedAtUs: T0 + offset })], attempt: 1 });

test('a disk that fails (ENOSPC) is retriable HOPPER_SINK_UNAVAILABLE, never a failure counted toward dead letters', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const sink = filesSink({}, context(dir));
  t.after(() => sink.stop?.(makeCtx()));
  await sink.process(batch(0), makeCtx());
  const probe = await fsp.open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> };
  await probe.close();
  const write = proto.write;
  t.after(() => (proto.write = write));
  proto.write = async () => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
  };
  await assert.rejects(
    async () => sink.process(batch(1), makeCtx()),
    (err: unknown) => isHopperError(err, 'HOPPER_SINK_UNAVAILABLE') && isRetriable(err) && /files sink: .*ENOSPC/.test((err as Error).message),
  );
  proto.write = write;
  await sink.process(batch(1), makeCtx()); // the disk has room again: the retry goes in
  const lines = readFileSync(join(dir, 'out', 'ev', '2026-11-25T10.ndjson'), 'utf8').split('\n').filter(Boolean);
  assert.deepEqual(lines, ['{"n":0}', '{"n":1}']);
});

test('a file deleted under the sink is created again: later batches are not written into the unlinked inode', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const sink = filesSink({}, context(dir));
  t.after(() => sink.stop?.(makeCtx()));
  const file = join(dir, 'out', 'ev', '2026-11-25T10.ndjson');
  await sink.process(batch(0), makeCtx());
  unlinkSync(file); // a cleanup job, or an operator, removes the hour's file
  await sink.process(batch(1), makeCtx());
  assert.equal(readFileSync(file, 'utf8'), '{"n":1}\n');
});

test('a file that fails to open when the hour rolls over leaves no closed handle behind: the retry writes', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const sink = filesSink({ maxFileBytes: 1024 }, context(dir));
  t.after(() => sink.stop?.(makeCtx()));
  const pad = 'x'.repeat(900);
  await sink.process(batch(0, JSON.stringify({ n: 0, pad })), makeCtx());
  const open = fsp.open;
  t.after(() => (fsp.open = open));
  fsp.open = (async () => {
    throw Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE', syscall: 'open' });
  }) as typeof fsp.open;
  await assert.rejects(async () => sink.process(batch(1, JSON.stringify({ n: 1, pad })), makeCtx()), /EMFILE/);
  fsp.open = open;
  await sink.process(batch(1, JSON.stringify({ n: 1, pad })), makeCtx());
  const rolled = readFileSync(join(dir, 'out', 'ev', '2026-11-25T10.1.ndjson'), 'utf8');
  assert.equal((JSON.parse(rolled) as { n: number }).n, 1);
});

test('a stream directory removed under the sink is made again: the pipeline does not fail every later batch', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const sink = filesSink({}, context(dir));
  t.after(() => sink.stop?.(makeCtx()));
  await sink.process(batch(0), makeCtx());
  // A cleanup job archives and removes the stream's directory (its files with it).
  await fsp.rm(join(dir, 'out', 'ev'), { recursive: true });
  await sink.process(batch(1), makeCtx());
  assert.equal(readFileSync(join(dir, 'out', 'ev', '2026-11-25T10.ndjson'), 'utf8'), '{"n":1}\n');
});
