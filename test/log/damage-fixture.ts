// Shared by the damage tests of the embedded log: a partition of small sealed segments to damage, and a
// read of it from offset 0 until a read makes no progress, each record checked against the one written.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Log } from '../../src/log/types.js';
import { openEmbedded } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';

/** Segments of 8 KiB with an index entry every 512 bytes: 300 records of 200 bytes fill several. */
export const SMALL_SEGMENTS = { segmentMaxBytes: 8 * 1024, indexIntervalBytes: 512 };
/** Records written by writeSealedSegments, at offsets 0 to RECORDS - 1. */
export const RECORDS = 300;

/** Writes RECORDS records (makeRecord(offset, 200)) to partition 0 of stream "s"; the partition's directory and segment file names. */
export async function writeSealedSegments(dir: string): Promise<{ pdir: string; segs: string[] }> {
  const log = openEmbedded(dir, SMALL_SEGMENTS);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < RECORDS; i += 10) await log.append('s', 0, Array.from({ length: 10 }, (_, j) => makeRecord(i + j, 200)), 'durable');
  await log.close();
  const pdir = join(dir, 'streams', 's', '0');
  const segs = readdirSync(pdir).filter((n) => n.endsWith('.log')).sort();
  assert.ok(segs.length >= 4, 'the test needs several sealed segments');
  return { pdir, segs };
}

/** The offsets read, and where reading stopped. `bodyBytes`: check each body against makeRecord(offset, bodyBytes). */
export async function readThrough(log: Log, maxRecords: number, bodyBytes?: number): Promise<{ offsets: number[]; end: number }> {
  const offsets: number[] = [];
  let offset = 0;
  for (let guard = 0; guard < 1000; guard++) {
    const { records, nextOffset } = await log.read('s', 0, offset, { maxRecords });
    for (const r of records) {
      if (bodyBytes !== undefined) assert.ok(r.body.equals(makeRecord(r.offset, bodyBytes).body), `record ${r.offset} must be the one written`);
      offsets.push(r.offset);
    }
    if (records.length === 0 && nextOffset === offset) break;
    offset = nextOffset;
  }
  return { offsets, end: offset };
}
