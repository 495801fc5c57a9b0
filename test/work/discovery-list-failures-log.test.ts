// While the log backend cannot list streams (Redis or NATS down), stream discovery fails at every
// interval (1 s by default): it logged an error line each time, 3,600 an hour. It now logs at 1, 2, 4, ...
// failures in a row, and one line when listing works again, and the discovery then goes on as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers, type Workers } from '../../src/work/worker-runtime.js';
import { defineProcessor } from '../../src/work/types.js';
import { record, testConfig, waitFor } from './work-helpers.js';

test('failed stream listings are logged at 1, 2, 4, ... in a row, and the recovery once', async (t) => {
  const dir = tempDir();
  const log = openEmbedded(dir);
  let workers: Workers | null = null;
  // One hook, in this order: the workers write positions until they stop, and the directory goes last.
  t.after(async () => {
    await workers?.stop();
    await log.close();
    removeDir(dir);
  });
  const listed = log.listStreams.bind(log);
  let failuresLeft = 9;
  log.listStreams = () => (failuresLeft-- > 0 ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')) : listed());
  const lines: { msg: string; failures?: number }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { msg: string; failures?: number });
      done();
    },
  });
  const events: unknown[] = [];
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) events.push(...item.events());
    },
  });
  await log.ensureStream('later', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('later', 0, [record('{"n":1}')], 'durable');
  const config = testConfig(dir, { 'work.streamDiscoveryIntervalMs': 100 });
  workers = await startWorkers(config, log, pino({ level: 'info' }, sink), { processors: { 'later.files': processor } });
  await waitFor('the event to be processed once listing works', () => events.length === 1);
  const failed = lines.filter((l) => l.msg.startsWith('listing streams failed'));
  assert.deepEqual(failed.map((l) => l.failures), [1, 2, 4, 8]);
  assert.deepEqual(lines.filter((l) => l.msg === 'listing streams works again').map((l) => l.failures), [9]);
});
