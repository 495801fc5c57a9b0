// `hopper lag` with a group whose position file cannot be read: it showed a configured group as "(no commit
// yet)" with the whole partition as lag, and left any other group out (`--group G`: "No consumer group G"),
// though the group has a position and its workers skip that partition. The row now says the position is
// unreadable, and stderr names the remedy (hopper replay). The CLI runs from the sources (tsx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { cleanEnv, record } from '../work/work-helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function hopper(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', env: cleanEnv(), timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('hopper lag shows a group with an unreadable position as such, not as "no commit yet" or as no group', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (const p of [0, 1]) await log.append('s', p, [record('{"i":1}'), record('{"i":2}'), record('{"i":3}')], 'durable');
  for (const group of ['files', 'billing']) for (const p of [0, 1]) await log.commitPosition(group, 's', p, 2);
  await log.close();
  writeFileSync(join(dir, 'groups', 'files', 's', '0.position'), 'garbage');
  writeFileSync(join(dir, 'groups', 'billing', 's', '0.position'), '{"position":');
  writeFileSync(join(dir, 'groups', 'billing', 's', '1.position'), '');
  const dd = ['--data-dir', dir];

  const table = hopper(['lag', ...dd]);
  assert.equal(table.code, 0, table.stderr);
  assert.equal(
    table.stdout,
    [
      'STREAM  GROUP    PARTITION  POSITION  END  LAG',
      's       billing          0         ?    3    ?  (position unreadable)',
      's       billing          1         ?    3    ?  (position unreadable)',
      's       files            0         ?    3    ?  (position unreadable)',
      's       files            1         2    3    1',
      '',
    ].join('\n'),
  );
  const warnings = table.stderr.trim().split('\n');
  assert.equal(warnings.length, 3, table.stderr);
  for (const w of warnings) assert.match(w, /^hopper: warning: Position file of group \w+ on s\/\d is unreadable: commit a new position with hopper replay .*\(HOPPER_LOG_CORRUPT\)$/);

  const json = hopper(['lag', ...dd, '--group', 'billing', '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(
    json.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown),
    [0, 1].map((partition) => ({ stream: 's', group: 'billing', partition, position: null, end: 3, lag: null, committed: true, unreadable: true })),
  );
});
