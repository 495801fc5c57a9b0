// hopper lag, replay and dlq drop/list as a person runs them: exact output,
// positions moved, one-line errors with exit code 2 for bad usage; lag also
// lists the configured pipelines' groups that have not committed yet; log stats
// and replay work past an unreadable position file (replay is its remedy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { encodeDeadLetter, type DeadLetterInfo } from '../../src/work/dead-letter.js';
import { formatTimeUs } from '../../src/cli/parse-duration.js';
import { record, runCli, writeConfigFile } from './work-helpers.js';

const BASE_US = Date.UTC(2026, 0, 1) * 1000;

function letter(offset: number, reason: string): DeadLetterInfo {
  return {
    v: 1, stream: 's', partition: 0, offset, receivedAtUs: BASE_US, contentType: 'application/json', contentEncoding: '',
    remoteAddress: '10.0.0.1', requestId: `r${offset}`, idempotencyKey: '', pipeline: 's.files', group: 'files',
    kind: 'decode', code: 'HOPPER_DECODE_FAILED', reason, attempts: 1, firstFailureAtMs: 1, lastFailureAtMs: 2,
  };
}

test('lag, replay and dlq drop from the command line', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let p = 0; p < 2; p++) {
    await log.append('s', p, Array.from({ length: 10 }, (_, i) => record(`{"i":${i}}`, { receivedAtUs: BASE_US + i * 1_000_000 })), 'durable');
    await log.commitPosition('g', 's', p, 10);
  }
  await log.ensureStream('s.dlq', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s.dlq', 0, [encodeDeadLetter(letter(4, 'malformed JSON: x'), Buffer.from('{x'), BASE_US), encodeDeadLetter(letter(6, 'malformed JSON: y'), Buffer.from('{y'), BASE_US)], 'durable');
  await log.close();
  const dd = ['--data-dir', dir];

  const lag = runCli(['lag', ...dd, '--stream', 's']);
  assert.equal(lag.code, 0, lag.stderr);
  // With no pipelines configured, `hopper work` runs the files pipeline on s: its group is listed before its first commit.
  assert.equal(
    lag.stdout,
    [
      'STREAM  GROUP  PARTITION  POSITION  END  LAG',
      's       files          0         0   10   10  (no commit yet)',
      's       files          1         0   10   10  (no commit yet)',
      's       g              0        10   10    0',
      's       g              1        10   10    0',
      '',
    ].join('\n'),
  );

  const back = runCli(['replay', ...dd, '--stream', 's', '--group', 'g', '--from', '3']);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(back.stdout, 's partition 0: group g position 10 -> 3\ns partition 1: group g position 10 -> 3\n');
  const byTime = runCli(['replay', ...dd, '--stream', 's', '--group', 'g', '--partition', '1', '--from', formatTimeUs(BASE_US + 5_000_000)]);
  assert.equal(byTime.stdout, 's partition 1: group g position 3 -> 5\n');
  assert.equal(runCli(['replay', ...dd, '--stream', 's', '--group', 'new', '--from', '99']).stdout.split('\n')[0], 's partition 0: group new position (none) -> 10');
  const rows = runCli(['lag', ...dd, '--json', '--group', 'g']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { partition: number; lag: number });
  assert.deepEqual(rows.map((r) => [r.partition, r.lag]), [[0, 7], [1, 5]]);

  const usage = runCli(['replay', ...dd, '--stream', 's', '--from', '3']);
  assert.equal(usage.code, 2);
  assert.equal(usage.stderr, 'hopper: replay needs --stream S, --group G and --from OFFSET|ISO-TIME. (HOPPER_USAGE)\n');
  const unknown = runCli(['replay', ...dd, '--stream', 'nope', '--group', 'g', '--from', '0']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^hopper: No stream "nope" in this log\. \(HOPPER_STREAM_UNKNOWN\)\n$/);

  assert.equal(runCli(['dlq', 'list', ...dd]).stdout, 's: 2 pending dead letters (hopper dlq list --stream s)\n');
  const drop = runCli(['dlq', 'drop', ...dd, '--stream', 's', '--limit', '1']);
  assert.equal(drop.stdout, 'dropped 1 dead letters of s\n');
  const list = runCli(['dlq', 'list', ...dd, '--stream', 's']);
  assert.equal(list.stdout, '0:1  1970-01-01T00:00:00.002Z  decode  attempts=1  s/0@6  malformed JSON: y\n');
  assert.match(runCli(['lag', ...dd, '--stream', 's.dlq']).stdout, /s\.dlq\s+dlq-handled\s+0\s+1\s+2\s+1/);
  assert.match(runCli(['dlq', 'list', ...dd, '--stream', 'nope']).stderr, /No stream "nope" in this log\. \(HOPPER_STREAM_UNKNOWN\)/);
  assert.equal(runCli(['dlq', 'requeue', ...dd]).code, 2);
});

test('lag lists the groups of the configured pipelines before their first commit', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('clicks', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.ensureStream('other', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('clicks', 0, Array.from({ length: 4 }, (_, i) => record(`{"i":${i}}`)), 'durable');
  await log.append('clicks', 1, [record('{"i":9}')], 'durable');
  await log.append('other', 0, [record('{"o":1}')], 'durable');
  await log.commitPosition('loader', 'clicks', 0, 3);
  await log.close();
  const configFile = writeConfigFile(dir, {
    dataDir: dir,
    pipelines: [
      { stream: 'clicks', processor: 'noop', group: 'loader' },
      { stream: 'clicks', processor: 'files', group: 'archive' },
      { stream: 'not-created-yet', processor: 'noop', group: 'later' },
    ],
  });

  // "loader" committed on partition 0 only; "archive" never did; "other" has no pipeline, so no row.
  const lag = runCli(['lag', '--config', configFile]);
  assert.equal(lag.code, 0, lag.stderr);
  assert.equal(
    lag.stdout,
    [
      'STREAM  GROUP    PARTITION  POSITION  END  LAG',
      'clicks  archive          0         0    4    4  (no commit yet)',
      'clicks  archive          1         0    1    1  (no commit yet)',
      'clicks  loader           0         3    4    1',
      'clicks  loader           1         0    1    1  (no commit yet)',
      '',
    ].join('\n'),
  );
  const rows = runCli(['lag', '--config', configFile, '--json', '--group', 'archive']).stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
  assert.deepEqual(rows, [
    { stream: 'clicks', group: 'archive', partition: 0, position: 0, end: 4, lag: 4, committed: false },
    { stream: 'clicks', group: 'archive', partition: 1, position: 0, end: 1, lag: 1, committed: false },
  ]);
  assert.equal(runCli(['lag', '--config', configFile, '--stream', 'other']).stdout, 'no consumer group has committed a position yet\n');
  // A stream the log does not have (a typo, or a pipeline's stream before its first write) is named as such, not shown as "nothing there".
  for (const args of [['lag', '--stream', 'not-created-yet'], ['lag', '--json', '--stream', 'clickz'], ['log', 'stats', '--stream', 'clickz']]) {
    const unknown = runCli([...args, '--config', configFile]);
    assert.equal(unknown.code, 1, args.join(' '));
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /^hopper: No stream "(not-created-yet|clickz)" in this log\. \(HOPPER_STREAM_UNKNOWN\)\n$/);
  }
});

test('log stats reports an unreadable position file and replay overwrites it', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let p = 0; p < 2; p++) await log.append('s', p, [record('{"i":0}'), record('{"i":1}')], 'durable');
  await log.commitPosition('g', 's', 0, 2);
  await log.commitPosition('g', 's', 1, 1);
  await log.close();
  const positionFile = join(dir, 'groups', 'g', 's', '1.position');
  writeFileSync(positionFile, '{"posit');
  const dd = ['--data-dir', dir];

  // Both failed with HOPPER_LOG_CORRUPT, whose message names hopper replay as the remedy.
  const stats = runCli(['log', 'stats', ...dd]);
  assert.equal(stats.code, 0, stats.stderr);
  const [p0, p1] = (JSON.parse(stats.stdout) as { streams: { partitions: Record<string, unknown>[] }[] }).streams[0]!.partitions;
  assert.deepEqual(p0, { partition: 0, startOffset: 0, endOffset: 2, bytes: p0!.bytes, segments: 1, quarantinedRecords: 0, quarantinedBytes: 0, groups: [{ group: 'g', position: 2, lag: 0 }] });
  assert.deepEqual(p1!.groups, []);
  assert.deepEqual(p1!.unreadableGroups, [
    { group: 'g', code: 'HOPPER_LOG_CORRUPT', message: 'Position file of group g on s/1 is unreadable: commit a new position with hopper replay --stream s --group g --partition 1 --from OFFSET|ISO-TIME.' },
  ]);

  const replay = runCli(['replay', ...dd, '--stream', 's', '--group', 'g', '--from', '0']);
  assert.equal(replay.code, 0, replay.stderr);
  assert.equal(replay.stdout, 's partition 0: group g position 2 -> 0\ns partition 1: group g position (unreadable, overwritten) -> 0\n');
  assert.deepEqual(JSON.parse(readFileSync(positionFile, 'utf8')), { position: 0 });
  const after = JSON.parse(runCli(['log', 'stats', ...dd]).stdout) as { streams: { partitions: Record<string, unknown>[] }[] };
  assert.deepEqual(after.streams[0]!.partitions[1]!.groups, [{ group: 'g', position: 0, lag: 2 }]);
  assert.equal(after.streams[0]!.partitions[1]!.unreadableGroups, undefined);
});
