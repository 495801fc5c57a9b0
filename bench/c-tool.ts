// The benchmarks' helper programs in C (bench/*.c): built into the work dir with the machine's C
// compiler, and the time a run of one may take beyond its own duration before it counts as hung.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { have } from './pinned-process.js';
import { ROOT, type BenchContext } from './wrk-protocol.js';

/** Seconds a run may take beyond its duration (connect, drain, fsyncs) before it is taken for hung. */
export const RUN_GRACE_S = 60;

/** Builds bench/`name`.c; its path, or why there is none (no compiler, a failed build). */
export function buildCTool(ctx: BenchContext, name: string): { binary: string } | { problem: string } {
  const compiler = ['cc', 'gcc'].find(have);
  if (!compiler) return { problem: 'no C compiler (Debian package gcc)' };
  const binary = join(ctx.workDir, name);
  const built = spawnSync(compiler, ['-O2', '-o', binary, join(ROOT, `bench/${name}.c`)], { encoding: 'utf8' });
  if (built.status !== 0) return { problem: `could not build bench/${name}.c (${(built.stderr || '').slice(0, 300)})` };
  return { binary };
}
