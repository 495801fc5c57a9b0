// What the status page and /metrics derive from log.stats(): lag per consumer
// group and stream, and dead letters per stream. A dead letter of stream S is a
// record of S.dlq; it is pending until the `dlq-handled` group's position on its
// partition passes it (see src/work/dead-letter-queue.ts). Like `hopper lag`,
// the groups of the pipelines the config runs are listed before their first
// commit too.

import type { HopperConfig } from '../config/schema.js';
import type { LogStats } from '../log/types.js';
import { DEAD_LETTER_SUFFIX, DLQ_HANDLED_GROUP } from '../work/dead-letter.js';
import { pipelinesOfStreams } from '../work/pipeline-config.js';

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

/** A group the config's pipelines read a stream as, whether or not it committed yet. */
export interface DeclaredGroup {
  stream: string;
  group: string;
}

/**
 * The groups of the pipelines `hopper work` (or `serve --with-workers`) runs for this config on the streams
 * of `stats`, as `hopper lag` lists them: the configured ones, or `files` on every stream when none are.
 * None when the pipelines are not valid (no worker can run them; the status must still answer).
 */
export function declaredGroups(config: HopperConfig, stats: LogStats): DeclaredGroup[] {
  try {
    return pipelinesOfStreams(config, stats.streams.map((s) => s.stream)).map((p) => ({ stream: p.stream, group: p.group }));
  } catch {
    return [];
  }
}

/**
 * Lag of every consumer group on every stream, the dead-letter bookkeeping group excluded. A `declared`
 * group with no position on a partition (its workers never committed there, a database down from the
 * start, say) is listed there from the first stored record, the whole stored partition as its lag.
 */
export function groupLags(stats: LogStats, declared: readonly DeclaredGroup[] = []): GroupLag[] {
  const byKey = new Map<string, GroupLag>();
  const add = (stream: string, group: string, partition: number, position: number, lag: number): void => {
    const key = `${stream}\u0000${group}`;
    let entry = byKey.get(key);
    if (!entry) byKey.set(key, (entry = { stream, group, lag: 0, partitions: [] }));
    entry.lag += lag;
    entry.partitions.push({ partition, position, lag });
  };
  for (const s of stats.streams) {
    const groupsOfStream = declared.filter((d) => d.stream === s.stream);
    for (const p of s.partitions) {
      for (const g of p.groups) {
        if (g.group === DLQ_HANDLED_GROUP && s.stream.endsWith(DEAD_LETTER_SUFFIX)) continue;
        add(s.stream, g.group, p.partition, g.position, g.lag);
      }
      for (const d of groupsOfStream) {
        if (p.groups.some((g) => g.group === d.group)) continue;
        // A position that cannot be read is a commit (listed apart by unreadablePositions), not "none yet".
        if (((p as { unreadableGroups?: { group: string }[] }).unreadableGroups ?? []).some((u) => u.group === d.group)) continue;
        add(s.stream, d.group, p.partition, p.startOffset, Math.max(0, p.endOffset - p.startOffset));
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
