// The commands that read the log refuse a --data-dir that is not a Hopper data directory (a file, or the
// directory above it: `--data-dir .` for ./data) instead of showing it as an empty log with exit 0; an empty
// directory (made by hand, or a server that has not started yet) still reads as an empty log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { cleanEnv, record } from '../work/work-helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function hopper(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', env: cleanEnv(), timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a --data-dir that holds other things than a Hopper log is a usage error, not an empty log', { timeout: 60_000 }, async (t) => {
  const top = tempDir();
  t.after(() => removeDir(top));
  const data = join(top, 'data');
  const log = openEmbedded(data);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [record('{"i":1}')], 'durable');
  await log.close();
  writeFileSync(join(top, 'hopper.config.json'), '{}');
  const file = join(top, 'hopper.config.json');

  for (const dir of [top, file]) {
    for (const args of [['log', 'stats'], ['lag'], ['dlq', 'list'], ['log', 'read', '--stream', 's'], ['replay', '--stream', 's', '--group', 'g', '--from', '0']]) {
      const r = hopper([...args, '--data-dir', dir]);
      assert.equal(r.code, 2, `${args.join(' ')} --data-dir ${dir}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^hopper: No Hopper data in ${resolve(dir).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*\\(HOPPER_USAGE\\)\\n$`));
    }
  }

  const right = hopper(['lag', '--data-dir', data, '--json']);
  assert.equal(right.code, 0, right.stderr);
  assert.match(right.stdout, /"group":"files"/);

  const empty = join(top, 'empty');
  mkdirSync(empty);
  const fresh = hopper(['log', 'stats', '--data-dir', empty]);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.deepEqual(JSON.parse(fresh.stdout), { backend: 'embedded', streams: [] });
});
