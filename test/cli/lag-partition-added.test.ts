// `hopper lag` for a group that committed on some partitions of a stream and not on one added later (more ingest
// processes, a requeue beside a running server): its workers read that partition from its first stored record, but
// lag left the partition out, so lag --group G showed the group caught up while the records there waited.
// The CLI runs from the sources (tsx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { cleanEnv, record } from '../work/work-helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function hopper(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', env: cleanEnv(), timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('hopper lag lists a group on a partition of its stream where it has not committed yet', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [record('{"a":1}'), record('{"a":2}')], 'durable');
  await log.commitPosition('g', 's', 0, 2);
  // Partition 1 comes later, with records the group has not read.
  await log.ensureStream('s', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 1, [record('{"b":1}'), record('{"b":2}'), record('{"b":3}')], 'durable');
  await log.close();

  const r = hopper(['lag', '--data-dir', dir, '--group', 'g', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    r.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown),
    [
      { stream: 's', group: 'g', partition: 0, position: 2, end: 2, lag: 0, committed: true },
      { stream: 's', group: 'g', partition: 1, position: 0, end: 3, lag: 3, committed: false },
    ],
  );
});
