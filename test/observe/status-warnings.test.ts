// The plain-language warnings, from made-up histories: lag growing at every minute mark for five
// minutes (and not when it dips, stays flat a minute, misses a minute mark or the history is too short), disk almost full, durable without
// fsync, and the quiet case with none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lagGrowth, statusWarnings } from '../../src/observe/status-warnings.js';
import { fakeStatus, GB, lagPoints } from './fake-status.js';

test('a healthy server has no warnings', () => {
  assert.deepEqual(statusWarnings(fakeStatus()), []);
});

test('lag that grew at every minute mark for five minutes warns; a dip or a short history does not', () => {
  assert.deepEqual(lagGrowth(lagPoints([100, 400, 900, 1500, 2600, 4000])), { from: 100, to: 4000 });
  assert.deepEqual(lagGrowth(lagPoints([50, 100, 400, 900, 1500, 2600, 4000])), { from: 100, to: 4000 }, 'the window is the last five minutes');
  assert.equal(lagGrowth(lagPoints([100, 400, 300, 1500, 2600, 4000])), null, 'it went down once: the workers caught up a bit');
  assert.equal(lagGrowth(lagPoints([400, 900, 1500, 2600, 4000])), null, 'four minutes of history is not five');
  assert.equal(lagGrowth(lagPoints([500, 500, 500, 500, 500, 500])), null, 'a flat lag is not growing');
  // README: the lag grew at every minute mark for five minutes. A flat minute is a minute it did not grow.
  assert.equal(lagGrowth(lagPoints([0, 10, 10, 10, 20, 30])), null, 'flat minutes in between are not growth');
  assert.equal(lagGrowth(lagPoints([0, 0, 0, 0, 0, 1])), null, 'one record more after four flat minutes is not five minutes of growth');
  assert.equal(lagGrowth(lagPoints([100, 400, 900, 1500, 2600, 2600])), null, 'flat at the last minute mark');
  // A minute mark with no point (a missed sample, or a group absent from the history then) cannot count as growth.
  const gap = lagPoints([100, 400, 900, 1500, 2600, 4000]).filter((_, i) => i !== 2 && i !== 3);
  assert.equal(lagGrowth(gap), null, 'two minute marks missing: growth at them is not known');
  const late = lagPoints([100, 400, 900, 1500, 2600, 4000], 61_500);
  assert.deepEqual(lagGrowth(late), { from: 100, to: 4000 }, 'samples a little more than a minute apart still count');
  assert.equal(lagGrowth([]), null);

  const warnings = statusWarnings(fakeStatus({ lagHistory: [{ stream: 'events', group: 'files', points: lagPoints([100, 400, 900, 1500, 2600, 4000]) }] }));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^lag of group files on stream events has grown for 5 minutes \(100 -> 4,000 records\)/);
});

test('disk almost full: below twice ingest.minFreeDiskBytes, or 95% used', () => {
  const low = statusWarnings(fakeStatus({ disk: { path: '/data', freeBytes: 300 * 1024 ** 2, totalBytes: 1000 * GB, minFreeBytes: 256 * 1024 ** 2 } }));
  assert.equal(low.length, 1);
  assert.match(low[0]!, /^disk almost full: 300 MB free of 1000 GB at \/data; \/readyz fails below 256 MB \(ingest\.minFreeDiskBytes\)/);
  assert.doesNotMatch(low[0]!, /refused/, 'writes are not refused below the floor: only readiness fails');
  const full = statusWarnings(fakeStatus({ disk: { path: '/data', freeBytes: 40 * GB, totalBytes: 1000 * GB, minFreeBytes: 256 * 1024 ** 2 } }));
  assert.equal(full.length, 1, '96% used');
  assert.deepEqual(statusWarnings(fakeStatus({ disk: { path: '/data', freeBytes: 60 * GB, totalBytes: 1000 * GB, minFreeBytes: 256 * 1024 ** 2 } })), []);
});

test('durable acks on a backend that cannot fsync warn; other ack modes do not', () => {
  const w = statusWarnings(fakeStatus({ backend: 'redis', durableIsFsync: false }));
  assert.equal(w.length, 1);
  assert.match(w[0]!, /^ack "durable" does not fsync here: the redis backend cannot/);
  assert.deepEqual(statusWarnings(fakeStatus({ backend: 'redis', durableIsFsync: false, ack: { default: 'written', streams: {} } })), []);
  assert.equal(statusWarnings(fakeStatus({ backend: 'redis', durableIsFsync: false, ack: { default: 'fast', streams: { billing: 'durable' } } })).length, 1);
});

test('dead letters, backpressure, log errors, missing processes and a slow event loop each warn', () => {
  const w = statusWarnings(
    fakeStatus({
      deadLetters: { pending: 3, stored: 5, streams: [{ stream: 'events', dlqStream: 'events.dlq', stored: 5, pending: 3 }] },
      rates: { ...fakeStatus().rates!, backpressurePerSecond: 12 },
      totals: { ...fakeStatus().totals!, lastAppendError: { code: 'HOPPER_LOG_UNAVAILABLE', message: 'disk full', atMs: 1, untilRestart: false } },
      ingestProcesses: { expected: 2, reporting: 1 },
      processes: [{ process: 'ingest-1', pid: 12, uptimeSeconds: 1, rssBytes: 1, heapUsedBytes: 1, eventLoopDelayP99Seconds: 0.25 }],
    }),
  );
  assert.equal(w.length, 5, w.join('\n'));
  assert.match(w[0]!, /^3 dead letters pending for stream events: see hopper dlq list --stream events\./);
  assert.match(w[1]!, /backpressure/);
  assert.match(w[2]!, /HOPPER_LOG_UNAVAILABLE: disk full/);
  assert.match(w[3]!, /only 1 of 2 ingest processes report/);
  assert.match(w[4]!, /ingest-1 .* 250 ms late/);
});
