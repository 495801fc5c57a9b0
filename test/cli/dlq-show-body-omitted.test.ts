// `hopper dlq show` of a dead letter stored without its body (too large for the dead-letter stream, e.g. NATS
// max_payload): it printed "body": "" as if the record had been empty, with nothing saying the body was elsewhere.
// It now says bodyOmittedBytes and prints the original body from the source stream, as requeue would append it,
// or bodyGone once retention removed it. Runs the built CLI (dist/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { encodeDeadLetter, withoutBody, type DeadLetterInfo } from '../../src/work/dead-letter.js';
import { record, runCli } from '../work/work-helpers.js';

const info = (offset: number): DeadLetterInfo => ({
  v: 1, stream: 's', partition: 0, offset, receivedAtUs: 1, contentType: 'application/json', contentEncoding: '', remoteAddress: '',
  requestId: `r${offset}`, idempotencyKey: '', pipeline: 's.p', group: 'g', kind: 'redelivery', code: 'HOPPER_REDELIVERY_LIMIT', reason: 'died', attempts: 5,
  firstFailureAtMs: 1, lastFailureAtMs: 2,
});

test('dlq show of a letter stored without its body says so and shows the original from the stream', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.ensureStream('s.dlq', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [record('{"big":1}', { requestId: 'r0', receivedAtUs: 1 })], 'durable');
  // Offset 0 is still in s; offset 7 is not (as after retention).
  await log.append('s.dlq', 0, [withoutBody(encodeDeadLetter(info(0), Buffer.from('{"big":1}'), 1)), withoutBody(encodeDeadLetter(info(7), Buffer.from('{"gone":1}'), 1))], 'durable');
  await log.close();

  const r = runCli(['dlq', 'show', '--stream', 's', '--data-dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  const [kept, gone] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(kept!.kind, 'redelivery');
  assert.equal(kept!.code, 'HOPPER_REDELIVERY_LIMIT');
  assert.equal(kept!.bodyOmittedBytes, 9);
  assert.equal(kept!.body, '{"big":1}');
  assert.equal(gone!.bodyOmittedBytes, 10);
  assert.equal(gone!.body, undefined, 'no empty body for one that is not there');
  assert.equal(gone!.bodyGone, true);
});
