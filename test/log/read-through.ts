// Shared by the damage tests of the embedded log: reads partition 0 of stream "s" from offset 0 until a
// read makes no progress, checking each record against the one written (makeRecord of its offset).
import assert from 'node:assert/strict';
import type { Log } from '../../src/log/types.js';
import { makeRecord } from './conformance.js';

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
