// Runs the real `hopper serve` (compiled CLI, dist/) with its admin server on a
// free port, in its own process group; finds the ingest port and the admin URL
// from the start line; stops it with SIGTERM (and kills the group for sure).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForListening } from '../helpers/serve-listening.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const START_TIMEOUT_MS = 30_000;

export interface AdminServe {
  child: ChildProcess;
  port: number;
  admin: string;
  dataDir: string;
  /** stderr lines so far (pino JSON). */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<number | null>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'hopper-observe-'));
}

export function cliEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, HOPPER_LOG_LEVEL: 'info', HOPPER_ADMIN_PORT: '0', ...env };
  delete out.HOPPER_CONFIG;
  return out;
}

/** Starts serve with its data in a fresh temporary directory (removed in t.after). */
export async function startAdminServe(t: { after(fn: () => unknown): void }, args: string[], env: Record<string, string> = {}): Promise<AdminServe> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, ...args], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: cliEnv(env),
  });
  running.add(child);
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const killGroup = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(killGroup, 15_000);
      await exited;
      clearTimeout(timer);
    }
    killGroup();
    rmSync(dir, { recursive: true, force: true });
  });
  const listening = await waitForListening(child, lines, exited, START_TIMEOUT_MS, killGroup);
  if (listening.admin === null) throw new Error(`serve started without its admin server:\n${lines.join('\n')}`);
  const start = { port: listening.port as number, admin: listening.admin as string };
  return {
    child,
    ...start,
    dataDir,
    lines,
    exited,
    async stop() {
      child.kill('SIGTERM');
      return (await exited).code;
    },
  };
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function httpRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; agent?: Agent | false } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  const r = await httpRequest(url, { headers });
  if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as T;
}

/** Sends `count` writes to /v1/streams/{stream} over `connections` keep-alive connections; returns the statuses. */
export async function sendWrites(port: number, stream: string, count: number, body: (i: number) => string, connections = 16): Promise<Map<number, number>> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const r = await httpRequest(`http://127.0.0.1:${port}/v1/streams/${stream}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body(i),
        agent,
      });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, worker));
  } finally {
    agent.destroy();
  }
  return statuses;
}

/** Polls until check() returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
