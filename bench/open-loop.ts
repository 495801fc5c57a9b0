// The open-loop generator of the p99-at-a-rate rows: bench/open-loop.c, compiled into the work
// dir with the machine's C compiler, or `hopper bench --rate` when there is none. Both keep a
// fixed schedule and time each request from when it was due; the C one costs a fraction of
// Node's per request, so its own jitter stays below what it measures on a slow machine.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildCTool, RUN_GRACE_S } from './c-tool.js';
import { CLI, SHARED, type BenchContext } from './wrk-protocol.js';

export interface RateResult {
  p99Us: number;
  achieved: number;
  non2xx: number;
  errors: number;
}

export interface OpenLoopGenerator {
  /** What produced the figures, for the report. */
  name: string;
  run(port: number, path: string, ratePerSec: number): RateResult | null;
}

/** Uncounted seconds at the start of each C run (connections handed over, code warmed up). */
const OPEN_LOOP_WARMUP_S = 2;

export function openLoopGenerator(ctx: BenchContext): OpenLoopGenerator {
  const built = buildCTool(ctx, 'open-loop');
  if ('binary' in built) return cGenerator(ctx, built.binary);
  ctx.say(`${built.problem}: using hopper bench --rate, whose own jitter is higher`);
  return nodeGenerator(ctx);
}

function cGenerator(ctx: BenchContext, binary: string): OpenLoopGenerator {
  return {
    name: `bench/open-loop.c, ${ctx.conns} keep-alive connections, one thread on CPU ${ctx.loadCpu}, ${OPEN_LOOP_WARMUP_S}s uncounted warm-up at the rate`,
    run(port, path, rate) {
      const r = spawnSync(
        'taskset',
        ['-c', ctx.loadCpu, binary, '127.0.0.1', String(port), path, join(SHARED, 'body.json'), String(Math.round(rate)), String(ctx.conns), String(OPEN_LOOP_WARMUP_S), String(ctx.durationS)],
        { encoding: 'utf8', timeout: (ctx.durationS + RUN_GRACE_S) * 1000 },
      );
      try {
        const j = JSON.parse(r.stdout) as { latencyUs: { p99: number }; ratePerSec: number; non2xx: number; errors: number };
        return { p99Us: j.latencyUs.p99, achieved: j.ratePerSec, non2xx: j.non2xx, errors: j.errors };
      } catch {
        ctx.say(`open-loop gave no JSON: ${(r.stderr || r.stdout || '').slice(0, 300)}`);
        return null;
      }
    },
  };
}

function nodeGenerator(ctx: BenchContext): OpenLoopGenerator {
  return {
    name: `hopper bench --rate, ${ctx.conns} connections, one load thread on CPU ${ctx.loadCpu}`,
    run(port, path, rate) {
      const r = spawnSync(
        'taskset',
        ['-c', ctx.loadCpu, process.execPath, CLI, 'bench', '--url', `http://127.0.0.1:${port}${path}`, '--rate', String(Math.round(rate)),
          '--connections', String(ctx.conns), '--threads', '1', '--duration', `${ctx.durationS}s`, '--json'],
        { encoding: 'utf8', timeout: (ctx.durationS + RUN_GRACE_S) * 1000 },
      );
      try {
        const j = JSON.parse(r.stdout) as { latencyUs: { p99: number }; requests: { perSec: number }; non2xx: number; socketErrors: Record<string, number> };
        const errors = Object.values(j.socketErrors ?? {}).reduce((a, b) => a + b, 0);
        return { p99Us: j.latencyUs.p99, achieved: j.requests.perSec, non2xx: j.non2xx, errors };
      } catch {
        ctx.say(`hopper bench gave no JSON: ${(r.stderr || r.stdout || '').slice(0, 300)}`);
        return null;
      }
    },
  };
}
