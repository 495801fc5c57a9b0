// `hopper lag`: how many records each consumer group still has to process, per
// stream and partition (public interface): the groups that committed, plus the
// groups of the pipelines `hopper work` runs for this config, even before their
// first commit. The dlq-handled group's lag on a .dlq stream is the number of
// dead letters not yet requeued or dropped.

import type { Command } from '../command.js';
import { CONFIG_FLAGS } from '../command.js';
import { HopperError } from '../../errors.js';
import { openExistingLog } from '../cli-log.js';
import { pipelinesOfStreams } from '../../work/pipeline-config.js';
import { DLQ_HANDLED_GROUP, isDeadLetterStream } from '../../work/dead-letter.js';
import { unknownStream } from '../select-partitions.js';
import type { EmbeddedPartitionStats } from '../../log/embedded/embedded-log.js';

interface LagRow {
  stream: string;
  group: string;
  partition: number;
  /** null (and `unreadable`) when the group's position file on this partition cannot be read. */
  position: number | null;
  end: number;
  lag: number | null;
  /** False for a configured group that has not committed on this partition: it starts at the first stored record. */
  committed: boolean;
  /** Only when true: the group committed here, but its position file cannot be read (its workers skip the partition). */
  unreadable?: true;
}

export const lagCommand: Command = {
  name: 'lag',
  stopsWhenStdoutCloses: true,
  summary: 'Print records behind per consumer group, stream and partition.',
  usage: 'lag [--stream S] [--group G] [--json] [--data-dir DIR]',
  flags: {
    ...CONFIG_FLAGS,
    stream: { type: 'string', description: 'only this stream', valueName: 'S' },
    group: { type: 'string', description: 'only this group', valueName: 'G' },
    json: { type: 'boolean', description: 'one JSON object per line instead of a table' },
  },
  details:
    'Columns: stream, group, partition, position (next offset the group processes), end (next offset written), lag.\n' +
    'Groups of the configured pipelines (or of the default files pipeline), and dlq-handled on each .dlq stream\n' +
    '(its lag: the dead letters not yet requeued or dropped), are listed before their first commit,\n' +
    'marked "(no commit yet)" (JSON: "committed": false), with the whole stored partition as their lag;\n' +
    'so is a group on the partitions of a stream where it has not committed while it has on others.\n' +
    'A position that cannot be read shows as ? "(position unreadable)" (JSON: null, "unreadable": true), its error on stderr.',
  async run(ctx) {
    const onlyStream = ctx.values.stream as string | undefined;
    const onlyGroup = ctx.values.group as string | undefined;
    const config = ctx.loadConfig();
    const log = await openExistingLog(config, ctx.stderr);
    const rows: LagRow[] = [];
    /** Every group found on the streams looked at, for the error of a --group that none has. */
    const groups = new Set<string>();
    try {
      const streams = (await log.stats()).streams;
      if (onlyStream !== undefined && !streams.some((s) => s.stream === onlyStream)) throw unknownStream(onlyStream);
      const declared = pipelinesOfStreams(config, streams.map((s) => s.stream));
      for (const s of streams) {
        if (onlyStream !== undefined && s.stream !== onlyStream) continue;
        const groupsOfStream = new Set(declared.filter((p) => p.stream === s.stream).map((p) => p.group));
        // The dead letters nobody requeued or dropped yet are that group's lag from the first letter on, not only
        // on a partition where a requeue or drop has committed once.
        if (isDeadLetterStream(s.stream)) groupsOfStream.add(DLQ_HANDLED_GROUP);
        // A group that committed on some partitions of the stream reads the others from their first stored record
        // too (a partition added later: more ingest processes, a requeue beside a running server): left out there,
        // its lag missed those records, and lag --group G showed the group caught up while they waited.
        for (const p of s.partitions) {
          for (const g of p.groups) groupsOfStream.add(g.group);
          for (const u of (p as EmbeddedPartitionStats).unreadableGroups ?? []) groupsOfStream.add(u.group);
        }
        for (const p of s.partitions) {
          const uncommitted = new Set(groupsOfStream);
          // The embedded log lists these apart: such a group committed (it is neither "no commit yet" nor absent).
          for (const u of (p as EmbeddedPartitionStats).unreadableGroups ?? []) {
            uncommitted.delete(u.group);
            groups.add(u.group);
            if (onlyGroup !== undefined && u.group !== onlyGroup) continue;
            rows.push({ stream: s.stream, group: u.group, partition: p.partition, position: null, end: p.endOffset, lag: null, committed: true, unreadable: true });
            ctx.stderr.write(`hopper: warning: ${u.message} (${u.code})\n`);
          }
          for (const g of p.groups) {
            uncommitted.delete(g.group);
            groups.add(g.group);
            if (onlyGroup !== undefined && g.group !== onlyGroup) continue;
            rows.push({ stream: s.stream, group: g.group, partition: p.partition, position: g.position, end: p.endOffset, lag: g.lag, committed: true });
          }
          for (const group of uncommitted) {
            groups.add(group);
            if (onlyGroup !== undefined && group !== onlyGroup) continue;
            rows.push({ stream: s.stream, group, partition: p.partition, position: p.startOffset, end: p.endOffset, lag: Math.max(0, p.endOffset - p.startOffset), committed: false });
          }
        }
      }
    } finally {
      await log.close();
    }
    // Like an unknown --stream: a typo must not read as "nothing there".
    if (onlyGroup !== undefined && !groups.has(onlyGroup)) {
      const where = onlyStream === undefined ? 'in this log' : `on stream ${onlyStream}`;
      const known = groups.size === 0 ? 'none has a position yet' : `groups: ${[...groups].sort().join(', ')}`;
      throw new HopperError('HOPPER_GROUP_UNKNOWN', `No consumer group ${JSON.stringify(onlyGroup)} ${where} (${known}).`);
    }
    rows.sort((a, b) => a.stream.localeCompare(b.stream) || a.group.localeCompare(b.group) || a.partition - b.partition);
    if (ctx.values.json) {
      ctx.stdout.write(rows.map((r) => JSON.stringify(r) + '\n').join(''));
      return 0;
    }
    if (rows.length === 0) {
      ctx.stdout.write('no consumer group has committed a position yet\n');
      return 0;
    }
    const table = [['STREAM', 'GROUP', 'PARTITION', 'POSITION', 'END', 'LAG'], ...rows.map((r) => [r.stream, r.group, String(r.partition), String(r.position ?? '?'), String(r.end), String(r.lag ?? '?')])];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    // The note trails the LAG column so the six columns keep their meaning for scripts that split lines.
    const notes = ['', ...rows.map((r) => (r.unreadable ? '  (position unreadable)' : r.committed ? '' : '  (no commit yet)'))];
    ctx.stdout.write(table.map((row, n) => row.map((cell, i) => (i >= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd() + notes[n] + '\n').join(''));
    return 0;
  },
};
