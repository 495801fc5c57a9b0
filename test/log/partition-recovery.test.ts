// Recovery properties: damage the newest segment anywhere (cut it short, flip a
// byte); reopening keeps every record before the damage, returns none of the
// damaged ones, and appends go on right after the last good record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';
import type { Log, LogRecord } from '../../src/log/types.js';

const OPTS = { segmentMaxBytes: 8 * 1024, indexIntervalBytes: 512 };

async function readAll(log: Log, stream: string): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let offset = 0;
  for (;;) {
    const { records, nextOffset } = await log.read(stream, 0, offset, { maxRecords: 500 });
    if (records.length === 0) return out;
    out.push(...records);
    offset = nextOffset;
  }
}

function newestSegment(dir: string): string {
  const pdir = join(dir, 'streams', 's', '0');
  const segs = readdirSync(pdir).filter((n) => n.endsWith('.log')).sort();
  return join(pdir, segs[segs.length - 1]!);
}

/** Writes n records in small durable batches; returns the bodies by offset. */
async function fill(dir: string, n: number, bodyBytes: number): Promise<Buffer[]> {
  const log = openEmbedded(dir, OPTS);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const bodies: Buffer[] = [];
  for (let i = 0; i < n; i += 7) {
    const batch = Array.from({ length: Math.min(7, n - i) }, (_, j) => makeRecord(i + j, bodyBytes));
    await log.append('s', 0, batch, 'durable');
    bodies.push(...batch.map((r) => r.body));
  }
  await log.close();
  return bodies;
}

async function checkAfterDamage(dir: string, bodies: Buffer[], damage: (seg: string, size: number) => number): Promise<void> {
  const seg = newestSegment(dir);
  const base = Number(seg.slice(-24, -4));
  const size = statSync(seg).size;
  const damagedAt = damage(seg, size); // byte position of the first damaged byte
  const log = openEmbedded(dir, OPTS);
  try {
    const all = await readAll(log, 's');
    // Everything in older segments and every frame that ends before the damage survives.
    for (const r of all) assert.ok(r.body.equals(bodies[r.offset]!), `offset ${r.offset} is not the record written there`);
    const offsets = all.map((r) => r.offset);
    for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i]! > offsets[i - 1]!, 'offsets must increase');
    // Frames that lie wholly before the damage must all be there.
    let pos = 0;
    const raw = readFileSync(seg);
    let intact = base;
    while (pos + 8 <= raw.length) {
      const len = raw.readUInt32LE(pos);
      if (pos + 8 + len > damagedAt) break;
      pos += 8 + len;
      intact++;
    }
    const have = new Set(offsets);
    for (let o = 0; o < intact; o++) assert.ok(have.has(o), `offset ${o} lay before the damage and was lost`);
    const next = await log.append('s', 0, [makeRecord(999_999, 50)], 'durable');
    const maxSeen = offsets.length ? offsets[offsets.length - 1]! : -1;
    assert.ok(next.firstOffset > maxSeen && next.firstOffset <= bodies.length, `append went to ${next.firstOffset}`);
    // Damage in the tail that recovery scans (after the last index entry) is cut off exactly there.
    const idx = readFileSync(seg.replace(/\.log$/, '.idx'));
    const lastIndexed = idx.length >= 16 ? idx.readUInt32LE(idx.length - (idx.length % 16) - 12) : 0;
    if (damagedAt >= lastIndexed) assert.equal(next.firstOffset, intact, 'appends continue right after the last good record');
    const again = await readAll(log, 's');
    assert.equal(again.length, all.length + 1);
    assert.equal(again[again.length - 1]!.offset, next.firstOffset);
    assert.equal(again[again.length - 1]!.requestId, 'req-999999');
  } finally {
    await log.close();
  }
}

test('truncating the newest segment at any byte keeps every record before the cut', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 20, max: 80 }), fc.integer({ min: 10, max: 400 }), fc.double({ min: 0, max: 1, noNaN: true }), async (n, bodyBytes, where) => {
      const dir = tempDir();
      try {
        const bodies = await fill(dir, n, bodyBytes);
        await checkAfterDamage(dir, bodies, (seg, size) => {
          const cut = Math.floor(where * size);
          truncateSync(seg, cut);
          return cut;
        });
      } finally {
        removeDir(dir);
      }
    }),
    { numRuns: 40 },
  );
});

test('flipping any byte in the newest segment loses nothing before it and returns nothing damaged', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 20, max: 80 }), fc.integer({ min: 10, max: 400 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 255 }), async (n, bodyBytes, where, mask) => {
      const dir = tempDir();
      try {
        const bodies = await fill(dir, n, bodyBytes);
        await checkAfterDamage(dir, bodies, (seg, size) => {
          if (size === 0) return 0;
          const at = Math.min(size - 1, Math.floor(where * size));
          const buf = readFileSync(seg);
          buf[at] = buf[at]! ^ mask;
          writeFileSync(seg, buf);
          return at;
        });
      } finally {
        removeDir(dir);
      }
    }),
    { numRuns: 40 },
  );
});

test('a missing or stale index of the newest segment is rebuilt', async () => {
  const dir = tempDir();
  try {
    const bodies = await fill(dir, 60, 100);
    const seg = newestSegment(dir);
    writeFileSync(seg.replace(/\.log$/, '.idx'), Buffer.alloc(16 * 5, 0xff)); // entries pointing nowhere
    let log = openEmbedded(dir, OPTS);
    assert.equal((await readAll(log, 's')).length, bodies.length);
    await log.append('s', 0, [makeRecord(1, 10)], 'durable');
    await log.close();
    for (const f of readdirSync(join(dir, 'streams', 's', '0'))) if (f.endsWith('.idx')) writeFileSync(join(dir, 'streams', 's', '0', f), '');
    log = openEmbedded(dir, OPTS);
    const all = await readAll(log, 's');
    assert.equal(all.length, bodies.length + 1);
    assert.equal(await log.offsetForTime('s', 0, 0), 0);
    await log.close();
  } finally {
    removeDir(dir);
  }
});
