// Bad input ends with one line on stderr and a non-zero exit, never a stack trace: invalid flags and durations,
// an unreachable URL, a server that closes every connection, a server that does not speak HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { runCli } from './run-cli.js';

function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
}

async function listen(t: { after: (fn: () => Promise<void>) => void }, onSocket: (socket: Socket) => void): Promise<number> {
  const server: Server = createServer(onSocket);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

test('invalid flags and durations: one line, exit 2', async () => {
  const url = 'http://127.0.0.1:1';
  const cases: [string[], RegExp][] = [
    [[], /needs --url/],
    [['--url', 'not a url'], /is not a URL/],
    [['--url', 'https://127.0.0.1:8443'], /must be an http:\/\/ URL/],
    [['--url', url, '--duration', 'soon'], /--duration "soon" is not a duration/],
    [['--url', url, '--duration', '0s'], /--duration 0s is out of range/],
    [['--url', url, '--duration', '48h'], /--duration 48h is out of range/],
    [['--url', url, '--duration', '5s', '--requests', '10'], /not both/],
    [['--url', url, '--connections', '0'], /--connections 0 is out of range/],
    [['--url', url, '--connections', '20000'], /--connections 20000 is out of range/],
    [['--url', url, '--rate', '-5'], /--rate/],
    [['--url', url, '--body-bytes', '10'], /--body-bytes 10 is out of range/],
    [['--url', url, '--body-bytes', '512', '--body-file', 'x.json'], /not both/],
    [['--url', url, '--body-file', '/nonexistent/body.json'], /--body-file .* cannot be read: ENOENT/],
    [['--url', url, '--batch', '0'], /--batch 0 is out of range/],
    [['--url', url, '--audit', '--vs', 'http://127.0.0.1:2'], /cannot be combined/],
    [['--url', 'http://127.0.0.1:1/custom', '--audit'], /give --stream NAME/],
    [['--url', url, '--stream', '../etc'], /not a valid stream name/],
    [['--url', url, '--rounds', '3'], /--rounds goes with --vs/],
    [['--url', url, '--bogus'], /Unknown option '--bogus'/],
    [['--url', url, 'extra'], /unexpected argument/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(['bench', ...args]);
    assert.equal(r.code, 2, `exit 2 for ${args.join(' ')}: ${r.stderr}`);
    assertOneLine(r.stderr, pattern);
    assert.equal(r.stdout, '');
  }
});

test('an unreachable URL fails at once with one line', async () => {
  const port = await freePort();
  const r = await runCli(['bench', '--url', `http://127.0.0.1:${port}`, '--duration', '30s']);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr, new RegExp(`Cannot connect to http://127\\.0\\.0\\.1:${port}/: ECONNREFUSED.*\\(HOPPER_BENCH_UNREACHABLE\\)`));
  assert.ok(r.ms < 10_000, `failed fast (${r.ms} ms)`);
});

test('a server that closes every connection: one line, exit 1, long before the planned end', async (t) => {
  const port = await listen(t, (socket) => socket.destroy());
  const r = await runCli(['bench', '--url', `http://127.0.0.1:${port}`, '--duration', '60s', '--connections', '4']);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr, /no response arrived.*\(HOPPER_BENCH_TARGET_FAILED\)/);
  assert.ok(r.ms < 30_000, `gave up early (${r.ms} ms)`);
});

test('a server that does not speak HTTP: one line, exit 1', async (t) => {
  const port = await listen(t, (socket) => {
    socket.on('data', () => socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
    socket.on('error', () => undefined);
  });
  const r = await runCli(['bench', '--url', `http://127.0.0.1:${port}`, '--duration', '60s', '--connections', '2']);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr, /invalid response: not an HTTP\/1\.x response.*\(HOPPER_BENCH_TARGET_FAILED\)/);
});

test('a server that answers but never 2xx: report printed, one line on stderr, exit 1', async (t) => {
  const port = await listen(t, (socket) => {
    socket.on('data', () => socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'));
    socket.on('error', () => undefined);
  });
  const r = await runCli(['bench', '--url', `http://127.0.0.1:${port}`, '--requests', '20', '--connections', '1']);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr, /no request was answered 2xx/);
  assert.match(r.stdout, /responses {6}404: 20/);
});
