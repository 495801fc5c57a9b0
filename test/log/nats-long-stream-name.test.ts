// NATS: a valid Hopper stream whose JetStream stream name would pass JetStream's
// 255 characters (a long subjectPrefix, and '.'/'_' escaped as 3 characters each)
// is refused as an invalid name (400, not retriable), not as a NATS outage to
// retry for ever; shorter names under the same prefix still work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHopperError } from '../../src/errors.js';
import { deleteNatsPrefix, natsSkipReason, openNatsLog, uniqueNatsPrefix } from '../helpers/nats.js';

const OPTIONS = { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 };

test('nats: a stream name too long for JetStream under the subject prefix gets HOPPER_STREAM_NAME_INVALID', async (t) => {
  const reason = await natsSkipReason();
  if (reason) return t.skip(reason);
  const prefix = `${uniqueNatsPrefix()}_hopper_ingest_tenant_eu_west_1_prod`;
  const log = await openNatsLog(prefix);
  t.after(async () => {
    await log.close().catch(() => undefined);
    await deleteNatsPrefix(prefix);
  });
  const long = '._'.repeat(32);
  await assert.rejects(log.ensureStream(long, OPTIONS), (e) => isHopperError(e, 'HOPPER_STREAM_NAME_INVALID') && /subjectPrefix/.test(e.message));
  assert.deepEqual(await log.listStreams(), [], 'nothing was created');
  await log.ensureStream('events', OPTIONS);
  assert.deepEqual(await log.listPartitions('events'), [0, 1]);
});
