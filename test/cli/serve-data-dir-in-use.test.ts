// A second `hopper serve` on the data directory of a running one (embedded log) stops at start in one line,
// naming the first; it used to listen and then hold every write for lockWaitMs before answering 500.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, signalGroup, startServe } from '../ingest/serve-process.js';

test('a second hopper serve on the same data directory is one line on stderr and exit code 1; the first serves on', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('hopper-serve-dir-in-use-');
  t.after(() => removeDir(dir));
  const dataDir = join(dir, 'data');
  const first = await startServe(['--workers', '1', '--data-dir', dataDir]);
  t.after(async () => {
    signalGroup(first, 'SIGKILL');
    await first.exited;
  });
  const second = spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--workers', '1', '--data-dir', dataDir], {
    encoding: 'utf8',
    timeout: 15_000,
    killSignal: 'SIGKILL',
    env: { ...process.env, HOPPER_LOG_LEVEL: 'info', HOPPER_ADMIN_PORT: '0' },
  });
  assert.equal(second.status, 1, `exit code 1, not a second server:\n${second.stderr}`);
  const lines = second.stderr.trim().split('\n');
  assert.equal(lines.length, 1, second.stderr);
  assert.match(lines[0]!, /HOPPER_DATA_DIR_UNUSABLE/);
  assert.match(lines[0]!, new RegExp(`in use by another hopper serve \\(pid ${first.child.pid}\\)`));

  const res = await fetch(`http://127.0.0.1:${first.port}/v1/streams/s`, { method: 'POST', body: '{"a":1}' });
  assert.equal(res.status, 202);
  signalGroup(first, 'SIGTERM');
  assert.equal((await first.exited).code, 0, first.lines.slice(-3).join('\n'));
});
