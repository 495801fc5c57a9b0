// Command lines that would silently do something else than asked are refused with one
// line and exit 2, and change nothing: `replay --from` values that are neither an offset
// nor an ISO 8601 time, stray positional arguments (`dlq drop --stream s 1`), and a
// --partition the dead-letter stream does not have, and a --data-dir that does not exist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { encodeDeadLetter, type DeadLetterInfo } from '../../src/work/dead-letter.js';
import { handledPosition } from '../../src/work/dead-letter-queue.js';
import { record, cleanEnv } from '../work/work-helpers.js';
import { CLI, REPO } from '../bench/run-cli.js';

/** The built CLI (npm test builds first): a start through tsx costs about a second each, and this file starts it 20 times. */
function hopper(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: 'utf8', env: cleanEnv(), timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function letter(offset: number): DeadLetterInfo {
  return {
    v: 1, stream: 's', partition: 0, offset, receivedAtUs: 1, contentType: 'application/json', contentEncoding: '', remoteAddress: '',
    requestId: '', idempotencyKey: '', pipeline: 'p', group: 'g', kind: 'decode', reason: 'bad', attempts: 1, firstFailureAtMs: 1, lastFailureAtMs: 1,
  };
}

function assertUsage(r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

test('bad --from values, stray arguments and unknown dlq partitions are usage errors that change nothing', { timeout: 180_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  let log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, Array.from({ length: 10 }, (_, i) => record(`{"i":${i}}`)), 'durable');
  await log.commitPosition('g', 's', 0, 8);
  await log.ensureStream('s.dlq', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s.dlq', 0, [3, 4, 5].map((o) => encodeDeadLetter(letter(o), Buffer.from('{'), 1)), 'durable');
  await log.close();
  const dd = ['--data-dir', dir];

  for (const from of ['-1', '2.5', '-100', '5 ', '1e3', '2026-02-30', 'Jan 1 2026']) {
    assertUsage(hopper(['replay', ...dd, '--stream', 's', '--group', 'g', `--from=${from}`]), /--from .* is neither an offset .* nor an ISO 8601 time.*\(HOPPER_USAGE\)\n$/);
  }
  assertUsage(hopper(['dlq', 'drop', ...dd, '--stream', 's', '1']), /^hopper dlq drop: unexpected argument "1": this command takes only flags/);
  assertUsage(hopper(['replay', ...dd, '--stream', 's', '--group', 'g', '--from', '3', 'now']), /unexpected argument "now"/);
  const missing = hopper(['dlq', 'requeue', ...dd, '--stream', 's', '--partition', '7']);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /^hopper: Stream s\.dlq has no partition 7 \(it has 0\)\. \(HOPPER_PARTITION_UNKNOWN\)\n$/);
  const listed = hopper(['dlq', 'list', ...dd, '--stream', 's', '--partition', '7']);
  assert.equal(listed.code, 1);
  assert.match(listed.stderr, /HOPPER_PARTITION_UNKNOWN/);

  log = openEmbedded(dir);
  t.after(() => log.close());
  assert.equal(await log.getPosition('g', 's', 0), 8, 'the group did not move');
  assert.equal(await handledPosition(log, 's', 0), 0, 'no dead letter was dropped');
  await log.close();

  // The good forms still work.
  const ok = hopper(['replay', ...dd, '--stream', 's', '--group', 'g', '--from', '2026-01-01']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^s partition 0: group g position 8 -> 0\n$/);
  const list = hopper(['dlq', 'list', ...dd, '--stream', 's', '--partition', '0']);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout.trim().split('\n').length, 3);
});

test('a --data-dir that does not exist is a usage error for the commands that read the log, not an empty log', { timeout: 180_000 }, () => {
  const dd = ['--data-dir', '/nonexistent/hopper-data'];
  const cases = [['log', 'stats'], ['log', 'read', '--stream', 's'], ['lag'], ['dlq', 'list', '--stream', 's'], ['replay', '--stream', 's', '--group', 'g', '--from', '0']];
  for (const args of cases) assertUsage(hopper([...args, ...dd]), /^hopper: No Hopper data in \/nonexistent\/hopper-data: pass --data-dir/);
});
