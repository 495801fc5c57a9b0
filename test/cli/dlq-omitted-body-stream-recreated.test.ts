// A dead letter stored without its body (too large for the dead-letter stream, e.g. NATS max_payload) names its
// original by stream, partition and offset. Once that stream was deleted and created again (offsets start again),
// the record at that offset is another client's: dlq show printed its body as the letter's, and dlq requeue appended
// it under the letter's metadata (another client's data, the letter's own lost for good, without a word). The
// record found must now match the letter's size and request id, else the body is gone. Runs the built CLI (dist/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { encodeDeadLetter, withoutBody, type DeadLetterInfo } from '../../src/work/dead-letter.js';
import { record, runCli } from '../work/work-helpers.js';

const info: DeadLetterInfo = {
  v: 1, stream: 's', partition: 0, offset: 0, receivedAtUs: 1, contentType: 'application/json', contentEncoding: '', remoteAddress: '',
  requestId: 'mine', idempotencyKey: '', pipeline: 's.p', group: 'g', kind: 'processor', reason: 'refused', attempts: 3, firstFailureAtMs: 1, lastFailureAtMs: 2,
};
const streamOptions = { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 };

test('a letter stored without its body is not given the record of a stream created again', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  let log = openEmbedded(dir);
  await log.ensureStream('s', streamOptions);
  await log.ensureStream('s.dlq', streamOptions);
  await log.append('s', 0, [record('{"mine":"large"}', { requestId: 'mine' })], 'durable');
  await log.append('s.dlq', 0, [withoutBody(encodeDeadLetter(info, Buffer.from('{"mine":"large"}'), 1))], 'durable');
  await log.close();

  // Stream s deleted and created again: offset 0 is now another client's record.
  rmSync(join(dir, 'streams', 's'), { recursive: true, force: true });
  log = openEmbedded(dir);
  await log.ensureStream('s', streamOptions);
  await log.append('s', 0, [record('{"other":1}', { requestId: 'theirs' })], 'durable');
  await log.close();

  const show = runCli(['dlq', 'show', '--stream', 's', '--data-dir', dir]);
  assert.equal(show.code, 0, show.stderr);
  const shown = JSON.parse(show.stdout) as Record<string, unknown>;
  assert.equal(shown.body, undefined, show.stdout);
  assert.equal(shown.bodyGone, true);

  const requeue = runCli(['dlq', 'requeue', '--stream', 's', '--data-dir', dir]);
  assert.equal(requeue.code, 1);
  assert.match(requeue.stderr, /HOPPER_DLQ_BODY_GONE/);
  const after = openEmbedded(dir);
  t.after(() => after.close());
  const records = (await after.read('s', 0, 0, { maxRecords: 10 })).records;
  assert.deepEqual(records.map((r) => r.requestId), ['theirs'], 'nothing appended under the letter');
});
