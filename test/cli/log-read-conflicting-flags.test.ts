// `hopper log read --admin URL --data-dir DIR`: the usage line makes them alternatives, but with both the records
// came from the server and --data-dir was ignored without a word; --token without --admin was ignored likewise.
// Both are now usage errors (exit 2, one line), before anything is read. The CLI runs from the sources (tsx).
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

test('log read refuses --admin with --data-dir, and --token without --admin', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [record('{"a":1}')], 'durable');
  await log.close();

  const both = hopper(['log', 'read', '--stream', 's', '--data-dir', dir, '--admin', 'http://127.0.0.1:9']);
  assert.equal(both.code, 2);
  assert.equal(both.stdout, '');
  assert.match(both.stderr, /^hopper: log read: --admin and --data-dir exclude each other: .*\(HOPPER_USAGE\)\n$/);

  const token = hopper(['log', 'read', '--stream', 's', '--data-dir', dir, '--token', 't0k3n']);
  assert.equal(token.code, 2);
  assert.equal(token.stdout, '');
  assert.match(token.stderr, /^hopper: log read: --token is the admin token of --admin URL; .*\(HOPPER_USAGE\)\n$/);
  assert.doesNotMatch(token.stderr, /t0k3n/);

  // Each alone still works.
  const disk = hopper(['log', 'read', '--stream', 's', '--data-dir', dir]);
  assert.equal(disk.code, 0, disk.stderr);
  assert.equal(disk.stdout.trim().split('\n').length, 1);
});
