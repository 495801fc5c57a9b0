// Processes of an HTTP benchmark run, handled as ../shared/bench/run.sh does: started pinned to one CPU
// with taskset (which execs the command, so the pid is the command's), stderr kept in a log file of the
// work dir, stopped by pid (TERM, then KILL), and the tools and free ports they need.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** Bounds what is kept of a chatty process's stderr. */
const STDERR_KEEP_BYTES = 1 << 20;
const STOP_KILL_AFTER_MS = 15_000;

export interface PinnedContext {
  serverCpu: string;
  workDir: string;
}

export function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** Starts a command pinned to the server CPU; its stderr goes to `{workDir}/{name}.log` when it exits. */
export function startPinned(ctx: PinnedContext, name: string, cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const out = join(ctx.workDir, `${name}.log`);
  const child = spawn('taskset', ['-c', ctx.serverCpu, cmd, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
    cwd: ctx.workDir,
  });
  let text = '';
  child.stderr!.on('data', (d: Buffer) => {
    text += d.toString();
    if (text.length > STDERR_KEEP_BYTES) text = text.slice(-(STDERR_KEEP_BYTES >> 1));
  });
  child.once('exit', () => writeFileSync(out, text));
  return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_KILL_AFTER_MS);
  await exited;
  clearTimeout(timer);
}

/** Every descendant pid of `pid` (looked up by parent pid). */
export function descendants(pid: number): number[] {
  const r = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  const kids = r.stdout.split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  return kids.flatMap((k) => [k, ...descendants(k)]);
}
