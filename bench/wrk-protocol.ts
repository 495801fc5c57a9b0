// The ingest load protocol of ../shared/bench/run.sh, shared by the bench:* scripts that compare HTTP servers:
// server pinned to SERVER_CPU, `wrk -t1 -cCONNS --latency -s post.lua` (a 251-byte JSON POST) pinned to
// LOAD_CPU, a sanity POST, WARMUP seconds of warm-up, then DURATION measured seconds; optionally the store
// is counted afterwards to catch 2xx answers for data that was not stored.
// Env: DURATION (s, default 10), WARMUP (s, 3), CONNS (64), SERVER_CPU (0), LOAD_CPU (1), BENCH_DIR (work dir).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, stopProcess, type PinnedContext } from './pinned-process.js';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const SHARED = resolve(ROOT, '../shared/bench');
export const CLI = join(ROOT, 'dist/cli/main.js');
/** wrk gets this long beyond its own duration before it is taken for hung. */
const WRK_GRACE_S = 30;
const WAIT_UP_TRIES = 300;
const WAIT_UP_INTERVAL_MS = 100;

export interface BenchContext extends PinnedContext {
  durationS: number;
  warmupS: number;
  conns: number;
  loadCpu: string;
  /** true when the work dir was made for this run (and may be removed at the end). */
  ownWorkDir: boolean;
  say(msg: string): void;
}

/** The protocol settings from the environment; the work dir is BENCH_DIR or a new `{workPrefix}XXXXXX` in the repo. */
export function benchContextFromEnv(tag: string, workPrefix: string): BenchContext {
  return {
    durationS: Number(process.env.DURATION ?? 10),
    warmupS: Number(process.env.WARMUP ?? 3),
    conns: Number(process.env.CONNS ?? 64),
    serverCpu: process.env.SERVER_CPU ?? '0',
    loadCpu: process.env.LOAD_CPU ?? '1',
    workDir: process.env.BENCH_DIR ?? mkdtempSync(join(ROOT, workPrefix)),
    ownWorkDir: process.env.BENCH_DIR === undefined,
    say: (msg) => process.stderr.write(`[${tag}] ${msg}\n`),
  };
}

export interface WrkResult {
  rps: number;
  p50Us: number;
  p99Us: number;
  requests: number;
  non2xx: number;
  socketErrors: string;
}

/** The RESULT line post.lua prints, or null. */
export function parseWrkOutput(stdout: string): WrkResult | null {
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT'));
  if (!line) return null;
  const kv = (k: string): number => Number(new RegExp(` ${k}=([0-9.]+)`).exec(line)?.[1] ?? NaN);
  return {
    rps: kv('rps'),
    p50Us: kv('p50_us'),
    p99Us: kv('p99_us'),
    requests: kv('requests'),
    non2xx: kv('non2xx'),
    socketErrors: `${kv('connect')}/${kv('read')}/${kv('write')}/${kv('timeout')}`,
  };
}

export function wrkArgs(ctx: BenchContext, port: number, path: string, seconds: number, conns: number): string[] {
  return ['-c', ctx.loadCpu, 'wrk', '-t1', `-c${conns}`, `-d${seconds}s`, '--latency', '-s', join(SHARED, 'post.lua'), `http://127.0.0.1:${port}${path}`];
}

/** One wrk run pinned to the load CPU (blocks: nothing else of the harness runs meanwhile). */
export function runWrk(ctx: BenchContext, port: number, path: string, seconds: number, conns = ctx.conns): WrkResult | null {
  const r = spawnSync('taskset', wrkArgs(ctx, port, path, seconds, conns), { encoding: 'utf8', timeout: (seconds + WRK_GRACE_S) * 1000 });
  const result = parseWrkOutput(r.stdout ?? '');
  if (!result) ctx.say(`wrk produced no result: ${(r.stderr || r.stdout || '').slice(0, 300)}`);
  return result;
}

/** The same, without blocking the event loop (for sampling while it runs). */
export function runWrkAsync(ctx: BenchContext, port: number, path: string, seconds: number, conns = ctx.conns): Promise<WrkResult | null> {
  return new Promise((res) => {
    const p = spawn('taskset', wrkArgs(ctx, port, path, seconds, conns));
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.once('exit', () => res(parseWrkOutput(out)));
  });
}

/** One POST of the benchmark body; the status, or 0 when it failed. */
export function postBody(port: number, path: string): Promise<number> {
  return new Promise((res) => {
    const body = readFileSync(join(SHARED, 'body.json'));
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (r) => {
      r.resume();
      res(r.statusCode ?? 0);
    });
    req.on('error', () => res(0));
    req.setTimeout(2000, () => req.destroy());
    req.end(body);
  });
}

/** Polls with POSTs until one gets a 2xx (the sanity check); false when the server exited or never answered. */
export async function waitUp(port: number, path: string, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < WAIT_UP_TRIES; i++) {
    if (child.exitCode !== null) return false;
    const status = await postBody(port, path);
    if (status >= 200 && status < 300) return true;
    await new Promise((r) => setTimeout(r, WAIT_UP_INTERVAL_MS));
  }
  return false;
}

export interface BenchServer {
  name: string;
  path: string;
  start(port: number): ChildProcess | Promise<ChildProcess>;
  /** Records in the server's store, read after it stopped: for the check stored >= 2xx answers. */
  countStored?(): Promise<number>;
  /** Stops what start() started besides the server itself (its Redis, its NATS). */
  release?(): Promise<void>;
}

export interface Row extends WrkResult {
  name: string;
  /** 2xx answers of the sanity POST, the warm-up and the measured run. */
  ok2xx: number;
  /** Records stored by then (null: not counted); fewer than ok2xx means answers for data not stored. */
  stored: number | null;
}

/** Starts the server on a free port, checks it answers, warms it up, measures, stops it. */
export async function measureServer(ctx: BenchContext, server: BenchServer): Promise<Row | null> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  try {
    child = await server.start(port);
    if (!(await waitUp(port, server.path, child))) {
      ctx.say(`${server.name} did not come up (see ${ctx.workDir}/*.log)`);
      return null;
    }
    ctx.say(`${server.name}: warm-up ${ctx.warmupS}s, measure ${ctx.durationS}s`);
    const warm = runWrk(ctx, port, server.path, ctx.warmupS);
    const r = runWrk(ctx, port, server.path, ctx.durationS);
    if (!r) return null;
    await stopProcess(child);
    const ok2xx = 1 + (warm ? warm.requests - warm.non2xx : 0) + (r.requests - r.non2xx);
    const stored = server.countStored ? await server.countStored() : null;
    return { name: server.name, ...r, ok2xx, stored };
  } finally {
    if (child) await stopProcess(child);
    await server.release?.();
  }
}

export function ms(us: number): string {
  return (us / 1000).toFixed(2);
}

export function hostLine(): string {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return `host: ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} CPUs, node ${process.version}, loadavg ${load}`;
}
