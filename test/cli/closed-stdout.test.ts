// A CLI whose stdout goes away: `hopper log read | head -1` stops quietly with exit 0 once the
// reader has left (EPIPE), and output to a full disk (/dev/full: ENOSPC) is one line with
// HOPPER_OUTPUT_FAILED and exit 1. Before, both ended in an unhandled 'error' event and a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from '../log/conformance.js';
import { CLI, REPO } from '../bench/run-cli.js';

/** 20,000 records of 200 bytes: about 8 MB of JSON lines, far more than a pipe holds. */
async function bigLog(dir: string): Promise<void> {
  const log = openEmbedded(dir);
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < 20_000; i += 500) await log.append('s', 0, Array.from({ length: 500 }, (_, j) => makeRecord(i + j, 200)), 'durable');
  await log.close();
}

test('log read stops with exit 0 and nothing on stderr when the reader closes the pipe after one line', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  await bigLog(dir);
  const child = spawn(process.execPath, [CLI, 'log', 'read', '--data-dir', dir, '--stream', 's'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const firstLine = await new Promise<string>((resolve) => {
    let text = '';
    child.stdout.on('data', (c: Buffer) => {
      text += c.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        child.stdout.destroy(); // as head -1 does once it has its line
        resolve(text.slice(0, nl));
      }
    });
  });
  assert.equal((JSON.parse(firstLine) as { offset: number }).offset, 0);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});

test('log read into a full disk prints HOPPER_OUTPUT_FAILED on one line and exits 1', { skip: existsSync('/dev/full') ? false : 'no /dev/full on this system' }, async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  await bigLog(dir);
  const full = openSync('/dev/full', 'w');
  t.after(() => closeSync(full));
  const child = spawn(process.execPath, [CLI, 'log', 'read', '--data-dir', dir, '--stream', 's'], { cwd: REPO, stdio: ['ignore', full, 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 1);
  assert.match(stderr, /^hopper log read: cannot write to stdout \(ENOSPC\) \(HOPPER_OUTPUT_FAILED\)\n$/);
});

/** Runs the CLI with stdout already closed by its reader (a pipe whose read end is gone) or on /dev/full. */
async function runInto(args: string[], into: 'closed-pipe' | 'full-disk'): Promise<{ code: number | null; stderr: string }> {
  const full = into === 'full-disk' ? openSync('/dev/full', 'w') : null;
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, stdio: ['ignore', full ?? 'pipe', 'pipe'] });
  if (full === null) child.stdout!.destroy();
  else closeSync(full);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stderr };
}

test('help and --version whose stdout is gone: exit 0 quietly for a reader that left, one line and exit 1 on a full disk', { skip: existsSync('/dev/full') ? false : 'no /dev/full on this system' }, async () => {
  // They ended in an unhandled 'error' event and a stack trace; serve --help on a full disk exited 0.
  for (const args of [['--help'], ['--version'], ['log', '--help'], ['help', 'serve'], ['serve', '--help']]) {
    const left = await runInto(args, 'closed-pipe');
    assert.deepEqual(left, { code: 0, stderr: '' }, args.join(' '));
    const full = await runInto(args, 'full-disk');
    assert.equal(full.code, 1, `${args.join(' ')}: ${full.stderr}`);
    assert.match(full.stderr, /^hopper( serve)?: cannot write to stdout \(ENOSPC\) \(HOPPER_OUTPUT_FAILED\)\n$/, args.join(' '));
  }
});
