// Reading and handling the dead letters of a stream (what `hopper dlq` does),
// through the Log interface only. "Handled" is a watermark: the position of the
// consumer group DLQ_HANDLED_GROUP on each partition of {stream}.dlq; entries
// before it were requeued or dropped, entries from it on are pending. So dead
// letters are handled oldest first (per partition), and `hopper lag` shows the
// pending ones as that group's lag.

import type { Log, LogRecord, RecordInput, StreamOptions } from '../log/types.js';
import { HopperError } from '../errors.js';
import { DLQ_HANDLED_GROUP, deadLetterStream, isOmittedOriginal, originalRecord, parseDeadLetter, type DeadLetterInfo } from './dead-letter.js';
import { appendWithFallback } from './append-with-fallback.js';

/** Records read from the .dlq stream per call. */
const READ_BATCH = 1000;

export interface DeadLetterEntry {
  /** Place of the dead letter in {stream}.dlq. */
  partition: number;
  offset: number;
  record: LogRecord;
  /** null when the record is not in the dead-letter format (written there by something else). */
  letter: { info: DeadLetterInfo; body: Buffer } | null;
  handled: boolean;
}

export interface ScanOptions {
  /** Include handled entries too. */
  all?: boolean;
  /** Only this partition of the .dlq stream. */
  partition?: number;
  /** Stop after this many entries. */
  limit?: number;
}

export async function dlqPartitions(log: Log, stream: string): Promise<number[]> {
  const dlq = deadLetterStream(stream);
  return (await log.listStreams()).includes(dlq) ? log.listPartitions(dlq) : [];
}

export async function handledPosition(log: Log, stream: string, partition: number): Promise<number> {
  return (await log.getPosition(DLQ_HANDLED_GROUP, deadLetterStream(stream), partition)) ?? 0;
}

/**
 * Visits dead letters in partition then offset order; `visit` gets them in chunks (same partition) and may stop.
 * `ends`: the end offset of each .dlq partition to stop at (a partition not in it is skipped).
 */
export async function scanDeadLetters(
  log: Log,
  stream: string,
  options: ScanOptions,
  visit: (chunk: DeadLetterEntry[]) => Promise<boolean | void>,
  ends?: ReadonlyMap<number, number>,
): Promise<void> {
  const dlq = deadLetterStream(stream);
  let remaining = options.limit ?? Infinity;
  for (const p of await dlqPartitions(log, stream)) {
    if (options.partition !== undefined && p !== options.partition) continue;
    const end = ends ? (ends.get(p) ?? 0) : Infinity;
    const handled = await handledPosition(log, stream, p);
    let offset = options.all ? 0 : handled;
    while (remaining > 0 && offset < end) {
      const read = await log.read(dlq, p, offset, { maxRecords: Math.min(READ_BATCH, remaining, end - offset) });
      // A read may pass offsets the backend no longer holds, and so the end.
      const records = read.records.filter((r) => r.offset < end);
      const nextOffset = read.nextOffset;
      if (records.length === 0) break;
      const chunk = records.map((record) => ({ partition: p, offset: record.offset, record, letter: parseDeadLetter(record), handled: record.offset < handled }));
      remaining -= chunk.length;
      offset = nextOffset;
      if ((await visit(chunk)) === false) return;
    }
  }
}

/**
 * The record to requeue for a letter: its own copy of the body, or for a letter stored without it (too
 * large for the dead-letter stream) the original still in the source stream. `pendingBefore`: entries of its
 * .dlq partition before it that this run would handle first, for the way out the error gives.
 */
async function originalOf(log: Log, stream: string, entry: DeadLetterEntry, pendingBefore: number): Promise<RecordInput> {
  const { info, body } = entry.letter!;
  if (info.bodyOmittedBytes === undefined) return originalRecord(info, body);
  const { records } = await log.read(info.stream, info.partition, info.offset, { maxRecords: 1 });
  const original = records[0];
  if (!isOmittedOriginal(info, original)) {
    // dlq drop takes the oldest pending letters (it has no --offset): `drop --stream S` alone would drop every
    // pending letter, requeueable ones too, and the old hint's --offset was refused as a usage error.
    const where = `--stream ${stream} --partition ${entry.partition}`;
    const first = pendingBefore > 0 ? `requeue the ${pendingBefore} pending before it (hopper dlq requeue ${where} --limit ${pendingBefore}), then ` : '';
    throw new HopperError(
      'HOPPER_DLQ_BODY_GONE',
      `The dead letter at ${entry.partition}:${entry.offset} of ${deadLetterStream(stream)} (of ${info.stream}/${info.partition}/${info.offset}) was stored without its body (${info.bodyOmittedBytes} bytes, too large for the dead-letter stream) and the stream no longer holds the original (retention, or the stream was created again): ${first}drop it alone: hopper dlq drop ${where} --limit 1.`,
    );
  }
  return originalRecord(info, original.body);
}

export interface HandleResult {
  requeued: number;
  dropped: number;
  /** Records of the .dlq stream that were not dead letters (marked handled, not requeued). */
  foreign: number;
  /** `stop` fired: the run ended at a chunk boundary (everything counted is handled), letters may still be pending. */
  stopped: boolean;
}

/**
 * Requeues (appends the original bytes and metadata back to the stream) or drops
 * pending dead letters, then moves the handled watermark past them. A crash between
 * the append and the watermark requeues those letters again on the next run.
 */
/**
 * `grow`: the stream's options (retention from the config), for when a running server writes every
 * partition of the stream (embedded log): the stream then gets one more partition, which the requeued
 * records go to and the server's workers pick up. Without it, requeue fails with HOPPER_PARTITION_LOCKED.
 */
export async function handleDeadLetters(
  log: Log,
  stream: string,
  action: 'requeue' | 'drop',
  options: Omit<ScanOptions, 'all'>,
  grow?: StreamOptions,
  stop?: AbortSignal,
): Promise<HandleResult> {
  const result: HandleResult = { requeued: 0, dropped: 0, foreign: 0, stopped: false };
  const dlq = deadLetterStream(stream);
  if (action === 'requeue' && !(await log.listStreams()).includes(stream)) {
    throw new HopperError('HOPPER_STREAM_UNKNOWN', `Stream ${JSON.stringify(stream)} does not exist any more: nothing to requeue into.`);
  }
  // The letters pending now, not the ones written while this runs: a running pipeline that rejects the records a
  // requeue puts back writes new letters for them, which the same run would requeue again (and again).
  const dlqStats = (await log.stats()).streams.find((s) => s.stream === dlq);
  const ends = new Map((dlqStats?.partitions ?? []).map((p) => [p.partition, p.endOffset]));
  await scanDeadLetters(log, stream, options, async (chunk) => {
    // Only between chunks: stopped after appending a chunk and before moving the watermark past it, a run would
    // requeue that chunk again on the next one (up to READ_BATCH duplicates for a Ctrl-C).
    if (stop?.aborted) {
      result.stopped = true;
      return false;
    }
    if (action === 'requeue') {
      const byPartition = new Map<number, DeadLetterEntry[]>();
      for (const e of chunk) {
        if (!e.letter) continue;
        const list = byPartition.get(e.letter.info.partition) ?? [];
        list.push(e);
        byPartition.set(e.letter.info.partition, list);
      }
      // Every original first: a letter whose body is gone stops the chunk before anything of it is appended
      // (appended, then stopped before the handled position moves, the others would be requeued again on a rerun).
      // In chunk order, so the error is about the first such letter and counts the entries before it right.
      const originals = new Map<DeadLetterEntry, RecordInput>();
      for (const e of chunk) if (e.letter) originals.set(e, await originalOf(log, stream, e, e.offset - chunk[0]!.offset));
      const groups: [number, RecordInput[]][] = [];
      for (const [preferred, entries] of byPartition) groups.push([preferred, entries.map((e) => originals.get(e)!)]);
      for (const [preferred, records] of groups) {
        await appendWithFallback(log, stream, records, { preferred, ack: 'durable', ...(grow ? { grow } : {}) });
        result.requeued += records.length;
      }
    } else {
      result.dropped += chunk.filter((e) => e.letter).length;
    }
    result.foreign += chunk.filter((e) => !e.letter).length;
    const last = chunk[chunk.length - 1]!;
    await log.commitPosition(DLQ_HANDLED_GROUP, dlq, last.partition, last.offset + 1);
    return true;
  }, ends);
  return result;
}
