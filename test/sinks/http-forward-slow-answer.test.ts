// An endpoint that answers in time for a few events but not for a full request (it processes them before answering,
// 100 ms an event here): every try of the full request ran into timeoutMs, the batch was thrown back and sent whole
// again, for ever: nothing was ever acknowledged, while the endpoint may have processed each copy. A request of
// several events that times out waiting for its answer is now sent in halves, as a 413 is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import httpForwardSink from '../../src/sinks/http-forward-sink.js';
import { makeBatch, makeCtx, makeItem, sinkContext } from './sink-harness.js';

test('a request too slow to answer for its size is sent in halves until the endpoint answers in time', { timeout: 30_000 }, async (t) => {
  const answered: number[] = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const events = JSON.parse(Buffer.concat(chunks).toString()) as { n: number }[];
      setTimeout(() => {
        if (res.destroyed) return;
        answered.push(...events.map((e) => e.n));
        res.writeHead(200).end();
      }, 100 * events.length);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  t.after(() => srv.closeAllConnections());
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`;
  const s = httpForwardSink({ url, timeoutMs: 500, initialBackoffMs: 10 }, sinkContext('alerts'));
  t.after(() => s.stop?.(makeCtx()));

  const items = Array.from({ length: 16 }, (_, n) => makeItem(n, JSON.stringify({ n })));
  const result = await s.process(makeBatch(items), makeCtx());
  assert.deepEqual(result?.failed ?? [], []);
  assert.deepEqual(
    [...new Set(answered)].sort((a, b) => a - b),
    items.map((_, n) => n),
  );
});

test('a request answered late once is sent again whole, with its Idempotency-Key, not in halves under new keys', { timeout: 30_000 }, async (t) => {
  // A receiver that drops a request whose Idempotency-Key it has seen, as the key is meant for. It processes each
  // request on arrival; its first answer comes late (a pause), well after timeoutMs (undici's timers tick about once a
  // second).
  const seenKeys = new Set<string>();
  const processed: number[] = [];
  let requests = 0;
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = String(req.headers['idempotency-key']);
      if (!seenKeys.has(key)) {
        seenKeys.add(key);
        processed.push(...(JSON.parse(Buffer.concat(chunks).toString()) as { n: number }[]).map((e) => e.n));
      }
      const delayMs = ++requests === 1 ? 3000 : 0;
      setTimeout(() => {
        if (!res.destroyed) res.writeHead(200).end();
      }, delayMs);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  t.after(() => srv.closeAllConnections());
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`;
  const s = httpForwardSink({ url, timeoutMs: 300, initialBackoffMs: 10 }, sinkContext('alerts'));
  t.after(() => s.stop?.(makeCtx()));

  const items = Array.from({ length: 16 }, (_, n) => makeItem(n, JSON.stringify({ n })));
  const result = await s.process(makeBatch(items), makeCtx());
  assert.deepEqual(result?.failed ?? [], []);
  assert.deepEqual(processed, items.map((_, n) => n), 'each event processed once');
});
