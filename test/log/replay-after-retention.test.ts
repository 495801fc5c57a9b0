// hopper replay to an offset or a time before the first record retention kept: the group's position goes to
// that first stored record, and the command says so, instead of storing a position below the log's start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listSegments } from '../../src/log/embedded/segment-files.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { record, runCli } from '../work/work-helpers.js';

const BASE_US = Date.UTC(2026, 0, 1) * 1000;

test('replay before the first retained record moves the group to that record', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 40 * 1024 });
  for (let i = 0; i < 20; i++) {
    await log.append('s', 0, Array.from({ length: 20 }, (_, j) => record('x'.repeat(400), { receivedAtUs: BASE_US + (i * 20 + j) * 1000 })), 'durable');
  }
  await log.commitPosition('g', 's', 0, 390);
  await log.enforceRetention();
  const first = (await listSegments(log.partitionDir('s', 0)))[0]!;
  assert.ok(first > 0, 'retention deleted the oldest segments');
  await log.close();
  const dd = ['--data-dir', dir];

  const byOffset = runCli(['replay', ...dd, '--stream', 's', '--group', 'g', '--from', '0']);
  assert.equal(byOffset.code, 0, byOffset.stderr);
  assert.equal(byOffset.stdout, `s partition 0: group g position 390 -> ${first} (offsets before ${first} were deleted by retention)\n`);
  const check = openEmbedded(dir);
  t.after(() => check.close());
  assert.equal(await check.getPosition('g', 's', 0), first);

  const byTime = runCli(['replay', ...dd, '--stream', 's', '--group', 'g', '--from', '2020-01-01T00:00:00Z']);
  assert.equal(byTime.stdout, `s partition 0: group g position ${first} -> ${first}\n`);
  const inside = runCli(['replay', ...dd, '--stream', 's', '--group', 'g', '--from', String(first + 3)]);
  assert.equal(inside.stdout, `s partition 0: group g position ${first} -> ${first + 3}\n`);
});
