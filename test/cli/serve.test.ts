// `hopper serve` as a user runs it: help, bad flags and values as one line,
// the zero-config first run (./data, autoCreateStreams), a unix socket, a busy
// port, and --with-workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, postWith, startServe } from '../ingest/serve-process.js';

function runCli(args: string[], cwd?: string) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 30_000, env: { ...process.env, HOPPER_LOG_LEVEL: 'info' } });
}

test('serve --help lists the public flags', () => {
  const r = runCli(['serve', '--help']);
  assert.equal(r.status, 0);
  for (const flag of ['--host', '--port', '--socket', '--data-dir', '--workers', '--config', '--with-workers']) assert.match(r.stdout, new RegExp(flag));
});

test('an unknown flag or a bad value is one line on stderr and a non-zero exit', () => {
  const unknown = runCli(['serve', '--prot', '80']);
  assert.equal(unknown.status, 2);
  assert.equal(unknown.stderr.trim().split('\n').length, 1);
  const bad = runCli(['serve', '--port', '70000']);
  assert.notEqual(bad.status, 0);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /ingest\.port/);
});

test('with no config it just works: data in ./data, streams created on first write, SIGTERM exits 0', { timeout: 60_000 }, async (t) => {
  const cwd = tempDir('hopper-serve-cwd-');
  t.after(() => removeDir(cwd));
  const srv = await startServe(['--workers', '1'], {}, cwd);
  const start = JSON.parse(srv.lines.find((l) => l.includes('hopper serve listening'))!) as Record<string, unknown>;
  assert.equal(start.dataDir, join(cwd, 'data'));
  assert.equal(start.backend, 'embedded');
  assert.equal(start.ack, 'durable');
  assert.deepEqual(start.listen, [`http://127.0.0.1:${srv.port}`]);
  const r = await postWith(false, srv.port, '/v1/streams/events', '{"first":true}');
  assert.equal(r.status, 202);
  assert.equal(r.headers['hopper-ack'], 'durable');
  assert.ok(existsSync(join(cwd, 'data', 'streams', 'events')));
  srv.child.kill('SIGTERM');
  assert.equal((await srv.exited).code, 0);
  const read = runCli(['log', 'read', '--stream', 'events'], cwd);
  assert.equal(read.status, 0);
  assert.equal((JSON.parse(read.stdout) as { body: string }).body, '{"first":true}');
});

test('--socket listens on a unix socket only (a stale socket file is replaced)', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hopper-serve-sock-');
  t.after(() => removeDir(dir));
  const path = join(dir, 'hopper.sock');
  writeFileSync(path, ''); // left over by a crash: nothing listens on it
  const srv = await startServe(['--workers', '1', '--socket', path, '--data-dir', join(dir, 'data')]);
  assert.equal(srv.port, null, 'no TCP port without --port');
  const status = await new Promise<number>((resolve, reject) => {
    request({ socketPath: path, method: 'POST', path: '/v1/streams/s', headers: { 'content-type': 'text/plain' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    })
      .on('error', reject)
      .end('via socket');
  });
  assert.equal(status, 202);
  srv.child.kill('SIGTERM');
  assert.equal((await srv.exited).code, 0);
  assert.ok(!existsSync(path), 'the socket file is removed on stop');
});

test('a busy port is one line on stderr and exit code 1', { timeout: 60_000 }, async (t) => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const dir = tempDir('hopper-serve-busy-');
  t.after(() => removeDir(dir));
  const r = runCli(['serve', '--port', String(port), '--workers', '2', '--data-dir', join(dir, 'data')]);
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /EADDRINUSE/);
  assert.match(lines[0]!, /HOPPER_LISTEN_FAILED/);
});

test('--with-workers serves, runs the worker runtime in the primary, and stops cleanly', { timeout: 60_000 }, async (t) => {
  const cwd = tempDir('hopper-serve-workers-');
  t.after(() => removeDir(cwd));
  const srv = await startServe(['--workers', '1', '--with-workers'], {}, cwd);
  const start = JSON.parse(srv.lines.find((l) => l.includes('hopper serve listening'))!) as { workers: string };
  assert.ok(['running', 'unavailable'].includes(start.workers), `workers: ${start.workers}`);
  assert.equal((await postWith(false, srv.port, '/v1/streams/events', '{"w":1}')).status, 202);
  srv.child.kill('SIGTERM');
  const { code } = await srv.exited;
  assert.equal(code, 0, srv.lines.slice(-5).join('\n'));
});
