// `hopper replay`: moves a consumer group's position on every partition of a
// stream (back to process again, or forward to skip), to an offset or to the
// first record received at or after an ISO 8601 time (public interface).

import type { Command } from '../command.js';
import { CONFIG_FLAGS } from '../command.js';
import { openLog } from '../../log/open-log.js';
import { assertGroupName, assertStreamName, HopperError } from '../../errors.js';
import { parseOffsetOrTime } from '../parse-duration.js';
import { selectPartitions } from '../select-partitions.js';

export const replayCommand: Command = {
  name: 'replay',
  summary: "Move a consumer group's position to an offset or a time, on every partition of a stream.",
  usage: 'replay --stream S --group G --from OFFSET|ISO-TIME [--partition P] [--data-dir DIR]',
  flags: {
    ...CONFIG_FLAGS,
    stream: { type: 'string', description: 'stream (required)', valueName: 'S' },
    group: { type: 'string', description: 'consumer group, e.g. the pipeline\'s group (required)', valueName: 'G' },
    from: { type: 'string', description: 'new position: an offset, or an ISO 8601 time (required)', valueName: 'OFFSET|ISO-TIME' },
    partition: { type: 'string', description: 'only this partition (default: all)', valueName: 'P' },
  },
  details:
    'An offset past the end is clamped to the end. Stop the group\'s workers first for a guaranteed effect: on the\n' +
    'embedded log running workers notice the new position within work.leaseTimeoutMs/3, but a commit they make\n' +
    'at that very moment can overwrite it.',
  async run(ctx) {
    const stream = ctx.values.stream as string | undefined;
    const group = ctx.values.group as string | undefined;
    const fromText = ctx.values.from as string | undefined;
    if (!stream || !group || !fromText) throw new HopperError('HOPPER_USAGE', 'replay needs --stream S, --group G and --from OFFSET|ISO-TIME.');
    assertStreamName(stream);
    assertGroupName(group);
    const from = parseOffsetOrTime(fromText, '--from');
    const log = await openLog(ctx.loadConfig());
    try {
      const partitions = await selectPartitions(log, stream, ctx.values.partition as string | undefined);
      const stats = (await log.stats()).streams.find((s) => s.stream === stream);
      for (const p of partitions) {
        const endOffset = stats?.partitions.find((x) => x.partition === p)?.endOffset ?? Infinity;
        const target = 'offset' in from ? Math.min(from.offset, endOffset) : await log.offsetForTime(stream, p, from.timeUs);
        const before = await log.getPosition(group, stream, p);
        await log.commitPosition(group, stream, p, target);
        ctx.stdout.write(`${stream} partition ${p}: group ${group} position ${before ?? '(none)'} -> ${target}\n`);
      }
    } finally {
      await log.close();
    }
    return 0;
  },
};
