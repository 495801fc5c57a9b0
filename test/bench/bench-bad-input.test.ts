// Bad input ends with one line on stderr and a non-zero exit, never a stack trace: invalid flags and durations,
// an unreachable URL, a server that closes every connection, a server that does not speak HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HopperError } from '../../src/errors.js';
import { parseBenchOptions } from '../../src/bench/bench-options.js';
import { runCli } from './run-cli.js';

function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
}

async function listen(t: { after: (fn: () => Promise<void>) => void }, onSocket: (socket: Socket) => void, onServer?: (server: Server) => void): Promise<number> {
  const server: Server = createServer(onSocket);
  onServer?.(server);
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

test('invalid flags and durations are refused with a message naming the flag', () => {
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
    [['--url', url, '--threads', '65'], /--threads 65 is out of range/],
    [['--url', url, '--rate', '-5'], /--rate/],
    [['--url', url, '--rate', '0'], /--rate/],
    [['--url', url, '--body-bytes', '10'], /--body-bytes 10 is out of range/],
    [['--url', url, '--body-bytes', '512', '--body-file', 'x.json'], /not both/],
    [['--url', url, '--body-file', '/nonexistent/body.json'], /--body-file .* cannot be read: ENOENT/],
    [['--url', url, '--body-file', fileURLToPath(import.meta.url)], /--body-file .* is not JSON/],
    [['--url', url, '--batch', '0'], /--batch 0 is out of range/],
    [['--url', url, '--batch', '10000', '--body-bytes', '100000'], /per request: use a smaller batch/],
    [['--url', url, '--timeout', '1x'], /--timeout "1x" is not a duration/],
    [['--url', url, '--audit', '--vs', 'http://127.0.0.1:2'], /cannot be combined/],
    [['--url', 'http://127.0.0.1:1/custom', '--audit'], /give --stream NAME/],
    [['--url', 'http://127.0.0.1:1/v1/streams/a', '--stream', 'b'], /disagrees/],
    [['--url', url, '--stream', '../etc'], /not a valid stream name/],
    [['--url', 'http://127.0.0.1:1/v1/streams/%ZZ'], /--url names the stream "%ZZ", which is not a valid stream name/],
    [['--url', 'http://127.0.0.1:1/v1/streams/a%2Fb', '--audit'], /--url names the stream "a\/b", which is not a valid stream name/],
    [['--url', url, '--rounds', '3'], /--rounds goes with --vs/],
    [['--url', url, 'extra'], /unexpected argument/],
  ];
  for (const [args, pattern] of cases) {
    const values: Record<string, string | boolean> = {};
    const positionals: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (!a.startsWith('--')) positionals.push(a);
      else if (['--audit', '--gzip', '--json'].includes(a)) values[a.slice(2)] = true;
      else values[a.slice(2)] = args[++i]!;
    }
    assert.throws(
      () => parseBenchOptions(values, positionals),
      (err: unknown) => err instanceof HopperError && err.code === 'HOPPER_USAGE' && pattern.test(err.message),
      `${args.join(' ')} should fail with ${pattern}`,
    );
  }
});

test('an out-of-range duration is told the range in units it can type back', () => {
  const url = 'http://127.0.0.1:1';
  const cases: [string, string, string][] = [
    ['timeout', '20m', '--timeout 20m is out of range: use 1ms to 10m.'],
    ['audit-wait', '11m', '--audit-wait 11m is out of range: use 0s to 10m.'],
    ['duration', '25h', '--duration 25h is out of range: use 1ms to 24h.'],
  ];
  for (const [flag, value, message] of cases) {
    assert.throws(() => parseBenchOptions({ url, [flag]: value }, []), (err: unknown) => err instanceof HopperError && err.message === message, `--${flag} ${value}`);
  }
});

test('a --body-file saved with a byte-order mark is read as the JSON object it holds', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hopper-bench-bom-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'body.json');
  writeFileSync(file, '\uFEFF{"kind":"click","n":1}');
  const opts = parseBenchOptions({ url: 'http://127.0.0.1:1', 'body-file': file }, []);
  assert.equal(opts.plan.body.templateFields, '"kind":"click","n":1');
});

test('through the CLI, a bad flag is one line and exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['--url', 'http://127.0.0.1:1', '--duration', 'soon'], /^hopper: --duration "soon" is not a duration.*\(HOPPER_USAGE\)$/],
    [['--url', 'http://127.0.0.1:1', '--bogus'], /^hopper bench: Unknown option '--bogus'/],
    // node's parseArgs explains a value starting with '-' on three lines: all of it, on one.
    [['--url', 'http://127.0.0.1:1', '--duration', '-3s'], /^hopper bench: Option '--duration' argument is ambiguous\. .*use '--duration=-XYZ'\./],
    [[], /^hopper: bench needs --url/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(['bench', ...args]);
    assert.equal(r.code, 2, `exit 2 for ${args.join(' ')}: ${r.stderr}`);
    assertOneLine(r.stderr, pattern);
    assert.equal(r.stdout, '');
  }
});

test('with --json, a failed run also prints one error object on stdout', async () => {
  const port = await freePort();
  const r = await runCli(['bench', '--url', `http://127.0.0.1:${port}`, '--duration', '30s', '--json']);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr, /\(HOPPER_BENCH_UNREACHABLE\)$/);
  const out = JSON.parse(r.stdout) as { error: { code: string; message: string } };
  assert.equal(out.error.code, 'HOPPER_BENCH_UNREACHABLE');
  assert.match(out.error.message, /^Cannot connect to .*ECONNREFUSED/);
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

test('a server that answers, then dies: a --requests run ends with one line and exit 1, not at its 24 h cap', { timeout: 60_000 }, async (t) => {
  let answered = 0;
  const sockets = new Set<Socket>();
  let server!: Server;
  const port = await listen(t, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', () => {
      socket.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n');
      if (++answered === 20) {
        // The server goes away: its listener and every connection.
        server.close();
        for (const s of sockets) s.destroy();
      }
    });
  }, (s) => (server = s));
  const r = await runCli(['bench', '--url', `http://127.0.0.1:${port}`, '--requests', '1000', '--connections', '2', '--threads', '1']);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr, /the target stopped answering: no response for \d+ s after \d+ responses to this load thread \(last error: ECONNREFUSED.*\(HOPPER_BENCH_TARGET_FAILED\)/);
  assert.ok(r.ms < 40_000, `gave up (${r.ms} ms)`);
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

test('a server that never answers: requests time out, the run still ends on time, exit 1', async (t) => {
  const port = await listen(t, (socket) => {
    socket.resume();
    socket.on('error', () => undefined);
  });
  const r = await runCli(['bench', '--url', `http://127.0.0.1:${port}`, '--duration', '1s', '--timeout', '500ms', '--connections', '2', '--json']);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout) as { requests: { completed: number }; socketErrors: { timeout: number } };
  assert.equal(out.requests.completed, 0);
  assert.ok(out.socketErrors.timeout >= 2, `timeouts counted (${out.socketErrors.timeout})`);
  assert.ok(r.ms < 15_000, `bounded (${r.ms} ms)`);
});
