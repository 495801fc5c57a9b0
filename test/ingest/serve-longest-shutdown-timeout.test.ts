// ingest.shutdownTimeoutMs may be as long as a timer waits (2^31 - 1 ms, 8bcaab0). The primary gives a child that
// long plus a grace to stop before killing it: past 2^31 - 1 ms in all, Node fired that timer after 1 ms, so a stop
// killed the children at once, what the limit was meant to prevent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { postWith, signalGroup, startServe } from './serve-process.js';

const LONGEST_TIMER_MS = 2 ** 31 - 1;

test('serve with the longest ingest.shutdownTimeoutMs: SIGTERM stops the children gracefully, none is killed', { timeout: 60_000 }, async (t) => {
  const dataDir = tempDir('hopper-long-shutdown-');
  t.after(() => removeDir(dataDir));
  const srv = await startServe(['--workers', '1', '--data-dir', dataDir], { HOPPER_INGEST_SHUTDOWN_TIMEOUT_MS: String(LONGEST_TIMER_MS) });
  t.after(() => signalGroup(srv, 'SIGKILL'));
  assert.equal((await postWith(false, srv.port, '/v1/streams/s', '{"id":"x"}')).status, 202);
  srv.child.kill('SIGTERM');
  const { code } = await srv.exited;
  const killed = srv.lines.filter((l) => l.includes('did not stop in time'));
  assert.deepEqual(killed, [], 'no child killed');
  assert.equal(code, 0, `exit code 0 after a graceful stop:\n${srv.lines.slice(-5).join('\n')}`);
});
