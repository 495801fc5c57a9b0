// `hopper status` against a made-up admin API (a plain node:http server serving a fake
// /api/status with a five-minute lag history, a nearly full disk and a backend without
// fsync): the summary fits one screen and prints the plain-language warnings; the token
// is sent; an unreachable admin API is one line on stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AdminStatus } from '../../src/observe/status-api.js';
import { CLI, cliEnv } from './serve-with-admin.js';
import { fakeStatus, GB, lagPoints } from './fake-status.js';

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function fakeAdmin(t: { after(fn: () => unknown): void }, status: AdminStatus, token: string): Promise<{ url: string; auths: string[] }> {
  const auths: string[] = [];
  const server: Server = createServer((req, res) => {
    auths.push(req.headers.authorization ?? '');
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"HOPPER_ADMIN_UNAUTHORIZED","message":"no"}}');
      return;
    }
    if (req.url !== '/api/status') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, auths };
}

test('hopper status prints a one-screen summary with warnings from the server history', { timeout: 60_000 }, async (t) => {
  const status = fakeStatus({
    backend: 'redis',
    durableIsFsync: false,
    disk: { path: '/var/lib/hopper', freeBytes: 300 * 1024 ** 2, totalBytes: 500 * GB, minFreeBytes: 256 * 1024 ** 2 },
    groups: [{ stream: 'events', group: 'warehouse', lag: 48_000, partitions: [{ partition: 0, position: 1, lag: 48_000 }] }],
    // What the server recorded: one point a minute for the last seven minutes, up every minute since six minutes ago.
    lagHistory: [{ stream: 'events', group: 'warehouse', points: lagPoints([9000, 5000, 9000, 15_000, 22_000, 30_000, 48_000]) }],
  });
  const admin = await fakeAdmin(t, status, 'token-for-the-fake-admin');
  const r = await runCli(['status', '--admin', admin.url, '--token', 'token-for-the-fake-admin']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(admin.auths, ['Bearer token-for-the-fake-admin']);
  const out = r.stdout;
  assert.ok(out.split('\n').length <= 30, `fits one screen:\n${out}`);
  assert.match(out, /^hopper 9\.9\.9 · serve · redis log · up 2h 05m · 2\/2 ingest processes\n/);
  assert.match(out, /ack durable \(durable without fsync\)/);
  assert.match(out, /last 10 s: 1,500 requests\/s · 1,500 records stored\/s · 293 KB\/s in · ack p50 1\.2 ms · p99 4\.5 ms · 1,490 processed\/s/);
  assert.match(out, /\n {2}events +durable +2 +11,000,000 +2\.0 GB +11,000,000\n/);
  assert.match(out, /\n {2}warehouse +events +48,000\n/);
  assert.match(out, /warnings \(3\):\n/);
  assert.match(out, /\n {2}! lag of group warehouse on stream events has grown for 5 minutes \(5,000 -> 48,000 records\): its workers are not keeping up/);
  assert.match(out, /\n {2}! disk almost full: 300 MB free of 500 GB at \/var\/lib\/hopper; \/readyz fails below 256 MB/);
  assert.match(out, /\n {2}! ack "durable" does not fsync here: the redis backend cannot with its current settings, so a power cut can lose acknowledged writes/);
});

test('hopper status: no warnings says so; a wrong token and an unreachable server are one line each', { timeout: 60_000 }, async (t) => {
  const admin = await fakeAdmin(t, fakeStatus(), 'right-token-0000000');
  const ok = await runCli(['status', '--admin', admin.url, '--token', 'right-token-0000000']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /\nno warnings\n$/);

  const wrong = await runCli(['status', '--admin', admin.url, '--token', 'wrong']);
  assert.equal(wrong.code, 1);
  assert.equal(wrong.stdout, '');
  assert.match(wrong.stderr, /^hopper: .*pass --token T.*\(HOPPER_ADMIN_UNAUTHORIZED\)\n$/);

  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const down = await runCli(['status', '--admin', `http://127.0.0.1:${port}`]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^hopper: Cannot reach the admin API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\).*\(HOPPER_ADMIN_UNREACHABLE\)\n$/);
});
