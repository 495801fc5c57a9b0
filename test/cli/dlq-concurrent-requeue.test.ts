// Two `hopper dlq requeue` of one stream at the same moment (two terminals, a cron job and a person):
// each letter is requeued once, the stream does not grow a partition, and the run that found the other
// one busy says so in one line (or, started after it finished, finds nothing pending).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openEmbedded } from '../helpers/embedded.js';
import { logWithDeadLetters } from './dead-letters-fixture.js';
import { cleanEnv, ROOT } from '../work/work-helpers.js';

const LETTERS = 3000;

/** The CLI from the sources (through tsx), so the test needs no build. */
function requeue(dir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'dlq', 'requeue', '--stream', 's', '--data-dir', dir], { cwd: ROOT, env: cleanEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('two concurrent dlq requeue runs requeue each letter once', async (t) => {
  const { dir, log } = await logWithDeadLetters(t, LETTERS, {});
  await log.close();

  const runs = await Promise.all([requeue(dir), requeue(dir)]);
  for (const r of runs) {
    if (r.code === 0) assert.match(r.stdout, /^requeued \d+ dead letters of s\n$/);
    else assert.equal(r.stderr, 'hopper: dlq requeue: another hopper dlq requeue or drop of s is running: wait for it to finish, then run this again. (HOPPER_LOCK_HELD)\n');
  }
  const requeued = runs.reduce((n, r) => n + Number(/^requeued (\d+)/.exec(r.stdout)?.[1] ?? 0), 0);
  assert.equal(requeued, LETTERS, `each letter once: ${JSON.stringify(runs)}`);

  const after = openEmbedded(dir);
  t.after(() => after.close());
  assert.deepEqual(await after.listPartitions('s'), [0], 'no partition added for a second writer');
  const stats = (await after.stats()).streams.find((s) => s.stream === 's')!;
  assert.equal(stats.partitions[0]!.endOffset, LETTERS);
});
