// The http sink with credentials in its URL (https://user:pass@host/...): the
// pool is made for the origin, which has none, so they must go as Basic
// authorization, and a dead letter's reason or a retriable error must not show them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import httpForwardSink from '../../src/sinks/http-forward-sink.js';
import { makeBatch, makeCtx, makeItem, sinkContext } from './sink-harness.js';

async function server(t: { after(fn: () => Promise<void> | void): void }, status: (authorization: string | undefined) => number) {
  const seen: (string | undefined)[] = [];
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(req.headers.authorization);
      res.writeHead(status(req.headers.authorization));
      res.end('denied');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  t.after(() => srv.closeAllConnections());
  return { port: (srv.address() as AddressInfo).port, seen };
}

test('the user and password of the URL go as Basic authorization (percent-decoded)', async (t) => {
  const expected = `Basic ${Buffer.from('bob:s3cr@t').toString('base64')}`;
  const { port, seen } = await server(t, (auth) => (auth === expected ? 200 : 401));
  const sink = httpForwardSink({ url: `http://bob:s3cr%40t@127.0.0.1:${port}/hook` }, sinkContext('alerts'));
  t.after(() => sink.stop?.(makeCtx()));
  const result = await sink.process(makeBatch([makeItem(0, '{"a":1}')]), makeCtx());
  assert.deepEqual(result?.failed ?? [], []);
  assert.deepEqual(seen, [expected]);
});

test('an Authorization header of the options wins over the URL\'s credentials', async (t) => {
  const { port, seen } = await server(t, () => 200);
  const sink = httpForwardSink({ url: `http://bob:pw@127.0.0.1:${port}/hook`, headers: { Authorization: 'Bearer tok' } }, sinkContext('alerts'));
  t.after(() => sink.stop?.(makeCtx()));
  await sink.process(makeBatch([makeItem(0, '{"a":1}')]), makeCtx());
  assert.deepEqual(seen, ['Bearer tok']);
});

test('dead-letter reasons and retriable errors never show the URL\'s password', async (t) => {
  const { port } = await server(t, () => 403);
  const sink = httpForwardSink({ url: `http://bob:hunter2@127.0.0.1:${port}/hook` }, sinkContext('alerts'));
  t.after(() => sink.stop?.(makeCtx()));
  const result = await sink.process(makeBatch([makeItem(0, '{"a":1}')]), makeCtx());
  assert.equal(result?.failed?.length, 1);
  assert.equal(result!.failed![0]!.reason, `HTTP 403 from POST http://***@127.0.0.1:${port}/hook: denied`);

  const down = await server(t, () => 503);
  const retried = httpForwardSink({ url: `http://bob:hunter2@127.0.0.1:${down.port}/hook`, maxAttempts: 1 }, sinkContext('alerts'));
  t.after(() => retried.stop?.(makeCtx()));
  await assert.rejects(Promise.resolve(retried.process(makeBatch([makeItem(0, '{"a":1}')]), makeCtx())), (err: unknown) => {
    assert.match((err as Error).message, /HTTP 503 from POST http:\/\/\*\*\*@127\.0\.0\.1/);
    assert.doesNotMatch((err as Error).message, /hunter2/);
    return true;
  });
  assert.throws(() => httpForwardSink({ url: 'http://bob:hunter2%zz@127.0.0.1/hook' }, sinkContext('alerts')), (err: unknown) => {
    assert.match((err as Error).message, /options\.url .*is not a valid URL/);
    assert.doesNotMatch((err as Error).message, /hunter2/);
    return true;
  });
});

test('a password with a raw "@" (which URLs accept) is masked whole, in dead letters and in a redirect\'s Location', async (t) => {
  const expected = `Basic ${Buffer.from('bob:hunt@er2').toString('base64')}`;
  const seen: (string | undefined)[] = [];
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(req.headers.authorization);
      res.writeHead(req.url === '/hook' ? 403 : 308, { location: `http://bob:hunt@er2@127.0.0.1:1/new` });
      res.end('denied');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  t.after(() => srv.closeAllConnections());
  const port = (srv.address() as AddressInfo).port;
  for (const path of ['hook', 'moved']) {
    const sink = httpForwardSink({ url: `http://bob:hunt@er2@127.0.0.1:${port}/${path}` }, sinkContext('alerts'));
    t.after(() => sink.stop?.(makeCtx()));
    const result = await sink.process(makeBatch([makeItem(0, '{"a":1}')]), makeCtx());
    const reason = result!.failed![0]!.reason;
    assert.doesNotMatch(reason, /er2/, reason);
    assert.match(reason, new RegExp(`from POST http://\\*\\*\\*@127\\.0\\.0\\.1:${port}/${path}`));
  }
  assert.deepEqual(seen, [expected, expected]);
});
