// The dead-letter stream of a 64-character stream name is 68 characters long
// (`{name}.dlq`): every backend must take it (create, append, read, list), or the
// workers could never store a dead letter of that stream and its partition would
// stall on the first one for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHopperError } from '../../src/errors.js';
import type { Log } from '../../src/log/types.js';
import { deadLetterStream } from '../../src/work/dead-letter.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { openRedisTestLog } from '../helpers/redis.js';
import { openNatsTestLog } from '../helpers/nats.js';
import { makeRecord } from './conformance.js';

const LONGEST = '._-'.repeat(21) + 'a'; // 64 characters, with the characters NATS escapes

async function checkLongestDeadLetterStream(log: Log): Promise<void> {
  const dlq = deadLetterStream(LONGEST);
  assert.equal(dlq.length, 68);
  await log.ensureStream(dlq, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const rec = makeRecord(1);
  const { firstOffset } = await log.append(dlq, 0, [rec], 'durable');
  const { records } = await log.read(dlq, 0, firstOffset, { maxRecords: 10 });
  assert.deepEqual(records.map((r) => r.requestId), [rec.requestId]);
  assert.ok((await log.listStreams()).includes(dlq), 'the dead-letter stream is listed');
  await assert.rejects(log.ensureStream(`${LONGEST}x.dlq`, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 }), (e) =>
    isHopperError(e, 'HOPPER_STREAM_NAME_INVALID'),
  );
}

test('embedded: the dead-letter stream of a 64-character stream name', async (t) => {
  const dir = tempDir();
  const log = openEmbedded(dir);
  t.after(async () => {
    await log.close();
    removeDir(dir);
  });
  await checkLongestDeadLetterStream(log);
});

test('redis: the dead-letter stream of a 64-character stream name', async (t) => {
  const log = await openRedisTestLog(t);
  if (log) await checkLongestDeadLetterStream(log);
});

test('nats: the dead-letter stream of a 64-character stream name', async (t) => {
  const log = await openNatsTestLog(t);
  if (log) await checkLongestDeadLetterStream(log);
});
