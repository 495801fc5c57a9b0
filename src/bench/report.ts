// Presents a run: the text report for people (one figure per line, the audit
// verdict last), the one JSON object for scripts (--json), and the per-figure
// comparison of two targets (--vs).

import type { AuditResult } from './audit.js';
import { auditVerdict } from './audit.js';
import type { LatencySummaryUs } from './latency-histogram.js';
import { maxEventsPerThread, type LoadResult, type ProgressSnapshot } from './load-run.js';

/** Missing (or duplicated) ids named in the text report before the verdict. */
export const TEXT_LISTED_IDS_MAX = 20;

export interface Figures {
  requestsPerSec: number;
  eventsPerSec: number;
  latencyUs: LatencySummaryUs;
  non2xx: number;
  socketErrors: number;
  bytesSentPerSec: number;
}

export function figures(r: LoadResult): Figures {
  const secs = r.elapsedMs / 1000;
  const per = (n: number): number => (secs > 0 ? n / secs : 0);
  const non2xx = Object.entries(r.statuses).reduce((s, [k, v]) => (k.startsWith('2') ? s : s + v), 0);
  const e = r.socketErrors;
  return {
    requestsPerSec: per(r.responses),
    eventsPerSec: per(r.eventsAcknowledged),
    latencyUs: r.latency.summary(),
    non2xx,
    socketErrors: e.connect + e.closed + e.timeout + e.protocol,
    bytesSentPerSec: per(r.bytesSent),
  };
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const rate = (n: number): string => n.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

export function formatLatency(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(2)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function describePlan(r: LoadResult): string {
  const p = r.plan;
  // --rate takes fractions (0.5): rounded to a whole number, the plan line would name another rate, or 0.
  const mode = p.ratePerSec > 0 ? `open loop at ${Number.isInteger(p.ratePerSec) ? int(p.ratePerSec) : rate(p.ratePerSec)} req/s` : 'closed loop';
  const bound = p.durationMs !== null ? `${(p.durationMs / 1000).toFixed(1)} s` : `${int(p.requests ?? 0)} requests`;
  const event = p.body.templateFields !== null ? '--body-file' : `${p.body.eventBytes} B`;
  const body = `${p.body.batch > 1 ? `${p.body.batch} events of ` : ''}${event}${p.body.gzip ? ', gzip' : ''}`;
  return `${p.connections} connections, ${r.threads} thread${r.threads === 1 ? '' : 's'}, ${mode}, ${bound}, ${body}`;
}

function latencyLine(l: LatencySummaryUs): string {
  return `p50 ${formatLatency(l.p50)}  p90 ${formatLatency(l.p90)}  p99 ${formatLatency(l.p99)}  p99.9 ${formatLatency(l['p99.9'])}  max ${formatLatency(l.max)}`;
}

/** Lines of the report of one target (without the audit). */
export function loadLines(r: LoadResult): string[] {
  const f = figures(r);
  const e = r.socketErrors;
  const statuses = Object.entries(r.statuses)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([k, v]) => `${k}: ${int(v)}`)
    .join(', ');
  const lines = [
    `hopper bench: ${r.target.href}${r.target.path !== new URL(r.target.href).pathname ? ` (POST ${r.target.path})` : ''}`,
    `  ${describePlan(r)}, run ${r.runId}`,
    `  requests       ${int(r.responses).padStart(12)}   ${rate(f.requestsPerSec)} req/s over ${(r.elapsedMs / 1000).toFixed(2)} s`,
    `  events         ${int(r.eventsAcknowledged).padStart(12)}   ${rate(f.eventsPerSec)} events/s acknowledged (2xx)`,
    `  latency        ${latencyLine(f.latencyUs)}  (mean ${formatLatency(f.latencyUs.mean)}${r.plan.ratePerSec > 0 ? ', from the scheduled send time' : ''})`,
    `  responses      ${statuses === '' ? 'none' : statuses}`,
    `  socket errors  connect ${int(e.connect)}, closed ${int(e.closed)}, timeout ${int(e.timeout)}, protocol ${int(e.protocol)}`,
    `  bytes sent     ${formatBytes(r.bytesSent)} (${formatBytes(f.bytesSentPerSec)}/s)`,
  ];
  if (r.behindSchedule > 0) lines.push(`  behind schedule ${int(r.behindSchedule)} requests were due but never sent (too few connections for --rate, or a slow server)`);
  if (r.stopped === 'hard-cap') lines.push(`  stopped by the hard cap (planned length + 30 s) with ${int(r.inFlightAtStop)} requests unanswered`);
  if (r.stopped === 'interrupted') lines.push(`  interrupted, ${int(r.inFlightAtStop)} requests unanswered`);
  if (r.stopped === 'ids-used-up') lines.push(`  stopped early: a load thread used up its ${int(maxEventsPerThread(r.plan.trackAcks))} event ids: use more --threads, a smaller --batch or a shorter --duration`);
  if (r.stopped === 'target-failed') lines.push(`  stopped: ${r.failure ?? 'the target failed'}`);
  if (f.socketErrors > 0 && r.lastError) lines.push(`  last socket error: ${r.lastError}`);
  return lines;
}

/** Lines of the audit; the verdict is the last one. */
export function auditLines(a: AuditResult): string[] {
  const lines: string[] = [];
  if (!a.streamExists) lines.push(`audit: stream ${a.stream} does not exist in ${a.source}`);
  else lines.push(`audit: read ${int(a.recordsScanned)} records of stream ${a.stream} from ${a.source}`);
  if (a.undecodable > 0) lines.push(`audit: ${a.undecodable} stored bodies could not be decompressed`);
  if (a.unexpected > 0) lines.push(`audit: ${a.unexpected} stored ids of this run were never sent`);
  if (a.corrupted > 0) lines.push(`audit: ${a.corrupted} stored events of this run differ from what was sent (corrupted)`);
  for (const id of a.corruptedIds.slice(0, TEXT_LISTED_IDS_MAX)) lines.push(`audit: corrupted ${id}`);
  if (a.corrupted > TEXT_LISTED_IDS_MAX) lines.push(`audit: ... ${a.corrupted - TEXT_LISTED_IDS_MAX} more corrupted (all in --json, up to 1000)`);
  if (a.storedUnacknowledged > 0) lines.push(`audit: ${a.storedUnacknowledged} ids stored without a 2xx answer (failed or timed-out requests the server kept; not loss)`);
  for (const id of a.duplicatedIds.slice(0, TEXT_LISTED_IDS_MAX)) lines.push(`audit: duplicated ${id}`);
  if (a.duplicated > TEXT_LISTED_IDS_MAX) lines.push(`audit: ... ${a.duplicated - TEXT_LISTED_IDS_MAX} more duplicates (all in --json, up to 1000)`);
  for (const id of a.missingIds.slice(0, TEXT_LISTED_IDS_MAX)) lines.push(`audit: missing ${id}`);
  if (a.missing > TEXT_LISTED_IDS_MAX) lines.push(`audit: ... ${a.missing - TEXT_LISTED_IDS_MAX} more missing (all in --json, up to 1000)`);
  lines.push(auditVerdict(a));
  return lines;
}

export function resultJson(r: LoadResult, a: AuditResult | null): Record<string, unknown> {
  const f = figures(r);
  const p = r.plan;
  return {
    target: r.target.href,
    path: r.target.path,
    runId: r.runId,
    mode: p.ratePerSec > 0 ? 'open' : 'closed',
    connections: p.connections,
    threads: r.threads,
    durationMs: p.durationMs,
    requestsPlanned: p.requests,
    ratePerSec: p.ratePerSec,
    batch: p.body.batch,
    eventBytes: p.body.templateFields === null ? p.body.eventBytes : null,
    gzip: p.body.gzip,
    elapsedMs: r.elapsedMs,
    requests: { sent: r.requestsSent, completed: r.responses, perSec: f.requestsPerSec },
    events: { sent: r.eventsSent, acknowledged: r.eventsAcknowledged, perSec: f.eventsPerSec },
    latencyUs: f.latencyUs,
    statuses: r.statuses,
    non2xx: f.non2xx,
    socketErrors: r.socketErrors,
    bytesSent: r.bytesSent,
    behindSchedule: r.behindSchedule,
    stopped: r.stopped,
    lastError: r.lastError,
    ...(r.failure !== null ? { error: { code: 'HOPPER_BENCH_TARGET_FAILED', message: r.failure } } : {}),
    ...(a ? { audit: a } : {}),
  };
}

/** Figure name, how to read it from Figures, and how to print it. */
const COMPARED: [string, (f: Figures) => number, (n: number) => string][] = [
  ['requests/s', (f) => f.requestsPerSec, rate],
  ['events/s', (f) => f.eventsPerSec, rate],
  ['latency p50', (f) => f.latencyUs.p50, formatLatency],
  ['latency p90', (f) => f.latencyUs.p90, formatLatency],
  ['latency p99', (f) => f.latencyUs.p99, formatLatency],
  ['latency p99.9', (f) => f.latencyUs['p99.9'], formatLatency],
  ['latency max', (f) => f.latencyUs.max, formatLatency],
  ['non-2xx', (f) => f.non2xx, int],
  ['socket errors', (f) => f.socketErrors, int],
  ['bytes sent/s', (f) => f.bytesSentPerSec, formatBytes],
];

const ratio = (b: number, a: number): number | null => (a === 0 ? (b === 0 ? 1 : null) : b / a);

export function comparisonLines(a: LoadResult, b: LoadResult, rounds: number): string[] {
  const fa = figures(a);
  const fb = figures(b);
  const rows = COMPARED.map(([name, get, fmt]) => {
    const r = ratio(get(fb), get(fa));
    return [name, fmt(get(fa)), fmt(get(fb)), r === null ? '-' : r.toFixed(3)];
  });
  const w = [14, Math.max(1, ...rows.map((r) => r[1]!.length)) + 2, Math.max(1, ...rows.map((r) => r[2]!.length)) + 2, 7];
  const line = (cells: string[]): string =>
    `  ${cells[0]!.padEnd(w[0]!)}${cells[1]!.padStart(w[1]!)}${cells[2]!.padStart(w[2]!)}${cells[3]!.padStart(w[3]! + 2)}`;
  return [
    `hopper bench --vs: ${rounds} rounds each, alternating A, B, A, B ...`,
    `  A = ${a.target.href}`,
    `  B = ${b.target.href}`,
    `  ${describePlan(a)}`,
    line(['', 'A', 'B', 'B/A']),
    ...rows.map(line),
  ];
}

export function comparisonJson(a: LoadResult, b: LoadResult, rounds: number): Record<string, unknown> {
  const fa = figures(a);
  const fb = figures(b);
  const ratios: Record<string, number | null> = {};
  for (const [name, get] of COMPARED) ratios[name] = ratio(get(fb), get(fa));
  return { rounds, a: resultJson(a, null), b: resultJson(b, null), ratios };
}

/** The live line rewrites itself with \r: only a person at a terminal wants it, never a pipe, a file or --json. */
export function showsProgress(isTTY: boolean | undefined, json: boolean): boolean {
  return isTTY === true && !json;
}

/** The live line shown while the load runs: rate and p99 of the last second, counts since the start. */
export function progressLine(p: ProgressSnapshot, plannedMs: number | null): string {
  const at = `${(p.elapsedMs / 1000).toFixed(0)}s${plannedMs !== null ? `/${(plannedMs / 1000).toFixed(0)}s` : ''}`;
  return `  ${at}  ${rate(p.recentPerSec)} req/s  p99 ${formatLatency(p.recentP99Us)}  responses ${int(p.responses)}  non-2xx ${int(p.nonSuccess)}  socket errors ${int(p.socketErrors)}`;
}
