// A dead letter's reason may quote the body that failed: V8's JSON.parse says `Unexpected token '\x1b',
// "\x1b]0;PWNED\x07"... is not valid JSON`, so any client of the ingest port chose those bytes. `hopper dlq
// list` printed them raw, and the operator's terminal obeyed them (here: retitle the window; others clear
// the screen or hide text). `hopper status` printed a pipeline's last failure the same way. Control
// characters in those human-readable lines are now written as \uXXXX.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusLines } from '../../src/cli/commands/status.js';
import { encodeDeadLetter, type DeadLetterInfo } from '../../src/work/dead-letter.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { fakeStatus } from '../observe/fake-status.js';
import { runCli } from '../bench/run-cli.js';

const EVIL = '\x1b]0;PWNED\x07\x1b[2J\u202eexe.txt\x9b';
/** Any C0 or C1 control character, or a bidirectional override. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

test('hopper dlq list writes the control characters of a reason as \\u escapes', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.ensureStream('s.dlq', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const info: DeadLetterInfo = {
    v: 1, stream: 's', partition: 0, offset: 0, receivedAtUs: Date.now() * 1000, contentType: 'application/json', contentEncoding: '',
    remoteAddress: '127.0.0.1', requestId: 'r1', idempotencyKey: '', pipeline: 's.files', group: 'files', kind: 'decode',
    code: 'HOPPER_DECODE_FAILED', reason: `malformed JSON: Unexpected token '\x1b', "${EVIL}"... is not valid JSON`, attempts: 1,
    firstFailureAtMs: Date.now(), lastFailureAtMs: Date.now(),
  };
  await log.append('s.dlq', 0, [encodeDeadLetter(info, Buffer.from(EVIL), Date.now() * 1000)], 'durable');
  await log.close();

  const r = await runCli(['dlq', 'list', '--data-dir', dir, '--stream', 's']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, CONTROL, JSON.stringify(r.stdout));
  assert.ok(r.stdout.includes('"\\u001b]0;PWNED\\u0007\\u001b[2J\\u202eexe.txt\\u009b"'), r.stdout);
  assert.equal(r.stdout.split('\n').length, 2, 'one line');
});

test('hopper status writes the control characters of a pipeline failure as \\u escapes', () => {
  const status = fakeStatus({
    workers: {
      pipelines: {
        'orders.db': {
          batches: 1, records: 1, events: 1, failures: 1, deadLetters: 0, abandoned: 0, batchDuration: { count: 1, sumMs: 1, maxMs: 1 },
          state: 'restarting', restarts: 2, lastFailure: { message: `cannot insert ${EVIL}\nsecond line`, atMs: Date.now() },
        },
      },
    },
  });
  const lines = statusLines(status);
  for (const line of lines) assert.doesNotMatch(line, CONTROL, JSON.stringify(line));
  const failure = lines.find((l) => l.startsWith('pipeline orders.db: failed, restarting'));
  assert.ok(failure?.endsWith('last: cannot insert \\u001b]0;PWNED\\u0007\\u001b[2J\\u202eexe.txt\\u009b\\u000asecond line'), failure);
  assert.ok(lines.some((l) => l.startsWith('hopper 9.9.9 · serve')), 'the rest as before');
});
