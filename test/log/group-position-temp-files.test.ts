// A process killed while writing a consumer group position leaves the position's temp file behind; nothing
// removed them, so every crash mid-commit added files to the group directory for good. A member opening the
// group removes the old ones, and leaves alone a fresh one (another live member may be writing it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';

test('position temp files left by a dead process are removed when a member opens the group', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.commitPosition('g', 's', 0, 0);
  // What a kill between the sync of a position's temp file and its rename leaves: prepared, never installed.
  await log.preparePosition('g', 's', 0, 5);
  await log.preparePosition('g', 's', 1, 7);
  const groupDir = log.groupDir('g', 's');
  const temps = readdirSync(groupDir).filter((n) => n.endsWith('.tmp'));
  assert.equal(temps.length, 2);
  const hourAgo = new Date(Date.now() - 3600_000);
  utimesSync(join(groupDir, temps[0]!), hourAgo, hourAgo);

  const consumer = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => consumer.close());
  assert.deepEqual(readdirSync(groupDir).filter((n) => n.endsWith('.tmp')), [temps[1]], 'the old one is gone, the fresh one stays');
  assert.equal(await log.getPosition('g', 's', 0), 0, 'the position itself is untouched');
});
