// `hopper log read`: prints stored records as JSON lines (public interface: keep stable),
// from the log itself or, with --admin, from a running server's admin API (no access to
// its data directory or its Redis/NATS credentials needed).

import type { Command, CommandContext } from '../command.js';
import { CONFIG_FLAGS, writeOut } from '../command.js';
import { openExistingLog } from '../cli-log.js';
import { assertStreamName, HopperError } from '../../errors.js';
import { parseNonNegativeInt, parseOffsetOrTime } from '../parse-duration.js';
import { choosePartitions, selectPartitions } from '../select-partitions.js';
import { recordToJson } from '../../observe/record-json.js';
import { adminJson, adminTarget, type AdminTarget } from '../../observe/admin-client.js';
import { adminRecordPages } from '../../observe/admin-record-pages.js';

export { recordToJson };

const READ_BATCH = 4096;

export const logReadCommand: Command = {
  name: 'log read',
  stopsWhenStdoutCloses: true,
  summary: 'Print stored records, one JSON object per line.',
  usage: 'log read --stream S [--partition P] [--from OFFSET|ISO-TIME] [--limit N] [--data-dir DIR | --admin URL [--token T]]',
  flags: {
    ...CONFIG_FLAGS,
    stream: { type: 'string', description: 'stream to read (required)', valueName: 'S' },
    partition: { type: 'string', description: 'only this partition (default: all)', valueName: 'P' },
    from: { type: 'string', description: 'first offset, or an ISO 8601 time (default: the start)', valueName: 'OFFSET|ISO-TIME' },
    limit: { type: 'string', description: 'print at most N records in all', valueName: 'N' },
    admin: { type: 'string', description: "read a running server's records through its admin API instead of the log", valueName: 'URL' },
    token: { type: 'string', description: 'its admin token (default: admin.token, env HOPPER_ADMIN_TOKEN)', valueName: 'T' },
  },
  details: 'Fields: stream, partition, offset, receivedAt, contentType, contentEncoding, remoteAddress, requestId,\nidempotencyKey (when sent), and body (UTF-8) or bodyBase64 (other bytes).',
  async run(ctx) {
    const stream = ctx.values.stream as string | undefined;
    if (!stream) throw new HopperError('HOPPER_USAGE', 'log read needs --stream S.');
    assertStreamName(stream);
    // The usage line makes them alternatives: with both, the records came from the server and --data-dir was
    // ignored without a word (an operator comparing a copied data directory read the live server's records).
    if (ctx.values.admin !== undefined && ctx.values['data-dir'] !== undefined) {
      throw new HopperError('HOPPER_USAGE', 'log read: --admin and --data-dir exclude each other: --admin reads a running server\'s records, --data-dir a log on disk.');
    }
    if (ctx.values.token !== undefined && ctx.values.admin === undefined) {
      throw new HopperError('HOPPER_USAGE', 'log read: --token is the admin token of --admin URL; without --admin the log is read from disk.');
    }
    const limit = ctx.values.limit === undefined ? Infinity : parseNonNegativeInt(ctx.values.limit as string, '--limit');
    const from = ctx.values.from === undefined ? { offset: 0 } : parseOffsetOrTime(ctx.values.from as string, '--from');
    if (ctx.values.admin !== undefined) {
      const target = adminTarget(ctx.loadConfig(), ctx.values.admin as string, ctx.values.token as string | undefined);
      // The server parses --from itself: the same OFFSET|ISO-TIME syntax, checked above for a clear local error.
      return readThroughAdmin(ctx, target, stream, ctx.values.partition as string | undefined, (ctx.values.from as string | undefined) ?? '0', limit);
    }
    const log = await openExistingLog(ctx.loadConfig(), ctx.stderr);
    try {
      const partitions = await selectPartitions(log, stream, ctx.values.partition as string | undefined);
      let printed = 0;
      for (const p of partitions) {
        let offset = 'offset' in from ? from.offset : await log.offsetForTime(stream, p, from.timeUs);
        while (printed < limit) {
          const { records, nextOffset } = await log.read(stream, p, offset, { maxRecords: Math.min(READ_BATCH, limit - printed) });
          if (records.length === 0) break;
          let chunk = '';
          for (const r of records) chunk += JSON.stringify(recordToJson(r)) + '\n';
          printed += records.length;
          await writeOut(ctx.stdout, chunk);
          offset = nextOffset;
        }
      }
    } finally {
      await log.close();
    }
    return 0;
  },
};

async function readThroughAdmin(ctx: CommandContext, target: AdminTarget, stream: string, partitionFlag: string | undefined, from: string, limit: number): Promise<number> {
  const { partitions } = await adminJson<{ partitions: number[] }>(target, `/api/streams/${encodeURIComponent(stream)}`);
  let printed = 0;
  for (const p of choosePartitions(partitions, stream, partitionFlag)) {
    for await (const lines of adminRecordPages(target, stream, p, from, limit - printed)) {
      printed += lines.length;
      await writeOut(ctx.stdout, lines.join('\n') + '\n');
    }
  }
  return 0;
}
