// `npm run bench:tool`: is `hopper bench` a fast enough load generator? Runs wrk and
// `hopper bench` in turn against the same plain node:http server (NODE-RAW from
// ../shared/bench), with the same connections, duration and a 251-byte JSON body,
// and prints both request rates and their ratio (target: hopper bench >= 0.8 x wrk).
//
// The server is pinned to CPU $SERVER_CPU (default 0), each generator to CPU
// $LOAD_CPU (default 1), one thread each, like ../shared/bench/run.sh.
// Knobs: DURATION (s, default 10), CONNS (64), PASSES (2), WARMUP (s, 2).
// Needs: wrk, taskset, and a build (npm run build).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const SHARED = fileURLToPath(new URL('../../shared/bench/', import.meta.url));
const NODE_RAW = `${SHARED}node/node_raw.js`;
const POST_LUA = `${SHARED}post.lua`;
const CLI = `${REPO}dist/cli/main.js`;
/** post.lua's body is 251 bytes: hopper bench pads its events to the same size. */
const BODY_BYTES = 251;
const TARGET_RATIO = 0.8;

const DURATION_S = Number(process.env.DURATION ?? 10);
const CONNS = Number(process.env.CONNS ?? 64);
const PASSES = Number(process.env.PASSES ?? 2);
const WARMUP_S = Number(process.env.WARMUP ?? 2);
const SERVER_CPU = process.env.SERVER_CPU ?? '0';
const LOAD_CPU = process.env.LOAD_CPU ?? '1';

function fail(message: string): never {
  process.stderr.write(`bench:tool: ${message}\n`);
  process.exit(1);
}

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitListening(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  fail(`the NODE-RAW server did not listen on ${port} within ${timeoutMs} ms`);
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function wrk(url: string, seconds: number): Promise<number> {
  const r = await run('taskset', ['-c', LOAD_CPU, 'wrk', '-t1', `-c${CONNS}`, `-d${seconds}s`, '-s', POST_LUA, url]);
  const m = /RESULT requests=\d+ duration_us=\d+ rps=([\d.]+)/.exec(r.stdout);
  if (r.code !== 0 || !m) fail(`wrk failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return Number(m[1]);
}

async function hopperBench(url: string, seconds: number): Promise<number> {
  const args = ['-c', LOAD_CPU, process.execPath, CLI, 'bench', '--url', url, '--connections', String(CONNS), '--threads', '1'];
  args.push('--duration', `${seconds}s`, '--body-bytes', String(BODY_BYTES), '--json');
  const r = await run('taskset', args);
  if (r.code !== 0) fail(`hopper bench failed (${r.code}): ${r.stderr.trim()}`);
  return (JSON.parse(r.stdout) as { requests: { perSec: number } }).requests.perSec;
}

async function main(): Promise<void> {
  for (const tool of ['wrk', 'taskset']) if (!which(tool)) fail(`${tool} is not installed (Debian: apt-get install ${tool === 'taskset' ? 'util-linux' : tool})`);
  if (!existsSync(CLI)) fail('dist/cli/main.js is missing: run npm run build first');
  if (!existsSync(NODE_RAW)) fail(`${NODE_RAW} is missing`);
  const port = await freePort();
  const server: ChildProcess = spawn('taskset', ['-c', SERVER_CPU, process.execPath, NODE_RAW], {
    env: { ...process.env, PORT: String(port) },
    stdio: 'ignore',
  });
  const stop = (): void => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
  };
  process.once('SIGINT', () => {
    stop();
    process.exit(130);
  });
  try {
    await waitListening(port, 10_000);
    const url = `http://127.0.0.1:${port}/v1/streams/bench`;
    process.stdout.write(`bench:tool  NODE-RAW on CPU ${SERVER_CPU}, generators on CPU ${LOAD_CPU}, ${CONNS} connections, ${DURATION_S} s x ${PASSES} passes, ${BODY_BYTES}-byte POST\n`);
    if (WARMUP_S > 0) await wrk(url, WARMUP_S);
    const wrkRates: number[] = [];
    const hopperRates: number[] = [];
    for (let pass = 1; pass <= PASSES; pass++) {
      // Alternate which goes first, so a drift of the machine within a pass falls on both.
      const order = pass % 2 === 1 ? (['wrk', 'hopper'] as const) : (['hopper', 'wrk'] as const);
      for (const tool of order) {
        const rps = tool === 'wrk' ? await wrk(url, DURATION_S) : await hopperBench(url, DURATION_S);
        (tool === 'wrk' ? wrkRates : hopperRates).push(rps);
        process.stdout.write(`  pass ${pass}  ${tool === 'wrk' ? 'wrk         ' : 'hopper bench'}  ${rps.toFixed(0).padStart(8)} req/s\n`);
      }
    }
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const ratio = mean(hopperRates) / mean(wrkRates);
    process.stdout.write(`  wrk           mean ${mean(wrkRates).toFixed(0).padStart(8)} req/s\n`);
    process.stdout.write(`  hopper bench  mean ${mean(hopperRates).toFixed(0).padStart(8)} req/s\n`);
    process.stdout.write(`  ratio hopper bench / wrk = ${ratio.toFixed(2)} (target >= ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'})\n`);
  } finally {
    stop();
  }
}

await main();
