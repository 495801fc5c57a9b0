// `hopper work`: SIGTERM while the pipelines start stops what started and exits 0. A processor's start() still
// running at work.shutdownTimeoutMs is abandoned (a warning, exit 1) rather than hold the stop for ever. The
// command used to listen for signals only once every pipeline had started: a signal before that ended it by
// the default action (exit 143), and the pipelines that had started never had their stop() called.
// The CLI runs from the sources (tsx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { cleanEnv, waitFor, writeConfigFile } from '../work/work-helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROCESSOR = fileURLToPath(new URL('./fixtures/slow-start-processor.mjs', import.meta.url));

/** Pipeline `a` starts at once, then pipeline `b` takes bStartMs (null: for ever) to start. */
function startWork(dir: string, bStartMs: number | null, shutdownTimeoutMs: number) {
  const file = writeConfigFile(dir, {
    dataDir: join(dir, 'data'),
    admin: { enabled: false },
    work: { shutdownTimeoutMs },
    pipelines: [
      { stream: 'a', processor: PROCESSOR, options: { label: 'a', startMs: 0 } },
      { stream: 'b', processor: PROCESSOR, options: { label: 'b', startMs: bStartMs } },
    ],
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'work', '--config', file], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: cleanEnv(),
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const out = { stderr: '' };
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const kill = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  return { child, exited, out, kill };
}

const hung = (ms: number): Promise<'hung'> => new Promise((r) => setTimeout(() => r('hung'), ms).unref());

test('SIGTERM while a pipeline starts stops the one that started at once, then the slow one, and exits 0', { timeout: 90_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const work = startWork(dir, 1500, 10_000);
  t.after(work.kill);
  await waitFor('pipeline b start() to be called', () => work.out.stderr.includes('b: start() called'), 60_000);
  work.child.kill('SIGTERM');
  const code = await Promise.race([work.exited, hung(30_000)]);
  const { stderr } = work.out;
  assert.equal(code, 0, stderr);
  const aStopped = stderr.indexOf('slow-start-processor a: stop() called');
  const bStarted = stderr.indexOf('slow-start-processor b: started');
  assert.ok(aStopped >= 0 && bStarted >= 0, stderr);
  assert.ok(aStopped < bStarted, `a was stopped only after b had started:\n${stderr}`);
  assert.match(stderr, /slow-start-processor b: stop\(\) called/);
  assert.doesNotMatch(stderr, /workers running/);
});

test('SIGTERM while a processor start() hangs: the started pipeline is stopped, exit 1 at work.shutdownTimeoutMs', { timeout: 90_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const work = startWork(dir, null, 1000);
  t.after(work.kill);
  await waitFor('pipeline b start() to be called', () => work.out.stderr.includes('b: start() called'), 60_000);
  const signalledAt = Date.now();
  work.child.kill('SIGTERM');
  const code = await Promise.race([work.exited, hung(20_000)]);
  const { stderr } = work.out;
  assert.equal(code, 1, stderr);
  // shutdownTimeoutMs (1 s), then the 2 s exit grace of main.ts for the hung start's timer: well under 20 s.
  assert.ok(Date.now() - signalledAt >= 1000, 'exited before work.shutdownTimeoutMs');
  assert.match(stderr, /slow-start-processor a: stop\(\) called/);
  assert.match(stderr, /still starting at the stop deadline: abandoned/);
  assert.doesNotMatch(stderr, /slow-start-processor b: (started|stop)/);
});
