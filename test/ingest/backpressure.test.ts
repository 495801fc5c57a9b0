// With a log deliberately stalled, the server refuses new writes with 503 and a
// Retry-After instead of queueing them: what it holds stays under
// ingest.maxPendingBytes, every request gets an answer, readiness says so, and
// it recovers once the log drains. The hard watermark holds whatever the soft one
// says, and a body the budget can never hold gets 413, not 503 forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AckLevel, AppendResult, Log, RecordInput } from '../../src/log/types.js';
import { pino } from 'pino';
import { Backpressure } from '../../src/ingest/backpressure.js';
import { IngestServer } from '../../src/ingest/http-server.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { errorCode, post, readAll, send, startIngest, testConfig, type Reply } from './ingest-fixture.js';

/** A log whose appends wait at a gate while stalled; the stalled queue counts as its pending bytes. */
interface StallableLog extends Log {
  stall(): void;
  open(): void;
  waiting(): number;
}

function stallable(inner: Log): StallableLog {
  let stalled = false;
  let queued: { bytes: number; go: () => void }[] = [];
  const append = (stream: string, partition: number, records: RecordInput[], ack: AckLevel): Promise<AppendResult> => {
    if (!stalled) return inner.append(stream, partition, records, ack);
    const bytes = records.reduce((s, r) => s + r.body.length, 0);
    return new Promise<void>((go) => queued.push({ bytes, go })).then(() => inner.append(stream, partition, records, ack));
  };
  const extra: Record<string, unknown> = {
    append,
    pendingBytes: () => inner.pendingBytes() + queued.reduce((s, q) => s + q.bytes, 0),
    stall: () => {
      stalled = true;
    },
    open: () => {
      stalled = false;
      const q = queued;
      queued = [];
      for (const x of q) x.go();
    },
    waiting: () => queued.length,
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop in extra) return extra[prop];
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as StallableLog;
}

const BODY = 'x'.repeat(4096);
const LIMITS = { 'ingest.maxPendingBytes': 64 * 1024, 'ingest.softPendingBytes': 32 * 1024 };

test('a stalled log gets 503 + Retry-After instead of an unbounded queue, then recovers', async (t) => {
  let slow!: StallableLog;
  const f = await startIngest(t, { overrides: LIMITS, wrapLog: (inner) => (slow = stallable(inner)) });
  // Create the stream first, so the flood below measures only the write path.
  assert.equal((await post(f.port, 'bp', '{"warm":1}')).status, 202);
  slow.stall();

  const total = 300;
  const answers: Promise<Reply>[] = [];
  for (let i = 0; i < total; i++) answers.push(post(f.port, 'bp', JSON.stringify({ i, pad: BODY })));
  // Every refused request is answered while the log is still stalled: nothing hangs.
  const refusedEarly: Reply[] = [];
  const settled = answers.map((p) => p.then((r) => (r.status === 503 ? refusedEarly.push(r) : undefined)));
  const deadline = Date.now() + 10_000;
  // Admitted writes sit in the stalled log; every other one must be answered meanwhile.
  for (;;) {
    const admitted = f.server.handler.inFlight;
    if (refusedEarly.length + admitted >= total || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(refusedEarly.length + f.server.handler.inFlight, total, 'every request is either refused or waiting for the log');
  assert.ok(refusedEarly.length > total / 2, `most writes were refused while the log stalled (${refusedEarly.length}/${total})`);
  for (const r of refusedEarly) {
    assert.equal(errorCode(r), 'HOPPER_BACKPRESSURE');
    const retryAfter = Number(r.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 30, `Retry-After ${r.headers['retry-after']}`);
  }
  const peak = f.server.backpressure.peakHeldBytes;
  assert.ok(peak <= LIMITS['ingest.maxPendingBytes'], `held bytes peaked at ${peak}, above maxPendingBytes`);
  assert.ok(peak > 0);

  const notReady = await send(f.port, 'GET', '/readyz');
  assert.equal(notReady.status, 503, 'readiness reports the backpressure');
  assert.equal(errorCode(notReady), 'HOPPER_NOT_READY');
  assert.match(notReady.text, /backpressure/);
  assert.equal(notReady.headers['retry-after'], '1', 'a 503 says when to come back, /readyz too');

  slow.open();
  await Promise.all(settled);
  const all = await Promise.all(answers);
  const accepted = all.filter((r) => r.status === 202);
  assert.equal(accepted.length + refusedEarly.length, total, 'every request got 202 or 503');
  assert.equal(f.server.stats.backpressureRefusals, refusedEarly.length, 'the refusals show in stats');

  // Recovered: new writes are accepted and the server is ready again.
  await new Promise((r) => setTimeout(r, 250));
  assert.equal((await post(f.port, 'bp', '{"after":1}')).status, 202);
  assert.equal((await send(f.port, 'GET', '/readyz')).status, 200);
  const stored = await readAll(f.log, 'bp');
  assert.equal(stored.length, accepted.length + 2, 'exactly the accepted writes are stored');
  assert.equal(f.server.backpressure.heldBytes, 0);
});

test('between the soft and the hard watermark some writes are shed, not all', async (t) => {
  let slow!: StallableLog;
  const f = await startIngest(t, {
    overrides: { 'ingest.maxPendingBytes': 1024 * 1024, 'ingest.softPendingBytes': 16 * 1024 },
    wrapLog: (inner) => (slow = stallable(inner)),
  });
  assert.equal((await post(f.port, 'soft', '{}')).status, 202);
  slow.stall();

  // 120 x 4 KiB while the log stalls: pressure climbs through the soft zone, shedding more as it rises.
  const fill: Promise<Reply>[] = [];
  for (let i = 0; i < 120; i++) fill.push(post(f.port, 'soft', BODY));
  await new Promise((r) => setTimeout(r, 500));
  const held = f.server.backpressure.pressure();
  assert.ok(held > 16 * 1024 && held < 1024 * 1024, `pressure ${held} sits between the watermarks`);
  slow.open();
  const results = await Promise.all(fill);
  const refused = results.filter((r) => r.status === 503).length;
  const ok = results.filter((r) => r.status === 202).length;
  assert.ok(ok > 0, 'the soft zone still admits some writes');
  assert.ok(refused > 0, 'the soft zone refuses some writes');
});

const MiB = 1024 * 1024;
const idleLog = { pendingBytes: () => 0 } as unknown as Log;

test('the hard watermark holds on its own, even with the soft one at or above it', (t) => {
  const bp = new Backpressure(idleLog, 48 * MiB, 16 * MiB); // soft above hard (a config that bypassed loading)
  t.after(() => bp.stop());
  let admitted = 0;
  for (let i = 0; i < 60; i++) if (bp.admit(MiB) === 0) admitted++;
  assert.equal(admitted, 16, 'admitted up to the hard watermark, then refused');
  assert.ok(bp.heldBytes <= 16 * MiB);
  assert.ok(bp.overSoft(), 'readiness sees the pressure that refuses writes');
});

test('on an idle server a write up to the hard watermark is admitted (random early refusal looks at the backlog)', (t) => {
  const bp = new Backpressure(idleLog, 1024, 8192);
  t.after(() => bp.stop());
  for (let i = 0; i < 50; i++) {
    assert.equal(bp.admit(8192), 0, 'a body of exactly maxPendingBytes fits an empty budget');
    bp.release(8192);
  }
  assert.ok(bp.admit(8193) > 0, 'a byte more never fits');
});

test('a body larger than ingest.maxPendingBytes gets 413, not 503 forever; one of exactly that size is stored', async (t) => {
  const dataDir = tempDir('hopper-bigbody-');
  const log = openEmbedded(dataDir);
  const config = testConfig(dataDir, { 'ingest.maxPendingBytes': 8192 });
  assert.equal(config.ingest.maxBodyBytes, 8192, 'the default maxBodyBytes is lowered to maxPendingBytes at load');
  config.ingest.maxBodyBytes = MiB; // a config built without loadConfig: the server still answers 413
  const server = await IngestServer.create({ config, log, logger: pino({ level: 'silent' }) });
  const [address] = await server.listen();
  t.after(async () => {
    await server.stop(2000);
    await log.close();
    removeDir(dataDir);
  });
  const port = address!.port!;
  for (let i = 0; i < 3; i++) {
    const r = await post(port, 'big', 'x'.repeat(10_000));
    assert.equal(r.status, 413);
    assert.equal(errorCode(r), 'HOPPER_BODY_TOO_LARGE');
    assert.match(r.text, /ingest\.maxPendingBytes \(8192\)/);
  }
  assert.equal((await post(port, 'big', 'y'.repeat(8192))).status, 202);
  assert.deepEqual((await readAll(log, 'big')).map((r) => r.body.length), [8192]);
});
