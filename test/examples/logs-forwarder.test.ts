// The logs example's error forwarder on its own: when a batch fails part way (the
// endpoint went down after accepting the first alert), its retry sends only the
// alerts not yet delivered, as the http sink does for its own records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import errorForwarder from '../../examples/logs/error-forwarder.js';
import { makeBatch, makeCtx, makeItem, sinkContext } from '../sinks/sink-harness.js';

test('a retried batch does not send again the alerts already delivered', async (t) => {
  let down = false;
  const accepted: string[] = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (down) return void res.writeHead(502).end('bad gateway');
      accepted.push((JSON.parse(body) as { text: string }).text);
      down = accepted.length === 1; // up for one request, then down until the test says so
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  t.after(() => srv.closeAllConnections());
  const forwarder = errorForwarder(
    { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/alerts`, asChatMessage: true, maxAttempts: 2, initialBackoffMs: 1, maxRetryDelayMs: 5 },
    sinkContext('logs'),
  );
  t.after(() => forwarder.stop?.(makeCtx()));
  const items = [
    makeItem(0, JSON.stringify({ service: 'api', level: 'error', msg: 'one' })),
    makeItem(1, JSON.stringify({ service: 'api', level: 'info', msg: 'not an alert' })),
    makeItem(2, JSON.stringify({ service: 'api', level: 'fatal', msg: 'two' })),
  ];
  const ctx = makeCtx();
  await assert.rejects(Promise.resolve(forwarder.process(makeBatch(items), ctx)), /HTTP 502/);
  down = false;
  const result = await forwarder.process(makeBatch(items, 2), ctx);
  assert.deepEqual(result?.failed ?? [], []);
  assert.deepEqual(accepted, ['api ERROR: one', 'api FATAL: two']);
});
