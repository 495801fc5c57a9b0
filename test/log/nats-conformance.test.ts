// Runs the shared log conformance suite against the NATS JetStream backend
// (HOPPER_TEST_NATS_URL or 127.0.0.1:4222), under a subject prefix unique to this run.
import { runLogConformance } from './conformance.js';
import { deleteNatsPrefix, natsSkipReason, openNatsLog, uniqueNatsPrefix } from '../helpers/nats.js';

runLogConformance('nats', async () => {
  const reason = await natsSkipReason();
  if (reason) return reason;
  const prefix = uniqueNatsPrefix();
  return {
    open: () => openNatsLog(prefix),
    cleanup: () => deleteNatsPrefix(prefix),
    holderArgs: ['nats', prefix],
  };
});
