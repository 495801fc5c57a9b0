// `hopper serve` as a user runs it: help, bad flags and values as one line,
// the zero-config first run (./data, autoCreateStreams), a unix socket, a busy
// port, and --with-workers (a pipeline that dies of a bug is restarted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { CLI, postWith, startServe } from '../ingest/serve-process.js';
import { waitFor } from '../work/work-helpers.js';

function runCli(args: string[], cwd?: string) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 30_000, env: { ...process.env, HOPPER_LOG_LEVEL: 'info' } });
}


/** POSTs `body` to stream s through the unix socket at `socketPath`; the answer's status. */
function postViaSocket(socketPath: string, body: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    request({ socketPath, method: 'POST', path: '/v1/streams/s', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    })
      .on('error', reject)
      .end(body);
  });
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
  // A socket left by a crash: a process that listened on it died by SIGKILL, so nothing answers on it.
  spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.ok(lstatSync(path).isSocket(), 'a stale socket file is there');
  const srv = await startServe(['--workers', '1', '--socket', path, '--data-dir', join(dir, 'data')]);
  assert.equal(srv.port, null, 'no TCP port without --port');
  assert.equal(await postViaSocket(path, 'via socket'), 202);
  srv.child.kill('SIGTERM');
  assert.equal((await srv.exited).code, 0);
  assert.ok(!existsSync(path), 'the socket file is removed on stop');
});

test('--socket with --port listens on both; HOPPER_DATA_DIR sets the data directory when --data-dir is absent', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hopper-serve-both-');
  t.after(() => removeDir(dir));
  const path = join(dir, 'hopper.sock');
  const dataDir = join(dir, 'from-env');
  const srv = await startServe(['--workers', '1', '--socket', path, '--port', '0'], { HOPPER_DATA_DIR: dataDir }, dir);
  const start = JSON.parse(srv.lines.find((l) => l.includes('hopper serve listening'))!) as { dataDir: string; listen: string[] };
  assert.equal(start.dataDir, dataDir);
  assert.equal(start.listen.length, 2, start.listen.join(' '));
  assert.ok(srv.port > 0, 'a TCP port as well as the socket');
  assert.equal((await postWith(false, srv.port, '/v1/streams/s', '"via tcp"')).status, 202);
  assert.equal(await postViaSocket(path, '"via socket"'), 202);
  srv.child.kill('SIGTERM');
  assert.equal((await srv.exited).code, 0);
  assert.ok(!existsSync(join(dir, 'data')), 'nothing in ./data');
  const read = runCli(['log', 'read', '--stream', 's', '--data-dir', dataDir]);
  assert.equal(read.status, 0, read.stderr);
  assert.deepEqual(read.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { body: string }).body).sort(), ['"via socket"', '"via tcp"']);
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
  assert.match(lines[0]!, /pick a free port/);
});

test('an address this machine does not have is one line that points at --host, not at the port', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hopper-serve-host-');
  t.after(() => removeDir(dir));
  // TEST-NET-1 (RFC 5737): never an address of this machine.
  const r = runCli(['serve', '--host', '192.0.2.1', '--port', '0', '--workers', '1', '--data-dir', join(dir, 'data')]);
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /EADDRNOTAVAIL: use an address of this machine \(--host/);
  assert.doesNotMatch(lines[0]!, /free port/);
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

test('--with-workers restarts a pipeline that died of a bug, logs it, and keeps serving', { timeout: 90_000 }, async (t) => {
  const cwd = tempDir('hopper-serve-restart-');
  let srv: Awaited<ReturnType<typeof startServe>> | undefined;
  // One hook, in this order: the server must be gone before its data directory is removed.
  t.after(async () => {
    if (srv && srv.child.exitCode === null) {
      srv.child.kill('SIGKILL');
      await srv.exited;
    }
    removeDir(cwd);
  });
  const processed = join(cwd, 'processed.txt');
  const fixture = fileURLToPath(new URL('../work/fixtures/crash-once-processor.mjs', import.meta.url));
  const configFile = join(cwd, 'hopper.config.json');
  writeFileSync(configFile, JSON.stringify({ pipelines: [{ stream: 'events', processor: fixture, options: { file: processed }, batchMaxWaitMs: 0 }] }));
  srv = await startServe(['--workers', '1', '--with-workers', '--config', configFile, '--data-dir', join(cwd, 'data')], {}, cwd);
  const start = JSON.parse(srv.lines.find((l) => l.includes('hopper serve listening'))!) as { workers: string; admin: string };
  assert.equal(start.workers, 'running');
  const lineWith = (msg: string): Record<string, unknown> | undefined =>
    srv.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === msg);

  // The first batch kills the pipeline; ingest keeps acknowledging while it waits for its restart.
  assert.equal((await postWith(false, srv.port, '/v1/streams/events', '{"n":0}')).status, 202);
  const failedMsg = 'pipeline stopped by an unexpected error: restarting it after a backoff';
  await waitFor('the failure to be logged', () => lineWith(failedMsg) !== undefined);
  for (let n = 1; n <= 3; n++) assert.equal((await postWith(false, srv.port, '/v1/streams/events', `{"n":${n}}`)).status, 202);
  const failed = lineWith(failedMsg)!;
  assert.equal(failed.level, 50, 'error level');
  assert.equal(failed.code, 'HOPPER_PIPELINE_FAILED');
  assert.equal(failed.pipeline, 'events.crash-once-processor');
  assert.equal(failed.restartInMs, 1000);
  assert.match(String((failed.err as { message?: string }).message), /injected runtime fault/);

  // Restarted: every record, the one of the failed batch included, is processed.
  const lines = (): string[] => (existsSync(processed) ? readFileSync(processed, 'utf8').split('\n').filter(Boolean) : []);
  await waitFor('all 4 records processed', () => new Set(lines()).size >= 4, 30_000);
  // The failed batch ran before the fault and was not committed: it is the only one seen twice (at least once).
  const seen = lines();
  assert.deepEqual([...new Set(seen)].sort(), ['0:0', '0:1', '0:2', '0:3']);
  assert.deepEqual(seen.filter((l, i) => seen.indexOf(l) !== i), ['0:0']);
  assert.ok(lineWith('pipeline restarted'), 'the restart is logged');

  const status = (await (await fetch(`${start.admin}/api/status`)).json()) as { workers: { pipelines: Record<string, { state: string; restarts: number; lastFailure: { message: string } }> } };
  const pipeline = status.workers.pipelines['events.crash-once-processor']!;
  assert.deepEqual([pipeline.state, pipeline.restarts, pipeline.lastFailure.message], ['running', 1, 'injected runtime fault']);
  const cliStatus = runCli(['status', '--admin', start.admin]);
  assert.equal(cliStatus.status, 0, cliStatus.stderr);
  assert.match(cliStatus.stdout, /^pipeline events\.crash-once-processor: running · 1 restart after unexpected errors · last: injected runtime fault$/m);

  srv.child.kill('SIGTERM');
  assert.equal((await srv.exited).code, 0, srv.lines.slice(-5).join('\n'));
});

test('admin.enabled false starts whatever admin.host and admin.token say; enabled beyond loopback without a token still refuses', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hopper-serve-noadmin-');
  t.after(() => removeDir(dir));
  const open = { HOPPER_ADMIN_HOST: '0.0.0.0', HOPPER_ADMIN_TOKEN: '' };
  const refused = spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--workers', '1', '--data-dir', join(dir, 'data')], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ...open, HOPPER_ADMIN_PORT: '0' },
  });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /HOPPER_ADMIN_TOKEN_REQUIRED/);
  const srv = await startServe(['--workers', '1', '--data-dir', join(dir, 'data')], { ...open, HOPPER_ADMIN_ENABLED: 'false' });
  assert.equal((await postWith(false, srv.port, '/v1/streams/s', '{}')).status, 202);
  srv.child.kill('SIGTERM');
  assert.equal((await srv.exited).code, 0);
});
