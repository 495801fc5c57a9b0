// dlq requeue and drop handle the letters pending when they start. They read S.dlq on until a read came
// back empty, so the letters a running pipeline wrote meanwhile, for the very records the requeue had
// just put back, were requeued too (Redis: "requeued 10" after a `dlq list` of 7), and a pipeline that
// rejects faster than the requeue reads kept one run going round. A worker that rejects every requeued
// record at once is simulated here (for drop: a letter of another record arriving as each chunk is
// marked): one run handles each letter once, and the letters written meanwhile stay pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Log, RecordInput } from '../../src/log/types.js';
import { encodeDeadLetter, type DeadLetterInfo } from '../../src/work/dead-letter.js';
import { handleDeadLetters, scanDeadLetters } from '../../src/work/dead-letter-queue.js';
import { backendSkipReason, backendTarget, type BackendName } from '../helpers/log-backend-target.js';

function letter(offset: number, body: Buffer): RecordInput {
  const info: DeadLetterInfo = {
    v: 1, stream: 's', partition: 0, offset, receivedAtUs: 1, contentType: 'application/json', contentEncoding: '',
    remoteAddress: '', requestId: `r${offset}`, idempotencyKey: '', pipeline: 'p', group: 'g', kind: 'rejected',
    reason: 'bad one', attempts: 1, firstFailureAtMs: 1, lastFailureAtMs: 1,
  };
  return encodeDeadLetter(info, body, 1);
}

/**
 * The log as `dlq` sees it next to a running pipeline: it rejects each record appended to `s` at once,
 * and dead-letters another record whenever a chunk of letters is marked handled.
 */
function withRejectingWorker(log: Log): Log {
  let rejected = 0;
  let other = 100;
  return new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (stream: string, partition: number, records: RecordInput[], ack: 'durable') => {
          const result = await target.append(stream, partition, records, ack);
          // Once each (the old code would otherwise requeue for ever): 3 letters, then the records go through.
          if (stream === 's' && rejected < 3) {
            rejected += records.length;
            await target.append('s.dlq', 0, records.map((r, i) => letter(result.firstOffset + i, r.body)), 'durable');
          }
          return result;
        };
      }
      if (prop === 'commitPosition') {
        return async (group: string, stream: string, partition: number, position: number) => {
          await target.commitPosition(group, stream, partition, position);
          if (other < 103) await target.append('s.dlq', 0, [letter(other++, Buffer.from('{"other":1}'))], 'durable');
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

for (const backend of ['embedded', 'redis', 'nats'] as BackendName[]) {
  for (const action of ['requeue', 'drop'] as const) {
    test(`${backend}: dlq ${action} handles the letters pending at its start, not the ones written meanwhile`, async (t) => {
      const skip = await backendSkipReason(backend);
      if (skip) return t.skip(skip);
      const target = backendTarget(backend);
      t.after(() => target.cleanup());
      const log = await target.openLog();
      t.after(() => log.close());
      const options = { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 };
      await log.ensureStream('s', options);
      await log.ensureStream('s.dlq', options);
      await log.append('s.dlq', 0, [0, 1, 2].map((o) => letter(o, Buffer.from(`{"bad":${o}}`))), 'durable');

      const result = await handleDeadLetters(withRejectingWorker(log), 's', action, {});
      assert.equal(action === 'requeue' ? result.requeued : result.dropped, 3);
      const pending: number[] = [];
      await scanDeadLetters(log, 's', {}, async (chunk) => {
        pending.push(...chunk.map((e) => e.offset));
      });
      // requeue: the 3 letters of the requeued records and the other one are pending, each original was put back once
      assert.deepEqual(pending, action === 'requeue' ? [3, 4, 5, 6] : [3]);
      const requeued = (await log.read('s', 0, 0, { maxRecords: 100 })).records.map((r) => r.body.toString());
      assert.deepEqual(requeued, action === 'requeue' ? ['{"bad":0}', '{"bad":1}', '{"bad":2}'] : []);
    });
  }
}
