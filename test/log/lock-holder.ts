// Child process of the log conformance suite: opens a log (argv: backend, where its data
// is, lock name, lease in ms), takes the lock, prints "held", and keeps it (renewing) until
// killed: the suite kills it with SIGKILL to check that a dead holder blocks no one for long.
import type { Log } from '../../src/log/types.js';
import { openEmbedded } from '../helpers/embedded.js';
import { openRedisLog } from '../helpers/redis.js';
import { openNatsLog } from '../helpers/nats.js';

const [backend, where, name, leaseMsText] = process.argv.slice(2) as [string, string, string, string];
const lockLeaseMs = Number(leaseMsText);
const opened: Record<string, () => Promise<Log>> = {
  embedded: async () => openEmbedded(where),
  redis: () => openRedisLog(where, { lockLeaseMs }),
  nats: () => openNatsLog(where, { lockLeaseMs }),
};
const log = await opened[backend]!();
await log.acquireLock(name, 'the test lock');
process.stdout.write('held\n');
setInterval(() => undefined, 60_000); // the lock's renewal timer is unref'd: this keeps the process up
