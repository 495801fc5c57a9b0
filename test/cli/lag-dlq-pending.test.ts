// `hopper lag` shows the pending dead letters of S.dlq as the dlq-handled group's lag (README), also before the
// first requeue or drop and on a partition that one never touched: they were left out until the group's first
// commit there, so letters nobody had handled yet did not show at all. The CLI runs from the sources (tsx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { DLQ_HANDLED_GROUP, encodeDeadLetter, type DeadLetterInfo } from '../../src/work/dead-letter.js';
import type { RecordInput } from '../../src/log/types.js';
import { cleanEnv } from '../work/work-helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function hopper(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', env: cleanEnv(), timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function letter(offset: number): RecordInput {
  const info: DeadLetterInfo = {
    v: 1, stream: 's', partition: 0, offset, receivedAtUs: 1, contentType: 'application/json', contentEncoding: '', remoteAddress: '',
    requestId: `r${offset}`, idempotencyKey: '', pipeline: 's.files', group: 'files', kind: 'processor', reason: 'down', attempts: 3, firstFailureAtMs: 1, lastFailureAtMs: 2,
  };
  return encodeDeadLetter(info, Buffer.from(`{"i":${offset}}`), 1);
}

test('hopper lag lists the dlq-handled group of a .dlq stream before its first requeue or drop', { timeout: 60_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s.dlq', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const letters = (n: number): RecordInput[] => Array.from({ length: n }, (_, i) => letter(i));
  await log.append('s.dlq', 0, letters(3), 'durable');
  await log.append('s.dlq', 1, letters(2), 'durable');
  await log.close();
  const dd = ['--data-dir', dir];

  const before = hopper(['lag', ...dd, '--stream', 's.dlq']);
  assert.equal(before.code, 0, before.stderr);
  assert.equal(
    before.stdout,
    [
      'STREAM  GROUP        PARTITION  POSITION  END  LAG',
      's.dlq   dlq-handled          0         0    3    3  (no commit yet)',
      's.dlq   dlq-handled          1         0    2    2  (no commit yet)',
      '',
    ].join('\n'),
  );

  // One partition handled: the other one's pending letters still show.
  const drop = hopper(['dlq', 'drop', ...dd, '--stream', 's', '--partition', '1', '--limit', '1']);
  assert.equal(drop.code, 0, drop.stderr);
  const after = hopper(['lag', ...dd, '--group', DLQ_HANDLED_GROUP, '--json']);
  assert.equal(after.code, 0, after.stderr);
  assert.deepEqual(
    after.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown),
    [
      { stream: 's.dlq', group: DLQ_HANDLED_GROUP, partition: 0, position: 0, end: 3, lag: 3, committed: false },
      { stream: 's.dlq', group: DLQ_HANDLED_GROUP, partition: 1, position: 1, end: 2, lag: 1, committed: true },
    ],
  );
});
