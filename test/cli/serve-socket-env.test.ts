// --socket alone listens on the socket only; --host or --port add TCP, and so do their environment
// variables (HOPPER_INGEST_HOST was ignored: a socket-only server though the environment named a TCP address)
// and the config file's ingest.host and ingest.port (ignored too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { startServe } from '../ingest/serve-process.js';

test('--socket with HOPPER_INGEST_HOST listens on both, as with --host', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hopper-serve-env-host-');
  t.after(() => removeDir(dir));
  const config = join(dir, 'hopper.json');
  writeFileSync(config, JSON.stringify({ ingest: { port: 0 } }));
  const path = join(dir, 'hopper.sock');
  const srv = await startServe(['--workers', '1', '--socket', path, '--config', config, '--data-dir', join(dir, 'data')], { HOPPER_INGEST_HOST: '127.0.0.1' });
  t.after(() => srv.child.kill('SIGKILL'));
  const start = JSON.parse(srv.lines.find((l) => l.includes('hopper serve listening'))!) as { listen: string[] };
  assert.equal(start.listen.length, 2, start.listen.join(' '));
  assert.ok(start.listen.some((u) => u.startsWith('http://127.0.0.1:')), start.listen.join(' '));
  srv.child.kill('SIGTERM');
  assert.equal((await srv.exited).code, 0);
});

test('ingest.port in the config file adds TCP to a socket, as --port does; without it the socket is alone', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hopper-serve-file-port-');
  t.after(() => removeDir(dir));
  const listening = async (ingest: Record<string, unknown>, socket: string): Promise<string[]> => {
    const config = join(dir, 'hopper.json');
    writeFileSync(config, JSON.stringify({ ingest }));
    const srv = await startServe(['--workers', '1', '--socket', socket, '--config', config, '--data-dir', join(dir, 'data')]);
    t.after(() => srv.child.kill('SIGKILL'));
    const start = JSON.parse(srv.lines.find((l) => l.includes('hopper serve listening'))!) as { listen: string[] };
    srv.child.kill('SIGTERM');
    assert.equal((await srv.exited).code, 0);
    return start.listen;
  };
  const both = await listening({ port: 0 }, join(dir, 'both.sock'));
  assert.equal(both.length, 2, both.join(' '));
  assert.ok(both.some((u) => u.startsWith('http://127.0.0.1:')), both.join(' '));
  const socketOnly = await listening({}, join(dir, 'only.sock'));
  assert.deepEqual(socketOnly, [`unix:${join(dir, 'only.sock')}`]);
});
