// What the CLI and `hopper bench --audit --admin URL` read from a running server
// through the admin API, instead of opening its log themselves:
//   GET /api/streams                     {"streams":[{"name","partitions":[0,1]}]}
//   GET /api/streams/{stream}            {"name","partitions":[0,1]}   (404 when unknown)
//   GET /api/streams/{stream}/records?partition=P&from=OFFSET|ISO-TIME|P:OFFSET,...&limit=N
//       the same JSON lines as `hopper log read`. With `partition`, the header
//       Hopper-Next-Offset says where the next page starts (a page may be empty
//       yet move on, past a damaged range; it is the end when it does not move).
//       Without it, every partition in order (all of partition 0 the page holds,
//       then 1, ...), and Hopper-Next-Offsets ("0:1000,1:0") says where each
//       partition's next page starts: pass it back as `from` to go on. It is the
//       end when a page is empty and its Hopper-Next-Offsets equals the `from` sent.
//       A partition the P:OFFSET form leaves out starts at its beginning.
// Pages are bounded: MAX_PAGE_RECORDS records, MAX_PAGE_BYTES of JSON lines (one
// record more when a single one is larger).

import { assertStreamName, HopperError } from '../errors.js';
import type { Log } from '../log/types.js';
import { parseNonNegativeInt, parseOffsetOrTime } from '../cli/parse-duration.js';
import { recordToJson } from './record-json.js';

export const DEFAULT_PAGE_RECORDS = 1000;
export const MAX_PAGE_RECORDS = 10_000;
/**
 * Bytes of JSON lines a page holds at most (unless its first record alone is larger). Counted on the lines, not
 * the stored bodies: a body's JSON may be 6 times its size (each control byte is written \u0001), base64 4/3.
 */
export const MAX_PAGE_BYTES = 8 * 1024 * 1024;
export const NEXT_OFFSET_HEADER = 'Hopper-Next-Offset';
export const NEXT_OFFSETS_HEADER = 'Hopper-Next-Offsets';

export interface RecordsPage {
  /** JSON lines, each ending in "\n". */
  body: string;
  records: number;
  /** With one partition read (`partition` given, or a one-partition stream): where its next page starts. */
  nextOffset: number | null;
  /** Every partition read, in order, with where its next page starts: "0:1000,1:0" (NEXT_OFFSETS_HEADER). */
  nextOffsets: string;
}

const OFFSETS_FORM = /^\d+:\d+(?:,\d+:\d+)*$/;

/** `from` as a position per partition ("0:1000,1:0"), or null when it is one offset or time for all. */
function parseOffsets(text: string, stream: string, all: readonly number[]): Map<number, number> | null {
  if (!OFFSETS_FORM.test(text)) return null;
  const out = new Map<number, number>();
  for (const pair of text.split(',')) {
    const [pText, oText] = pair.split(':') as [string, string];
    const p = parseNonNegativeInt(pText, 'from partition');
    if (!all.includes(p)) throw new HopperError('HOPPER_PARTITION_UNKNOWN', `from names partition ${p}, but stream ${stream} has no partition ${p} (it has ${all.join(', ')}).`);
    if (out.has(p)) throw new HopperError('HOPPER_USAGE', `from ${JSON.stringify(text)} names partition ${p} twice.`);
    out.set(p, parseNonNegativeInt(oText, `from offset of partition ${p}`));
  }
  return out;
}

async function partitionsOf(log: Log, stream: string): Promise<number[]> {
  assertStreamName(stream);
  const partitions = await log.listPartitions(stream);
  if (partitions.length === 0) throw new HopperError('HOPPER_STREAM_UNKNOWN', `No stream ${JSON.stringify(stream)} in this log.`);
  return partitions;
}

export async function listStreams(log: Log): Promise<{ streams: { name: string; partitions: number[] }[] }> {
  const names = (await log.listStreams()).sort();
  const streams = [];
  for (const name of names) streams.push({ name, partitions: await log.listPartitions(name) });
  return { streams };
}

export async function describeStream(log: Log, stream: string): Promise<{ name: string; partitions: number[] }> {
  return { name: stream, partitions: await partitionsOf(log, stream) };
}

export async function readRecords(log: Log, stream: string, query: URLSearchParams): Promise<RecordsPage> {
  const all = await partitionsOf(log, stream);
  const limitText = query.get('limit');
  const limit = limitText === null ? DEFAULT_PAGE_RECORDS : Math.min(MAX_PAGE_RECORDS, parseNonNegativeInt(limitText, 'limit'));
  // A page of 0 records could not move on, and would read as the end of the stream.
  if (limit === 0) throw new HopperError('HOPPER_USAGE', `limit 0 reads nothing: give 1 to ${MAX_PAGE_RECORDS} records a page.`);
  const fromText = query.get('from') ?? '';
  const perPartition = parseOffsets(fromText, stream, all);
  const from = fromText === '' || perPartition !== null ? { offset: 0 } : parseOffsetOrTime(fromText, 'from');
  const partitionText = query.get('partition');
  let partitions = all;
  if (partitionText !== null) {
    const p = parseNonNegativeInt(partitionText, 'partition');
    if (!all.includes(p)) throw new HopperError('HOPPER_PARTITION_UNKNOWN', `Stream ${stream} has no partition ${p} (it has ${all.join(', ')}).`);
    partitions = [p];
  }
  let body = '';
  let records = 0;
  let bytes = 0;
  const next: string[] = [];
  let nextOffset = 0;
  for (const p of partitions) {
    let offset = perPartition !== null ? (perPartition.get(p) ?? 0) : 'offset' in from ? from.offset : await log.offsetForTime(stream, p, from.timeUs);
    nextOffset = offset;
    read: while (records < limit && bytes < MAX_PAGE_BYTES) {
      // A body's line is at least as long as the body: no more bodies are read than the page has room for.
      const r = await log.read(stream, p, offset, { maxRecords: limit - records, maxBytes: MAX_PAGE_BYTES - bytes });
      for (const rec of r.records) {
        const line = JSON.stringify(recordToJson(rec)) + '\n';
        const lineBytes = Buffer.byteLength(line);
        if (records > 0 && bytes + lineBytes > MAX_PAGE_BYTES) {
          // The page is full: this record starts the next one, and later partitions wait for it too.
          nextOffset = rec.offset;
          bytes = MAX_PAGE_BYTES;
          break read;
        }
        body += line;
        bytes += lineBytes;
        records++;
      }
      nextOffset = r.nextOffset;
      // An empty read that moves on skipped a damaged range; one that does not is the end.
      if (r.nextOffset <= offset || (r.records.length === 0 && partitions.length === 1)) break;
      offset = r.nextOffset;
    }
    next.push(`${p}:${nextOffset}`);
  }
  return { body, records, nextOffset: partitions.length === 1 ? nextOffset : null, nextOffsets: next.join(',') };
}
