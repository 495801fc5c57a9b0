// The damaged ranges of a partition's sealed segments that readers skipped, kept in
// {partition}/quarantine.json so that every process sees them: a range a worker found
// shows in `hopper log stats`, in the admin server's metrics and after a restart.
// A reader that finds one merges it into the file (atomic replace, keyed by segment and position).

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './segment-files.js';

export const QUARANTINE_FILE = 'quarantine.json';

export interface QuarantinedRange {
  /** Base offset of the segment holding the damage. */
  segment: number;
  /** File position of the first bad frame. */
  position: number;
  /** Offsets skipped: [fromOffset, toOffset). */
  fromOffset: number;
  toOffset: number;
  bytes: number;
  reason: string;
  foundAt: string;
}

export function rangeKey(r: Pick<QuarantinedRange, 'segment' | 'position'>): string {
  return `${r.segment}:${r.position}`;
}

function isRange(v: unknown): v is QuarantinedRange {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return ['segment', 'position', 'fromOffset', 'toOffset', 'bytes'].every((k) => Number.isSafeInteger(r[k])) && typeof r.reason === 'string';
}

/** The ranges recorded for the partition in `dir`; none when the file is absent or unreadable (it is a report, not data). */
export async function readQuarantine(dir: string): Promise<QuarantinedRange[]> {
  let text: string;
  try {
    text = await fsp.readFile(join(dir, QUARANTINE_FILE), 'utf8');
  } catch {
    return [];
  }
  try {
    const parsed = JSON.parse(text) as { ranges?: unknown };
    return Array.isArray(parsed.ranges) ? parsed.ranges.filter(isRange) : [];
  } catch {
    return [];
  }
}

/** The tail of this process's updates per partition directory: two reads finding ranges at once must not lose one. */
const updating = new Map<string, Promise<void>>();

/**
 * Adds `ranges` to the file, keeping the ones already there (another process may have found others; two
 * processes updating at the same moment can lose one's ranges: a report, found again by the next process reading there).
 */
export function recordQuarantine(dir: string, ranges: readonly QuarantinedRange[]): Promise<void> {
  return update(dir, () => mergeInto(dir, ranges));
}

/**
 * Drops the ranges of segments below `startBase`, the partition's first stored segment (retention deletes from
 * the front): the file would otherwise keep every damaged segment ever found, for good.
 */
export function forgetQuarantine(dir: string, startBase: number): Promise<void> {
  return update(dir, async () => {
    const ranges = await readQuarantine(dir);
    const kept = ranges.filter((r) => r.segment >= startBase);
    if (kept.length === ranges.length) return;
    await writeFileAtomic(join(dir, QUARANTINE_FILE), JSON.stringify({ ranges: kept }, null, 1) + '\n', dir);
  });
}

function update(dir: string, change: () => Promise<void>): Promise<void> {
  const next = (updating.get(dir) ?? Promise.resolve()).then(change);
  const tail = next.catch(() => undefined);
  updating.set(dir, tail);
  void tail.then(() => {
    if (updating.get(dir) === tail) updating.delete(dir);
  });
  return next;
}

async function mergeInto(dir: string, ranges: readonly QuarantinedRange[]): Promise<void> {
  const byKey = new Map((await readQuarantine(dir)).map((r) => [rangeKey(r), r]));
  let added = false;
  for (const r of ranges) {
    if (byKey.has(rangeKey(r))) continue;
    byKey.set(rangeKey(r), r);
    added = true;
  }
  if (!added) return;
  const all = [...byKey.values()].sort((a, b) => a.segment - b.segment || a.position - b.position);
  await writeFileAtomic(join(dir, QUARANTINE_FILE), JSON.stringify({ ranges: all }, null, 1) + '\n', dir);
}
