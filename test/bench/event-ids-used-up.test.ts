// A load thread numbers its events up to what their ids and the audit's bitmap hold (LoadThreadPlan.maxEvents):
// a long --duration --audit run with big batches failed at that point ("A load thread failed", no report, no
// audit). It now stops sending there, reports idsUsedUp, and its window ends then (rates not diluted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadLoop } from '../../src/bench/load-loop.js';
import type { FromThread, LoadThreadPlan, LoadThreadResult } from '../../src/bench/load-protocol.js';
import { maxEventsPerThread } from '../../src/bench/load-run.js';
import { MAX_EVENT_SEQ } from '../../src/bench/body-factory.js';
import { acceptingServer } from './accepting-server.js';

test('a thread stops sending when one more request would go past its event ids', { timeout: 20_000 }, async (t) => {
  const url = new URL(await acceptingServer(t));
  const plan: LoadThreadPlan = {
    thread: 0,
    host: url.hostname,
    port: Number(url.port),
    target: { path: '/v1/streams/bench', host: url.host },
    body: { eventBytes: 128, templateFields: null, batch: 4, gzip: false },
    runId: '0123abcd',
    connections: 2,
    ratePerSec: 0,
    ratePhase: 0,
    runSlotMs: 0,
    maxRequests: null,
    durationMs: 10_000,
    requestTimeoutMs: 5000,
    trackAcks: true,
    maxEvents: 10,
    progressIntervalMs: 250,
  };
  const started = Date.now();
  const result = await new Promise<LoadThreadResult>((resolve) => {
    new LoadLoop(plan, (msg: FromThread) => {
      if (msg.type === 'done') resolve(msg.result);
    }).start();
  });
  assert.equal(result.idsUsedUp, true);
  assert.equal(result.requestsSent, 2, '2 requests of 4 events fit in 10 ids, a third would not');
  assert.equal(result.eventSeqLimit, 8);
  assert.equal(result.eventsAcknowledged, 8);
  assert.equal(result.behindSchedule, 0);
  assert.ok(Date.now() - started < 5000, 'ended when the ids ran out, not at the planned 10 s');
  assert.ok(result.elapsedMs < 5000, `the window ends at the stop, not at the planned duration (${result.elapsedMs} ms)`);
});

test('with an audit, a thread numbers no more events than its bitmap holds', () => {
  assert.equal(maxEventsPerThread(false), MAX_EVENT_SEQ + 1);
  assert.ok(maxEventsPerThread(true) <= 2 ** 31 && maxEventsPerThread(true) < MAX_EVENT_SEQ + 1);
});
