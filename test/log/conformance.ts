// The log conformance suite: written once, run unchanged for every backend
// (embedded, redis, nats). A backend is done when it passes all of it.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Delivery, Log, LogConsumer, LogRecord, RecordInput } from '../../src/log/types.js';
import { isHopperError } from '../../src/errors.js';

export interface LogHarness {
  /** Opens a Log on this harness's storage; called again after close() to test restarts. */
  open(): Promise<Log>;
  /** Removes everything the harness created. */
  cleanup(): Promise<void>;
  /** Backend name and where its data is (data dir, key or subject prefix), for lock-holder.ts in another process. */
  holderArgs: [backend: string, where: string];
}

/** A harness, or a string saying why the backend cannot be tested here (the suite is skipped with it). */
export type HarnessFactory = () => Promise<LogHarness | string>;

let seq = 0;
export function makeRecord(i: number, bodyBytes = 250): RecordInput {
  const head = JSON.stringify({ id: `r-${i}`, n: i });
  return {
    body: Buffer.concat([Buffer.from(head), Buffer.alloc(Math.max(0, bodyBytes - head.length), 0x20)]),
    receivedAtUs: Date.now() * 1000 + (seq++ % 1000),
    contentType: 'application/json',
    contentEncoding: '',
    remoteAddress: '127.0.0.1',
    requestId: `req-${i}`,
    idempotencyKey: i % 2 === 0 ? `idem-${i}` : '',
  };
}

function sameRecord(actual: LogRecord, expected: RecordInput, msg: string): void {
  assert.ok(actual.body.equals(expected.body), `${msg}: body differs`);
  assert.equal(actual.receivedAtUs, expected.receivedAtUs, `${msg}: receivedAtUs`);
  assert.equal(actual.contentType, expected.contentType, `${msg}: contentType`);
  assert.equal(actual.contentEncoding, expected.contentEncoding, `${msg}: contentEncoding`);
  assert.equal(actual.remoteAddress, expected.remoteAddress, `${msg}: remoteAddress`);
  assert.equal(actual.requestId, expected.requestId, `${msg}: requestId`);
  assert.equal(actual.idempotencyKey, expected.idempotencyKey, `${msg}: idempotencyKey`);
}

async function readAll(log: Log, stream: string, partition: number, from = 0): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let offset = from;
  for (let guard = 0; guard < 100_000; guard++) {
    const { records, nextOffset } = await log.read(stream, partition, offset, { maxRecords: 1000 });
    if (records.length === 0) return out;
    out.push(...records);
    offset = nextOffset;
  }
  throw new Error('readAll did not terminate');
}

const NO_RETENTION = { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 };

/** Lease of the locks taken by lock-holder.ts (backends with leases; the embedded log checks the pid). */
const HOLDER_LEASE_MS = 1500;
const LOCK_HOLDER = fileURLToPath(new URL('./lock-holder.ts', import.meta.url));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const isLockHeld = (e: unknown): boolean => isHopperError(e, 'HOPPER_LOCK_HELD');

export function runLogConformance(backend: string, factory: HarnessFactory): void {
  describe(`log conformance: ${backend}`, () => {
    let harness: LogHarness | null = null;
    let skipReason: string | false = false;
    let log: Log;
    const runId = randomBytes(3).toString('hex');
    let streamSeq = 0;
    const newStream = (): string => `conf-${runId}-${streamSeq++}`;

    before(async () => {
      const h = await factory();
      if (typeof h === 'string') {
        skipReason = h;
        return;
      }
      harness = h;
      log = await h.open();
    });
    after(async () => {
      if (harness) {
        await log.close().catch(() => undefined);
        await harness.cleanup();
      }
    });

    const it = (name: string, fn: () => Promise<void>): void => {
      test(name, async (t) => {
        if (skipReason) {
          t.skip(skipReason);
          return;
        }
        await fn();
      });
    };

    it('creates streams idempotently and lists them with their partitions', async () => {
      const s = newStream();
      await log.ensureStream(s, { ...NO_RETENTION, partitions: 3 });
      await log.ensureStream(s, { ...NO_RETENTION, partitions: 3 });
      assert.ok((await log.listStreams()).includes(s));
      assert.deepEqual(await log.listPartitions(s), [0, 1, 2]);
    });

    it('takes new options for an existing stream: more partitions, another retention (a short age too), its records kept', async () => {
      const s = newStream();
      await log.ensureStream(s, NO_RETENTION);
      await log.append(s, 0, [makeRecord(0), makeRecord(1)], 'durable');
      await log.ensureStream(s, { partitions: 2, retentionMaxAgeMs: 7 * 24 * 3600 * 1000, retentionMaxBytes: 0 });
      await log.ensureStream(s, { partitions: 2, retentionMaxAgeMs: 60_000, retentionMaxBytes: 1024 * 1024 });
      await log.ensureStream(s, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
      assert.deepEqual(await log.listPartitions(s), [0, 1]);
      assert.equal((await log.append(s, 0, [makeRecord(2)], 'durable')).firstOffset, 2);
      assert.equal((await log.append(s, 1, [makeRecord(3)], 'durable')).firstOffset, 0);
      assert.deepEqual((await readAll(log, s, 0)).map((r) => r.requestId), ['req-0', 'req-1', 'req-2']);
    });

    it('keeps the larger partition count when two processes add partitions at once', async () => {
      const other = await harness!.open();
      try {
        for (let round = 0; round < 10; round++) {
          const s = newStream();
          await log.ensureStream(s, { ...NO_RETENTION, partitions: 2 });
          await Promise.all([log.ensureStream(s, { ...NO_RETENTION, partitions: 4 }), other.ensureStream(s, { ...NO_RETENTION, partitions: 3 })]);
          assert.deepEqual(await log.listPartitions(s), [0, 1, 2, 3], `round ${round}`);
          assert.deepEqual(await other.listPartitions(s), [0, 1, 2, 3], `round ${round}`);
        }
      } finally {
        await other.close();
      }
    });

    it('rejects invalid stream names before touching storage', async () => {
      for (const bad of ['', '.', '..', 'a/b', 'x'.repeat(65), 'sp ace', 'é']) {
        await assert.rejects(log.ensureStream(bad, NO_RETENTION), (e) => isHopperError(e, 'HOPPER_STREAM_NAME_INVALID'), bad);
      }
    });

    it('refuses appends to a stream that was never created', async () => {
      await assert.rejects(log.append(`never-${runId}`, 0, [makeRecord(0)], 'durable'), (e) => isHopperError(e, 'HOPPER_STREAM_UNKNOWN'));
    });

    it('refuses appends to a partition the stream does not have, and adds none', async () => {
      const s = newStream();
      await log.ensureStream(s, { ...NO_RETENTION, partitions: 2 });
      for (const p of [2, 7]) await assert.rejects(log.append(s, p, [makeRecord(0)], 'durable'), (e) => isHopperError(e, 'HOPPER_PARTITION_UNKNOWN'), `partition ${p}`);
      assert.deepEqual(await log.listPartitions(s), [0, 1]);
      assert.deepEqual((await log.stats()).streams.find((x) => x.stream === s)!.partitions.map((p) => p.partition), [0, 1]);
    });

    it('appends a batch with consecutive offsets and reads it back byte-identical', async () => {
      const s = newStream();
      await log.ensureStream(s, NO_RETENTION);
      const batch = [0, 1, 2, 3, 4].map((i) => makeRecord(i));
      batch[3] = { ...batch[3]!, body: randomBytes(300), contentType: 'application/octet-stream', contentEncoding: 'gzip' };
      batch[4] = { ...batch[4]!, requestId: 'ünïcode-✓', remoteAddress: '::1', body: Buffer.alloc(0) };
      const r1 = await log.append(s, 0, batch, 'durable');
      assert.equal(r1.firstOffset, 0);
      assert.equal(r1.partition, 0);
      const fifth = makeRecord(5);
      const r2 = await log.append(s, 0, [fifth], 'durable');
      assert.equal(r2.firstOffset, 5);
      const all = await readAll(log, s, 0);
      assert.equal(all.length, 6);
      all.forEach((r, i) => {
        assert.equal(r.offset, i);
        assert.equal(r.stream, s);
        assert.equal(r.partition, 0);
        sameRecord(r, i < 5 ? batch[i]! : fifth, `record ${i}`);
      });
      const mid = await log.read(s, 0, 2, { maxRecords: 2 });
      assert.deepEqual(mid.records.map((r) => r.offset), [2, 3]);
      assert.equal(mid.nextOffset, 4);
      const past = await log.read(s, 0, 100, { maxRecords: 10 });
      assert.equal(past.records.length, 0);
    });

    it('returns at least one record for any maxBytes, and stops at maxRecords', async () => {
      const s = newStream();
      await log.ensureStream(s, NO_RETENTION);
      await log.append(s, 0, [makeRecord(0, 300), { ...makeRecord(1), body: Buffer.alloc(0) }, makeRecord(2, 300)], 'durable');
      const offsets = async (from: number, maxRecords: number, maxBytes: number): Promise<[number[], number]> => {
        const r = await log.read(s, 0, from, { maxRecords, maxBytes });
        return [r.records.map((x) => x.offset), r.nextOffset];
      };
      assert.deepEqual(await offsets(0, 10, 0), [[0], 1], 'maxBytes 0');
      assert.deepEqual(await offsets(0, 10, 1), [[0], 1], 'maxBytes 1, a larger record');
      assert.deepEqual(await offsets(1, 10, 0), [[1], 2], 'maxBytes 0, an empty body');
      assert.deepEqual(await offsets(0, 10, 300), [[0], 1], 'maxBytes reached by the first record');
      assert.deepEqual(await offsets(0, 10, 301), [[0, 1, 2], 3], 'maxBytes not reached before the last');
      assert.deepEqual(await offsets(0, 1, 10_000), [[0], 1], 'maxRecords 1');
      assert.deepEqual(await offsets(3, 10, 0), [[], 3], 'at the end');
    });

    it('keeps partitions independent', async () => {
      const s = newStream();
      await log.ensureStream(s, { ...NO_RETENTION, partitions: 2 });
      await log.append(s, 0, [makeRecord(1), makeRecord(2)], 'durable');
      const r = await log.append(s, 1, [makeRecord(3)], 'durable');
      assert.equal(r.firstOffset, 0);
      assert.equal(r.partition, 1);
      assert.equal((await readAll(log, s, 0)).length, 2);
      const p1 = await readAll(log, s, 1);
      assert.equal(p1.length, 1);
      assert.equal(p1[0]!.requestId, 'req-3');
    });

    it('orders many concurrent appenders: unique offsets, read order = offset order', async () => {
      const s = newStream();
      await log.ensureStream(s, NO_RETENTION);
      const n = 2000;
      const inputs = Array.from({ length: n }, (_, i) => makeRecord(i, 100));
      const results = await Promise.all(inputs.map((r, i) => log.append(s, 0, [r], i % 3 === 0 ? 'durable' : 'written')));
      const offsets = results.map((r) => r.firstOffset);
      assert.equal(new Set(offsets).size, n);
      assert.deepEqual([...offsets].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
      const all = await readAll(log, s, 0);
      assert.equal(all.length, n);
      results.forEach((r, i) => sameRecord(all[r.firstOffset]!, inputs[i]!, `append ${i}`));
    });

    it('reports the ack level reached, at least the one asked for', async () => {
      const s = newStream();
      await log.ensureStream(s, NO_RETENTION);
      const d = await log.append(s, 0, [makeRecord(1)], 'durable');
      assert.equal(d.ack, 'durable');
      const w = await log.append(s, 0, [makeRecord(2)], 'written');
      assert.ok(w.ack === 'written' || w.ack === 'durable');
      const f = await log.append(s, 0, [makeRecord(3)], 'fast');
      assert.ok(['fast', 'written', 'durable'].includes(f.ack));
      // A durable append after a fast one means the fast one (queued before it) is stored too.
      await log.append(s, 0, [makeRecord(4)], 'durable');
      assert.deepEqual((await readAll(log, s, 0)).map((r) => r.requestId), ['req-1', 'req-2', 'req-3', 'req-4']);
    });

    it('finds offsets by time', async () => {
      const s = newStream();
      await log.ensureStream(s, NO_RETENTION);
      const base = 1_700_000_000_000_000;
      const recs = Array.from({ length: 50 }, (_, i) => ({ ...makeRecord(i), receivedAtUs: base + i * 1000 }));
      await log.append(s, 0, recs, 'durable');
      assert.equal(await log.offsetForTime(s, 0, base - 5), 0);
      assert.equal(await log.offsetForTime(s, 0, base + 20_000), 20);
      assert.equal(await log.offsetForTime(s, 0, base + 20_001), 21);
      assert.equal(await log.offsetForTime(s, 0, base + 10_000_000), 50);
    });

    it('refuses a negative, fractional or NaN group position, and a fractional or NaN read offset, keeping the stored position', async () => {
      const s = newStream();
      await log.ensureStream(s, NO_RETENTION);
      await log.append(s, 0, [makeRecord(0), makeRecord(1)], 'durable');
      await log.commitPosition('gbad', s, 0, 1);
      const isInternal = (e: unknown): boolean => isHopperError(e, 'HOPPER_INTERNAL');
      for (const bad of [-1, 1.5, Number.NaN]) {
        await assert.rejects(log.commitPosition('gbad', s, 0, bad), isInternal, `position ${bad}`);
        assert.equal(await log.getPosition('gbad', s, 0), 1, `after position ${bad}`);
      }
      for (const bad of [0.5, Number.NaN]) await assert.rejects(log.read(s, 0, bad, { maxRecords: 10 }), isInternal, `read at ${bad}`);
      // Below the start is not an error: reads are clamped to it.
      assert.deepEqual((await log.read(s, 0, -5, { maxRecords: 10 })).records.map((r) => r.offset), [0, 1]);
    });

    it('stores group positions, and they survive a restart with the data', async () => {
      const s = newStream();
      await log.ensureStream(s, NO_RETENTION);
      await log.append(s, 0, [0, 1, 2, 3].map((i) => makeRecord(i)), 'durable');
      assert.equal(await log.getPosition('g1', s, 0), null);
      await log.commitPosition('g1', s, 0, 3);
      assert.equal(await log.getPosition('g1', s, 0), 3);
      await log.close();
      log = await harness!.open();
      assert.equal(await log.getPosition('g1', s, 0), 3);
      assert.equal((await readAll(log, s, 0)).length, 4);
      const next = await log.append(s, 0, [makeRecord(9)], 'durable');
      assert.equal(next.firstOffset, 4);
      const stats = await log.stats();
      const p = stats.streams.find((x) => x.stream === s)!.partitions[0]!;
      assert.equal(p.endOffset, 5);
      assert.deepEqual(p.groups.find((g) => g.group === 'g1'), { group: 'g1', position: 3, lag: 2 });
    });

    it('keeps fast and written appends across a clean close', async () => {
      const s = newStream();
      await log.ensureStream(s, NO_RETENTION);
      await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(s, 0, [makeRecord(i)], i % 2 ? 'fast' : 'written')));
      await log.close();
      log = await harness!.open();
      assert.equal((await readAll(log, s, 0)).length, 300);
    });

    it('stores the appends still in flight when close() is called, first appends to a partition or stream included', async () => {
      const s = newStream();
      await log.ensureStream(s, { ...NO_RETENTION, partitions: 2 });
      await log.append(s, 1, [makeRecord(0)], 'durable');
      const levels = ['durable', 'written', 'fast'] as const;
      const appendThenClose = async (l: Log, first: number): Promise<void> => {
        const inFlight = Array.from({ length: 30 }, (_, i) => l.append(s, i % 2, [makeRecord(first + i)], levels[i % 3]!));
        await l.close();
        const settled = await Promise.allSettled(inFlight);
        assert.deepEqual(settled.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), [], 'appends made before close() are stored');
      };
      // Partition 0 was never appended to by this log (its writer may still be opening); partition 1 was.
      await appendThenClose(log, 0);
      // A log that never saw the stream (another process): it looks the stream up before the first append.
      await appendThenClose(await harness!.open(), 100);
      log = await harness!.open();
      assert.equal((await readAll(log, s, 0)).length, 30);
      assert.equal((await readAll(log, s, 1)).length, 31);
    });

    it('applies retention: old data goes, new data stays, reads start at the new start', async () => {
      const s = newStream();
      await log.ensureStream(s, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 64 * 1024 });
      for (let i = 0; i < 20; i++) {
        await log.append(s, 0, Array.from({ length: 100 }, (_, j) => makeRecord(i * 100 + j, 250)), 'written');
      }
      await log.enforceRetention();
      const all = await readAll(log, s, 0);
      assert.ok(all.length > 0 && all.length < 2000, `retention kept ${all.length} of 2000`);
      assert.ok(all[0]!.offset > 0);
      assert.equal(all[all.length - 1]!.offset, 1999);
      const stats = await log.stats();
      assert.ok(stats.streams.find((x) => x.stream === s)!.partitions[0]!.startOffset > 0);
    });

    it('delivers to a consumer group at least once, resuming from the last commit', async () => {
      const s = newStream();
      await log.ensureStream(s, { ...NO_RETENTION, partitions: 2 });
      await log.append(s, 0, Array.from({ length: 10 }, (_, i) => makeRecord(i)), 'durable');
      await log.append(s, 1, Array.from({ length: 10 }, (_, i) => makeRecord(100 + i)), 'durable');
      const opts = { group: 'cg', stream: s, consumerName: 'c1', leaseTimeoutMs: 2000 };
      const c1 = await log.openConsumer(opts);
      const seen = new Set<string>();
      let committed = 0;
      for (let guard = 0; guard < 50 && committed < 15; guard++) {
        const d = await c1.fetch(5, 200);
        if (!d) continue;
        for (const r of d.records) seen.add(`${d.partition}:${r.offset}`);
        await c1.commit(d);
        committed += d.records.length;
      }
      assert.ok(committed >= 15);
      await c1.close();
      const c2 = await log.openConsumer({ ...opts, consumerName: 'c2' });
      let rest = 0;
      for (let guard = 0; guard < 50; guard++) {
        const d = await c2.fetch(100, 200);
        if (!d) {
          if (seen.size + rest >= 20) break;
          continue;
        }
        for (const r of d.records) assert.ok(!seen.has(`${d.partition}:${r.offset}`), 'a committed record was delivered again');
        rest += d.records.length;
        await c2.commit(d);
      }
      assert.equal(seen.size + rest, 20);
      await c2.close();
    });

    it('delivers records a member never finished again before new ones, counted, and alone once a member died twice on them', async () => {
      // Two members die in a row on the first record (a record that brings its worker down): the next member gets
      // the records again (in a batch: most deaths are not a record's doing), the one after gets the first record
      // alone, delivered twice before. The others follow, marked as delivered before and apart from new records;
      // new records come in batches again, counted as new.
      const s = newStream();
      await log.ensureStream(s, NO_RETENTION);
      await log.append(s, 0, Array.from({ length: 5 }, (_, i) => makeRecord(i)), 'durable');
      const leaseTimeoutMs = 1000;
      const member = (name: string): Promise<LogConsumer> => log.openConsumer({ group: 'alone', stream: s, consumerName: name, leaseTimeoutMs });
      const fetchSome = async (c: LogConsumer): Promise<Delivery> => {
        for (const until = Date.now() + leaseTimeoutMs * 4 + 5000; Date.now() < until; ) {
          const d = await c.fetch(10, 200);
          if (d) return d;
        }
        throw new Error('no delivery within the lease');
      };
      const crash = (c: LogConsumer): void => (c as LogConsumer & { simulateCrash(): void }).simulateCrash();
      // Each member takes all five records (in one delivery or several) and dies holding them.
      const holdAll = async (c: LogConsumer, redeliveries: number): Promise<void> => {
        for (let held = 0; held < 5; ) {
          const d = await fetchSome(c); // not committed
          assert.equal(d.redeliveries, redeliveries, `offsets ${d.records.map((r) => r.offset).join(',')}`);
          held += d.records.length;
        }
        crash(c);
      };
      const m0 = await member('m0');
      await holdAll(m0, 0);
      const m1 = await member('m1');
      await holdAll(m1, 1); // after one death the records come again, counted once
      const m2 = await member('m2');
      const again = new Map<number, number>();
      while (again.size < 5) {
        const d = await fetchSome(m2);
        assert.equal(d.records.length, 1, `after a second death each record comes alone (got ${d.records.map((r) => r.offset).join(',')})`);
        again.set(d.records[0]!.offset, d.redeliveries);
        await m2.commit(d);
      }
      assert.deepEqual([...again.keys()].sort(), [0, 1, 2, 3, 4]);
      assert.equal(again.get(0), 2, 'the first record counts both deaths');
      for (const [offset, redeliveries] of again) assert.ok(redeliveries >= 1, `offset ${offset} is marked as delivered before (${redeliveries})`);
      await log.append(s, 0, Array.from({ length: 3 }, (_, i) => makeRecord(10 + i)), 'durable');
      const fresh: number[] = [];
      while (fresh.length < 3) {
        const d = await fetchSome(m2);
        assert.equal(d.redeliveries, 0, 'new records are not counted as delivered before');
        fresh.push(...d.records.map((r) => r.offset));
        await m2.commit(d);
      }
      assert.deepEqual(fresh, [5, 6, 7]);
      await m2.close();
      await m1.close();
      await m0.close();
    });

    it('shares partitions between two members of a group without double delivery', async () => {
      const s = newStream();
      await log.ensureStream(s, { ...NO_RETENTION, partitions: 4 });
      for (let p = 0; p < 4; p++) await log.append(s, p, Array.from({ length: 25 }, (_, i) => makeRecord(p * 100 + i)), 'durable');
      const a = await log.openConsumer({ group: 'share', stream: s, consumerName: 'a', leaseTimeoutMs: 3000 });
      const b = await log.openConsumer({ group: 'share', stream: s, consumerName: 'b', leaseTimeoutMs: 3000 });
      const got = new Map<string, string>();
      const drain = async (c: typeof a, name: string): Promise<void> => {
        for (let idle = 0; idle < 8; ) {
          const d = await c.fetch(10, 100);
          if (!d) {
            idle++;
            continue;
          }
          idle = 0;
          for (const r of d.records) {
            const key = `${d.partition}:${r.offset}`;
            assert.ok(!got.has(key), `${key} delivered to ${got.get(key)} and ${name}`);
            got.set(key, name);
          }
          await c.commit(d);
        }
      };
      await Promise.all([drain(a, 'a'), drain(b, 'b')]);
      assert.equal(got.size, 100);
      await a.close();
      await b.close();
    });

    it('holds a lock against every other holder until released; other names are free', async () => {
      const name = `conf-${runId}/a`;
      const first = await log.acquireLock(name, 'lock a');
      await assert.rejects(log.acquireLock(name, 'lock a'), isLockHeld, 'a second holder in this process');
      const other = await harness!.open();
      try {
        await assert.rejects(other.acquireLock(name, 'lock a'), isLockHeld, 'a holder on another log');
        const b = await other.acquireLock(`conf-${runId}/b`, 'lock b');
        const parent = await other.acquireLock(`conf-${runId}`, 'lock of the parent name');
        await first.release();
        await first.release(); // a second release does nothing
        const again = await other.acquireLock(name, 'lock a');
        await assert.rejects(log.acquireLock(name, 'lock a'), isLockHeld, 'held again, by the other log');
        await Promise.all([again.release(), b.release(), parent.release()]);
        await (await log.acquireLock(name, 'lock a')).release();
      } finally {
        await other.close();
      }
    });

    it('frees the lock of a holder that died without releasing it, not before', async () => {
      const name = `conf-${runId}/dies`;
      const child = spawn(process.execPath, ['--import', 'tsx', LOCK_HOLDER, ...harness!.holderArgs, name, String(HOLDER_LEASE_MS)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = once(child, 'exit');
      try {
        const [line] = (await Promise.race([once(child.stdout, 'data'), exited.then(() => ['(exited)'])])) as [Buffer | string];
        assert.equal(String(line), 'held\n');
        // Longer than the lease: a live holder keeps it by renewing.
        await sleep(HOLDER_LEASE_MS * 1.5);
        await assert.rejects(log.acquireLock(name, 'the test lock'), isLockHeld, 'a live holder keeps its lock');
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      const killedAtMs = Date.now();
      for (;;) {
        try {
          await (await log.acquireLock(name, 'the test lock')).release();
          break;
        } catch (err) {
          if (!isLockHeld(err)) throw err;
          assert.ok(Date.now() - killedAtMs < HOLDER_LEASE_MS * 2 + 2000, 'the dead holder still blocks the lock');
          await sleep(100);
        }
      }
    });
  });
}
