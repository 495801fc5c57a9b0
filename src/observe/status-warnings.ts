// Plain-language warnings about a running server, derived from its status alone
// (a pure function: `hopper status` and the dashboard show the same list, and a
// test can feed it any history). Each warning says what is wrong and what to do.

import type { AdminStatus } from './status-api.js';
import { formatBytes, formatCount, formatLatency } from './format-units.js';

/** A group's lag must have grown over this long (sampled about once a minute) to warn. */
export const LAG_GROWTH_WINDOW_MS = 5 * 60_000;
/**
 * Points of the lag history further apart than this leave a minute mark unseen (a sample was missed, or the
 * group had no lag figure then): growth "at every minute mark" cannot be told across such a gap.
 */
export const LAG_GROWTH_MAX_STEP_MS = 90_000;
/** Warn when free disk is below this multiple of ingest.minFreeDiskBytes (/readyz fails at 1x; writes that arrive are still taken)... */
export const DISK_WARN_FREE_FACTOR = 2;
/** ...or when the disk is at least this full. */
export const DISK_WARN_USED_RATIO = 0.95;
/** Warn when a process's event loop is delayed this much at p99 (it answers everything late). */
export const EVENT_LOOP_WARN_SECONDS = 0.1;

/**
 * The lag's growth over the last LAG_GROWTH_WINDOW_MS when it grew at every minute mark in it: each point
 * higher than the one before (a flat minute is not growth), with no minute mark missing; null otherwise (or
 * when the history is shorter than the window).
 */
export function lagGrowth(points: readonly (readonly [number, number])[]): { from: number; to: number } | null {
  if (points.length < 2) return null;
  const last = points[points.length - 1]!;
  let start = -1;
  for (let i = points.length - 2; i >= 0; i--) {
    if (last[0] - points[i]![0] >= LAG_GROWTH_WINDOW_MS) {
      start = i;
      break;
    }
  }
  if (start < 0) return null;
  for (let i = start + 1; i < points.length; i++) {
    const [t, lag] = points[i]!;
    const [prevT, prevLag] = points[i - 1]!;
    if (lag <= prevLag || t - prevT > LAG_GROWTH_MAX_STEP_MS) return null;
  }
  return { from: points[start]![1], to: last[1] };
}

export function statusWarnings(s: AdminStatus): string[] {
  const out: string[] = [];

  for (const h of s.lagHistory) {
    const g = lagGrowth(h.points);
    if (g) {
      out.push(
        `lag of group ${h.group} on stream ${h.stream} has grown for ${LAG_GROWTH_WINDOW_MS / 60_000} minutes ` +
          `(${formatCount(g.from)} -> ${formatCount(g.to)} records): its workers are not keeping up; add concurrency or workers, or check its sink.`,
      );
    }
  }

  if (s.disk && s.disk.totalBytes > 0) {
    const { freeBytes, totalBytes, minFreeBytes, path } = s.disk;
    if (freeBytes < minFreeBytes * DISK_WARN_FREE_FACTOR || freeBytes < totalBytes * (1 - DISK_WARN_USED_RATIO)) {
      out.push(
        `disk almost full: ${formatBytes(freeBytes)} free of ${formatBytes(totalBytes)} at ${path}; ` +
          `/readyz fails below ${formatBytes(minFreeBytes)} (ingest.minFreeDiskBytes), so load balancers that check it stop sending writes here: ` +
          'free space or lower retention.',
      );
    }
  }

  const durableStreams = s.ack.default === 'durable' || Object.values(s.ack.streams).includes('durable');
  if (!s.durableIsFsync && durableStreams) {
    out.push(
      `ack "durable" does not fsync here: the ${s.backend} backend cannot with its current settings, ` +
        'so a power cut can lose acknowledged writes; see the backend notes in the README.',
    );
  }

  // A server too old to report them has no such field.
  for (const u of s.unreadablePositions ?? []) {
    out.push(
      `the position of group ${u.group} on stream ${u.stream} partition ${u.partition} cannot be read: its workers skip that partition, and its lag is not shown. ` +
        `Commit a new one: hopper replay --stream ${u.stream} --group ${u.group} --partition ${u.partition} --from OFFSET|ISO-TIME.`,
    );
  }

  for (const d of s.deadLetters.streams) {
    if (d.pending > 0) {
      out.push(`${formatCount(d.pending)} dead letter${d.pending === 1 ? '' : 's'} pending for stream ${d.stream}: see hopper dlq list --stream ${d.stream}.`);
    }
  }

  if (s.rates && s.rates.backpressurePerSecond > 0) {
    out.push(
      `writes refused for backpressure in the last ${s.rates.windowSeconds} s (${formatCount(s.rates.backpressurePerSecond)}/s): ` +
        'the log is behind; clients retry after Retry-After.',
    );
  }

  const err = s.totals?.lastAppendError;
  if (err) out.push(`the log refused the last write: ${err.code}: ${err.message}`);

  if (s.ingestProcesses && s.ingestProcesses.reporting < s.ingestProcesses.expected) {
    out.push(`only ${s.ingestProcesses.reporting} of ${s.ingestProcesses.expected} ingest processes report: the others are starting, restarting or stuck.`);
  }

  for (const p of s.processes) {
    if (p.eventLoopDelayP99Seconds >= EVENT_LOOP_WARN_SECONDS) {
      out.push(`process ${p.process} (pid ${p.pid}) is overloaded: its event loop is ${formatLatency(p.eventLoopDelayP99Seconds)} late (p99).`);
    }
  }

  if (s.logStats.error) out.push(`log figures are stale: reading the log stats failed: ${s.logStats.error.code}: ${s.logStats.error.message}`);
  return out;
}
