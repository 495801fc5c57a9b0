// --vs: the same load against two targets in alternation (A, B, A, B ...), so
// that drift on a shared, noisy machine falls on both sides alike. Each target
// gets the whole planned load, in `rounds` slices; their results are summed.

import { LatencyHistogram } from './latency-histogram.js';
import { runLoad, type LoadPlan, type LoadResult, type RunHooks } from './load-run.js';
import { sumCounts } from './load-protocol.js';
import type { BenchTarget } from './bench-target.js';

/** Upper bound on --rounds. */
export const MAX_ROUNDS = 100;

function slice(plan: LoadPlan, target: BenchTarget, rounds: number, round: number): LoadPlan {
  const requests = plan.requests === null ? null : Math.floor(plan.requests / rounds) + (round < plan.requests % rounds ? 1 : 0);
  return { ...plan, target, durationMs: plan.durationMs === null ? null : Math.max(1, Math.round(plan.durationMs / rounds)), requests };
}

/** Adds up the rounds of one target into one result (times, counts and histograms summed). */
export function combineRounds(results: LoadResult[], plan: LoadPlan): LoadResult {
  const latency = new LatencyHistogram();
  for (const r of results) latency.add(r.latency);
  const { target: _target, ...rest } = plan;
  return {
    ...results[0]!,
    plan: rest,
    elapsedMs: results.reduce((s, r) => s + r.elapsedMs, 0),
    ...sumCounts(results),
    latency,
    acknowledged: [],
    stopped: results.find((r) => r.stopped !== null)?.stopped ?? null,
    lastError: results.find((r) => r.lastError !== null)?.lastError ?? null,
  };
}

/** Null when interrupted before B ran once; otherwise both sides over the same number of rounds. */
export async function runVs(plan: LoadPlan, b: BenchTarget, rounds: number, hooks: RunHooks = {}): Promise<{ a: LoadResult; b: LoadResult } | null> {
  const ra: LoadResult[] = [];
  const rb: LoadResult[] = [];
  for (let i = 0; i < rounds && !hooks.signal?.aborted; i++) {
    ra.push(await runLoad(slice(plan, plan.target, rounds, i), hooks));
    if (hooks.signal?.aborted) break;
    rb.push(await runLoad(slice(plan, b, rounds, i), hooks));
  }
  ra.length = rb.length; // an A round without its B round would tilt the comparison
  if (ra.length === 0) return null;
  return { a: combineRounds(ra, plan), b: combineRounds(rb, { ...plan, target: b }) };
}
