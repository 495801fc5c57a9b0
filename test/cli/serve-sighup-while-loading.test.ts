// A SIGHUP right after `hopper serve` started (a deploy tool reloading once the config is in place) came while the
// CLI loaded its modules or locked the data directory, before serve's own SIGHUP handler: its default action ended
// the server (exit 129, not a line logged). It is now held from the CLI's first line and noted until serve handles
// it, and the rolling restart follows the start. Runs the built CLI (dist/).
//
// The SIGHUP is sent while the CLI loads its commands, whatever the machine's speed: a module hook (node --import)
// stops the loading of commands/index.js (imported right after the CLI's first line) until the signal was sent. A
// SIGHUP sent after a fixed delay came before the CLI's first line on a loaded machine (ended the server whatever
// the code), or after serve's handler on a fast one (passed whatever the code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, cleanEnv } from '../work/work-helpers.js';

/** Resolving commands/index.js waits for the file `go` in LOAD_GATE_DIR, once it wrote `loading` there. */
const HOOKS = `
import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
const dir = process.env.LOAD_GATE_DIR;
export async function resolve(specifier, context, next) {
  if (dir && specifier === './commands/index.js' && !existsSync(dir + '/go')) {
    writeFileSync(dir + '/loading', '');
    while (!existsSync(dir + '/go')) await sleep(10);
  }
  return next(specifier, context);
}
`;

async function waitUntil(what: string, check: () => boolean, ended: () => boolean, timeoutMs = 30_000): Promise<void> {
  const by = Date.now() + timeoutMs;
  while (!check()) {
    if (ended() || Date.now() > by) assert.fail(`${what}: not so (process ended: ${ended()})`);
    await sleep(10);
  }
}

test('a SIGHUP while hopper serve loads does not end it; a rolling restart follows the start', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hopper-sighup-loading-');
  t.after(() => removeDir(dir));
  writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
  writeFileSync(join(dir, 'preload.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
  const child = spawn(process.execPath, ['--import', pathToFileURL(join(dir, 'preload.mjs')).href, CLI, 'serve', '--data-dir', join(dir, 'data'), '--port', '0', '--workers', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...cleanEnv(), HOPPER_ADMIN_ENABLED: 'false', HOPPER_LOG_LEVEL: 'info', LOAD_GATE_DIR: dir },
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
  const ended = (): boolean => exitCode !== undefined;

  await waitUntil('the CLI loads its commands', () => existsSync(join(dir, 'loading')), ended);
  child.kill('SIGHUP');
  writeFileSync(join(dir, 'go'), '');
  await waitUntil('hopper serve listens', () => out.includes('hopper serve listening'), ended).catch((err: unknown) => {
    throw new Error(`${String(err)} (ended: ${exitCode} ${exitSignal}):\n${out}`);
  });
  await waitUntil('the rolling restart is done', () => out.includes('rolling restart done'), ended);
  assert.match(out, /SIGHUP while starting: the rolling restart follows the start/);
  child.kill('SIGTERM');
  await exited;
  assert.equal(exitCode, 0, out);
});
