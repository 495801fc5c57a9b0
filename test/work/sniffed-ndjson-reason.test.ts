// A body stored without a content type is sniffed: JSON, else NDJSON. When it was NDJSON with a bad line
// further down, the dead letter gave JSON.parse's complaint about the whole body ("Unexpected non-whitespace
// character after JSON at position 8": the start of line 2, which is fine) instead of naming the bad line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { parseDeadLetter } from '../../src/work/dead-letter.js';
import { fakeClock, record, testConfig, waitFor } from './work-helpers.js';

test('a sniffed NDJSON body with a bad line names that line; a broken JSON value keeps the JSON reason', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('clicks', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append(
    'clicks',
    0,
    [
      record('{"item":1}\r\n{"item":2}\r\n{"item":3\r\n{"item":4}\r\n', { contentType: '', requestId: 'ndjson' }),
      record('{\n  "item": 5,\n  "tags": [1, 2,]\n}\n', { contentType: '', requestId: 'pretty' }),
    ],
    'durable',
  );
  const config = testConfig(dir, { pipelines: [{ stream: 'clicks', processor: 'files', batchMaxWaitMs: 0 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock() });
  t.after(() => workers.stop());
  await waitFor('the files group to pass both records', async () => (await log.getPosition('files', 'clicks', 0)) === 2);
  await workers.stop();

  const { records } = await log.read('clicks.dlq', 0, 0, { maxRecords: 100 });
  const letters = records.map((r) => parseDeadLetter(r)!.info);
  assert.deepEqual(letters.map((l) => [l.requestId, l.kind, l.code]), [
    ['ndjson', 'decode', 'HOPPER_DECODE_FAILED'],
    ['pretty', 'decode', 'HOPPER_DECODE_FAILED'],
  ]);
  assert.match(letters[0]!.reason, /^malformed NDJSON at line 3: /);
  assert.match(letters[1]!.reason, /^malformed JSON: /);
});
