// `hopper dlq ... --stream TYPO` said "no pending dead letters for TYPO" (exit 0), so a typo read as "nothing
// pending" and a cron'd drop did nothing for ever; `dlq list --all` without --stream ignored --all. A stream that
// neither the log nor the config knows is now HOPPER_STREAM_UNKNOWN, as for lag, replay and log read; a known stream
// without dead letters still has none. Runs the built CLI (dist/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { runCli } from '../work/work-helpers.js';

test('dlq commands refuse a stream the log and config do not know, and list --all without --stream', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('orders', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.close();
  const dd = ['--data-dir', dir];
  for (const cmd of [['list'], ['show'], ['requeue'], ['drop']]) {
    const r = runCli(['dlq', ...cmd, ...dd, '--stream', 'ordres']);
    assert.equal(r.code, 1, `${cmd[0]}: ${r.stdout}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'hopper: No stream "ordres" in this log. (HOPPER_STREAM_UNKNOWN)\n');
  }
  assert.equal(runCli(['dlq', 'list', ...dd, '--stream', 'orders']).stdout, 'no pending dead letters for orders\n');
  assert.equal(runCli(['dlq', 'drop', ...dd, '--stream', 'orders']).stdout, 'no dead letters for orders\n');
  // Configured, never written: nothing pending rather than unknown.
  const config = join(dir, 'hopper.config.json');
  writeFileSync(config, JSON.stringify({ dataDir: dir, streams: { later: {} } }));
  const later = runCli(['dlq', 'list', '--config', config, '--stream', 'later']);
  assert.equal(later.stdout, 'no pending dead letters for later\n', later.stderr);

  const all = runCli(['dlq', 'list', ...dd, '--all']);
  assert.equal(all.code, 2);
  assert.match(all.stderr, /dlq list --all, --partition and --limit need --stream S\. \(HOPPER_USAGE\)\n$/);
});
