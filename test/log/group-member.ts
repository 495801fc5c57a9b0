// Child process of group-pid-namespace.test.ts: a consumer-group member on the embedded log (argv: data
// directory, member name) that prints "owns p,q" at once and whenever the partitions it owns change, and holds them
// (renewing, delivering nothing) until killed.
import { openEmbedded } from '../helpers/embedded.js';
import type { EmbeddedGroupConsumer } from '../../src/log/embedded/group-consumer.js';

const [dataDir, name] = process.argv.slice(2) as [string, string];
const log = openEmbedded(dataDir);
const c = (await log.openConsumer({ group: 'g', stream: 's', consumerName: name, leaseTimeoutMs: 60_000 })) as EmbeddedGroupConsumer;
let last: string | null = null;
setInterval(() => {
  const now = c.partitions().join(',');
  if (now !== last) process.stdout.write(`owns ${(last = now)}\n`);
}, 20);
