// `hopper log read` and `hopper log stats` on a partition with a damaged sealed segment: the read
// prints every intact record and says on stderr which range it skipped; stats, in a process of its
// own, counts the records that read found damaged (kept in the partition's quarantine.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from '../log/conformance.js';
import { runCli } from '../bench/run-cli.js';

test('log read skips a damaged range with a warning on stderr; log stats then counts it', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir, { segmentMaxBytes: 8 * 1024, indexIntervalBytes: 512 });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < 300; i += 10) await log.append('s', 0, Array.from({ length: 10 }, (_, j) => makeRecord(i + j, 200)), 'durable');
  await log.close();
  const pdir = join(dir, 'streams', 's', '0');
  const victim = join(pdir, readdirSync(pdir).filter((n) => n.endsWith('.log')).sort()[1]!);
  const buf = readFileSync(victim);
  buf[Math.floor(buf.length / 2)] ^= 0x5a;
  writeFileSync(victim, buf);
  const dd = ['--data-dir', dir];

  const before = await runCli(['log', 'stats', ...dd]);
  assert.equal(before.code, 0, before.stderr);
  assert.equal((JSON.parse(before.stdout) as { streams: { partitions: { quarantinedRecords: number }[] }[] }).streams[0]!.partitions[0]!.quarantinedRecords, 0, 'nothing read yet');

  const read = await runCli(['log', 'read', ...dd, '--stream', 's', '--limit', '1000']);
  assert.equal(read.code, 0, read.stderr);
  const offsets = read.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { offset: number }).offset);
  const lost = 300 - offsets.length;
  assert.ok(lost > 0 && lost < 40, `a small range is skipped (${lost})`);
  assert.equal(offsets[offsets.length - 1], 299);
  const warnings = read.stderr.trimEnd().split('\n');
  assert.equal(warnings.length, 1, read.stderr);
  assert.match(warnings[0]!, /^hopper: warning: skipped a damaged range of a sealed segment \(records quarantined\) \{.*"stream":"s".*"skippedOffsets":"\d+\.\.\d+"/);

  const after = await runCli(['log', 'stats', ...dd]);
  assert.equal(after.code, 0, after.stderr);
  const p = (JSON.parse(after.stdout) as { streams: { partitions: { quarantinedRecords: number; quarantinedBytes: number }[] }[] }).streams[0]!.partitions[0]!;
  assert.equal(p.quarantinedRecords, lost);
  assert.ok(p.quarantinedBytes > 0);
});
