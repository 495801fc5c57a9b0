// A full disk is an operating condition: appends that cannot be stored are
// refused (never acknowledged), acknowledged data stays readable, and writing
// resumes once space is back. Uses a real, tiny tmpfs (needs root; skips otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
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

test('ENOSPC refuses appends, keeps acknowledged data, and recovers when space returns', async (t) => {
  const mnt = tempDir('hopper-full-');
  const why = mountTmpfs(mnt, '512k');
  if (why) {
    removeDir(mnt);
    t.skip(why);
    return;
  }
  const dataDir = join(mnt, 'data');
  mkdirSync(dataDir);
  const log = openEmbedded(dataDir, { segmentMaxBytes: 1024 * 1024 });
  t.after(async () => {
    await log.close().catch(() => undefined);
    execFileSync('umount', ['-l', mnt]);
    removeDir(mnt);
  });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  writeFileSync(join(mnt, 'filler'), Buffer.alloc(300 * 1024));

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
