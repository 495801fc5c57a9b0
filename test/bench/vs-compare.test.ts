// --vs alternates rounds between two servers (A, B, A, B) and prints B/A per figure, as text or one JSON object;
// it exits non-zero when either server answered no request 2xx, as a single run does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli } from './run-cli.js';

/** Two servers; `order` records which one got a request each time the sender changes. */
async function twoServers(
  t: { after: (fn: () => Promise<void>) => void },
  delayBMs: number,
  statusB = 202,
): Promise<{ a: string; b: string; order: string[] }> {
  const order: string[] = [];
  const make = async (name: string, delayMs: number, status: number): Promise<string> => {
    const server: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (order[order.length - 1] !== name) order.push(name);
        setTimeout(() => {
          res.writeHead(status, { 'content-length': '2' });
          res.end('{}');
        }, delayMs);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  return { a: await make('A', 0, 202), b: await make('B', delayBMs, statusB), order };
}

test('--vs --json: rounds alternate A, B, A, B and the ratios say B is slower', async (t) => {
  const s = await twoServers(t, 20);
  const r = await runCli(['bench', '--url', s.a, '--vs', s.b, '--duration', '1s', '--rounds', '2', '--connections', '2', '--threads', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(s.order, ['A', 'B', 'A', 'B']);
  const out = JSON.parse(r.stdout) as { rounds: number; a: { requests: { completed: number } }; b: { requests: { completed: number } }; ratios: Record<string, number> };
  assert.equal(out.rounds, 2);
  assert.ok(out.a.requests.completed > 0 && out.b.requests.completed > 0);
  // B holds each response 20 ms: with 2 connections it cannot pass 100 req/s.
  assert.ok(out.b.requests.completed <= 2 * 100 * 1.2, `B completed ${out.b.requests.completed}`);
  assert.ok(out.ratios['requests/s']! < 1, `requests/s ratio ${out.ratios['requests/s']}`);
  assert.ok(out.ratios['latency p50']! > 1, `p50 ratio ${out.ratios['latency p50']}`);
  assert.equal(typeof out.ratios['latency p99.9'], 'number');
});

test('--vs text: both reports, then the comparison table with a B/A column', async (t) => {
  const s = await twoServers(t, 0);
  const r = await runCli(['bench', '--url', s.a, '--vs', s.b, '--requests', '200', '--rounds', '2', '--connections', '2', '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(s.order, ['A', 'B', 'A', 'B']);
  assert.match(r.stdout, /^ {2}\s*A\s+B\s+B\/A$/m);
  assert.match(r.stdout, /^ {2}requests\/s .* \d+\.\d{3}$/m);
  assert.match(r.stdout, /^ {2}latency p99\.9 .* \d+\.\d{3}$/m);
  assert.equal((r.stdout.match(/^ {2}requests {7}\s*200 /gm) ?? []).length, 2, 'each side sent the 200 requests');
});

test('--vs against a server that answers no 2xx: the comparison is printed, one line names that server, exit 1', async (t) => {
  const s = await twoServers(t, 0, 404);
  for (const extra of [[], ['--json']]) {
    const r = await runCli(['bench', '--url', s.a, '--vs', s.b, '--requests', '40', '--rounds', '2', '--connections', '2', '--threads', '1', ...extra]);
    assert.equal(r.code, 1, `exit status\n${r.stdout}\n${r.stderr}`);
    assert.deepEqual(r.stderr.trimEnd().split('\n'), [`hopper bench: no request was answered 2xx by ${s.b}/: check the URL path and the server's log.`]);
    if (extra.length > 0) assert.deepEqual((JSON.parse(r.stdout) as { b: { statuses: Record<string, number> } }).b.statuses, { '404': 40 });
    else assert.match(r.stdout, /^ {2}non-2xx .* -$/m, 'B/A of non-2xx against zero on A has no ratio');
  }
});
