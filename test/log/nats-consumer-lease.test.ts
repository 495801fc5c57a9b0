// NATS consumer groups: messages held by a member that died are redelivered by
// JetStream (ack_wait = leaseTimeoutMs) to another member, counted as redelivered.
import { test } from 'node:test';
import { deleteNatsPrefix, natsSkipReason, openNatsLog, uniqueNatsPrefix } from '../helpers/nats.js';
import { abandonedDeliveriesAreRedelivered } from '../helpers/consumer-lease-scenario.js';

test('nats: a dead member’s deliveries go to another member after the lease', async (t) => {
  const reason = await natsSkipReason();
  if (reason) return t.skip(reason);
  const prefix = uniqueNatsPrefix();
  const log = await openNatsLog(prefix);
  t.after(async () => {
    await log.close();
    await deleteNatsPrefix(prefix);
  });
  await abandonedDeliveriesAreRedelivered(log, 'lease', 1000);
});
