// Records delivered again after a second death come one by one, thousands of them: the warning each such delivery
// gets is written at most once a second, each line counting the deliveries it stands for, none unaccounted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { defineProcessor } from '../../src/work/types.js';
import type { Log, LogConsumer } from '../../src/log/types.js';
import { streamWithRecords, testConfig, waitFor } from './work-helpers.js';

const RECORDS = 200;

/** The log, with every delivery marked as delivered once before (as after a worker's death). */
function redelivering(log: Log): Log {
  return new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'openConsumer') {
        return async (...args: Parameters<Log['openConsumer']>): Promise<LogConsumer> => {
          const consumer = await target.openConsumer(...args);
          const fetch = consumer.fetch.bind(consumer);
          consumer.fetch = async (...a) => {
            const d = await fetch(...a);
            if (d) d.redeliveries = 1;
            return d;
          };
          return consumer;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test('the warning for deliveries of records delivered again is written at most once a second, with a count', async (t) => {
  const { dir, log } = await streamWithRecords(t, Array.from({ length: RECORDS }, (_, i) => `{"n":${i}}`));
  const lines: { msg: string; suppressed?: number }[] = [];
  const logger: Logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string; suppressed?: number }) });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxRecords: 1, batchMaxWaitMs: 0 }] });
  let processed = 0;
  const processor = defineProcessor({
    process(batch) {
      processed += batch.items.length;
    },
  });
  const workers = await startWorkers(config, redelivering(log), logger, { processors: { p: processor } });
  await waitFor('every record processed', () => processed === RECORDS);
  await waitFor('every record committed', async () => (await log.getPosition('g', 's', 0)) === RECORDS);
  await workers.stop();
  const warned = lines.filter((l) => l.msg.startsWith('record delivered again'));
  assert.ok(warned.length >= 1 && warned.length <= 10, `${warned.length} lines for ${RECORDS} deliveries`);
  assert.equal(warned.reduce((n, l) => n + 1 + (l.suppressed ?? 0), 0), RECORDS, 'every delivery is counted in a line');
});
