// `hopper lag --group G` with a group no stream has: one line naming the groups there are, exit 1, like an
// unknown --stream. It used to print "no consumer group has committed a position yet" with exit 0, though
// groups had, so a typo read as "nothing there". The CLI runs from the sources (tsx).
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

test('hopper lag --group with a group no stream has is HOPPER_GROUP_UNKNOWN naming the groups there are', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  for (const stream of ['a', 'b']) {
    await log.ensureStream(stream, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    await log.append(stream, 0, [record('{"i":1}'), record('{"i":2}')], 'durable');
  }
  await log.commitPosition('billing', 'a', 0, 1);
  await log.commitPosition('audit', 'b', 0, 2);
  await log.close();
  const dd = ['--data-dir', dir];

  // With no pipelines configured, every stream also has the files group (before its first commit).
  for (const [args, message] of [
    [['--group', 'biling'], 'No consumer group "biling" in this log (groups: audit, billing, files). (HOPPER_GROUP_UNKNOWN)'],
    [['--group', 'audit', '--stream', 'a', '--json'], 'No consumer group "audit" on stream a (groups: billing, files). (HOPPER_GROUP_UNKNOWN)'],
  ] as const) {
    const r = hopper(['lag', ...dd, ...args]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `hopper: ${message}\n`);
  }

  const known = hopper(['lag', ...dd, '--group', 'billing']);
  assert.equal(known.code, 0, known.stderr);
  assert.equal(known.stdout, ['STREAM  GROUP    PARTITION  POSITION  END  LAG', 'a       billing          0         1    2    1', ''].join('\n'));
});
