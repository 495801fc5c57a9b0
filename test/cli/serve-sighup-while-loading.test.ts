// A SIGHUP right after `hopper serve` started (a deploy tool reloading once the config is in place) came while the
// CLI loaded its modules or locked the data directory, before serve's own SIGHUP handler: its default action ended
// the server (exit 129, not a line logged). It is now held from the CLI's first line and noted until serve handles
// it, and the rolling restart follows the start. Runs the built CLI (dist/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, cleanEnv } from '../work/work-helpers.js';

/** After node itself has started (the signals cannot be held before the CLI's first line runs). */
const FIRST_SIGHUP_MS = 250;
const SIGHUP_EVERY_MS = 50;

test('SIGHUPs from the first moments of hopper serve on do not end it; a rolling restart follows the start', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hopper-sighup-loading-');
  t.after(() => removeDir(dir));
  const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', join(dir, 'data'), '--port', '0', '--workers', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...cleanEnv(), HOPPER_ADMIN_ENABLED: 'false', HOPPER_LOG_LEVEL: 'info' },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let exitCode: number | null | undefined;
  let exitSignal: NodeJS.Signals | null = null;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      resolve();
    }),
  );
  t.after(() => {
    if (exitCode === undefined) child.kill('SIGKILL');
  });

  await sleep(FIRST_SIGHUP_MS);
  // Every 50 ms until the server listens: one of them comes while the CLI loads or locks the data directory.
  while (exitCode === undefined && !out.includes('hopper serve listening')) {
    child.kill('SIGHUP');
    await sleep(SIGHUP_EVERY_MS);
  }
  assert.equal(exitCode, undefined, `still running after the SIGHUPs (ended: ${exitCode} ${exitSignal}):\n${out}`);
  const by = Date.now() + 20_000;
  while (!out.includes('rolling restart done') && Date.now() < by) await sleep(50);
  assert.match(out, /rolling restart done/);
  child.kill('SIGTERM');
  await exited;
  assert.equal(exitCode, 0, out);
});
