// NATS consumer groups: messages held by a member that died are redelivered by
// JetStream (ack_wait = leaseTimeoutMs) to another member, counted as redelivered.
import { test } from 'node:test';
import { openNatsTestLog } from '../helpers/nats.js';
import { abandonedDeliveriesAreRedelivered } from '../helpers/consumer-lease-scenario.js';

test('nats: a dead member’s deliveries go to another member after the lease', async (t) => {
  const log = await openNatsTestLog(t);
  if (!log) return;
  await abandonedDeliveriesAreRedelivered(log, 'lease', 1000);
});
