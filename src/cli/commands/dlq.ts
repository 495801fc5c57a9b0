// `hopper dlq list|show|requeue|drop --stream S`: the dead letters of stream S
// (records of S.dlq, see src/work/dead-letter.ts), with why they failed; put
// them back into S, or drop them (public interface). Requeue and drop handle
// pending letters oldest first and move the `dlq-handled` watermark past them.

import { constants as osConstants } from 'node:os';
import type { Command, CommandContext, FlagSpec } from '../command.js';
import { CONFIG_FLAGS, writeOut } from '../command.js';
import { openExistingLog } from '../cli-log.js';
import { assertStreamName, HopperError, isHopperError } from '../../errors.js';
import { formatTimeUs, parseNonNegativeInt } from '../parse-duration.js';
import type { Log, LogLock } from '../../log/types.js';
import { handleDeadLetters, scanDeadLetters, dlqPartitions, handledPosition, type DeadLetterEntry, type ScanOptions } from '../../work/dead-letter-queue.js';
import { DEAD_LETTER_SUFFIX, isOmittedOriginal } from '../../work/dead-letter.js';
import { choosePartitions, unknownStream } from '../select-partitions.js';
import { addBody } from '../../observe/record-json.js';
import { printable } from '../terminal-text.js';


const STREAM_FLAG: FlagSpec = { type: 'string', description: 'the stream whose dead letters (S.dlq) to use', valueName: 'S' };
const SELECT_FLAGS: Record<string, FlagSpec> = {
  partition: { type: 'string', description: 'only this partition of S.dlq', valueName: 'P' },
  limit: { type: 'string', description: 'at most N dead letters (oldest first)', valueName: 'N' },
};

function streamOf(ctx: CommandContext, command: string): string {
  const stream = ctx.values.stream as string | undefined;
  if (!stream) throw new HopperError('HOPPER_USAGE', `dlq ${command} needs --stream S.`);
  assertStreamName(stream);
  return stream;
}

function selection(ctx: CommandContext): Omit<ScanOptions, 'all'> {
  const out: Omit<ScanOptions, 'all'> = {};
  if (ctx.values.partition !== undefined) out.partition = parseNonNegativeInt(ctx.values.partition as string, '--partition');
  if (ctx.values.limit !== undefined) out.limit = parseNonNegativeInt(ctx.values.limit as string, '--limit');
  return out;
}

/**
 * --partition naming a partition S.dlq does not have is an error (as in `hopper replay`), not "0 letters":
 * a typo must not read as "nothing pending". With no S.dlq at all there is simply nothing to do.
 */
async function checkPartition(ctx: CommandContext, log: Log, stream: string): Promise<void> {
  const partitions = await dlqPartitions(log, stream);
  if (partitions.length > 0) choosePartitions(partitions, `${stream}${DEAD_LETTER_SUFFIX}`, ctx.values.partition as string | undefined);
}

/**
 * A stream that neither the log (S or S.dlq) nor the config knows is a typo: "no dead letters for ordres" read as
 * "nothing pending" (exit 0, a cron'd drop doing nothing for ever). A known stream without a .dlq has none indeed.
 */
async function checkStream(ctx: CommandContext, log: Log, stream: string): Promise<void> {
  const streams = await log.listStreams();
  if (streams.includes(stream) || streams.includes(`${stream}${DEAD_LETTER_SUFFIX}`)) return;
  if (Object.hasOwn(ctx.loadConfig().streams, stream)) return;
  throw unknownStream(stream);
}

async function withLog<T>(ctx: CommandContext, fn: (log: Log) => Promise<T>): Promise<T> {
  const log = await openExistingLog(ctx.loadConfig(), ctx.stderr);
  try {
    return await fn(log);
  } finally {
    await log.close();
  }
}

/** dlq show writes its lines once they make this many characters (fewer, larger writes; bounded memory). */
const SHOW_WRITE_CHARS = 1024 * 1024;

const iso = (ms: number): string => (ms > 0 ? new Date(ms).toISOString() : '-');
/** A reason on one line, its control characters escaped: it may quote the failed body, which a client chose. */
const oneLine = (s: string): string => printable(s.replace(/\s+/g, ' '));

function summaryLine(e: DeadLetterEntry): string {
  const where = `${e.partition}:${e.offset}`;
  if (!e.letter) return `${where}  (not a dead letter: ${e.record.contentType || 'no content type'}, ${e.record.body.length} bytes)`;
  const i = e.letter.info;
  return [where, iso(i.lastFailureAtMs), i.kind, `attempts=${i.attempts}`, `${i.stream}/${i.partition}@${i.offset}`, e.handled ? '[handled] ' + oneLine(i.reason) : oneLine(i.reason)].join('  ');
}

/**
 * `original`: for a letter stored without its body (bodyOmittedBytes, too large for the dead-letter stream), the
 * body its stream still holds, or null once retention removed it; such a letter's own body is empty, not the record's.
 */
function detail(e: DeadLetterEntry, original?: Buffer | null): Record<string, unknown> {
  const out: Record<string, unknown> = { dlqPartition: e.partition, dlqOffset: e.offset, handled: e.handled };
  if (!e.letter) {
    out.notADeadLetter = true;
    out.contentType = e.record.contentType;
    out.bodyBase64 = e.record.body.toString('base64');
    return out;
  }
  const { info, body } = e.letter;
  Object.assign(out, {
    stream: info.stream,
    partition: info.partition,
    offset: info.offset,
    pipeline: info.pipeline,
    group: info.group,
    kind: info.kind,
    ...(info.code ? { code: info.code } : {}),
    reason: info.reason,
    attempts: info.attempts,
    firstFailureAt: iso(info.firstFailureAtMs),
    lastFailureAt: iso(info.lastFailureAtMs),
    receivedAt: formatTimeUs(info.receivedAtUs),
    contentType: info.contentType,
    contentEncoding: info.contentEncoding,
    remoteAddress: info.remoteAddress,
    requestId: info.requestId,
  });
  if (info.idempotencyKey !== '') out.idempotencyKey = info.idempotencyKey;
  if (info.bodyOmittedBytes === undefined) return addBody(out, body);
  out.bodyOmittedBytes = info.bodyOmittedBytes;
  if (original === undefined || original === null) {
    out.bodyGone = true;
    return out;
  }
  return addBody(out, original);
}

/** The original body of a letter stored without it, from its stream, or null when the stream no longer holds it. */
async function omittedBody(log: Log, e: DeadLetterEntry): Promise<Buffer | null | undefined> {
  const info = e.letter?.info;
  if (info?.bodyOmittedBytes === undefined) return undefined;
  try {
    const { records } = await log.read(info.stream, info.partition, info.offset, { maxRecords: 1 });
    return isOmittedOriginal(info, records[0]) ? records[0].body : null;
  } catch (err) {
    if (isHopperError(err, 'HOPPER_STREAM_UNKNOWN') || isHopperError(err, 'HOPPER_PARTITION_UNKNOWN')) return null;
    throw err;
  }
}

export const dlqListCommand: Command = {
  name: 'dlq list',
  stopsWhenStdoutCloses: true,
  summary: 'List dead letters with their reasons (all .dlq streams with counts when --stream is not given).',
  usage: 'dlq list [--stream S] [--all] [--partition P] [--limit N] [--data-dir DIR]',
  flags: { ...CONFIG_FLAGS, stream: STREAM_FLAG, all: { type: 'boolean', description: 'include handled (requeued or dropped) ones' }, ...SELECT_FLAGS },
  details: 'Columns: S.dlq partition:offset, last failure time, kind (decode, schema, processor, rejected, redelivery), attempts,\noriginal stream/partition@offset, reason.',
  async run(ctx) {
    if (!ctx.values.stream) {
      if (ctx.values.partition !== undefined || ctx.values.limit !== undefined || ctx.values.all !== undefined) {
        throw new HopperError('HOPPER_USAGE', 'dlq list --all, --partition and --limit need --stream S.');
      }
      return withLog(ctx, async (log) => {
        const streams = (await log.listStreams()).filter((s) => s.endsWith(DEAD_LETTER_SUFFIX));
        if (streams.length === 0) await writeOut(ctx.stdout, 'no dead letters\n');
        // Once: stats() reads every partition of every stream (round trips per partition on Redis and NATS).
        const all = streams.length > 0 ? (await log.stats()).streams : [];
        for (const dlq of streams) {
          const stream = dlq.slice(0, -DEAD_LETTER_SUFFIX.length);
          const stats = all.find((s) => s.stream === dlq);
          let pending = 0;
          for (const p of stats?.partitions ?? []) pending += Math.max(0, p.endOffset - Math.max(p.startOffset, await handledPosition(log, stream, p.partition)));
          await writeOut(ctx.stdout, `${stream}: ${pending} pending dead letters (hopper dlq list --stream ${stream})\n`);
        }
        return 0;
      });
    }
    const stream = streamOf(ctx, 'list');
    const sel = selection(ctx);
    return withLog(ctx, async (log) => {
      await checkStream(ctx, log, stream);
      await checkPartition(ctx, log, stream);
      let count = 0;
      await scanDeadLetters(log, stream, { ...sel, all: ctx.values.all === true }, async (chunk) => {
        count += chunk.length;
        await writeOut(ctx.stdout, chunk.map((e) => summaryLine(e) + '\n').join(''));
      });
      // --limit 0 lists nothing by request: "no pending dead letters" would deny the ones there are.
      if (count === 0 && sel.limit !== 0) await writeOut(ctx.stdout, `no ${ctx.values.all ? '' : 'pending '}dead letters for ${stream}\n`);
      return 0;
    });
  },
};

export const dlqShowCommand: Command = {
  name: 'dlq show',
  stopsWhenStdoutCloses: true,
  summary: 'Print dead letters in full (reason, attempts, times, original metadata and body), one JSON object per line.',
  usage: 'dlq show --stream S [--offset O [--partition P]] [--all] [--limit N] [--data-dir DIR]',
  flags: {
    ...CONFIG_FLAGS,
    stream: STREAM_FLAG,
    offset: { type: 'string', description: 'only the dead letter at this offset of S.dlq (with --partition, default 0)', valueName: 'O' },
    all: { type: 'boolean', description: 'include handled (requeued or dropped) ones' },
    ...SELECT_FLAGS,
  },
  details: 'body is the original body as UTF-8 text, or bodyBase64 for other bytes.',
  async run(ctx) {
    const stream = streamOf(ctx, 'show');
    const sel = selection(ctx);
    const offset = ctx.values.offset === undefined ? undefined : parseNonNegativeInt(ctx.values.offset as string, '--offset');
    return withLog(ctx, async (log) => {
      await checkStream(ctx, log, stream);
      await checkPartition(ctx, log, stream);
      let count = 0;
      const options: ScanOptions = offset === undefined ? { ...sel, all: ctx.values.all === true } : { partition: sel.partition ?? 0, all: true };
      await scanDeadLetters(log, stream, options, async (chunk) => {
        const picked = offset === undefined ? chunk : chunk.filter((e) => e.offset === offset);
        count += picked.length;
        // Written as they are made, not a chunk at a time: a chunk of letters stored without their bodies (NATS
        // max_payload) holds up to READ_BATCH originals read back from the stream, and 1000 of 700 KB made one
        // string past V8's limit ("unexpected error: Invalid string length", not one letter shown).
        let lines = '';
        for (const e of picked) {
          lines += JSON.stringify(detail(e, await omittedBody(log, e))) + '\n';
          if (lines.length >= SHOW_WRITE_CHARS) {
            await writeOut(ctx.stdout, lines);
            lines = '';
          }
        }
        if (lines !== '') await writeOut(ctx.stdout, lines);
        return offset === undefined || chunk[chunk.length - 1]!.offset < offset;
      });
      if (count === 0) {
        if (offset !== undefined) throw new HopperError('HOPPER_USAGE', `no dead letter at ${sel.partition ?? 0}:${offset} of ${stream}${DEAD_LETTER_SUFFIX}.`);
        if (sel.limit !== 0) await writeOut(ctx.stdout, `no ${ctx.values.all ? '' : 'pending '}dead letters for ${stream}\n`);
      }
      return 0;
    });
  },
};

function handleCommand(action: 'requeue' | 'drop'): Command {
  return {
    name: `dlq ${action}`,
    summary:
      action === 'requeue'
        ? 'Append pending dead letters (original bytes and metadata) back to their stream, and mark them handled.'
        : 'Mark pending dead letters handled without requeueing them (they stay readable with --all until retention).',
    usage: `dlq ${action} --stream S [--partition P] [--limit N] [--data-dir DIR]`,
    flags: { ...CONFIG_FLAGS, stream: STREAM_FLAG, ...SELECT_FLAGS },
    details:
      action === 'requeue'
        ? 'Requeued records go to their original partition when this process may write it. On the embedded log a\n' +
          'partition is written by one process at a time: while hopper serve holds every partition of S, S gets one\n' +
          'more partition for them (retention from the config), which the running workers pick up.'
        : undefined,
    async run(ctx) {
      // Before the first await (main.ts hands held stop signals to the listeners in place then).
      const stopping = stopAtChunkBoundary();
      try {
        return await handle(ctx, action, stopping.signal);
      } finally {
        stopping.dispose();
      }
    },
  };
}

/**
 * A stop signal (Ctrl-C, SIGTERM, SIGHUP) during a requeue or drop ends it between chunks: killed by the signal's
 * default action, it stopped after appending letters and before moving the watermark past them, so the next run
 * requeued them again, and on Redis and NATS its lock stayed held for its 30 s lease ("another ... is running").
 * SIGHUP is what a run gets when its terminal or SSH session closes. A second SIGINT or SIGTERM ends the process at
 * once; a second SIGHUP does not: a closing terminal sends two a millisecond apart (the interactive shell hangs up
 * its jobs, then the kernel the foreground process group as the shell exits), and the second killed the run mid-chunk.
 */
function stopAtChunkBoundary(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!controller.signal.aborted) {
      controller.abort(signal);
      return;
    }
    if (signal === 'SIGHUP') return; // nobody is asking to hurry: the same hang-up again
    for (const s of signals) process.off(s, onSignal);
    process.kill(process.pid, signal);
  };
  for (const s of signals) process.on(s, onSignal);
  return { signal: controller.signal, dispose: () => signals.forEach((s) => process.off(s, onSignal)) };
}

async function handle(ctx: CommandContext, action: 'requeue' | 'drop', stop: AbortSignal): Promise<number> {
  const stream = streamOf(ctx, action);
  const sel = selection(ctx);
  return withLog(ctx, async (log) => {
    await checkStream(ctx, log, stream);
    if ((await dlqPartitions(log, stream)).length === 0) {
      await writeOut(ctx.stdout, `no dead letters for ${stream}\n`);
      return 0;
    }
    await checkPartition(ctx, log, stream);
    const config = ctx.loadConfig();
    const settings = { ...config.defaultStream, ...config.streams[stream] };
    const grow = { partitions: 1, retentionMaxAgeMs: settings.retentionMaxAgeMs, retentionMaxBytes: settings.retentionMaxBytes };
    const r = await withHandlingLock(log, stream, action, () => handleDeadLetters(log, stream, action, sel, grow, stop));
    const n = action === 'requeue' ? r.requeued : r.dropped;
    const foreign = r.foreign > 0 ? ` (${r.foreign} records that were not dead letters were skipped)` : '';
    const stopped = r.stopped ? ` (stopped by ${String(stop.reason)}: run it again for the rest)` : '';
    await writeOut(ctx.stdout, `${action === 'requeue' ? 'requeued' : 'dropped'} ${n} dead letters of ${stream}${foreign}${stopped}\n`);
    return r.stopped ? 128 + osConstants.signals[stop.reason as NodeJS.Signals] : 0;
  });
}

/**
 * Runs a requeue or drop while holding the log lock `dlq/{stream}`. Both runs read the pending letters from
 * the same watermark and move it only after their appends, so two at once (two terminals, a cron job and a
 * person) requeued every letter twice, and on the embedded log, contending for the partition's writer lock,
 * made the stream grow a partition for good. The second run stops with one line; a holder that crashed
 * blocks no one for long (Log.acquireLock).
 */
async function withHandlingLock<T>(log: Log, stream: string, action: string, fn: () => Promise<T>): Promise<T> {
  let lock: LogLock;
  try {
    lock = await log.acquireLock(`dlq/${stream}`, `the dead letters of ${stream}`);
  } catch (err) {
    if (!isHopperError(err, 'HOPPER_LOCK_HELD')) throw err;
    throw new HopperError(
      'HOPPER_LOCK_HELD',
      `dlq ${action}: another hopper dlq requeue or drop of ${stream} is running: wait for it to finish, then run this again.`,
      { cause: err },
    );
  }
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

export const dlqRequeueCommand = handleCommand('requeue');
export const dlqDropCommand = handleCommand('drop');
