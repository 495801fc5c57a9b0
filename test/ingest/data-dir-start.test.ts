// `hopper serve` and its data directory: a path that cannot hold it (under a regular file) stops the
// start with one HOPPER_DATA_DIR_UNUSABLE line and exit 1, where the server used to start and answer
// 503 to every write; a fresh path exists as soon as the server listens, so `hopper log stats` (and
// `hopper bench --audit --data-dir`) work before the first write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, signalGroup, startServe } from './serve-process.js';

test('a data directory that cannot be created stops the start with one line', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const file = join(dir, 'not-a-dir');
  writeFileSync(file, 'x');
  const r = spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--workers', '1', '--data-dir', join(file, 'data')], {
    encoding: 'utf8',
    env: { ...process.env, HOPPER_ADMIN_PORT: '0' },
    timeout: 30_000,
  });
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^hopper: Cannot use .*not-a-dir\/data as the data directory \(ENOTDIR\): .* \(HOPPER_DATA_DIR_UNUSABLE\)$/);
});

test('a fresh data directory exists once the server listens: log stats reads it before any write', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const dataDir = join(dir, 'data');
  const serve = await startServe(['--workers', '1', '--data-dir', dataDir]);
  t.after(async () => {
    signalGroup(serve, 'SIGTERM');
    await serve.exited;
  });
  assert.ok(existsSync(dataDir));
  const stats = spawnSync(process.execPath, [CLI, 'log', 'stats', '--data-dir', dataDir], { encoding: 'utf8' });
  assert.equal(stats.status, 0, stats.stderr);
  assert.deepEqual(JSON.parse(stats.stdout), { backend: 'embedded', streams: [] });
});
