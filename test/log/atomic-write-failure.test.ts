// A small file written atomically (a group position, quarantine.json, stream.json) whose write fails leaves no
// temp file behind: on a full disk a position is committed again and again, and each failed attempt left one
// more file in the group directory, for good while the process ran. The full disk is a real, tiny tmpfs (needs
// root; skipped otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { writeFileAtomic } from '../../src/log/embedded/segment-files.js';

test('a position commit that fails on a full disk leaves no temp file', async (t) => {
  const mnt = tempDir('hopper-full-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'ignore' });
  } catch (err) {
    removeDir(mnt);
    t.skip(`cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}): run as root to test a full disk`);
    return;
  }
  t.after(() => {
    execFileSync('umount', ['-l', mnt]);
    removeDir(mnt);
  });
  const log = openEmbedded(join(mnt, 'data'));
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.commitPosition('g', 's', 0, 0);
  assert.throws(() => writeFileSync(join(mnt, 'filler'), Buffer.alloc(1024 * 1024)), /ENOSPC/);

  for (let i = 1; i <= 5; i++) await assert.rejects(log.commitPosition('g', 's', 0, i), /ENOSPC/);
  assert.deepEqual(readdirSync(log.groupDir('g', 's')).filter((n) => n.endsWith('.tmp')), []);

  rmSync(join(mnt, 'filler'));
  await log.commitPosition('g', 's', 0, 6);
  assert.equal(await log.getPosition('g', 's', 0), 6, 'written once space is back');
});

test('an atomic write whose rename fails leaves no temp file', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  mkdirSync(join(dir, 'stream.json', 'in-the-way'), { recursive: true }); // a directory where the file goes
  await assert.rejects(writeFileAtomic(join(dir, 'stream.json'), '{}', dir), /EISDIR|ENOTEMPTY|EEXIST/);
  assert.deepEqual(readdirSync(dir), ['stream.json']);
});
