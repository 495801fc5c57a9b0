// Appends to "some partition this process may write". On the embedded log one
// process at a time writes a partition (HOPPER_PARTITION_LOCKED otherwise), so a
// worker that writes dead letters, or `hopper dlq requeue` next to a running
// server, tries the preferred partition, then the others, and for streams it owns
// (the .dlq streams) adds a partition when all are taken. Other backends never lock.

import { isHopperError, HopperError } from '../errors.js';
import type { AckLevel, AppendResult, Log, RecordInput, StreamOptions } from '../log/types.js';

/** A .dlq stream grows at most to this many partitions (one per concurrent writer process). */
export const MAX_FALLBACK_PARTITIONS = 64;

export interface FallbackOptions {
  preferred: number;
  ack: AckLevel;
  /** When set, the stream may get a new partition (with these options) when every existing one is locked. */
  grow?: StreamOptions;
}

export async function appendWithFallback(log: Log, stream: string, records: RecordInput[], opts: FallbackOptions): Promise<AppendResult> {
  const tried = new Set<number>();
  let lastLock: HopperError | null = null;
  for (let round = 0; round < MAX_FALLBACK_PARTITIONS + 1; round++) {
    const partitions = await log.listPartitions(stream);
    const order = [opts.preferred, ...partitions].filter((p) => partitions.includes(p) && !tried.has(p));
    for (const p of new Set(order)) {
      tried.add(p);
      try {
        return await log.append(stream, p, records, opts.ack);
      } catch (err) {
        if (!isHopperError(err, 'HOPPER_PARTITION_LOCKED')) throw err;
        lastLock = err;
      }
    }
    if (!opts.grow || partitions.length >= MAX_FALLBACK_PARTITIONS) break;
    await log.ensureStream(stream, { ...opts.grow, partitions: partitions.length + 1 });
  }
  throw new HopperError(
    'HOPPER_PARTITION_LOCKED',
    `every partition of ${stream} is being written by another process${lastLock ? ` (${lastLock.message})` : ''}: stop that process or retry when it is stopped.`,
    { cause: lastLock ?? undefined },
  );
}
