// `hopper serve --port 0` keeps the port its start line announced when every ingest
// process dies at once (one process, or all of them): the restarted ones listen there
// again. node:cluster closes a shared listening socket with its last process, and a
// restarted process asking for port 0 got a new random port: the announced one
// refused every connection from then on, and no line said where the server went.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { postWith, signalGroup, startServe } from './serve-process.js';

function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const by = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > by) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Status of a POST to the port, or the connection error's code. */
async function write(port: number): Promise<string> {
  try {
    return String((await postWith(false, port, '/v1/streams/e', '{}', {}, 5000)).status);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}

test('--port 0: a restarted ingest process listens on the announced port', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('hopper-port0-restart-');
  t.after(() => removeDir(dir));
  const srv = await startServe(['--workers', '1', '--data-dir', join(dir, 'data')]);
  t.after(() => signalGroup(srv, 'SIGKILL'));
  assert.equal(await write(srv.port), '202');
  for (let death = 1; death <= 2; death++) {
    const [old] = childPids(srv.child.pid!);
    assert.ok(old !== undefined);
    process.kill(old, 'SIGKILL');
    await until(`ingest process ${death + 1}`, () => childPids(srv.child.pid!).some((p) => p !== old), 20_000);
    let status = '';
    const by = Date.now() + 20_000;
    while ((status = await write(srv.port)) !== '202' && Date.now() < by) await new Promise((r) => setTimeout(r, 100));
    assert.equal(status, '202', `a write to the announced port ${srv.port} after death ${death}`);
  }
});
