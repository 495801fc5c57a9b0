// A SIGHUP re-reads the configuration in the ingest processes, but where the server listens and where the data
// is stay as the server started: an edited ingest.port moved the server to the new port (clients of the old one
// refused) and an edited dataDir sent the writes to a directory the primary neither locks nor reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, postWith } from '../ingest/serve-process.js';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('after a SIGHUP with an edited ingest.port, dataDir and ingest.workers, the server listens and stores where it started, and says so', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('hopper-sighup-pin-');
  t.after(() => removeDir(dir));
  const [first, second] = [await freePort(), await freePort()];
  const configPath = join(dir, 'hopper.json');
  const write = (port: number, dataDir: string, workers: number): void =>
    writeFileSync(configPath, JSON.stringify({ dataDir: join(dir, dataDir), admin: { enabled: false }, ingest: { port, workers } }));
  write(first, 'data', 1);
  const child = spawn(process.execPath, [CLI, 'serve', '--config', configPath], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, HOPPER_LOG_LEVEL: 'info' },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const waitFor = async (text: string): Promise<void> => {
    const by = Date.now() + 30_000;
    while (!stderr.includes(text) && Date.now() < by) await new Promise((r) => setTimeout(r, 50));
    assert.ok(stderr.includes(text), `no "${text}" in:\n${stderr}`);
  };
  await waitFor('hopper serve listening');
  write(second, 'moved', 2);
  child.kill('SIGHUP');
  await waitFor('rolling restart done');
  const r = await postWith(false, first, '/v1/streams/pin', '{"a":1}');
  assert.equal(r.status, 202, 'the port the server started on still answers');
  assert.ok(readdirSync(join(dir, 'data', 'streams')).includes('pin'), 'the write went to the data directory the server started with');
  assert.equal(existsSync(join(dir, 'moved')), false);
  assert.match(stderr, /ingest\.port changed in the configuration: it takes effect when hopper serve restarts/);
  assert.match(stderr, /dataDir changed in the configuration/);
  assert.match(stderr, /ingest\.workers changed in the configuration: it takes effect when hopper serve restarts/);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
