// A `hopper` child process run from the sources (tsx) in its own process group, for tests that
// signal it and wait for its exit: `kill()` ends the whole group, whatever the command started.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '../work/work-helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface HopperChild {
  child: ChildProcess;
  /** The exit code, or null when a signal ended it. */
  exited: Promise<number | null>;
  /** SIGKILL to the child's process group; nothing when it is gone. */
  kill(): void;
}

export function startHopperFromSources(args: string[]): HopperChild {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv() });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  return { child, exited, kill };
}

/** Runs `script` as an ES module in a child Node with tsx, from the repository root (imports of src/ resolve); waits for its exit. */
export async function runModuleScript(script: string): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  child.stderr!.on('data', (c: Buffer) => (err += c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, out, err };
}
