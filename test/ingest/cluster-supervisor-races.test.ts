// ClusterSupervisor races, staged with stand-in children (fixtures/standin-ingest-child.mjs) that speak
// only the IPC protocol: a child dying after it reported ready but before start() finished is restarted,
// and a child dying during a rolling restart never leaves two processes for one partition.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ClusterSupervisor } from '../../src/ingest/cluster-supervisor.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

const CHILD = fileURLToPath(new URL('./fixtures/standin-ingest-child.mjs', import.meta.url));
const STANDIN_KEYS = ['STANDIN_DIR', 'STANDIN_READY_DELAY_MS', 'STANDIN_READY_DELAY_MS_1', 'STANDIN_FAIL_MS', 'STANDIN_DIE_ONCE_MS_0'];

cluster.setupPrimary({ exec: CHILD, execArgv: [], args: [] });

function supervisor(t: TestContext): ClusterSupervisor {
  const dir = tempDir('hopper-supervisor-');
  process.env.STANDIN_DIR = dir;
  const sup = new ClusterSupervisor({ processes: 2, shutdownTimeoutMs: 1000, logger: pino({ level: 'silent' }) });
  t.after(async () => {
    await sup.stop();
    for (const k of STANDIN_KEYS) delete process.env[k];
    removeDir(dir);
  });
  return sup;
}

function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.process.exitCode === null && w.process.signalCode === null);
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const by = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > by) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function alive(pid: number | null): boolean {
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a child that dies after reporting ready, while start() still waits for another, is restarted', { timeout: 30_000 }, async (t) => {
  // Partition 0 is ready at once and dies 200 ms later; partition 1 is ready only after 1 s.
  process.env.STANDIN_DIE_ONCE_MS_0 = '200';
  process.env.STANDIN_READY_DELAY_MS_1 = '1000';
  const sup = supervisor(t);
  await sup.start();
  await until('partition 0 to get a live process again', () => alive(sup.pids()[0]!));
  assert.equal(liveWorkers().length, 2, 'one process per partition');
});

test('a child killed during a rolling restart leaves one process for its partition, not two', { timeout: 30_000 }, async (t) => {
  const sup = supervisor(t);
  await sup.start();
  const [old0] = sup.pids();
  // Replacements take 1 s to be ready; the old partition-0 child dies while its replacement starts.
  process.env.STANDIN_READY_DELAY_MS = '1000';
  const restart = sup.rollingRestart();
  process.kill(old0!, 'SIGKILL');
  await restart;
  // Give a wrongly scheduled restart time to show up.
  await new Promise((r) => setTimeout(r, 1500));
  const pids = sup.pids();
  assert.ok(alive(pids[0]!) && alive(pids[1]!), `both partitions have a live process: ${JSON.stringify(pids)}`);
  assert.notEqual(pids[0], old0);
  assert.equal(liveWorkers().length, 2, `exactly two children, one per partition (live pids: ${liveWorkers().map((w) => w.process.pid).join(', ')})`);
});

test('a child killed during a rolling restart whose replacement fails to start is restarted', { timeout: 30_000 }, async (t) => {
  const sup = supervisor(t);
  await sup.start();
  const [old0] = sup.pids();
  // The replacement reports a start failure after 500 ms; the old child is gone by then.
  process.env.STANDIN_FAIL_MS = '500';
  const restart = sup.rollingRestart();
  delete process.env.STANDIN_FAIL_MS; // the refill of the slot starts normally
  process.kill(old0!, 'SIGKILL');
  await restart;
  await until('partition 0 to get a live process again', () => alive(sup.pids()[0]!) && sup.pids()[0] !== old0);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(liveWorkers().length, 2, 'one process per partition');
});

test('a rolling restart asked for during one runs again after it, replacing the children it already replaced', { timeout: 30_000 }, async (t) => {
  const sup = supervisor(t);
  await sup.start();
  process.env.STANDIN_READY_DELAY_MS = '300';
  const first = sup.rollingRestart();
  // Partition 0's replacement is forked now, with the configuration of the first SIGHUP; a second SIGHUP
  // (the configuration changed again) must replace it too.
  const forkedBefore = new Set(liveWorkers().map((w) => w.process.pid));
  await sup.rollingRestart();
  await first;
  const pids = sup.pids();
  assert.ok(
    pids.every((pid) => alive(pid) && !forkedBefore.has(pid!)),
    `every partition runs a process forked after the second restart was asked for: ${JSON.stringify(pids)}, before: ${JSON.stringify([...forkedBefore])}`,
  );
  assert.equal(liveWorkers().length, 2, 'one process per partition');
});
