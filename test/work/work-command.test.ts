// `hopper work` with no pipelines configured on an empty data directory: it
// waits for streams, gives a new stream the files pipeline, and exits 0 on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, cleanEnv, record, waitFor } from './work-helpers.js';

test('hopper work picks up a stream created after it started', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const child = spawn(process.execPath, [CLI, 'work', '--data-dir', dir], {
    cwd: dir,
    env: { ...cleanEnv(), HOPPER_WORK_STREAM_DISCOVERY_INTERVAL_MS: '200' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => child.exitCode === null && child.kill('SIGKILL'));
  await waitFor('workers running', () => stderr.includes('workers running'), 30_000);
  assert.equal(child.exitCode, null, 'still running with nothing to do');

  const log = openEmbedded(dir);
  await log.ensureStream('late', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('late', 0, [record('{"hello":"world"}')], 'durable');
  await log.close();
  const out = join(dir, 'out', 'late');
  await waitFor('the event in the files sink', () => existsSync(out) && readdirSync(out).length > 0, 20_000);
  await waitFor('the line to be written', () => readFileSync(join(out, readdirSync(out)[0]!), 'utf8') === '{"hello":"world"}\n');
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /"msg":"pipeline started".*|"pipeline":"late\.files"/);
});
