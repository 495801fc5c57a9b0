// NATS: log.nats.replicas above 1 against a server that is not in a JetStream
// cluster is a setting to change, refused as HOPPER_CONFIG_INVALID naming the key,
// not HOPPER_LOG_UNAVAILABLE 'retry later' (which starts and writes waited on for ever).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHopperError } from '../../src/errors.js';
import { deleteNatsPrefix, natsSkipReason, openNatsLog, uniqueNatsPrefix } from '../helpers/nats.js';

test('nats: replicas 3 on a server outside a cluster is HOPPER_CONFIG_INVALID naming log.nats.replicas', async (t) => {
  const reason = await natsSkipReason();
  if (reason) return t.skip(reason);
  const prefix = uniqueNatsPrefix();
  const log = await openNatsLog(prefix, { replicas: 3 });
  t.after(async () => {
    await log.close().catch(() => undefined);
    await deleteNatsPrefix(prefix);
  });
  if (log.link.nc.info?.cluster) return t.skip('the test NATS server is in a cluster');
  await assert.rejects(log.ensureStream('events', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 }), (e) => isHopperError(e, 'HOPPER_CONFIG_INVALID') && /log\.nats\.replicas/.test(e.message));
});
