// The DISK-FLOOR row of bench:ingest: bench/group-commit-floor.c, an ideal group commit in C (no HTTP,
// no event loop), at the rate of a Hopper `durable` run, pinned to the server's CPU and writing into
// the work dir (the disk of Hopper's data directory). Its p99 is what the disk alone puts into the tail
// of a durable ack at that moment; without a C compiler the row is left out. Run with both CPUs kept
// busy (a spinning process on the load CPU, a nice-19 one on the server's), it shows what this machine's
// disk puts into that tail while the CPUs are as loaded as during an HTTP run: on a Firecracker VM here,
// ~10 ms device stalls every 100 ms appeared under full CPU and not at rest.

import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { frameBytes } from '../src/log/embedded/record-frame.js';
import { newRequestId } from '../src/ingest/request-id.js';
import { buildCTool, RUN_GRACE_S } from './c-tool.js';
import { SHARED, type BenchContext } from './wrk-protocol.js';

/** Uncounted seconds at the start of each run, as the open-loop runs have. */
const FLOOR_WARMUP_S = 2;

export interface FloorResult {
  p50Us: number;
  p99Us: number;
  syncs: number;
}

export interface DiskFloor {
  /** What produced the figures, for the report. */
  name: string;
  /** `busyCpus`: with both CPUs kept busy meanwhile (see the top of this file). */
  run(ratePerSec: number, busyCpus?: boolean): FloorResult | null;
}

/**
 * A process spinning on `cpu` at `nice` until killed, or at the latest after `seconds`: the bench stopped by a
 * signal while it waits in spawnSync cannot kill it, and it must not spin on for ever.
 */
function spinner(cpu: string, nice: number, seconds: number): ReturnType<typeof spawn> {
  const code = `const end = Date.now() + ${Math.ceil(seconds * 1000)}; while (Date.now() < end);`;
  const child = spawn('nice', ['-n', String(nice), 'taskset', '-c', cpu, process.execPath, '-e', code], { stdio: 'ignore' });
  child.on('error', () => undefined); // no `nice` or `taskset`: the run goes on without it
  return child;
}

/** The bytes one bench POST takes in the log: its frame with the metadata the ingest path stores. */
function benchRecordBytes(): number {
  return frameBytes({
    body: readFileSync(join(SHARED, 'body.json')),
    receivedAtUs: Date.now() * 1000,
    contentType: 'application/json',
    contentEncoding: '',
    remoteAddress: '127.0.0.1',
    requestId: newRequestId(),
    idempotencyKey: '',
  });
}

/** `minFsyncIntervalMs`: log.embedded.minFsyncIntervalMs of the Hopper runs it is compared with. */
export function diskFloor(ctx: BenchContext, minFsyncIntervalMs: number): DiskFloor | null {
  const built = buildCTool(ctx, 'group-commit-floor');
  if (!('binary' in built)) {
    ctx.say(`${built.problem}: no DISK-FLOOR row`);
    return null;
  }
  const binary = built.binary;
  const recordBytes = benchRecordBytes();
  const intervalUs = Math.round(minFsyncIntervalMs * 1000);
  return {
    name: `bench/group-commit-floor.c: write(2) of every due ${recordBytes}-byte record + fdatasync, fsyncs >= ${intervalUs} us apart, on CPU ${ctx.serverCpu} in ${ctx.workDir}, ${FLOOR_WARMUP_S}s uncounted`,
    run(rate, busyCpus = false) {
      const runS = FLOOR_WARMUP_S + ctx.durationS;
      const spinners = busyCpus ? [spinner(ctx.loadCpu, 0, runS + RUN_GRACE_S), spinner(ctx.serverCpu, 19, runS + RUN_GRACE_S)] : [];
      let r: SpawnSyncReturns<string>;
      try {
        r = spawnSync(
          'taskset',
          ['-c', ctx.serverCpu, binary, join(ctx.workDir, 'floor.bin'), String(Math.round(rate)), String(recordBytes), String(intervalUs), String(FLOOR_WARMUP_S), String(ctx.durationS)],
          { encoding: 'utf8', timeout: (ctx.durationS + RUN_GRACE_S) * 1000 },
        );
      } finally {
        for (const s of spinners) s.kill('SIGKILL');
      }
      try {
        const j = JSON.parse(r.stdout) as { syncs: number; latencyUs: { p50: number; p99: number } };
        return { p50Us: j.latencyUs.p50, p99Us: j.latencyUs.p99, syncs: j.syncs };
      } catch {
        ctx.say(`group-commit-floor gave no JSON: ${(r.stderr || r.stdout || '').slice(0, 300)}`);
        return null;
      }
    },
  };
}
