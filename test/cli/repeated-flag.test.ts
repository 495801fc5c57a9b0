// A flag that takes one value, given twice with different values, is a usage error (one line, exit 2) before the
// command runs: parseArgs kept the last in silence, so `replay --from 0 ... --from 5` moved the group to 5 and
// `serve --port 1 --port 2` listened on 2. The same value twice, and repeatable flags (--pipeline), are fine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { record, cleanEnv } from '../work/work-helpers.js';
import { CLI, REPO } from '../bench/run-cli.js';

function hopper(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: 'utf8', env: cleanEnv(), timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('a one-value flag given twice with different values is refused and changes nothing', { timeout: 120_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  let log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, Array.from({ length: 10 }, (_, i) => record(`{"i":${i}}`)), 'durable');
  await log.commitPosition('g', 's', 0, 8);
  await log.close();

  const replay = hopper(['replay', '--data-dir', dir, '--stream', 's', '--group', 'g', '--from', '0', '--from=5']);
  assert.equal(replay.code, 2, replay.stderr);
  assert.equal(replay.stdout, '');
  assert.equal(replay.stderr, `hopper replay: --from given twice ("0" and "5"): give it once (see 'hopper replay --help') (HOPPER_USAGE)\n`);
  const serve = hopper(['serve', '--port', '0', '--port', '1', '--data-dir', dir]);
  assert.equal(serve.code, 2, serve.stderr);
  assert.match(serve.stderr, /^hopper serve: --port given twice \("0" and "1"\): give it once/);

  log = openEmbedded(dir);
  t.after(() => log.close());
  assert.equal(await log.getPosition('g', 's', 0), 8, 'the group did not move');

  const same = hopper(['log', 'read', '--data-dir', dir, '--data-dir', dir, '--stream', 's', '--limit', '1']);
  assert.equal(same.code, 0, same.stderr);
  assert.equal(same.stdout.trim().split('\n').length, 1);
});

test('a secret flag given twice is named without its values, and a URL given twice without its credentials', { timeout: 60_000 }, () => {
  const status = hopper(['status', '--token', 's3cr3t-AAAA', '--token', 's3cr3t-BBBB']);
  assert.equal(status.code, 2, status.stderr);
  assert.match(status.stderr, /--token given twice \(two different values\): give it once/);
  assert.doesNotMatch(status.stderr, /s3cr3t/);
  const bench = hopper(['bench', '--admin-token', 's3cr3t-AAAA', '--admin-token=s3cr3t-BBBB']);
  assert.equal(bench.code, 2, bench.stderr);
  assert.doesNotMatch(bench.stderr, /s3cr3t/);
  const url = hopper(['bench', '--url', 'http://u:s3cr3t-A@127.0.0.1:9/', '--url', 'http://u:s3cr3t-B@127.0.0.1:9/x']);
  assert.equal(url.code, 2, url.stderr);
  assert.match(url.stderr, /--url given twice \("http:\/\/\*\*\*@127\.0\.0\.1:9\/" and "http:\/\/\*\*\*@127\.0\.0\.1:9\/x"\)/);
});
