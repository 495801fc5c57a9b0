// Ctrl-C (SIGINT) during `hopper dlq requeue`: the signal's default action killed it after appending a chunk of
// letters and before moving the handled watermark past them, so the next run requeued that chunk again (1000
// duplicates), and on Redis and NATS the lock stayed held for its lease. It now stops between chunks: exit 130,
// a line saying how many were requeued, and the next run requeues exactly the rest. So does SIGHUP, which a run
// gets when its terminal or SSH session closes (exit 129): it was not handled and duplicated a chunk the same way.
// Runs the built CLI (dist/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { openEmbedded } from '../helpers/embedded.js';
import { logWithDeadLetters } from './dead-letters-fixture.js';
import { CLI, cleanEnv, runCli } from '../work/work-helpers.js';

const LETTERS = 40_000;

for (const [signal, exitCode] of [['SIGINT', 130], ['SIGHUP', 129]] as const) {
  test(`${signal} during dlq requeue stops between chunks: no letter requeued twice`, { timeout: 120_000 }, async (t) => {
    const { dir, log } = await logWithDeadLetters(t, LETTERS, { kind: 'redelivery', code: 'HOPPER_REDELIVERY_LIMIT', reason: 'died' });

    const child = spawn(process.execPath, [CLI, 'dlq', 'requeue', '--stream', 's', '--data-dir', dir], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    // Once it is under way (records appended to s), interrupt it mid-run.
    for (;;) {
      const end = (await log.stats()).streams.find((s) => s.stream === 's')!.partitions[0]!.endOffset;
      if (end > 0) break;
      await sleep(5);
    }
    child.kill(signal);
    const code = await exited;
    await log.close();
    const first = Number(/^requeued (\d+) dead letters of s/.exec(stdout)?.[1] ?? NaN);
    if (code === 0) {
      assert.equal(first, LETTERS, 'finished before the signal came'); // too fast a machine: still one requeue each
    } else {
      assert.equal(code, exitCode, stderr);
      assert.match(stdout, new RegExp(`^requeued \\d+ dead letters of s \\(stopped by ${signal}: run it again for the rest\\)\\n$`));
      assert.ok(first < LETTERS, stdout);
    }
    const rest = runCli(['dlq', 'requeue', '--stream', 's', '--data-dir', dir]);
    assert.equal(rest.code, 0, rest.stderr);
    assert.equal(rest.stdout, `requeued ${LETTERS - first} dead letters of s\n`);

    const after = openEmbedded(dir);
    t.after(() => after.close());
    assert.equal((await after.stats()).streams.find((s) => s.stream === 's')!.partitions[0]!.endOffset, LETTERS, 'each letter requeued once');
  });
}
