// A segment index carries no checksum, so a flipped bit in it must not cost records: readers used to skip good
// records as "damaged" after a bad entry (or seek back before damage for ever), and a bad entry past real
// damage sent the read to its bogus offset, far past the end of the partition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { decodeIndexEntries, encodeIndexEntries, type IndexEntry } from '../../src/log/embedded/segment-files.js';
import { makeRecord } from './conformance.js';

const OPTS = { segmentMaxBytes: 8 * 1024, indexIntervalBytes: 512 };
const TOTAL = 300;
const BODY = 200;

async function writeOriginal(dir: string): Promise<void> {
  const log = openEmbedded(dir, OPTS);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < TOTAL; i += 10) await log.append('s', 0, Array.from({ length: 10 }, (_, j) => makeRecord(i + j, BODY)), 'durable');
  await log.close();
}

/** Reads the partition to its end in reads of `maxRecords`: the offsets returned, and what stats count as quarantined. */
async function drain(dir: string, maxRecords: number): Promise<{ seen: number[]; end: number; quarantined: number }> {
  const log = openEmbedded(dir, OPTS);
  try {
    const seen: number[] = [];
    let offset = 0;
    for (let guard = 0; guard < 500; guard++) {
      const { records, nextOffset } = await log.read('s', 0, offset, { maxRecords });
      for (const r of records) {
        assert.ok(r.body.equals(makeRecord(r.offset, BODY).body), `record ${r.offset} is the one written`);
        seen.push(r.offset);
      }
      if (records.length === 0 && nextOffset === offset) break;
      offset = nextOffset;
    }
    return { seen, end: offset, quarantined: (await log.stats()).streams[0]!.partitions[0]!.quarantinedRecords };
  } finally {
    await log.close();
  }
}

function sealedSegment(dir: string): { seg: string; idx: string; entries: IndexEntry[] } {
  const pdir = join(dir, 'streams', 's', '0');
  const segs = readdirSync(pdir).filter((n) => n.endsWith('.log')).sort();
  assert.ok(segs.length >= 4, 'the test needs several sealed segments');
  const seg = join(pdir, segs[1]!);
  const idx = seg.replace(/\.log$/, '.idx');
  return { seg, idx, entries: decodeIndexEntries(readFileSync(idx)) };
}

test('one damaged index entry costs no record, with or without damaged data before it', async (t) => {
  const original = tempDir();
  t.after(() => removeDir(original));
  await writeOriginal(original);
  const damaged: Record<string, (e: IndexEntry) => void> = {
    'offset too low': (e) => void (e.relOffset = 0),
    'offset too high': (e) => void (e.relOffset += 1_000_000),
    'offset one off': (e) => void (e.relOffset += 1),
    'position inside a frame': (e) => void (e.position += 3),
  };
  for (const [name, spoil] of Object.entries(damaged)) {
    for (const dataDamage of [false, true]) {
      const dir = tempDir();
      t.after(() => removeDir(dir));
      cpSync(original, dir, { recursive: true });
      const { seg, idx, entries } = sealedSegment(dir);
      const k = Math.floor(entries.length / 2);
      // Damage before entry k, with entry k unusable, is skipped up to entry k + 1 at most.
      const mostLost = dataDamage ? entries[k + 1]!.relOffset - entries[k - 1]!.relOffset : 0;
      if (dataDamage) {
        const data = readFileSync(seg);
        data[entries[k]!.position - 20]! ^= 0x5a; // inside the last frame before the entry
        writeFileSync(seg, data);
      }
      spoil(entries[k]!);
      writeFileSync(idx, encodeIndexEntries(entries));
      for (const maxRecords of [7, 1000]) {
        const { seen, end, quarantined } = await drain(dir, maxRecords);
        const what = `${name}${dataDamage ? ', data damaged' : ''}, reads of ${maxRecords}`;
        assert.equal(end, TOTAL, `${what}: the read ends at the partition's end`);
        assert.equal(quarantined, TOTAL - seen.length, `${what}: stats count what was skipped`);
        assert.ok(TOTAL - seen.length <= mostLost && (TOTAL - seen.length > 0) === dataDamage, `${what}: lost ${TOTAL - seen.length}, at most ${mostLost}`);
      }
    }
  }
});

test('random bit flips in an index never lose a record nor move the read past the end', async (t) => {
  const original = tempDir();
  t.after(() => removeDir(original));
  await writeOriginal(original);
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 12; round++) {
    const dir = tempDir();
    t.after(() => removeDir(dir));
    cpSync(original, dir, { recursive: true });
    const { idx } = sealedSegment(dir);
    const bytes = readFileSync(idx);
    for (let f = 0; f < 6; f++) bytes[rand(bytes.length)]! ^= 1 << rand(8);
    writeFileSync(idx, bytes);
    const { seen, end, quarantined } = await drain(dir, 5);
    assert.equal(end, TOTAL, `round ${round}`);
    assert.equal(seen.length, TOTAL, `round ${round}: every record read`);
    assert.equal(quarantined, 0, `round ${round}`);
    // Every record by its offset, each read a seek through the index (backwards: no read goes on from the last).
    const log = openEmbedded(dir, OPTS);
    try {
      for (let offset = TOTAL - 1; offset >= 0; offset--) {
        const { records } = await log.read('s', 0, offset, { maxRecords: 1 });
        assert.equal(records[0]?.offset, offset, `round ${round}: a read at ${offset}`);
      }
    } finally {
      await log.close();
    }
  }
});
