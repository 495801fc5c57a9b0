// Runs an example for real, as its README says: the compiled CLI
// (`node dist/cli/main.js serve --with-workers --config examples/X/hopper.config.json`)
// from the repository root, on port 0 and a temporary data directory, with the
// example's config copied and pointed at the test's own endpoints and tables.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForListening } from '../helpers/serve-listening.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'dist/cli/main.js');

type After = { after(fn: () => Promise<void> | void): void };

export interface RunningExample {
  port: number;
  dataDir: string;
  lines: string[];
  /** SIGTERM, then waits for the exit (SIGKILL past the timeout). */
  stop(): Promise<void>;
  /** Runs another CLI command on the same config and data directory; returns its stdout. */
  cli(args: string[]): string;
}

/** Stops of the servers started on each temporary directory: the directory is removed after them. */
const running = new Map<string, (() => Promise<void>)[]>();

/** The example's config as JSON, edited by `edit`, written to a temporary directory removed after the test. */
export function exampleConfig(t: After, name: string, edit: (config: Record<string, any>) => void): { path: string; dir: string } {
  const config = JSON.parse(readFileSync(join(ROOT, 'examples', name, 'hopper.config.json'), 'utf8')) as Record<string, any>;
  edit(config);
  const dir = mkdtempSync(join(tmpdir(), `hopper-example-${name}-`));
  const path = join(dir, 'hopper.config.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  running.set(dir, []);
  t.after(async () => {
    for (const stop of running.get(dir) ?? []) await stop();
    running.delete(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, dir };
}

export async function runExample(t: After, configPath: string, tmp: string, timeoutMs = 30_000): Promise<RunningExample> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
  const dataDir = join(tmp, 'data');
  const args = ['serve', '--with-workers', '--config', configPath, '--port', '0', '--data-dir', dataDir, '--workers', '1'];
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOPPER_LOG_LEVEL: 'info' } });
  const lines: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return exited;
    stopped = true;
    const kill = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    kill('SIGTERM');
    const timer = setTimeout(() => kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  t.after(stop);
  running.get(tmp)?.push(stop);
  const listening = await waitForListening(child, lines, exited, timeoutMs);
  if (listening.workers !== 'running') throw new Error(`workers did not start: ${JSON.stringify(listening)}`);
  const port = listening.port as number;
  const cli = (more: string[]): string => {
    const r = spawnSync(process.execPath, [CLI, ...more, '--config', configPath, '--data-dir', dataDir], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`hopper ${more.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  return { port, dataDir, lines, stop, cli };
}

export function post(port: number, path: string, body: string, contentType: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': contentType } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Records the running example's workers have dead-lettered so far (from their warn lines, one per batch). */
export function deadLettered(example: RunningExample): number {
  let n = 0;
  for (const line of example.lines) {
    if (line.includes('records sent to the dead-letter stream')) n += (JSON.parse(line) as { count: number }).count;
  }
  return n;
}

/** Waits until the workers have dead-lettered at least `count` records: a bad record may sit in a later batch than the good ones waited for. */
export function waitForDeadLetters(example: RunningExample, count: number): Promise<true> {
  return waitFor(() => (deadLettered(example) >= count ? true : undefined), () => `${deadLettered(example)} of ${count} dead letters:\n${example.lines.join('\n')}`);
}

/** Polls `check` until it returns a value other than undefined, or fails with what `describe` says. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, describe: () => string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
