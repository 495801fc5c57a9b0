// The http sink's `headers` option: a header undici refuses (a bad name, a line break in a value, one of
// the request's framing) failed every request before it was sent, taken for an endpoint down: the batch
// was retried for ever. Such a header now stops the start with one line naming it (never its value);
// headers undici takes still go out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import httpForwardSink from '../../src/sinks/http-forward-sink.js';
import { makeBatch, makeCtx, makeItem, sinkContext } from './sink-harness.js';

const refused: [Record<string, string>, RegExp][] = [
  [{ 'X Bad': 'v' }, /options\.headers\."X Bad" .*is not a header name/],
  [{ 'X-Token': 'secret\r\nX-Injected: 1' }, /options\.headers\."X-Token" .*has a character no header value may hold/],
  [{ 'Content-Length': '5' }, /options\.headers\."Content-Length" .*is set by the sink itself/],
  [{ 'Transfer-Encoding': 'chunked' }, /options\.headers\."Transfer-Encoding" .*is set by the sink itself/],
  [{ Expect: '100-continue' }, /options\.headers\."Expect" .*is set by the sink itself/],
  [{ Connection: 'upgrade' }, /options\.headers\."Connection" .*may only be close or keep-alive/],
];

test('a header undici would refuse stops the start, naming the header and not its value', () => {
  for (const [headers, message] of refused) {
    assert.throws(
      () => httpForwardSink({ url: 'http://127.0.0.1:9/hook', headers }, sinkContext('alerts')),
      (err: unknown) => {
        assert.equal((err as { code?: string }).code, 'HOPPER_CONFIG_INVALID');
        assert.match((err as Error).message, message);
        assert.doesNotMatch((err as Error).message, /secret/);
        return true;
      },
      JSON.stringify(headers),
    );
  }
});

test('valid headers go out with every request', async (t) => {
  const seen: http.IncomingHttpHeaders[] = [];
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(req.headers);
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  t.after(() => srv.closeAllConnections());
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`;
  const sink = httpForwardSink({ url, headers: { 'X-Api-Key': 'k\t1', Connection: 'close', 'X-Name': 'caf\u00e9' } }, sinkContext('alerts'));
  t.after(() => sink.stop?.(makeCtx()));
  assert.deepEqual((await sink.process(makeBatch([makeItem(0, '{"a":1}')]), makeCtx()))?.failed ?? [], []);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!['x-api-key'], 'k\t1');
  assert.equal(seen[0]!.connection, 'close');
});
