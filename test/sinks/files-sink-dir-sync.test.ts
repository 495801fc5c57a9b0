// With `sync`, a batch is committed once its lines are on disk; a file made for it (a new hour, a rollover) is only
// found after a power cut when its directory entry is on disk too, and fdatasync of the file does not write that
// (fsync(2): "an explicit fsync() on a file descriptor for the directory is also needed"). A batch that started a
// file was committed with the file's name, and its lines, still to be lost. The directories whose entries changed
// (the stream's, for a new file; the parents of directories made) are now fsync'd with the batch's sync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import filesSink from '../../src/sinks/files-sink.js';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { makeBatch, makeCtx, makeItem, sinkContext } from './sink-harness.js';

const HOUR_US = 3_600_000_000;
const T0 = Date.UTC(2026, 10, 25, 10, 0, 0) * 1000;

/** Records the paths of the handles fsync'd (FileHandle.sync, which the sink uses for directories only). */
async function recordSyncs(t: { after(fn: () => void): void }, dir: string): Promise<string[]> {
  const synced: string[] = [];
  const paths = new WeakMap<object, string>();
  const open = fsp.open;
  t.after(() => (fsp.open = open));
  fsp.open = (async (path: Parameters<typeof open>[0], ...rest: unknown[]) => {
    const fh = await (open as (...a: unknown[]) => ReturnType<typeof open>)(path, ...rest);
    paths.set(fh, String(path));
    return fh;
  }) as typeof open;
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
  await probe.close();
  const sync = proto.sync;
  t.after(() => (proto.sync = sync));
  proto.sync = function (this: object) {
    synced.push(paths.get(this) ?? '?');
    return sync.call(this);
  };
  return synced;
}

test('a batch that makes a file or a directory fsyncs the directories holding their entries before it returns', async (t) => {
  const root = tempDir();
  t.after(() => removeDir(root));
  const synced = await recordSyncs(t, root);
  const sink = filesSink({ dir: join(root, 'out'), maxFileBytes: 1024 }, sinkContext('ev', root));
  t.after(() => sink.stop?.(makeCtx()));
  const ctx = makeCtx();

  await sink.process(makeBatch([makeItem(0, '{"n":0}', 'application/json', { stream: 'ev', receivedAtUs: T0 })]), ctx);
  // out/ and out/ev/ were made (their entries are in root and out), and the hour's file (its entry in out/ev).
  assert.deepEqual([...synced].sort(), [root, join(root, 'out'), join(root, 'out', 'ev')].sort());

  synced.length = 0;
  await sink.process(makeBatch([makeItem(1, '{"n":1}', 'application/json', { stream: 'ev', receivedAtUs: T0 })]), ctx);
  assert.deepEqual(synced, [], 'appending to a file already there changes no directory');

  await sink.process(makeBatch([makeItem(2, '{"n":2}', 'application/json', { stream: 'ev', receivedAtUs: T0 + HOUR_US })]), ctx);
  assert.deepEqual(synced, [join(root, 'out', 'ev')], "the next hour's file");

  synced.length = 0;
  await sink.process(makeBatch([makeItem(3, JSON.stringify({ pad: 'x'.repeat(1100) }), 'application/json', { stream: 'ev', receivedAtUs: T0 + HOUR_US })]), ctx);
  assert.deepEqual(synced, [join(root, 'out', 'ev')], 'a rollover past maxFileBytes');
  assert.deepEqual((await fsp.readdir(join(root, 'out', 'ev'))).sort(), ['2026-11-25T10.ndjson', '2026-11-25T11.1.ndjson', '2026-11-25T11.ndjson']);
});

test('without sync, no directory is fsync\'d either', async (t) => {
  const root = tempDir();
  t.after(() => removeDir(root));
  const synced = await recordSyncs(t, root);
  const sink = filesSink({ dir: join(root, 'out'), sync: false }, sinkContext('ev', root));
  t.after(() => sink.stop?.(makeCtx()));
  await sink.process(makeBatch([makeItem(0, '{"n":0}', 'application/json', { stream: 'ev', receivedAtUs: T0 })]), makeCtx());
  assert.deepEqual(synced, []);
});
