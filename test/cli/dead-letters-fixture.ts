// An embedded log in a temporary directory holding stream `s` and `count` dead letters of it in `s.dlq`, for the
// dlq command tests. `info` overrides the letters' kind, code and reason.
import type { TestContext } from 'node:test';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { encodeDeadLetter, type DeadLetterInfo } from '../../src/work/dead-letter.js';
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { record } from '../work/work-helpers.js';

/** Letters are appended this many at a time. */
const APPEND_CHUNK = 5000;

export async function logWithDeadLetters(t: TestContext, count: number, info: Partial<DeadLetterInfo>): Promise<{ dir: string; log: EmbeddedLog }> {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.ensureStream('s.dlq', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const letters = Array.from({ length: count }, (_, i) =>
    encodeDeadLetter(
      {
        v: 1, stream: 's', partition: 0, offset: i, receivedAtUs: 1, contentType: 'application/json', contentEncoding: '', remoteAddress: '',
        requestId: `r${i}`, idempotencyKey: '', pipeline: 's.p', group: 'g', kind: 'processor', reason: 'down', attempts: 5, firstFailureAtMs: 1, lastFailureAtMs: 2,
        ...info,
      },
      record(`{"i":${i}}`).body,
      1,
    ),
  );
  for (let i = 0; i < count; i += APPEND_CHUNK) await log.append('s.dlq', 0, letters.slice(i, i + APPEND_CHUNK), 'durable');
  return { dir, log };
}
