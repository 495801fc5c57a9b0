// `hopper replay`: moves a consumer group's position on every partition of a
// stream (back to process again, or forward to skip), to an offset or to the
// first record received at or after an ISO 8601 time (public interface).

import type { Command } from '../command.js';
import { CONFIG_FLAGS } from '../command.js';
import { openExistingLog } from '../cli-log.js';
import { assertGroupName, assertStreamName, HopperError, isHopperError } from '../../errors.js';
import type { Log } from '../../log/types.js';
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
    'An offset past the end is clamped to the end, and one before the first stored record (older ones deleted by\n' +
    'retention) to that record; an unreadable position (HOPPER_LOG_CORRUPT) is overwritten.\n' +
    'Stop the group\'s workers first for a guaranteed effect: on the embedded log running workers notice the new\n' +
    'position within work.leaseTimeoutMs/3, but a commit they make at that very moment can overwrite it.',
  async run(ctx) {
    const stream = ctx.values.stream as string | undefined;
    const group = ctx.values.group as string | undefined;
    const fromText = ctx.values.from as string | undefined;
    if (!stream || !group || !fromText) throw new HopperError('HOPPER_USAGE', 'replay needs --stream S, --group G and --from OFFSET|ISO-TIME.');
    assertStreamName(stream);
    assertGroupName(group);
    const from = parseOffsetOrTime(fromText, '--from');
    const log = await openExistingLog(ctx.loadConfig(), ctx.stderr);
    try {
      const partitions = await selectPartitions(log, stream, ctx.values.partition as string | undefined);
      const stats = (await log.stats()).streams.find((s) => s.stream === stream);
      for (const p of partitions) {
        const bounds = stats?.partitions.find((x) => x.partition === p);
        const endOffset = bounds?.endOffset ?? Infinity;
        const startOffset = Math.min(bounds?.startOffset ?? 0, endOffset);
        const asked = Math.min('offset' in from ? from.offset : await log.offsetForTime(stream, p, from.timeUs), endOffset);
        // A position below the first stored record names records that are gone: stored as is, the group's members
        // would report them skipped, and lag tools would show a position that does not exist.
        const target = Math.max(asked, startOffset);
        const before = await positionText(log, group, stream, p);
        await log.commitPosition(group, stream, p, target);
        const note = target > asked ? ` (offsets before ${target} were deleted by retention)` : '';
        ctx.stdout.write(`${stream} partition ${p}: group ${group} position ${before} -> ${target}${note}\n`);
      }
    } finally {
      await log.close();
    }
    return 0;
  },
};

/** The position before the replay, as printed: replay is the remedy for an unreadable one, so it is overwritten. */
async function positionText(log: Log, group: string, stream: string, partition: number): Promise<string> {
  try {
    return String((await log.getPosition(group, stream, partition)) ?? '(none)');
  } catch (err) {
    if (!isHopperError(err, 'HOPPER_LOG_CORRUPT')) throw err;
    return '(unreadable, overwritten)';
  }
}
