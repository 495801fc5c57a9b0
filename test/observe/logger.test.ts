// The process logger: JSON lines at the configured level, and every error line carries a
// code (the HopperError code, a Node error code such as ENOSPC, or HOPPER_INTERNAL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('./fixtures/log-lines.ts', import.meta.url));

/**
 * The lines a child logged at `level`. Their order on stderr is not asserted: pino's asynchronous
 * destination may put a line written synchronously (fatal, the exit flush) ahead of one whose write to
 * the pipe is still in flight, and this test is about levels and codes, not that race.
 */
function linesAt(level: string): Record<string, unknown>[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, level], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '', 'logs go to stderr');
  return r.stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('every line at level error or above has a code; lower levels are left alone', () => {
  const lines = linesAt('info');
  assert.deepEqual(
    lines.map((l) => l.msg).sort(),
    ['an info line', 'a warning keeps its fields', 'hopper error', 'node error', 'error fields', 'string error', 'explicit code', 'no fields at all', 'an error object first'].sort(),
    'info and above, nothing below',
  );
  const code = (msg: string): unknown => lines.find((l) => l.msg === msg)!.code;
  assert.equal(code('a warning keeps its fields'), 0);
  assert.equal(code('hopper error'), 'HOPPER_LOG_UNAVAILABLE');
  assert.equal(code('node error'), 'ENOSPC');
  assert.equal(code('error fields'), 'HOPPER_PARTITION_LOCKED');
  assert.equal(code('string error'), 'HOPPER_INTERNAL');
  assert.equal(code('explicit code'), 'HOPPER_LISTEN_FAILED');
  assert.equal(code('no fields at all'), 'HOPPER_INTERNAL');
  assert.equal(code('an error object first'), 'HOPPER_INTERNAL');
  assert.equal(lines.find((l) => l.msg === 'error fields')!.err, 'Another process is writing this partition: stop it, or give this one another data directory.');
  for (const l of lines) {
    assert.equal(l.role, 'fixture');
    assert.equal(typeof l.pid, 'number');
  }
});

test('the level is configurable', () => {
  const debug = linesAt('debug');
  assert.equal(debug.length, 10);
  assert.ok(debug.some((l) => l.msg === 'a debug line'));
  assert.deepEqual(
    linesAt('error')
      .map((l) => l.level as number)
      .sort((a, b) => a - b),
    [50, 50, 50, 50, 50, 50, 60],
  );
  assert.deepEqual(linesAt('silent'), []);
});
