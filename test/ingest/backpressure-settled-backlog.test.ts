// A write the log has stored no longer counts against ingest.maxPendingBytes: one
// client sending large bodies one after another (each waiting for its answer) to an
// otherwise idle process gets 202 every time. The log's backlog was only re-read every
// 100 ms and after queueing appends, so for up to 100 ms after an answer the record
// it had stored still counted as queued, and the next body of more than half the
// budget got 503 HOPPER_BACKPRESSURE from an idle server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode, post, startIngest } from './ingest-fixture.js';

const BUDGET = 64 * 1024;
const BODY = 'x'.repeat(40 * 1024);

test('sequential bodies of more than half the budget are all taken by an idle process', async (t) => {
  const f = await startIngest(t, { overrides: { 'ingest.maxPendingBytes': BUDGET, 'ingest.softPendingBytes': BUDGET } });
  const statuses: string[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await post(f.port, 'big', BODY);
    statuses.push(r.status === 202 ? '202' : `${r.status} ${errorCode(r)}`);
  }
  assert.deepEqual(statuses, Array(8).fill('202'));
});
