// Ctrl-C while the audit waits for missing ids (--audit-wait) ends the wait: the verdict of the last read is
// printed at once, a missing id still exits 1. Before, the first signal was taken for the load's, already
// over, and the audit went on waiting for the whole --audit-wait (a second Ctrl-C then ended it with no verdict).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { acceptingServer } from './accepting-server.js';
import { CLI, REPO, lastLine } from './run-cli.js';

const STREAM = 'lost';

test('SIGINT during --audit-wait: the verdict at once, missing ids exit 1', { timeout: 90_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hopper-bench-audit-wait-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  // The stream exists and stays empty: the server acknowledges every write and stores none.
  const log = new EmbeddedLog({
    dataDir,
    segmentMaxBytes: 1024 * 1024,
    indexIntervalBytes: 4096,
    flushIntervalMs: 0,
    maxBatchBytes: 1024 * 1024,
    maxPendingBytes: 16 * 1024 * 1024,
    maxPendingRecords: 100_000,
    writtenFsyncIntervalMs: 200,
  });
  await log.ensureStream(STREAM, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.close();
  const url = `${await acceptingServer(t)}/v1/streams/${STREAM}`;

  const child = spawn(process.execPath, [CLI, 'bench', '--url', url, '--requests', '20', '--connections', '2', '--threads', '1', '--audit', '--data-dir', dataDir, '--audit-wait', '120s'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  let onReport: () => void = () => undefined;
  const reported = new Promise<void>((r) => (onReport = r));
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    // The load's report is printed before the audit starts.
    if (/^ {2}bytes sent /m.test(stdout)) onReport();
  });
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  // The audit starts in the same turn as the report is printed: a signal from now on comes during the audit.
  await reported;
  const signalledAt = Date.now();
  child.kill('SIGINT');
  const code = await exited;
  assert.ok(Date.now() - signalledAt < 20_000, `ended ${Date.now() - signalledAt} ms after the signal, not at the end of --audit-wait 120s`);
  assert.equal(code, 1, `${stdout}\n${stderr}`);
  assert.equal(lastLine(stdout), 'audit: acknowledged 20, stored 0, missing 20, duplicated 0');
  assert.equal(stderr, 'hopper bench: interrupted by SIGINT: the audit stopped waiting: its verdict is that of its last read.\n');
});
