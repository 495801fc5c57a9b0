// The partitions a CLI command works on: all of the stream's, or the one named
// by --partition, with one clear error for an unknown stream or partition.

import { HopperError } from '../errors.js';
import type { Log } from '../log/types.js';
import { parseNonNegativeInt } from './parse-duration.js';

export async function selectPartitions(log: Log, stream: string, partitionFlag: string | undefined): Promise<number[]> {
  return choosePartitions(await log.listPartitions(stream), stream, partitionFlag);
}

/** The same choice among partitions listed elsewhere (a running server's admin API). */
export function choosePartitions(all: number[], stream: string, partitionFlag: string | undefined): number[] {
  if (all.length === 0) throw unknownStream(stream);
  if (partitionFlag === undefined) return all;
  const p = parseNonNegativeInt(partitionFlag, '--partition');
  if (!all.includes(p)) throw new HopperError('HOPPER_PARTITION_UNKNOWN', `Stream ${stream} has no partition ${p} (it has ${all.join(', ')}).`);
  return [p];
}

/** The one answer of every command given a --stream that the log does not have (a typo must not read as "nothing there"). */
export function unknownStream(stream: string): HopperError {
  return new HopperError('HOPPER_STREAM_UNKNOWN', `No stream ${JSON.stringify(stream)} in this log.`);
}
