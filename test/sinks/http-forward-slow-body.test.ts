// The http sink against an endpoint whose answer's body trickles in (a byte every 50 ms, never a
// pause as long as timeoutMs): reading it is bounded by timeoutMs as a whole, so the batch neither
// waits the hour that 64 KiB at that pace would take nor holds its pipeline for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import httpForwardSink from '../../src/sinks/http-forward-sink.js';
import { makeBatch, makeCtx, makeItem, sinkContext } from './sink-harness.js';

async function tricklingServer(t: { after(fn: () => Promise<void> | void): void }, status: number) {
  const timers = new Set<NodeJS.Timeout>();
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('x'), 50);
      timers.add(timer);
      res.on('close', () => clearInterval(timer));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => timers.forEach(clearInterval));
  t.after(() => srv.closeAllConnections());
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`;
}

for (const [status, expect] of [
  [200, 'delivered'],
  [400, 'a dead letter with the start of the answer'],
] as const) {
  test(`a ${status} whose body never ends is ${expect} within about timeoutMs`, { timeout: 10_000 }, async (t) => {
    const url = await tricklingServer(t, status);
    const s = httpForwardSink({ url, timeoutMs: 500, maxAttempts: 1 }, sinkContext('alerts'));
    t.after(() => s.stop?.(makeCtx()));
    const started = Date.now();
    const ctx = makeCtx();
    const result = await Promise.race([
      s.process(makeBatch([makeItem(0, '{"a":1}')]), ctx),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still reading the answer after 3 s')), 3000).unref()),
    ]);
    const failed = (result?.failed ?? []).map((f) => f.reason);
    if (status === 200) assert.deepEqual(failed, []);
    else assert.match(failed[0] ?? '', /^HTTP 400 from POST .*: x+/);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  });
}
