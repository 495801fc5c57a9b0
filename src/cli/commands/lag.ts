// `hopper lag`: how many records each consumer group still has to process, per
// stream and partition (public interface). The dlq-handled group's lag on a .dlq
// stream is the number of dead letters not yet requeued or dropped.

import type { Command } from '../command.js';
import { CONFIG_FLAGS } from '../command.js';
import { openLog } from '../../log/open-log.js';

export const lagCommand: Command = {
  name: 'lag',
  summary: 'Print records behind per consumer group, stream and partition.',
  usage: 'lag [--stream S] [--group G] [--json] [--data-dir DIR]',
  flags: {
    ...CONFIG_FLAGS,
    stream: { type: 'string', description: 'only this stream', valueName: 'S' },
    group: { type: 'string', description: 'only this group', valueName: 'G' },
    json: { type: 'boolean', description: 'one JSON object per line instead of a table' },
  },
  details: 'Columns: stream, group, partition, position (next offset the group processes), end (next offset written), lag.',
  async run(ctx) {
    const onlyStream = ctx.values.stream as string | undefined;
    const onlyGroup = ctx.values.group as string | undefined;
    const log = await openLog(ctx.loadConfig());
    const rows: { stream: string; group: string; partition: number; position: number; end: number; lag: number }[] = [];
    try {
      for (const s of (await log.stats()).streams) {
        if (onlyStream !== undefined && s.stream !== onlyStream) continue;
        for (const p of s.partitions) {
          for (const g of p.groups) {
            if (onlyGroup !== undefined && g.group !== onlyGroup) continue;
            rows.push({ stream: s.stream, group: g.group, partition: p.partition, position: g.position, end: p.endOffset, lag: g.lag });
          }
        }
      }
    } finally {
      await log.close();
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
    const table = [['STREAM', 'GROUP', 'PARTITION', 'POSITION', 'END', 'LAG'], ...rows.map((r) => [r.stream, r.group, String(r.partition), String(r.position), String(r.end), String(r.lag)])];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    ctx.stdout.write(table.map((row) => row.map((cell, i) => (i >= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd() + '\n').join(''));
    return 0;
  },
};
