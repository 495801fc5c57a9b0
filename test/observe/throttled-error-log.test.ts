// Hot-path error lines: at most one a second, and every error is accounted for (a line, or a count in
// the next line's `suppressed`), on mocked timers; then through a real ingest server whose log fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import { ThrottledErrorLog, ERROR_LINE_INTERVAL_MS } from '../../src/observe/throttled-error-log.js';
import { throttledWarnTo } from '../../src/observe/logger.js';
import type { AckLevel, AppendResult, Log, RecordInput } from '../../src/log/types.js';
import { post, startIngest } from '../ingest/ingest-fixture.js';
import { waitFor } from './serve-with-admin.js';

interface Line {
  msg: string;
  err?: string;
  code?: string;
  suppressed?: number;
  time: number;
}

function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger: Logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  return { logger, lines };
}

test('a burst logs one line at once and one at the end of the second, counting what it dropped', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const { logger, lines } = capture();
  // The mocked Date stands in for the monotonic clock, so the test drives time with the timers.
  const log = new ThrottledErrorLog(logger, ERROR_LINE_INTERVAL_MS, () => Date.now());

  log.error({ err: 'e0', code: 'X' }, 'append failed');
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.err, 'e0');
  assert.equal(lines[0]!.suppressed, undefined, 'nothing dropped before the first line');

  for (let i = 1; i <= 42; i++) {
    t.mock.timers.tick(10);
    log.error({ err: `e${i}`, code: 'X' }, 'append failed');
  }
  assert.equal(lines.length, 1, 'no second line within the second');
  t.mock.timers.tick(ERROR_LINE_INTERVAL_MS - 420 - 1);
  assert.equal(lines.length, 1, 'still within the second');
  t.mock.timers.tick(1);
  assert.equal(lines.length, 2, 'the held error is written when the second ends');
  assert.equal(lines[1]!.err, 'e42', 'the latest error of the burst');
  assert.equal(lines[1]!.suppressed, 41, 'e1..e41 had no line of their own');
  assert.equal(lines[1]!.time - lines[0]!.time, ERROR_LINE_INTERVAL_MS);

  // Quiet for a while: the next error gets its line at once, with nothing suppressed.
  t.mock.timers.tick(5000);
  log.error({ err: 'late', code: 'X' }, 'append failed');
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!.suppressed, undefined);

  // Another burst cut short by a stop: flush() writes the held one with its count.
  log.error({ err: 'b1' }, 'append failed');
  log.error({ err: 'b2' }, 'append failed');
  log.error({ err: 'b3' }, 'append failed');
  log.flush();
  assert.equal(lines.length, 4);
  assert.deepEqual([lines[3]!.err, lines[3]!.suppressed], ['b3', 2]);
  t.mock.timers.tick(2 * ERROR_LINE_INTERVAL_MS);
  assert.equal(lines.length, 4, 'the flush cancelled the pending timer');

  const accounted = lines.reduce((n, l) => n + 1 + (l.suppressed ?? 0), 0);
  assert.equal(accounted, 1 + 42 + 1 + 3, 'every error is a line or counted in one');
});

test('an ingest server whose log throws logs its failures throttled, and accounts for every one', async (t) => {
  const { logger, lines } = capture();
  let failing = false;
  const failingLog = (inner: Log): Log => {
    const append = (stream: string, partition: number, records: RecordInput[], ack: AckLevel): Promise<AppendResult> =>
      failing ? Promise.reject(new Error('disk on fire')) : inner.append(stream, partition, records, ack);
    return new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'append') return append;
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  };
  const f = await startIngest(t, { wrapLog: failingLog, logger });
  assert.equal((await post(f.port, 'e', '{"ok":1}')).status, 202);
  failing = true;
  const failures = 60;
  // Sequential posts: each is its own append call, so each failure is one unexpected error.
  for (let i = 0; i < failures; i++) assert.equal((await post(f.port, 'e', `{"n":${i}}`)).status, 503);
  assert.equal(f.server.stats.appendFailures, failures);
  const failed = (): Line[] => lines.filter((l) => l.msg === 'log append failed with an unexpected error');
  const accounted = (): number => failed().reduce((n, l) => n + 1 + (l.suppressed ?? 0), 0);
  // The last error of the run is held until its second ends.
  await waitFor(async () => (accounted() >= failures ? true : undefined), 10_000, () => `lines accounting for ${failures} failures: ${JSON.stringify(failed())}`);
  assert.equal(accounted(), failures, `lines plus suppressed counts = the failures: ${JSON.stringify(failed().map((l) => l.suppressed ?? 0))}`);
  assert.ok(failed().every((l) => l.err === 'disk on fire'), JSON.stringify(failed()));
  assert.ok(failed().length < failures, 'throttled: fewer lines than failures');
});

test('a wall-clock step back does not hold the lines: the interval is measured on a monotonic clock', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { logger, lines } = capture();
  let monotonicMs = 5_000;
  const log = new ThrottledErrorLog(logger, ERROR_LINE_INTERVAL_MS, () => monotonicMs);
  log.error({ err: 'e0', code: 'X' }, 'append failed');
  // The wall clock jumps an hour back; the monotonic clock only moves on by the interval.
  const realNow = Date.now;
  Date.now = () => realNow() - 3_600_000;
  t.after(() => (Date.now = realNow));
  monotonicMs += ERROR_LINE_INTERVAL_MS;
  log.error({ err: 'e1', code: 'X' }, 'append failed');
  assert.equal(lines.length, 2, 'the second error is written at once, an interval after the first');
});

test("the ingest path's log warnings: each message at most once a second at warn level, counted, and flushed at stop", () => {
  const { logger, lines } = capture();
  const warn = throttledWarnTo(logger);
  for (let i = 0; i < 5000; i++) warn({ op: 'write', code: 'ENOSPC', partition: 0 }, 'log write failed; the affected appends are refused');
  warn({ dir: 'x' }, 'rebuilt a missing index');
  assert.deepEqual(
    lines.map((l) => [l.msg, (l as { level?: number }).level]),
    [
      ['log write failed; the affected appends are refused', 40],
      ['rebuilt a missing index', 40],
    ],
    'one line per message, at warn level, however many came',
  );
  warn.flush();
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!.msg, 'log write failed; the affected appends are refused');
  assert.equal(lines[2]!.suppressed, 4998, 'the first line, the held last one and the count account for all 5000');
});
