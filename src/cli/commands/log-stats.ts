// `hopper log stats`: per stream and partition offsets, bytes, segments and group positions (public interface).

import type { Command } from '../command.js';
import { CONFIG_FLAGS } from '../command.js';
import { openExistingLog } from '../cli-log.js';
import { unknownStream } from '../select-partitions.js';

export const logStatsCommand: Command = {
  name: 'log stats',
  stopsWhenStdoutCloses: true,
  summary: 'Print offsets, bytes, segments and group positions per stream and partition (JSON).',
  usage: 'log stats [--data-dir DIR] [--stream S]',
  flags: {
    ...CONFIG_FLAGS,
    stream: { type: 'string', description: 'only this stream', valueName: 'S' },
  },
  async run(ctx) {
    const log = await openExistingLog(ctx.loadConfig(), ctx.stderr);
    try {
      const stats = await log.stats();
      const only = ctx.values.stream as string | undefined;
      if (only !== undefined) {
        stats.streams = stats.streams.filter((s) => s.stream === only);
        if (stats.streams.length === 0) throw unknownStream(only);
      }
      ctx.stdout.write(JSON.stringify(stats, null, 2) + '\n');
    } finally {
      await log.close();
    }
    return 0;
  },
};
