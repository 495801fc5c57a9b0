// Malformed JSON, truncated gzip, compression bombs (gzip, zstd) and a schema violation each
// become one dead letter with a clear reason, without retries, and the default
// files pipeline keeps going: the good records around them land in the files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { parseDeadLetter } from '../../src/work/dead-letter.js';
import { fakeClock, record, testConfig, waitFor } from './work-helpers.js';

test('bad bodies become dead letters with reasons, and the worker keeps going', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('clicks', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const truncated = gzipSync(JSON.stringify({ item: 9, pad: 'x'.repeat(500) }));
  const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20));
  await log.append(
    'clicks',
    0,
    [
      record('{"item":1}'),
      record('{"item":2,', { requestId: 'malformed' }),
      record(gzipSync('[{"item":3},{"item":4}]'), { contentEncoding: 'gzip' }),
      record(truncated.subarray(0, truncated.length - 8), { contentEncoding: 'gzip', requestId: 'truncated' }),
      record(bomb, { contentEncoding: 'gzip', requestId: 'bomb' }),
      record(readFileSync(new URL('./fixtures/zstd/bomb-streamed.zst', import.meta.url)), { contentEncoding: 'zstd', requestId: 'zstd-bomb' }),
      record('{"item":"five"}', { requestId: 'schema' }),
      record('{"item":6}\n{"item":7}\n', { contentType: 'application/x-ndjson' }),
    ],
    'durable',
  );
  const config = testConfig(dir, {
    streams: { clicks: { schema: { type: 'object', required: ['item'], properties: { item: { type: 'integer' } } } } },
    // The files sink with a 1 MiB limit on decompressed bodies, so the 8 MiB and 4 MiB bombs trip it.
    pipelines: [{ stream: 'clicks', processor: 'files', maxDecodedBytes: 1024 * 1024, batchMaxWaitMs: 0 }],
  });
  const clock = fakeClock();
  const workers = await startWorkers(config, log, createLogger('silent'), { clock });
  t.after(() => workers.stop());
  assert.deepEqual(workers.pipelines(), ['clicks.files']);
  await waitFor('the files group to pass all 8 records', async () => (await log.getPosition('files', 'clicks', 0)) === 8);
  await workers.stop();
  assert.deepEqual(clock.sleeps, [], 'no retry backoff for decode failures');

  const outDir = join(dir, 'out', 'clicks');
  const files = readdirSync(outDir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^\d{4}-\d\d-\d\dT\d\d\.ndjson$/);
  const lines = readFileSync(join(outDir, files[0]!), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(lines, [{ item: 1 }, { item: 3 }, { item: 4 }, { item: 6 }, { item: 7 }]);

  const { records } = await log.read('clicks.dlq', 0, 0, { maxRecords: 100 });
  const letters = records.map((r) => parseDeadLetter(r)!.info);
  assert.deepEqual(letters.map((l) => [l.requestId, l.kind, l.code]), [
    ['malformed', 'decode', 'HOPPER_DECODE_FAILED'],
    ['truncated', 'decode', 'HOPPER_DECODE_FAILED'],
    ['bomb', 'decode', 'HOPPER_DECODED_TOO_LARGE'],
    ['zstd-bomb', 'decode', 'HOPPER_DECODED_TOO_LARGE'],
    ['schema', 'schema', 'HOPPER_SCHEMA_INVALID'],
  ]);
  assert.match(letters[0]!.reason, /^malformed JSON: /);
  assert.match(letters[1]!.reason, /^gzip body is damaged or truncated: unexpected end of file/);
  assert.equal(letters[2]!.reason, 'gzip body decompresses to more than maxDecodedBytes (1048576 bytes)');
  assert.equal(letters[3]!.reason, 'zstd body decompresses to more than maxDecodedBytes (1048576 bytes)');
  assert.equal(letters[4]!.reason, 'event 0 fails the stream schema: /item must be integer');
  for (const l of letters) assert.equal(l.attempts, 1, 'decode failures are not retried');
});
