// A dead letter stored without its body (too large for the dead-letter stream, e.g. NATS max_payload) is given the
// record at its offset of its stream only when that record is its original. Size and request id were not enough:
// the request id is the client's X-Request-Id when it sends one (a constant one, or a retry of the same request),
// and events of one form often have one size. After the stream was deleted and created again, another request
// under that id was requeued and shown as the letter's. The time it was received (set by the server, in
// microseconds) must match too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { handleDeadLetters } from '../../src/work/dead-letter-queue.js';
import { encodeDeadLetter, withoutBody, type DeadLetterInfo } from '../../src/work/dead-letter.js';
import { isHopperError } from '../../src/errors.js';
import { record } from './work-helpers.js';

const streamOptions = { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 };

test('a letter stored without its body is not given a record of the same size and request id received at another time', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const mine = record('{"card":"4111"}', { requestId: 'checkout', receivedAtUs: 1_700_000_000_000_001 });
  const info: DeadLetterInfo = {
    v: 1, stream: 's', partition: 0, offset: 0, receivedAtUs: mine.receivedAtUs, contentType: mine.contentType, contentEncoding: '',
    remoteAddress: mine.remoteAddress, requestId: 'checkout', idempotencyKey: '', pipeline: 's.p', group: 'g', kind: 'processor', reason: 'refused',
    attempts: 3, firstFailureAtMs: 1, lastFailureAtMs: 2,
  };
  let log = openEmbedded(dir);
  await log.ensureStream('s', streamOptions);
  await log.ensureStream('s.dlq', streamOptions);
  await log.append('s', 0, [mine], 'durable');
  await log.append('s.dlq', 0, [withoutBody(encodeDeadLetter(info, mine.body, 1))], 'durable');
  await log.close();

  // Stream s deleted and created again: offset 0 is now another request, same size, same X-Request-Id.
  rmSync(join(dir, 'streams', 's'), { recursive: true, force: true });
  log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', streamOptions);
  await log.append('s', 0, [record('{"card":"5500"}', { requestId: 'checkout', receivedAtUs: 1_700_000_000_900_000 })], 'durable');

  await assert.rejects(handleDeadLetters(log, 's', 'requeue', {}), (e) => isHopperError(e, 'HOPPER_DLQ_BODY_GONE'));
  const records = (await log.read('s', 0, 0, { maxRecords: 10 })).records;
  assert.deepEqual(records.map((r) => r.body.toString()), ['{"card":"5500"}'], 'nothing appended under the letter');
});

test('a letter stored without its body is requeued from its original, received at the same time', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const mine = record('{"card":"4111"}', { requestId: 'checkout', receivedAtUs: 1_700_000_000_000_001 });
  const info: DeadLetterInfo = {
    v: 1, stream: 's', partition: 0, offset: 0, receivedAtUs: mine.receivedAtUs, contentType: mine.contentType, contentEncoding: '',
    remoteAddress: mine.remoteAddress, requestId: 'checkout', idempotencyKey: '', pipeline: 's.p', group: 'g', kind: 'processor', reason: 'refused',
    attempts: 3, firstFailureAtMs: 1, lastFailureAtMs: 2,
  };
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', streamOptions);
  await log.ensureStream('s.dlq', streamOptions);
  await log.append('s', 0, [mine], 'durable');
  await log.append('s.dlq', 0, [withoutBody(encodeDeadLetter(info, mine.body, 1))], 'durable');
  assert.equal((await handleDeadLetters(log, 's', 'requeue', {})).requeued, 1);
  const records = (await log.read('s', 0, 0, { maxRecords: 10 })).records;
  assert.deepEqual(records.map((r) => [r.body.toString(), r.receivedAtUs]), [['{"card":"4111"}', mine.receivedAtUs], ['{"card":"4111"}', mine.receivedAtUs]]);
});
