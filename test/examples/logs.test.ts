// examples/logs end to end: log lines posted over HTTP land in hourly NDJSON files
// (files pipeline), and the error and fatal ones are forwarded to an HTTP endpoint
// (a local server that first fails, then recovers) by the second pipeline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { exampleConfig, post, runExample, waitFor } from './example-harness.js';

test('logs example: HTTP in, hourly files and forwarded errors out', { timeout: 120_000 }, async (t) => {
  const alerts: unknown[] = [];
  let calls = 0;
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      // The endpoint is down for its first request: the forwarder retries.
      if (++calls === 1) {
        res.writeHead(503).end('warming up');
        return;
      }
      alerts.push(...(JSON.parse(body) as unknown[]));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => receiver.close(() => r())));
  t.after(() => receiver.closeAllConnections());
  const { path, dir } = exampleConfig(t, 'logs', (c) => {
    c.pipelines[1].options.url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
    c.pipelines[1].options.initialBackoffMs = 20;
  });
  const hopper = await runExample(t, path, dir);

  const api = [
    { service: 'api', level: 'info', msg: 'GET /health 200' },
    { service: 'api', level: 'error', msg: 'db timeout' },
    { service: 'api', level: 'warn', msg: 'slow query' },
    { service: 'api', level: 50, msg: 'pino-style error' },
  ];
  const worker = { service: 'worker', level: 'FATAL', msg: 'out of memory' };
  assert.equal((await post(hopper.port, '/v1/streams/logs', api.map((l) => JSON.stringify(l)).join('\n'), 'application/x-ndjson')).status, 202);
  assert.equal((await post(hopper.port, '/v1/streams/logs', JSON.stringify(worker), 'application/json')).status, 202);
  assert.equal((await post(hopper.port, '/v1/streams/logs', 'a plain text line\n', 'text/plain')).status, 202);

  const outDir = join(hopper.dataDir, 'out', 'logs');
  const lines = await waitFor(() => {
    if (!existsSync(outDir)) return undefined;
    const all = readdirSync(outDir).flatMap((f) => readFileSync(join(outDir, f), 'utf8').split('\n').filter((l) => l !== ''));
    return all.length >= 6 ? all : undefined;
  }, () => `the files pipeline wrote nothing complete in ${outDir}`);
  assert.deepEqual(lines.map((l) => JSON.parse(l) as unknown), [...api, worker, 'a plain text line']);
  for (const f of readdirSync(outDir)) assert.match(f, /^\d{4}-\d{2}-\d{2}T\d{2}\.ndjson$/);

  await waitFor(() => (alerts.length >= 3 ? true : undefined), () => `forwarded: ${JSON.stringify(alerts)}`);
  assert.deepEqual(alerts, [api[1], api[3], worker]);
  assert.ok(calls >= 2, 'the failed first request was retried');
});
