// A dead letter stored without its body whose original retention removed cannot be requeued. The error
// said "drop it: hopper dlq drop --stream S (--offset O for this one)": drop has no --offset (a usage
// error), and drop --stream S alone drops every pending letter, requeueable ones too. It now names the
// letter's place and the commands that requeue the ones before it and drop it alone; following them works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { encodeDeadLetter, withoutBody, type DeadLetterInfo } from '../../src/work/dead-letter.js';
import { handleDeadLetters } from '../../src/work/dead-letter-queue.js';
import { isHopperError } from '../../src/errors.js';
import { record } from './work-helpers.js';

function letter(offset: number, body: string, omitted: boolean) {
  const info: DeadLetterInfo = {
    v: 1, stream: 's', partition: 0, offset, receivedAtUs: 1, contentType: 'application/json', contentEncoding: '',
    remoteAddress: '', requestId: `r${offset}`, idempotencyKey: '', pipeline: 'p', group: 'g', kind: 'decode',
    reason: 'malformed JSON', attempts: 1, firstFailureAtMs: 1, lastFailureAtMs: 1,
  };
  const encoded = encodeDeadLetter(info, Buffer.from(body), 1);
  return omitted ? withoutBody(encoded) : encoded;
}

test('requeue stopped by a letter whose body is gone says how to requeue the others and drop it alone', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [record('{"n":0}')], 'durable'); // offset 0; offset 7 is not held (retention)
  await log.ensureStream('s.dlq', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s.dlq', 0, [letter(3, '{"a":', false), letter(7, '{"b":', true), letter(9, '{"c":', false)], 'durable');

  const err = await handleDeadLetters(log, 's', 'requeue', {}).then(
    () => assert.fail('requeued a letter whose body is gone'),
    (e: unknown) => e,
  );
  assert.ok(isHopperError(err, 'HOPPER_DLQ_BODY_GONE'), String(err));
  assert.match(err.message, /dead letter at 0:1 of s\.dlq \(of s\/0\/7\)/);
  assert.match(err.message, /hopper dlq requeue --stream s --partition 0 --limit 1\), then drop it alone: hopper dlq drop --stream s --partition 0 --limit 1\.$/);

  // The way out, as the message gives it: the letter before it requeued, it dropped, the one after it requeued.
  assert.equal((await handleDeadLetters(log, 's', 'requeue', { partition: 0, limit: 1 })).requeued, 1);
  assert.equal((await handleDeadLetters(log, 's', 'drop', { partition: 0, limit: 1 })).dropped, 1);
  assert.equal((await handleDeadLetters(log, 's', 'requeue', {})).requeued, 1);
  const back = (await log.read('s', 0, 1, { maxRecords: 10 })).records.map((r) => r.requestId);
  assert.deepEqual(back, ['r3', 'r9']);
});
