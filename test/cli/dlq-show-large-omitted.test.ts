// `hopper dlq show` of many dead letters stored without their bodies (too large for the dead-letter stream, e.g.
// NATS max_payload): it printed a whole chunk (up to 1000 letters) as one string, each with its original body read
// back from the stream, and 1000 originals of 600 KB went past V8's string limit: "unexpected error: Invalid string
// length" (exit 1), not one letter shown. Here 1000 letters name one 600 KB original (the log stays small).
// The CLI runs from the sources (tsx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { encodeDeadLetter, withoutBody } from '../../src/work/dead-letter.js';
import { cleanEnv, record } from '../work/work-helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LETTERS = 1000;
const BODY_BYTES = 600_000;

test('dlq show prints 1000 letters whose 600 KB originals are read back from the stream', { timeout: 120_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.ensureStream('s.dlq', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const body = Buffer.alloc(BODY_BYTES, 'x');
  await log.append('s', 0, [record(body, { requestId: 'r', receivedAtUs: 1 })], 'durable');
  const info = {
    v: 1 as const, stream: 's', partition: 0, offset: 0, receivedAtUs: 1, contentType: 'text/plain', contentEncoding: '', remoteAddress: '', requestId: 'r',
    idempotencyKey: '', pipeline: 's.p', group: 'g', kind: 'processor' as const, reason: 'down', attempts: 5, firstFailureAtMs: 1, lastFailureAtMs: 2,
  };
  const letter = withoutBody(encodeDeadLetter(info, body, 1));
  await log.append('s.dlq', 0, Array.from({ length: LETTERS }, () => letter), 'durable');
  await log.close();

  // Counted as it arrives: the output itself is 600 MB.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'dlq', 'show', '--stream', 's', '--data-dir', dir], { cwd: ROOT, env: cleanEnv() });
  let lines = 0;
  let bytes = 0;
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines++;
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(stderr, '');
  assert.equal(code, 0);
  assert.equal(lines, LETTERS);
  assert.ok(bytes > LETTERS * BODY_BYTES, `every original body printed (${bytes} bytes)`);
});
