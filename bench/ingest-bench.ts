// npm run bench:ingest — `hopper serve` under wrk, against reference servers in
// the same run (../shared/bench: plain node:http that reads the body and stores
// nothing, and nginx `return 200` when installed). Protocol of ../shared/bench/run.sh:
// server pinned to CPU 0 (one ingest process), wrk pinned to CPU 1,
// `wrk -t1 -c64 --latency -s post.lua` (a 251-byte JSON POST), warm-up, then a measured run.
// Prints req/s, p50, p99 per server and Hopper's ratios to NODE-RAW (targets: durable >= 0.8,
// fast >= 0.9); then p99 at 80% of Hopper's durable peak, driven open loop by bench/open-loop.c
// (wrk has no rate option; see bench/open-loop.ts), each run followed by DISK-FLOOR (bench/disk-floor.ts: what the
// disk alone allows a durable ack at that rate); then the resident memory of every Hopper process under 1000 connections.
// Env: DURATION (s, default 10), WARMUP (s, 3), CONNS (64), SERVER_CPU (0), LOAD_CPU (1),
//      P99_ROUNDS (3: open-loop runs of the judged p99 row and its LIMIT floor, median reported),
//      RSS_CONNS (1000), RSS_DURATION (s, 10), ONLY (names, e.g. "NODE-RAW HOPPER-durable"), BENCH_DIR.

import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { descendants, freePort, have, startPinned, stopProcess } from './pinned-process.js';
import { loadConfig } from '../src/config/load-config.js';
import { diskFloor, type FloorResult } from './disk-floor.js';
import { openLoopGenerator, type OpenLoopGenerator, type RateResult } from './open-loop.js';
import { CLI, ROOT, SHARED, benchContextFromEnv, hostLine, measureServer, ms, runWrk, runWrkAsync, waitUp, type BenchServer as Server, type Row, type WrkResult } from './wrk-protocol.js';

const CTX = benchContextFromEnv('ingest-bench', '.bench-ingest-');
const { durationS: DURATION, warmupS: WARMUP, conns: CONNS, serverCpu: SERVER_CPU, loadCpu: LOAD_CPU, workDir: WORK } = CTX;
const RSS_CONNS = Number(process.env.RSS_CONNS ?? 1000);
const RSS_DURATION = Number(process.env.RSS_DURATION ?? 10);
const ONLY = (process.env.ONLY ?? '').split(/\s+/).filter(Boolean);
const P99_ROUNDS = Math.max(1, Math.floor(Number(process.env.P99_ROUNDS ?? 3)) || 1);
const STREAM_PATH = '/v1/streams/bench';
const log = CTX.say;

function pinned(name: string, cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return startPinned(CTX, name, cmd, args, env);
}

function hopperConfig(ack: string): string {
  const file = join(WORK, `hopper-${ack}.json`);
  writeFileSync(file, JSON.stringify({ logLevel: 'warn', defaultStream: { ack }, ingest: { workers: 1 } }, null, 2));
  return file;
}

function hopper(ack: 'durable' | 'written' | 'fast'): Server {
  return {
    name: `HOPPER-${ack}`,
    path: STREAM_PATH,
    start: (port) => {
      const dataDir = join(WORK, `data-${ack}`);
      rmSync(dataDir, { recursive: true, force: true });
      return pinned(`hopper-${ack}`, process.execPath, [CLI, 'serve', '--config', hopperConfig(ack), '--port', String(port), '--data-dir', dataDir]);
    },
  };
}

const servers: Server[] = [];
if (have('nginx')) {
  servers.push({
    name: 'LIMIT',
    path: '/',
    start: (port) => {
      const prefix = join(WORK, 'nginx');
      mkdirSync(join(prefix, 'tmp'), { recursive: true });
      const conf = join(prefix, 'nginx.conf');
      writeFileSync(conf, readFileSync(join(SHARED, 'nginx.conf'), 'utf8').replace('127.0.0.1:18080', `127.0.0.1:${port}`));
      return pinned('nginx', 'nginx', ['-p', `${prefix}/`, '-c', conf]);
    },
  });
} else {
  log('nginx is not installed: no LIMIT row');
}
servers.push({ name: 'NODE-RAW', path: '/', start: (port) => pinned('node-raw', process.execPath, [join(SHARED, 'node/node_raw.js')], { PORT: String(port) }) });
servers.push(hopper('durable'), hopper('written'), hopper('fast'));

/** The median by p99 of an odd count; of an even count (a run failed), the upper middle: a verdict must not flatter. */
function medianByP99<T extends { p99Us: number }>(runs: T[]): T {
  return [...runs].sort((a, b) => a.p99Us - b.p99Us)[Math.floor(runs.length / 2)]!;
}

/**
 * p99 at a fixed request rate, open loop, after wrk's warm-up; `rounds` runs on one server start, median p99.
 * `afterRound` runs after each round, while the server idles (the disk floor, measured at the same moment).
 */
async function p99AtRate(
  server: Server,
  rate: number,
  rounds: number,
  generator: OpenLoopGenerator,
  afterRound: () => void = () => undefined,
): Promise<{ median: RateResult; p99sUs: number[] } | null> {
  const port = await freePort();
  const child = await server.start(port);
  try {
    if (!(await waitUp(port, server.path, child))) return null;
    runWrk(CTX, port, server.path, WARMUP, CONNS);
    const results: RateResult[] = [];
    for (let i = 0; i < rounds; i++) {
      const r = generator.run(port, server.path, rate);
      if (r) results.push(r);
      afterRound();
    }
    if (results.length === 0) return null;
    return { median: medianByP99(results), p99sUs: results.map((r) => r.p99Us) };
  } finally {
    await stopProcess(child);
  }
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Peak resident memory of each process of the server tree while wrk overloads it with many connections. */
async function rssUnderConnections(server: Server): Promise<{ peaks: Map<number, number>; result: WrkResult | null } | null> {
  const port = await freePort();
  const child = await server.start(port);
  try {
    if (!(await waitUp(port, server.path, child))) return null;
    const peaks = new Map<number, number>();
    const sampler = setInterval(() => {
      for (const pid of [child.pid!, ...descendants(child.pid!)]) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, rssMb(pid)));
    }, 200);
    // spawnSync would block the sampler: run wrk asynchronously.
    const result = await runWrkAsync(CTX, port, server.path, RSS_DURATION, RSS_CONNS);
    clearInterval(sampler);
    return { peaks, result };
  } finally {
    await stopProcess(child);
  }
}

async function main(): Promise<void> {
  for (const tool of ['wrk', 'taskset']) {
    if (!have(tool)) {
      log(`missing tool: ${tool} (Debian package ${tool === 'wrk' ? 'wrk' : 'util-linux'})`);
      process.exit(1);
    }
  }
  if (!existsSync(CLI)) {
    log('building dist/ (npx tsc)');
    spawnSync('npx', ['tsc', '-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit', cwd: ROOT });
  }
  log(`work dir ${WORK}; protocol: server on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU}, -t1 -c${CONNS}, warm-up ${WARMUP}s, measured ${DURATION}s`);
  const rows: Row[] = [];
  for (const s of servers) {
    if (ONLY.length > 0 && !ONLY.includes(s.name)) continue;
    const r = await measureServer(CTX, s);
    if (r) rows.push(r);
  }

  const out: string[] = [];
  out.push(hostLine());
  out.push(`protocol: server on CPU ${SERVER_CPU} (one ingest process), wrk -t1 -c${CONNS} on CPU ${LOAD_CPU}, 251-byte JSON POST, warm-up ${WARMUP}s, measured ${DURATION}s`);
  out.push('');
  out.push('| server | req/s | p50 ms | p99 ms | non-2xx | socket errors c/r/w/t |');
  out.push('|---|---:|---:|---:|---:|---|');
  for (const r of rows) out.push(`| ${r.name} | ${r.rps.toFixed(0)} | ${ms(r.p50Us)} | ${ms(r.p99Us)} | ${r.non2xx} | ${r.socketErrors} |`);
  const byName = new Map(rows.map((r) => [r.name, r]));
  const base = byName.get('NODE-RAW');
  const limit = byName.get('LIMIT');
  out.push('');
  for (const [name, target] of [['HOPPER-durable', 0.8], ['HOPPER-written', null], ['HOPPER-fast', 0.9]] as const) {
    const r = byName.get(name);
    if (!r || !base) continue;
    const ratio = r.rps / base.rps;
    const verdict = target === null ? '' : ratio >= target ? ` (target >= ${target}: met)` : ` (target >= ${target}: NOT met)`;
    out.push(`${name} / NODE-RAW = ${ratio.toFixed(3)}${verdict}${limit ? `; / LIMIT = ${(r.rps / limit.rps).toFixed(3)}` : ''}`);
  }

  const durable = byName.get('HOPPER-durable');
  if (durable && (ONLY.length === 0 || ONLY.includes('P99-AT-80'))) {
    // The same open-loop measurement of the reference server at 80% of its own peak shows what the generator,
    // the kernel and Node's event loop alone put into the tail on this machine.
    // LIMIT (nginx) at Hopper's rate is the floor of the measurement itself: nginx is far from its own peak there.
    const nodeRaw = servers.find((s) => s.name === 'NODE-RAW');
    const nginx = servers.find((s) => s.name === 'LIMIT');
    const generator = openLoopGenerator(CTX);
    // The disk's own floor under a durable ack, measured right after each judged round at the same rate.
    const floor = diskFloor(CTX, loadConfig({ file: hopperConfig('durable'), env: process.env, cwd: WORK }).log.embedded.minFsyncIntervalMs);
    // [name, server, rate, what the rate is, judged against the target, rounds]
    const runs: [string, Server, number, string, boolean, number][] = [
      ['HOPPER-durable', hopper('durable'), durable.rps * 0.8, '80% of its peak', true, P99_ROUNDS],
      ['HOPPER-durable', hopper('durable'), durable.rps * 0.5, '50% of its peak', false, 1],
    ];
    if (nginx) runs.push(['LIMIT', nginx, durable.rps * 0.8, "HOPPER-durable's 80% rate", false, P99_ROUNDS]);
    if (nodeRaw && base) runs.push(['NODE-RAW', nodeRaw, base.rps * 0.8, '80% of its peak', false, 1]);
    out.push('');
    for (const [name, server, target, at, judged, rounds] of runs) {
      log(`p99 of ${name} at ${at}: ${target.toFixed(0)} req/s open loop, ${rounds} round(s)${judged && floor ? ', each followed by DISK-FLOOR' : ''}`);
      const floors: FloorResult[] = [];
      const r = await p99AtRate(server, target, rounds, generator, () => {
        const f = judged ? floor?.run(target) : null;
        if (f) floors.push(f);
      });
      const what = `${name} p99 at ${at}`;
      if (!r) {
        out.push(`${what}: not measured (the generator failed; see the log above)`);
        continue;
      }
      const m = r.median;
      const keptUp = m.achieved >= target * 0.95 ? '' : ' (the load generator fell behind the schedule: figure is pessimistic)';
      const each = r.p99sUs.length > 1 ? `median of ${r.p99sUs.length} runs: ${r.p99sUs.map(ms).join(', ')} ms; ` : '';
      const verdict = judged ? `; target < 5 ms: ${m.p99Us < 5000 ? 'met' : 'NOT met'}` : '';
      const failed = m.non2xx + m.errors > 0 ? `; non-2xx ${m.non2xx}, errors ${m.errors}` : '';
      out.push(`${what}: ${ms(m.p99Us)} ms at ${m.achieved.toFixed(0)} req/s (${each}asked ${target.toFixed(0)}${verdict}${failed})${keptUp}`);
      if (floors.length > 0) {
        const f = medianByP99(floors);
        out.push(
          `DISK-FLOOR p99 at the same rate: ${ms(f.p99Us)} ms, p50 ${ms(f.p50Us)} ms, ${f.syncs} fsyncs ` +
            `(${floors.length > 1 ? `median of ${floors.length} runs, each right after one above: ${floors.map((x) => ms(x.p99Us)).join(', ')} ms` : 'one run'}; ` +
            `an ideal group commit on this disk and CPU: what no durable server could beat at that moment)`,
        );
        const busy = floor?.run(target, true);
        if (busy) {
          out.push(
            `DISK-FLOOR with both CPUs busy, same rate: p99 ${ms(busy.p99Us)} ms, p50 ${ms(busy.p50Us)} ms (one run; a spinning process on CPU ${CTX.loadCpu}, ` +
              `a nice-19 one on CPU ${CTX.serverCpu}: the disk's own tail while the CPUs are as loaded as in the HTTP run)`,
          );
        }
      }
    }
    out.push(`(open loop: ${generator.name}; latency from the time each request was due)`);
    if (floor) out.push(`(DISK-FLOOR: ${floor.name})`);
  }

  if (ONLY.length === 0 || ONLY.includes('RSS')) {
    log(`resident memory under ${RSS_CONNS} connections for ${RSS_DURATION}s`);
    const r = await rssUnderConnections(hopper('durable'));
    out.push('');
    if (r) {
      const peaks = [...r.peaks.entries()].filter(([, mb]) => mb > 0);
      const max = Math.max(...peaks.map(([, mb]) => mb));
      out.push(
        `HOPPER-durable RSS under ${RSS_CONNS} connections: peak per process ${peaks.map(([pid, mb]) => `${pid}=${mb.toFixed(0)} MB`).join(', ')} ` +
          `(target < 150 MB: ${max < 150 ? 'met' : 'NOT met'}); meanwhile ${r.result ? `${r.result.rps.toFixed(0)} req/s, p99 ${ms(r.result.p99Us)} ms, non-2xx ${r.result.non2xx}, socket errors ${r.result.socketErrors}` : 'wrk gave no result'}`,
      );
    } else {
      out.push('RSS under many connections: not measured (server did not start)');
    }
  }
  process.stdout.write(out.join('\n') + '\n');
  if (CTX.ownWorkDir) rmSync(WORK, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
