// Runs one load against one target: checks the address answers a TCP connect,
// splits connections, requests and rate across worker threads, relays their
// progress, bounds the whole run in time, and merges their results.

import { connect } from 'node:net';
import { Worker } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { HopperError } from '../errors.js';
import { MAX_EVENT_SEQ, type BodySpec } from './body-factory.js';
import { EventBitmap, MAX_BITMAP_EVENTS } from './event-bitmap.js';
import { LatencyHistogram } from './latency-histogram.js';
import { CONNECT_TIMEOUT_MS } from './load-loop.js';
import { sumCounts, type FromThread, type LoadCounts, type LoadThreadPlan, type LoadThreadResult, type ToThread } from './load-protocol.js';
import type { BenchTarget } from './bench-target.js';

/** Longest run the generator accepts (and the bound of a --requests run). */
export const MAX_RUN_MS = 24 * 3600 * 1000;
/** The run is stopped this long after its planned end, whatever happens (drain, timeouts, a stuck server). */
export const HARD_CAP_GRACE_MS = 30_000;
/** A thread told to stop that has not reported after this long is terminated. */
const STOP_REPORT_TIMEOUT_MS = 5000;
/** The live line is refreshed this often ... */
const PROGRESS_INTERVAL_MS = 1000;
/** ... from thread reports this frequent, so it lags the load by little. */
const THREAD_REPORT_INTERVAL_MS = 250;

export interface LoadPlan {
  target: BenchTarget;
  connections: number;
  threads: number;
  /** Exactly one of durationMs and requests is set. */
  durationMs: number | null;
  requests: number | null;
  /** Requests per second over all connections (open loop); 0 = closed loop. */
  ratePerSec: number;
  body: BodySpec;
  requestTimeoutMs: number;
  /** Keep the acknowledged ids for an audit. */
  trackAcks: boolean;
}

export interface ProgressSnapshot {
  elapsedMs: number;
  responses: number;
  /** Responses per second over the last interval. */
  recentPerSec: number;
  /** p99 of the last interval, µs. */
  recentP99Us: number;
  nonSuccess: number;
  socketErrors: number;
}

export interface LoadResult extends LoadCounts {
  runId: string;
  target: BenchTarget;
  plan: Omit<LoadPlan, 'target'>;
  threads: number;
  elapsedMs: number;
  latency: LatencyHistogram;
  /** Per thread: the acknowledged events (null unless trackAcks), and one past the highest sequence number sent. */
  acknowledged: { bitmap: EventBitmap | null; seqLimit: number }[];
  /** Why the run ended before its plan, if it did. */
  stopped: 'hard-cap' | 'interrupted' | 'target-failed' | 'ids-used-up' | null;
  /** With stopped 'target-failed': the HOPPER_BENCH_TARGET_FAILED message. */
  failure: string | null;
  lastError: string | null;
}

export interface RunHooks {
  onProgress?: (p: ProgressSnapshot) => void;
  /** Aborting stops the load at once; what was measured so far is still reported. */
  signal?: AbortSignal;
  /** Grace after the planned end before the hard cap stops the run: HARD_CAP_GRACE_MS unless a test shortens it. */
  hardCapGraceMs?: number;
}

/** Fails fast, with the reason, when nothing listens at the target. */
export async function probeTarget(target: BenchTarget): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port });
    const timeout = Object.assign(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' });
    const timer = setTimeout(() => socket.destroy(timeout), CONNECT_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new HopperError('HOPPER_BENCH_UNREACHABLE', `Cannot connect to ${target.href}: ${err.code ?? err.message}. Check the URL and that the server is running.`, {
          cause: err,
        }),
      );
    });
  });
}

function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/** `total` split in proportion to `weights` (largest remainders first), summing to `total` exactly. */
export function splitByWeight(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    out[i]!++;
  }
  return out;
}

/** A load thread; run from the TypeScript sources (tests, under tsx), the thread registers tsx before loading its entry. */
function startWorker(threadPlan: LoadThreadPlan): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./load-worker.js', import.meta.url), { workerData: threadPlan });
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./load-worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: threadPlan });
}

/** Events one load thread may number (LoadThreadPlan.maxEvents): what its ids, and with an audit its bitmap, can hold. */
export function maxEventsPerThread(trackAcks: boolean): number {
  return trackAcks ? Math.min(MAX_BITMAP_EVENTS, MAX_EVENT_SEQ + 1) : MAX_EVENT_SEQ + 1;
}

export function newRunId(): string {
  return randomBytes(4).toString('hex');
}

export async function runLoad(plan: LoadPlan, hooks: RunHooks = {}): Promise<LoadResult> {
  await probeTarget(plan.target);
  const runId = newRunId();
  const threads = Math.max(1, Math.min(plan.threads, plan.connections));
  const conns = split(plan.connections, threads);
  // In proportion to the connections, as the rate is: each thread then needs the same time for its share.
  const requests = plan.requests === null ? null : splitByWeight(plan.requests, conns);
  const workers: Worker[] = [];
  const results: (LoadThreadResult | null)[] = new Array<LoadThreadResult | null>(threads).fill(null);
  const latest = Array.from({ length: threads }, () => ({ responses: 0, errors: 0, nonSuccess: 0 }));
  const recent = new LatencyHistogram();
  let fatal: string | null = null;
  const failedThreads = new Set<number>();
  let stopped: LoadResult['stopped'] = null;
  const startedAt = Date.now();

  const outcome = new Promise<void>((resolve, reject) => {
    let pending = threads;
    const stopAll = (): void => {
      for (const w of workers) w.postMessage({ type: 'stop' } satisfies ToThread);
      const kill = setTimeout(() => {
        for (const w of workers) void w.terminate();
        reject(new HopperError('HOPPER_INTERNAL', 'A load thread did not stop when told to.'));
      }, STOP_REPORT_TIMEOUT_MS);
      kill.unref();
    };
    const hardCap = setTimeout(
      () => {
        stopped = 'hard-cap';
        stopAll();
      },
      (plan.durationMs ?? MAX_RUN_MS) + (hooks.hardCapGraceMs ?? HARD_CAP_GRACE_MS),
    );
    const onAbort = (): void => {
      stopped ??= 'interrupted';
      stopAll();
    };
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    let lastPrint = { at: Date.now(), responses: 0 };
    const progressTimer = hooks.onProgress
      ? setInterval(() => {
          const now = Date.now();
          const responses = latest.reduce((s, l) => s + l.responses, 0);
          const snap: ProgressSnapshot = {
            elapsedMs: now - startedAt,
            responses,
            recentPerSec: ((responses - lastPrint.responses) * 1000) / Math.max(1, now - lastPrint.at),
            recentP99Us: recent.valueAtPercentile(99),
            nonSuccess: latest.reduce((s, l) => s + l.nonSuccess, 0),
            socketErrors: latest.reduce((s, l) => s + l.errors, 0),
          };
          lastPrint = { at: now, responses };
          recent.reset();
          hooks.onProgress!(snap);
        }, PROGRESS_INTERVAL_MS)
      : null;
    const cleanup = (): void => {
      clearTimeout(hardCap);
      if (progressTimer) clearInterval(progressTimer);
      hooks.signal?.removeEventListener('abort', onAbort);
    };
    for (let t = 0; t < threads; t++) {
      const threadPlan: LoadThreadPlan = {
        thread: t,
        host: plan.target.host,
        port: plan.target.port,
        target: { path: plan.target.path, host: plan.target.hostHeader },
        body: plan.body,
        runId,
        connections: conns[t]!,
        ratePerSec: (plan.ratePerSec * conns[t]!) / plan.connections,
        ratePhase: conns.slice(0, t).reduce((a, b) => a + b, 0) / plan.connections,
        runSlotMs: plan.ratePerSec > 0 ? 1000 / plan.ratePerSec : 0,
        maxRequests: requests ? requests[t]! : null,
        durationMs: plan.durationMs,
        requestTimeoutMs: plan.requestTimeoutMs,
        trackAcks: plan.trackAcks,
        maxEvents: maxEventsPerThread(plan.trackAcks),
        progressIntervalMs: THREAD_REPORT_INTERVAL_MS,
      };
      const w = startWorker(threadPlan);
      workers.push(w);
      w.on('message', (msg: FromThread) => {
        if (msg.type === 'progress') {
          latest[msg.thread] = { responses: msg.responses, errors: msg.errors, nonSuccess: msg.nonSuccess };
          recent.add(LatencyHistogram.fromTransfer(msg.interval));
        } else if (msg.type === 'fatal') {
          // A thread gives up on what it alone saw: its connections refused (a connection limit, nginx limit_conn)
          // while the other threads' were answered. That ended the whole run as "no response arrived", its report
          // lost; the target has failed only when every thread gave up.
          failedThreads.add(msg.thread);
          if (fatal === null && failedThreads.size === threads) {
            fatal = msg.message;
            stopAll();
          }
        } else if (msg.type === 'done') {
          results[msg.result.thread] = msg.result;
          if (--pending === 0) {
            cleanup();
            resolve();
          }
        }
      });
      w.on('error', (err) => {
        cleanup();
        for (const other of workers) void other.terminate();
        reject(new HopperError('HOPPER_INTERNAL', `A load thread failed: ${err.message}`, { cause: err }));
      });
      w.on('exit', (code) => {
        // Its last message is delivered before 'exit'; look again after the queue drains all the same.
        setImmediate(() => {
          if (results[t] !== null) return;
          cleanup();
          reject(new HopperError('HOPPER_INTERNAL', `A load thread exited (code ${code}) before reporting.`));
        });
      });
    }
    // Aborted while the target was probed: no 'abort' event is coming.
    if (hooks.signal?.aborted) onAbort();
  });
  await outcome;
  const result = merge(runId, plan, threads, results as LoadThreadResult[], stopped);
  if (fatal === null) return result;
  const failure = `${plan.target.href}: ${fatal}.`;
  // A target that answered, then died, is where an audit looks for loss: its acknowledged events are handed on.
  if (plan.trackAcks && result.eventsAcknowledged > 0) return { ...result, stopped: 'target-failed', failure };
  throw new HopperError('HOPPER_BENCH_TARGET_FAILED', failure);
}

function merge(runId: string, plan: LoadPlan, threads: number, results: LoadThreadResult[], stopped: LoadResult['stopped']): LoadResult {
  const latency = new LatencyHistogram();
  for (const r of results) latency.add(LatencyHistogram.fromTransfer(r.latency));
  const { target, ...rest } = plan;
  return {
    runId,
    target,
    plan: rest,
    threads,
    elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
    ...sumCounts(results),
    latency,
    acknowledged: results.map((r) => ({
      bitmap: r.acknowledged ? new EventBitmap(r.acknowledged, r.eventSeqLimit) : null,
      seqLimit: r.eventSeqLimit,
    })),
    stopped: stopped ?? (results.some((r) => r.idsUsedUp) ? 'ids-used-up' : null),
    failure: null,
    lastError: results.find((r) => r.lastError !== null)?.lastError ?? null,
  };
}
