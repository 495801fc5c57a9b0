// A live consumer-group member for lease tests: it fetches and commits in a loop until
// stopped and records every record it got as "partition:offset", so a test can check
// that nothing another member still held reached it.
import type { Delivery, LogConsumer } from '../../src/log/types.js';

/** "partition:offset" of each record of a delivery. */
export function deliveryKeys(d: Delivery): string[] {
  return d.records.map((r) => `${d.partition}:${r.offset}`);
}

/** Fetches (and commits) in a loop until stopped, recording every record it got. */
export function pollGroup(consumer: LogConsumer): { got: string[]; stop: () => Promise<void> } {
  const got: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const d = await consumer.fetch(100, 100);
      if (!d) {
        await new Promise((r) => setTimeout(r, 10)); // a closed consumer answers null at once
        continue;
      }
      got.push(...deliveryKeys(d));
      await consumer.commit(d);
    }
  })();
  return {
    got,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
