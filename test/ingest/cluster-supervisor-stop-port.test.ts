// A stop during a rolling restart under ingest.port 0: the old children stop, node:cluster closes the shared socket
// with the last of them, and the replacement still starting listens on a new random port. The supervisor warned
// "ingest process listens on another port than the one announced: replacing it" at every such stop, though nothing
// is replaced (the server is stopping): an alarming line for an operator reading the log of a clean stop.
// Staged with stand-in children (fixtures/standin-ingest-child.mjs) reporting the port they are told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ClusterSupervisor } from '../../src/ingest/cluster-supervisor.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

const CHILD = fileURLToPath(new URL('./fixtures/standin-ingest-child.mjs', import.meta.url));
cluster.setupPrimary({ exec: CHILD, execArgv: [], args: [] });

test('a replacement reporting another port while the server stops is not announced as replaced', { timeout: 30_000 }, async (t) => {
  const dir = tempDir('hopper-supervisor-');
  process.env.STANDIN_DIR = dir;
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const sup = new ClusterSupervisor({ processes: 2, shutdownTimeoutMs: 1000, logger: pino({ level: 'info' }, sink) });
  t.after(async () => {
    await sup.stop();
    for (const k of ['STANDIN_DIR', 'STANDIN_READY_DELAY_MS', 'STANDIN_PORT']) delete process.env[k];
    removeDir(dir);
  });
  await sup.start();
  // The replacement of partition 0 is ready 300 ms after its fork, on another port (the old children are gone by then).
  process.env.STANDIN_READY_DELAY_MS = '300';
  process.env.STANDIN_PORT = '2';
  const restart = sup.rollingRestart();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await sup.stop(), true, 'a clean stop');
  await restart;
  assert.deepEqual(lines.filter((l) => l.includes('another port')), []);
});
