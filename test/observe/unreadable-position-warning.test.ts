// A group whose position file cannot be read is skipped by its workers on that partition and is missing from
// the status's groups (its lag is unknown): /api/status, `hopper status` and the dashboard said nothing about
// it. The status now lists such positions and warns with the remedy (hopper replay).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { record } from '../work/work-helpers.js';
import { groupLags, unreadablePositions } from '../../src/observe/log-summary.js';
import { statusWarnings } from '../../src/observe/status-warnings.js';
import { fakeStatus } from './fake-status.js';

test('the log summary lists the group positions that cannot be read', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (const p of [0, 1]) await log.append('s', p, [record('{"i":1}')], 'durable');
  for (const p of [0, 1]) await log.commitPosition('billing', 's', p, 1);
  writeFileSync(join(dir, 'groups', 'billing', 's', '1.position'), 'garbage');

  const stats = await log.stats();
  assert.deepEqual(unreadablePositions(stats), [{ stream: 's', group: 'billing', partition: 1 }]);
  assert.deepEqual(groupLags(stats).map((g) => g.partitions.map((p) => p.partition)), [[0]], 'the lag of partition 1 is unknown');
});

test('hopper status warns about a group position that cannot be read, naming the remedy', () => {
  const warnings = statusWarnings(fakeStatus({ unreadablePositions: [{ stream: 'events', group: 'files', partition: 1 }] }));
  assert.deepEqual(warnings, [
    'the position of group files on stream events partition 1 cannot be read: its workers skip that partition, and its lag is not shown. ' +
      'Commit a new one: hopper replay --stream events --group files --partition 1 --from OFFSET|ISO-TIME.',
  ]);
  assert.deepEqual(statusWarnings(fakeStatus()), [], 'none without such a position (or from a server that does not report them)');
});
