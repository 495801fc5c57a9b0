// Ctrl-C stops the load at once (the same path as the hard cap) and still reports what was measured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CLI, REPO } from './run-cli.js';
import { acceptingServer } from './accepting-server.js';

test('SIGINT during a 60 s run: report of the load so far, exit 0', async (t) => {
  let received = 0;
  let onEnough: () => void = () => undefined;
  const enough = new Promise<void>((r) => (onEnough = r));
  const url = await acceptingServer(t, () => {
    if (++received === 200) onEnough();
  });
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, 'bench', '--url', url, '--duration', '60s', '--connections', '4', '--json'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  await enough;
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 0, stderr);
  assert.ok(Date.now() - started < 30_000, 'stopped long before the planned 60 s');
  const out = JSON.parse(stdout) as { stopped: string; requests: { completed: number; sent: number }; statuses: Record<string, number> };
  assert.equal(out.stopped, 'interrupted');
  assert.ok(out.requests.completed >= 200, `${out.requests.completed} completed`);
  assert.equal(out.statuses['202'], out.requests.completed);
  assert.ok(received >= out.requests.completed, 'the server saw every request counted');
});
