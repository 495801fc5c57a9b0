// npm run bench:backends — the ingest benchmark of bench:ingest (bench/wrk-protocol.ts: server pinned to CPU 0,
// wrk -t1 -c64 with post.lua on CPU 1, warm-up, measured run) against `hopper serve` on each log backend, in
// one run: embedded, redis, nats; plus NODE-FASTIFY-REDIS from ../shared/bench (fastify + ioredis RPUSH of the
// raw body), what a TypeScript user would otherwise write. Each Redis row gets a fresh redis-server on a unix
// socket, pinned to the server CPU, no persistence (as ../shared/bench/run.sh starts it): Hopper on Redis and
// the fastify server pay for the same Redis on the same CPU. The NATS row gets a fresh nats-server -js (file
// store in the work dir) pinned the same way. After each run the store is counted: stored >= 2xx answers.
// Prints req/s, p50, p99, and the ratios to NODE-FASTIFY-REDIS (target: HOPPER-redis >= 2x).
// Env: ROUNDS (3: every row once per round, in turn; the table shows each row's median round, and each ratio is
// the median of the per-round ratios), ACK (Hopper's ack mode, default durable), PEERS_DIR (node deps of ../shared/bench/node, default
// /tmp/peers as run.sh), ONLY (row names), and those of bench/wrk-protocol.ts: DURATION, WARMUP, CONNS,
// SERVER_CPU, LOAD_CPU, BENCH_DIR.

import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { loadConfig } from '../src/config/load-config.js';
import { openLog } from '../src/log/open-log.js';
import { freePort, have, startPinned, stopProcess } from './pinned-process.js';
import { CLI, ROOT, SHARED, benchContextFromEnv, hostLine, measureServer, ms, type BenchServer, type Row } from './wrk-protocol.js';

const CTX = benchContextFromEnv('backends-bench', '.bench-backends-');
const ACK = process.env.ACK ?? 'durable';
const PEERS_DIR = process.env.PEERS_DIR ?? '/tmp/peers';
const ONLY = (process.env.ONLY ?? '').split(/\s+/).filter(Boolean);
/** Rounds of all rows in turn: the machine's speed drifts, so each ratio is taken within a round, then the median. */
const ROUNDS = Math.max(1, Math.floor(Number(process.env.ROUNDS ?? 3)) || 1);
const STREAM = 'bench';
const BASELINE = 'NODE-FASTIFY-REDIS';
const TARGET_REDIS_RATIO = 2;
const BACKEND_START_TIMEOUT_MS = 10_000;

async function until(what: string, ready: () => Promise<boolean>, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + BACKEND_START_TIMEOUT_MS;
  while (!(await ready())) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}); see ${CTX.workDir}/*.log`);
    if (Date.now() > deadline) throw new Error(`${what} did not start in ${BACKEND_START_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function withRedis<T>(socket: string, use: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ path: socket, lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await use(r);
  } finally {
    r.disconnect();
  }
}

/** A fresh redis-server on a unix socket of the work dir, pinned to the server CPU, no persistence (run.sh's). */
async function startRedis(name: string): Promise<{ socket: string; child: ChildProcess }> {
  const socket = join(CTX.workDir, `${name}.sock`);
  rmSync(socket, { force: true });
  const child = startPinned(CTX, name, 'redis-server', ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '',
    '--appendonly', 'no', '--dir', CTX.workDir, '--loglevel', 'warning']);
  try {
    await until('redis-server', () => withRedis(socket, (r) => r.ping()).then(() => true, () => false), child);
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  return { socket, child };
}

/** A fresh nats-server with JetStream (file store in the work dir) on a free port, pinned to the server CPU. */
async function startNats(name: string): Promise<{ servers: string; child: ChildProcess }> {
  const port = await freePort();
  const storeDir = join(CTX.workDir, `${name}-store`);
  rmSync(storeDir, { recursive: true, force: true });
  const child = startPinned(CTX, name, 'nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir]);
  const servers = `127.0.0.1:${port}`;
  const jetStreamUp = async (): Promise<boolean> => {
    try {
      const nc = await connect({ servers, timeout: 500, maxReconnectAttempts: 0 });
      try {
        await jetstreamManager(nc, { timeout: 1000 });
        return true;
      } finally {
        await nc.close();
      }
    } catch {
      return false;
    }
  };
  try {
    await until('nats-server', jetStreamUp, child);
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  return { servers, child };
}

type Backend = 'embedded' | 'redis' | 'nats';

/** `hopper serve` (one ingest process) on `backend`, its Redis or NATS started with it and stopped after it. */
function hopper(backend: Backend): BenchServer {
  const name = `HOPPER-${backend}`;
  const configFile = join(CTX.workDir, `hopper-${backend}.json`);
  let store: ChildProcess | null = null;
  return {
    name,
    path: `/v1/streams/${STREAM}`,
    async start(port) {
      const dataDir = join(CTX.workDir, `data-${backend}`);
      rmSync(dataDir, { recursive: true, force: true });
      let log: Record<string, unknown> = { backend };
      if (backend === 'redis') {
        const redis = await startRedis('redis-hopper');
        store = redis.child;
        // An ioredis URL that is a path is a unix socket.
        log = { backend, redis: { url: redis.socket } };
      } else if (backend === 'nats') {
        const nats = await startNats('nats-hopper');
        store = nats.child;
        log = { backend, nats: { servers: nats.servers, replicas: 1 } };
      }
      const config = { logLevel: 'warn', dataDir, log, defaultStream: { ack: ACK }, ingest: { workers: 1 } };
      writeFileSync(configFile, JSON.stringify(config, null, 2));
      return startPinned(CTX, `hopper-${backend}`, process.execPath, [CLI, 'serve', '--config', configFile, '--port', String(port)]);
    },
    async countStored() {
      const log = await openLog(loadConfig({ file: configFile, env: {}, cwd: CTX.workDir }));
      try {
        const stats = await log.stats();
        const stream = stats.streams.find((s) => s.stream === STREAM);
        return (stream?.partitions ?? []).reduce((n, p) => n + p.endOffset - p.startOffset, 0);
      } finally {
        await log.close();
      }
    },
    async release() {
      if (store) await stopProcess(store);
      store = null;
    },
  };
}

/** The node deps of ../shared/bench/node, installed into PEERS_DIR from its lock file as run.sh does. */
function fastifyReady(): string | null {
  const pkg = readFileSync(join(SHARED, 'node/package.json'), 'utf8');
  const installed = join(PEERS_DIR, 'package.json');
  if (!existsSync(join(PEERS_DIR, 'node_modules/fastify')) || !existsSync(installed) || readFileSync(installed, 'utf8') !== pkg) {
    CTX.say(`installing the node deps of ${SHARED}/node into ${PEERS_DIR} (npm ci)`);
    mkdirSync(PEERS_DIR, { recursive: true });
    for (const f of ['package.json', 'package-lock.json']) writeFileSync(join(PEERS_DIR, f), readFileSync(join(SHARED, 'node', f)));
    const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PEERS_DIR, encoding: 'utf8' });
    if (r.status !== 0) {
      CTX.say(`npm ci failed in ${PEERS_DIR}: ${(r.stderr || r.stdout).slice(-500)}`);
      return null;
    }
  }
  // Next to its node_modules, so that require() finds fastify and ioredis (run.sh copies it the same way).
  const script = join(PEERS_DIR, 'fastify_redis.js');
  const source = readFileSync(join(SHARED, 'node/fastify_redis.js'));
  if (!existsSync(script) || !readFileSync(script).equals(source)) {
    rmSync(script, { force: true });
    writeFileSync(script, source);
  }
  return script;
}

function fastify(script: string): BenchServer {
  let redis: { socket: string; child: ChildProcess } | null = null;
  return {
    name: BASELINE,
    path: '/',
    async start(port) {
      redis = await startRedis('redis-fastify');
      return startPinned(CTX, 'node-fastify', process.execPath, [script], { PORT: String(port), REDIS_SOCKET: redis.socket });
    },
    countStored: () => withRedis(redis!.socket, (r) => r.llen('ingest')),
    async release() {
      if (redis) await stopProcess(redis.child);
      redis = null;
    },
  };
}

/** The median; of an even count (a round failed), the lower middle: the verdict must not flatter. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** The round whose req/s is the median of a row's rounds (the lower middle of an even count). */
function medianRow(runs: Row[]): Row | null {
  if (runs.length === 0) return null;
  return [...runs].sort((a, b) => a.rps - b.rps)[Math.floor((runs.length - 1) / 2)]!;
}

/** `name` / `base` in req/s and p99, per round (both measured minutes apart at most), and the median of those. */
function ratioLine(rounds: Map<string, Row>[], name: string, base: string, target: number | null): string | null {
  const pairs = rounds.map((r) => [r.get(name), r.get(base)] as const).filter((p): p is readonly [Row, Row] => p[0] !== undefined && p[1] !== undefined);
  if (pairs.length === 0) return null;
  const ratio = median(pairs.map(([r, b]) => r.rps / b.rps));
  const p99 = median(pairs.map(([r, b]) => r.p99Us / b.p99Us));
  const each = pairs.length > 1 ? ` (per round: ${pairs.map(([r, b]) => (r.rps / b.rps).toFixed(2)).join(', ')})` : '';
  const verdict = target === null ? '' : `; target >= ${target}: ${ratio >= target ? 'met' : 'NOT met'}`;
  return `${name} / ${base} = ${ratio.toFixed(3)} req/s${each}${verdict}; p99 x${p99.toFixed(2)}`;
}

async function main(): Promise<void> {
  for (const tool of ['wrk', 'taskset', 'redis-server', 'nats-server']) {
    if (!have(tool)) {
      CTX.say(`missing tool: ${tool} (Debian package ${tool === 'taskset' ? 'util-linux' : tool})`);
      process.exit(1);
    }
  }
  if (!existsSync(CLI)) {
    CTX.say('building dist/ (npx tsc)');
    spawnSync('npx', ['tsc', '-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit', cwd: ROOT });
  }
  const wanted = (name: string): boolean => ONLY.length === 0 || ONLY.includes(name);
  const servers: BenchServer[] = [];
  if (wanted(BASELINE)) {
    const script = fastifyReady();
    if (script) servers.push(fastify(script));
    else CTX.say(`no ${BASELINE} row: its node deps could not be installed`);
  }
  servers.push(...(['embedded', 'redis', 'nats'] as const).map(hopper).filter((s) => wanted(s.name)));

  CTX.say(`work dir ${CTX.workDir}; server and its Redis/NATS on CPU ${CTX.serverCpu}, wrk on CPU ${CTX.loadCpu}, ack ${ACK}`);
  const rounds: Map<string, Row>[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const rows = new Map<string, Row>();
    for (const s of servers) {
      try {
        CTX.say(`round ${round}/${ROUNDS}: ${s.name}`);
        const r = await measureServer(CTX, s);
        if (r) rows.set(r.name, r);
      } catch (err) {
        CTX.say(`${s.name}: ${(err as Error).message}`);
      }
    }
    rounds.push(rows);
  }
  const rows = servers.map((s) => medianRow(rounds.map((r) => r.get(s.name)).filter((r): r is Row => r !== undefined))).filter((r): r is Row => r !== null);

  const out: string[] = [];
  out.push(hostLine());
  out.push(
    `protocol: server on CPU ${CTX.serverCpu} (one ingest process) with its own fresh Redis (unix socket, no persistence) or ` +
      `nats-server -js on the same CPU; wrk -t1 -c${CTX.conns} on CPU ${CTX.loadCpu}, 251-byte JSON POST, ` +
      `warm-up ${CTX.warmupS}s, measured ${CTX.durationS}s; Hopper ack ${ACK}; ${ROUNDS} round(s), each row's median round shown`,
  );
  out.push('');
  out.push('| server | req/s | p50 ms | p99 ms | non-2xx | socket errors c/r/w/t | 2xx | stored | check |');
  out.push('|---|---:|---:|---:|---:|---|---:|---:|---|');
  for (const r of rows) {
    const check = r.stored === null ? 'n/a' : r.stored >= r.ok2xx ? `ok (+${r.stored - r.ok2xx})` : `MISMATCH (${r.stored - r.ok2xx})`;
    out.push(`| ${r.name} | ${r.rps.toFixed(0)} | ${ms(r.p50Us)} | ${ms(r.p99Us)} | ${r.non2xx} | ${r.socketErrors} | ${r.ok2xx} | ${r.stored ?? '-'} | ${check} |`);
  }
  // The table shows one round per row: a loss in any other round must not hide behind it.
  for (const [i, round] of rounds.entries()) {
    for (const r of round.values()) {
      if (r.stored !== null && r.stored < r.ok2xx) out.push(`round ${i + 1}: ${r.name} stored ${r.stored} records for ${r.ok2xx} 2xx answers: MISMATCH`);
    }
  }
  out.push('');
  for (const line of [
    ratioLine(rounds, 'HOPPER-redis', BASELINE, TARGET_REDIS_RATIO),
    ratioLine(rounds, 'HOPPER-embedded', BASELINE, null),
    ratioLine(rounds, 'HOPPER-nats', BASELINE, null),
    ratioLine(rounds, 'HOPPER-redis', 'HOPPER-embedded', null),
    ratioLine(rounds, 'HOPPER-nats', 'HOPPER-embedded', null),
  ]) {
    if (line) out.push(line);
  }
  process.stdout.write(out.join('\n') + '\n');
  if (CTX.ownWorkDir) rmSync(CTX.workDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  CTX.say(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
