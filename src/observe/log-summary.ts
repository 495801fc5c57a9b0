// What the status page and /metrics derive from log.stats(): lag per consumer
// group and stream, and dead letters per stream. A dead letter of stream S is a
// record of S.dlq; it is pending until the `dlq-handled` group's position on its
// partition passes it (see src/work/dead-letter-queue.ts).

import type { LogStats } from '../log/types.js';
import { DEAD_LETTER_SUFFIX, DLQ_HANDLED_GROUP } from '../work/dead-letter.js';

export interface GroupLag {
  stream: string;
  group: string;
  /** Records behind, summed over partitions. */
  lag: number;
  partitions: { partition: number; position: number; lag: number }[];
}

export interface DeadLetterCount {
  /** The original stream (S for S.dlq). */
  stream: string;
  dlqStream: string;
  /** Records still in S.dlq (after retention). */
  stored: number;
  /** Not yet requeued or dropped. */
  pending: number;
}

/** Lag of every consumer group on every stream, the dead-letter bookkeeping group excluded. */
export function groupLags(stats: LogStats): GroupLag[] {
  const byKey = new Map<string, GroupLag>();
  for (const s of stats.streams) {
    for (const p of s.partitions) {
      for (const g of p.groups) {
        if (g.group === DLQ_HANDLED_GROUP && s.stream.endsWith(DEAD_LETTER_SUFFIX)) continue;
        const key = `${s.stream}\u0000${g.group}`;
        let entry = byKey.get(key);
        if (!entry) byKey.set(key, (entry = { stream: s.stream, group: g.group, lag: 0, partitions: [] }));
        entry.lag += g.lag;
        entry.partitions.push({ partition: p.partition, position: g.position, lag: g.lag });
      }
    }
  }
  return [...byKey.values()].sort((a, b) => a.stream.localeCompare(b.stream) || a.group.localeCompare(b.group));
}

/** A group position that cannot be read: the group's workers skip that partition, and its lag is unknown. */
export interface UnreadablePosition {
  stream: string;
  group: string;
  partition: number;
}

/** The positions the embedded log lists apart as unreadable (left out of groupLags); none on other backends. */
export function unreadablePositions(stats: LogStats): UnreadablePosition[] {
  const out: UnreadablePosition[] = [];
  for (const s of stats.streams) {
    for (const p of s.partitions) {
      for (const u of (p as { unreadableGroups?: { group: string }[] }).unreadableGroups ?? []) out.push({ stream: s.stream, group: u.group, partition: p.partition });
    }
  }
  return out;
}

export function deadLetterCounts(stats: LogStats): DeadLetterCount[] {
  const out: DeadLetterCount[] = [];
  for (const s of stats.streams) {
    if (!s.stream.endsWith(DEAD_LETTER_SUFFIX)) continue;
    let stored = 0;
    let pending = 0;
    for (const p of s.partitions) {
      stored += Math.max(0, p.endOffset - p.startOffset);
      const handled = p.groups.find((g) => g.group === DLQ_HANDLED_GROUP)?.position ?? p.startOffset;
      pending += Math.max(0, p.endOffset - Math.max(handled, p.startOffset));
    }
    out.push({ stream: s.stream.slice(0, -DEAD_LETTER_SUFFIX.length), dlqStream: s.stream, stored, pending });
  }
  return out.sort((a, b) => a.stream.localeCompare(b.stream));
}
