// Runs the real `hopper serve` (compiled CLI, dist/) as a child process in its
// own process group, finds its port from the start line, and kills it for real.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'node:http';
import { waitForListening } from '../helpers/serve-listening.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface ServeProcess {
  child: ChildProcess;
  /** The TCP port (null when listening on a unix socket only). */
  port: number;
  /** Every stderr line so far (pino JSON lines). */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every server started and not yet exited: killed when the test process exits, whatever happened. */
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

export async function startServe(args: string[], env: Record<string, string> = {}, cwd?: string, timeoutMs = 20_000): Promise<ServeProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
  const listenArgs = args.includes('--port') || args.includes('--socket') ? [] : ['--port', '0'];
  const child = spawn(process.execPath, [CLI, 'serve', ...listenArgs, ...args], {
    cwd,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    // Admin on a free port: servers of tests running side by side must not compete for 8081.
    env: { ...process.env, HOPPER_LOG_LEVEL: 'info', HOPPER_ADMIN_PORT: '0', ...env },
  });
  running.add(child);
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const listening = await waitForListening(child, lines, exited, timeoutMs, () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  return { child, port: listening.port as number, lines, exited };
}

/** Signals the whole process group (the primary and its ingest children). */
export function signalGroup(p: ServeProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-p.child.pid!, signal);
  } catch {
    // already gone
  }
}

export interface PostResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A POST that gives up after `timeoutMs` (a connection handed to a child as it is killed is never answered). */
export function postWith(
  agent: Agent | false,
  port: number,
  path: string,
  body: string,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path, agent, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.end(body);
  });
}
