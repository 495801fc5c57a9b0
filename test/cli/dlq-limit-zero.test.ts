// `hopper dlq list|show --stream S --limit 0` lists nothing, as asked, and says nothing: before, it printed
// "no pending dead letters for S" while letters were pending (`dlq list` without --stream counted them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from '../log/conformance.js';
import { runCli } from '../bench/run-cli.js';

test('--limit 0 does not claim that no dead letters are pending', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.ensureStream('s.dlq', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s.dlq', 0, [makeRecord(0, 10), makeRecord(1, 10)], 'durable');
  await log.close();
  const dd = ['--data-dir', dir];

  const counts = await runCli(['dlq', 'list', ...dd]);
  assert.equal(counts.stdout, 's: 2 pending dead letters (hopper dlq list --stream s)\n', counts.stderr);
  for (const command of ['list', 'show']) {
    const r = await runCli(['dlq', command, ...dd, '--stream', 's', '--limit', '0']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '', `dlq ${command} --limit 0`);
  }
  const one = await runCli(['dlq', 'list', ...dd, '--stream', 's', '--limit', '1']);
  assert.equal(one.stdout.trimEnd().split('\n').length, 1, one.stdout);
});
