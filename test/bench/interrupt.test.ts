// Ctrl-C (SIGINT) or SIGTERM stops the load at once (the same path as the hard cap), still reports what was
// measured, says it was interrupted and exits 128 + the signal number (130, 143), so a script can tell a
// partial run from a complete one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CLI, REPO, lastLine } from './run-cli.js';
import { acceptingServer } from './accepting-server.js';

/** Starts a 60 s run, sends `signal` once the server has answered 200 requests; resolves with what it printed. */
async function interruptedRun(
  t: { after: (fn: () => Promise<void> | void) => void },
  signal: NodeJS.Signals,
  extra: string[],
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number; received: () => number }> {
  let received = 0;
  let onEnough: () => void = () => undefined;
  const enough = new Promise<void>((r) => (onEnough = r));
  const url = await acceptingServer(t, () => {
    if (++received === 200) onEnough();
  });
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, 'bench', '--url', url, '--duration', '60s', '--connections', '4', ...extra], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  await enough;
  child.kill(signal);
  const code = await exited;
  return { code, stdout, stderr, ms: Date.now() - started, received: () => received };
}

test('SIGINT during a 60 s run: report of the load so far, exit 130', async (t) => {
  const r = await interruptedRun(t, 'SIGINT', ['--json']);
  assert.equal(r.code, 130, r.stderr);
  assert.ok(r.ms < 30_000, 'stopped long before the planned 60 s');
  const out = JSON.parse(r.stdout) as { stopped: string; requests: { completed: number; sent: number }; statuses: Record<string, number> };
  assert.equal(out.stopped, 'interrupted');
  assert.ok(out.requests.completed >= 200, `${out.requests.completed} completed`);
  assert.equal(out.statuses['202'], out.requests.completed);
  assert.ok(r.received() >= out.requests.completed, 'the server saw every request counted');
  assert.equal(r.stderr, 'hopper bench: interrupted by SIGINT: the report covers the load until then.\n');
});

test('SIGTERM during a 60 s run: the text report says interrupted, exit 143', async (t) => {
  const r = await interruptedRun(t, 'SIGTERM', []);
  assert.equal(r.code, 143, `${r.stdout}\n${r.stderr}`);
  assert.ok(r.ms < 30_000, 'stopped long before the planned 60 s');
  assert.match(r.stdout, /^ {2}requests +[\d,]+ {3}[\d,.]+ req\/s over [\d.]+ s$/m);
  assert.match(lastLine(r.stdout), /^ {2}interrupted, \d+ requests unanswered$/);
  assert.equal(r.stderr, 'hopper bench: interrupted by SIGTERM: the report covers the load until then.\n');
});
