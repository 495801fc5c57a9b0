// A target that refuses the connections of one load thread (a connection limit) while it answers the others
// is not a failed target: the run goes on with the threads it answers and reports what they did. It ended
// instead with HOPPER_BENCH_TARGET_FAILED "... no response arrived", exit 1 and no report, as soon as that one
// thread gave up. A target that answers no thread still fails fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { runCli } from './run-cli.js';

/** Answers 202 on each connection whose first request carries an event of load thread 0; closes the others unanswered. */
async function threadZeroOnly(t: { after: (fn: () => Promise<void>) => void }, answerNone = false): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((c) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
    c.on('error', () => undefined);
    let buf = '';
    let allowed: boolean | null = null;
    c.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const head = buf.indexOf('\r\n\r\n');
        if (head < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buf.slice(0, head))?.[1] ?? 0);
        if (buf.length < head + 4 + length) return;
        const body = buf.slice(head + 4, head + 4 + length);
        buf = buf.slice(head + 4 + length);
        allowed ??= !answerNone && /"id":"[0-9a-f]{8}-0-/.test(body);
        if (!allowed) {
          c.destroy();
          return;
        }
        c.write('HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('one thread refused, the other answered: the run reports what was answered and exits 0', async (t) => {
  const url = await threadZeroOnly(t);
  const r = await runCli(['bench', '--url', url, '--requests', '400', '--connections', '4', '--threads', '2', '--json']);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(r.stdout) as { statuses: Record<string, number>; socketErrors: { closed: number }; requests: { completed: number } };
  assert.equal(out.statuses['202'], 200, "thread 0's share, all answered");
  assert.equal(out.requests.completed, 200);
  assert.ok(out.socketErrors.closed >= 4, `thread 1's refused requests are counted (${out.socketErrors.closed})`);
});

test('no thread answered: still one line, HOPPER_BENCH_TARGET_FAILED, exit 1', async (t) => {
  const url = await threadZeroOnly(t, true);
  const r = await runCli(['bench', '--url', url, '--requests', '400', '--connections', '4', '--threads', '2']);
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^hopper: http:\/\/127\.0\.0\.1:\d+\/: \d+ requests got no answer and no response arrived \(last: the server closed the connection before answering\)\. \(HOPPER_BENCH_TARGET_FAILED\)\n$/);
});
