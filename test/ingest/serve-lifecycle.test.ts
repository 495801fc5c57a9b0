// `hopper serve` lifecycle edges, over real processes: what --socket does with whatever is already at its
// path (a stale socket, a file, a directory, a path too long for sun_path), and signals that arrive while
// the ingest processes are still starting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, signalGroup, startServe } from './serve-process.js';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs `hopper serve` to its end (killed after `timeoutMs`); `during` gets the pid once it runs. */
function runServe(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; during?: (pid: number) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', ...args], {
      cwd: opts.cwd,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, HOPPER_LOG_LEVEL: 'info', HOPPER_ADMIN_PORT: '0', ...opts.env },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
    opts.during?.(child.pid!);
  });
}

/** The pids of `pid`'s children right now. */
function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 20_000, everyMs = 20): Promise<void> {
  const by = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > by) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

test('--socket on a path that holds a regular file refuses to start and leaves the file alone', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hopper-sock-file-');
  t.after(() => removeDir(dir));
  const path = join(dir, 'notes.txt');
  writeFileSync(path, 'precious\n');
  const r = await runServe(['--socket', path, '--workers', '1', '--data-dir', join(dir, 'data')], { timeoutMs: 15_000 });
  assert.equal(r.code, 1, `exit code 1:\n${r.stderr}`);
  assert.match(r.stderr, /HOPPER_LISTEN_FAILED/);
  assert.equal(readFileSync(path, 'utf8'), 'precious\n', 'the file is still there');
});

test('--socket on a directory refuses to start with HOPPER_LISTEN_FAILED, not an internal error', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hopper-sock-dir-');
  t.after(() => removeDir(dir));
  const path = join(dir, 'sub');
  mkdirSync(path);
  const r = await runServe(['--socket', path, '--workers', '1', '--data-dir', join(dir, 'data')], { timeoutMs: 15_000 });
  assert.equal(r.code, 1, `exit code 1:\n${r.stderr}`);
  assert.match(r.stderr, /HOPPER_LISTEN_FAILED/);
  assert.doesNotMatch(r.stderr, /HOPPER_INTERNAL/);
});

test('--socket longer than sun_path refuses to start instead of listening on a truncated path', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hopper-sock-long-');
  t.after(() => removeDir(dir));
  const path = join(dir, `${'s'.repeat(140)}.sock`);
  const r = await runServe(['--socket', path, '--workers', '1', '--data-dir', join(dir, 'data')], { timeoutMs: 15_000 });
  assert.equal(r.code, 1, `exit code 1:\n${r.stderr}`);
  assert.match(r.stderr, /HOPPER_LISTEN_FAILED/);
  assert.match(r.stderr, /too long/);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f !== 'data'),
    [],
    'no socket file at a truncated path',
  );
});

test('a socket file left by a SIGKILLed server is replaced on the next start', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('hopper-sock-stale-');
  t.after(() => removeDir(dir));
  const path = join(dir, 'hopper.sock');
  const first = await startServe(['--socket', path, '--workers', '1', '--data-dir', join(dir, 'data')]);
  t.after(() => signalGroup(first, 'SIGKILL'));
  signalGroup(first, 'SIGKILL');
  await first.exited;
  assert.ok(existsSync(path), 'the killed server left its socket file');
  const second = await startServe(['--socket', path, '--workers', '1', '--data-dir', join(dir, 'data')]);
  t.after(() => signalGroup(second, 'SIGKILL'));
  second.child.kill('SIGTERM');
  assert.equal((await second.exited).code, 0);
  assert.ok(!existsSync(path), 'a clean stop removes the socket file');
});

/** Spawns `hopper serve` (primary only signalled, as `kill PID` or systemd's KillMode=mixed do), collecting its stderr lines. */
function spawnServe(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, HOPPER_LOG_LEVEL: 'info', HOPPER_ADMIN_PORT: '0' },
  });
  const lines: string[] = [];
  let buffered = '';
  child.stderr.on('data', (d: Buffer) => {
    buffered += d.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
  });
  let ended: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      ended = { code, signal };
      resolve(ended);
    }),
  );
  const kill = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  return { child, pid: child.pid!, lines, exited, ended: () => ended, kill };
}

test('SIGHUP while the ingest processes start does not end the server; the rolling restart follows', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('hopper-hup-start-');
  t.after(() => removeDir(dir));
  const srv = spawnServe(['--port', '0', '--workers', '2', '--data-dir', join(dir, 'data')]);
  t.after(srv.kill);
  // Once the children are forked the primary is inside start(), waiting for them to report ready.
  await until('the ingest processes to be forked', () => childPids(srv.pid).length > 0 || srv.ended() !== null);
  assert.ok(!srv.lines.some((l) => l.includes('"hopper serve listening"')), 'still starting when the SIGHUP is sent');
  srv.child.kill('SIGHUP');
  await until('hopper serve to listen', () => srv.lines.some((l) => l.includes('"hopper serve listening"')) || srv.ended() !== null, 40_000, 50);
  assert.equal(srv.ended(), null, `the server died of the SIGHUP:\n${srv.lines.join('\n')}`);
  await until('the rolling restart to finish', () => srv.lines.some((l) => l.includes('rolling restart done')), 40_000, 50);
  srv.child.kill('SIGTERM');
  assert.equal((await srv.exited).code, 0, srv.lines.slice(-5).join('\n'));
});

test('SIGTERM while the ingest processes start stops them and exits 0, in time', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('hopper-term-start-');
  t.after(() => removeDir(dir));
  const srv = spawnServe(['--port', '0', '--workers', '2', '--data-dir', join(dir, 'data')]);
  t.after(srv.kill);
  await until('the ingest processes to be forked', () => childPids(srv.pid).length > 0 || srv.ended() !== null);
  const children = childPids(srv.pid);
  srv.child.kill('SIGTERM');
  const at = performance.now();
  const { code, signal } = await srv.exited;
  assert.equal(signal, null, `did not die of the signal:\n${srv.lines.join('\n')}`);
  assert.equal(code, 0, srv.lines.join('\n'));
  // The default shutdown timeout is 10 s; a child that missed the stop would be killed only after 12 s.
  assert.ok(performance.now() - at < 8000, `stopped in ${Math.round(performance.now() - at)} ms`);
  assert.ok(srv.lines.some((l) => l.includes('"clean":true')), srv.lines.join('\n'));
  for (const pid of children) assert.throws(() => process.kill(pid, 0), `ingest process ${pid} is gone`);
});

test('SIGTERM while a crashed ingest process is being restarted exits 0, in time', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('hopper-term-restart-');
  t.after(() => removeDir(dir));
  const srv = await startServe(['--workers', '1', '--data-dir', join(dir, 'data')]);
  t.after(() => signalGroup(srv, 'SIGKILL'));
  const [old] = childPids(srv.child.pid!);
  assert.ok(old !== undefined);
  process.kill(old, 'SIGKILL');
  // The first restart is immediate: stop while the new child is still loading.
  await until('a new ingest process', () => childPids(srv.child.pid!).some((p) => p !== old), 20_000, 10);
  srv.child.kill('SIGTERM');
  const at = performance.now();
  const { code } = await srv.exited;
  assert.equal(code, 0, srv.lines.slice(-6).join('\n'));
  assert.ok(performance.now() - at < 8000, `stopped in ${Math.round(performance.now() - at)} ms`);
});
