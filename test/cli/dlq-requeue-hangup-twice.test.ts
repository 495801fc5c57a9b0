// A terminal or SSH session closing sends a foreground `hopper dlq requeue` SIGHUP twice within a millisecond: the
// interactive shell hangs up its jobs, then the kernel hangs up the foreground process group as the shell (the
// session leader) exits. The second SIGHUP was taken for "a second stop signal: end at once", and killed the run
// mid-chunk by SIGHUP's default action, after appending letters and before moving the watermark past them (the
// next run requeued up to 1000 letters again; on Redis and NATS the lock stayed held for its lease). A repeated
// SIGHUP now changes nothing: the run stops between chunks, exit 129. Runs the built CLI (dist/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { openEmbedded } from '../helpers/embedded.js';
import { logWithDeadLetters } from './dead-letters-fixture.js';
import { CLI, cleanEnv, runCli } from '../work/work-helpers.js';

const LETTERS = 40_000;

test('two SIGHUPs (a closed terminal) during dlq requeue still stop between chunks: exit 129, no letter requeued twice', { timeout: 120_000 }, async (t) => {
  const { dir, log } = await logWithDeadLetters(t, LETTERS, { kind: 'redelivery', code: 'HOPPER_REDELIVERY_LIMIT', reason: 'died' });

  const child = spawn(process.execPath, [CLI, 'dlq', 'requeue', '--stream', 's', '--data-dir', dir], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  for (;;) {
    const end = (await log.stats()).streams.find((s) => s.stream === 's')!.partitions[0]!.endOffset;
    if (end > 0) break;
    await sleep(5);
  }
  // A millisecond or two apart, as the shell's and the kernel's come (a third: two sent at once may arrive as one).
  for (let i = 0; i < 3; i++) {
    child.kill('SIGHUP');
    await sleep(2);
  }
  const { code, signal } = await exited;
  await log.close();
  const first = Number(/^requeued (\d+) dead letters of s/.exec(stdout)?.[1] ?? NaN);
  if (code === 0) {
    assert.equal(first, LETTERS, 'finished before the signals came'); // too fast a machine: still one requeue each
  } else {
    assert.deepEqual({ code, signal }, { code: 129, signal: null }, stderr);
    assert.match(stdout, /^requeued \d+ dead letters of s \(stopped by SIGHUP: run it again for the rest\)\n$/);
  }
  const rest = runCli(['dlq', 'requeue', '--stream', 's', '--data-dir', dir]);
  assert.equal(rest.code, 0, rest.stderr);
  assert.equal(rest.stdout, `requeued ${LETTERS - first} dead letters of s\n`);

  const after = openEmbedded(dir);
  t.after(() => after.close());
  assert.equal((await after.stats()).streams.find((s) => s.stream === 's')!.partitions[0]!.endOffset, LETTERS, 'each letter requeued once');
});
