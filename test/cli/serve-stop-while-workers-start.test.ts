// `serve --with-workers`: SIGTERM while a processor's start() hangs stops the server anyway: ingest stops,
// the worker runtime is abandoned at work.shutdownTimeoutMs, exit code 1 (the stop was not clean). It used to
// log "stopping" and then wait for the start for ever, still taking writes. The CLI runs from the sources (tsx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { cleanEnv, waitFor } from '../work/work-helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROCESSOR = fileURLToPath(new URL('./fixtures/hanging-start-processor.mjs', import.meta.url));

test('SIGTERM while a processor start() hangs stops serve --with-workers by work.shutdownTimeoutMs', { timeout: 90_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const file = join(dir, 'hopper.config.json');
  writeFileSync(
    file,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      admin: { enabled: false },
      ingest: { port: 0, workers: 1 },
      work: { shutdownTimeoutMs: 1000 },
      pipelines: [{ stream: 'events', processor: PROCESSOR }],
    }),
  );
  const serve = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--with-workers', '--config', file], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: cleanEnv(),
  });
  const exited = new Promise<number | null>((resolve) => serve.once('exit', (code) => resolve(code)));
  t.after(() => {
    try {
      process.kill(-serve.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  let stderr = '';
  serve.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor('the processor start() to be called', () => stderr.includes('start() called'), 60_000);
  serve.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000).unref())]);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /still starting at the stop deadline: abandoned/);
  assert.match(stderr, /"clean":false,"msg":"hopper serve stopped"/);
  assert.doesNotMatch(stderr, /hopper serve listening/);
});
