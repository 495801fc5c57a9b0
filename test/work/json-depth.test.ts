// JSON nested past MAX_JSON_DEPTH parses, but every sink's JSON.stringify overflowed the stack on it: the
// record was a processor failure, retried with backoff, then a dead letter reading "Maximum call stack size
// exceeded" with no code. It is now a decode dead letter at once, naming the limit (and the NDJSON line).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { parseDeadLetter } from '../../src/work/dead-letter.js';
import { MAX_JSON_DEPTH } from '../../src/work/decode/json-decoder.js';
import { fakeClock, record, testConfig, waitFor } from './work-helpers.js';

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

test('JSON nested too deep for the sinks is a decode dead letter at once, and the records around it are delivered', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('clicks', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append(
    'clicks',
    0,
    [
      record('{"item":1}'),
      record(nested(10_000), { requestId: 'deep-json' }),
      record(`{"item":2}\n{"deep":${nested(10_000)}}\n`, { contentType: 'application/x-ndjson', requestId: 'deep-ndjson' }),
      record(`{"deep":${nested(10_000)}}`, { contentType: '', requestId: 'deep-sniffed' }),
      // At the limit: decoded, and written by the files sink.
      record(`{"item":3,"deep":${nested(MAX_JSON_DEPTH - 1)}}`),
    ],
    'durable',
  );
  const config = testConfig(dir, { pipelines: [{ stream: 'clicks', processor: 'files', batchMaxWaitMs: 0 }] });
  const clock = fakeClock();
  const workers = await startWorkers(config, log, createLogger('silent'), { clock });
  t.after(() => workers.stop());
  await waitFor('the files group to pass all 5 records', async () => (await log.getPosition('files', 'clicks', 0)) === 5);
  await workers.stop();
  assert.deepEqual(clock.sleeps, [], 'no retries: the body is at fault, not the sink');

  const outDir = join(dir, 'out', 'clicks');
  const lines = readFileSync(join(outDir, readdirSync(outDir)[0]!), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { item: number });
  assert.deepEqual(lines.map((l) => l.item), [1, 3]);

  const { records } = await log.read('clicks.dlq', 0, 0, { maxRecords: 100 });
  const letters = records.map((r) => parseDeadLetter(r)!.info);
  assert.deepEqual(letters.map((l) => [l.requestId, l.kind, l.code, l.attempts]), [
    ['deep-json', 'decode', 'HOPPER_DECODE_FAILED', 1],
    ['deep-ndjson', 'decode', 'HOPPER_DECODE_FAILED', 1],
    ['deep-sniffed', 'decode', 'HOPPER_DECODE_FAILED', 1],
  ]);
  assert.equal(letters[0]!.reason, `JSON nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH)`);
  assert.equal(letters[1]!.reason, `NDJSON line 2 nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH)`);
  assert.equal(letters[2]!.reason, letters[0]!.reason);
});
