// A request pipelined behind one whose answer closes the connection (a refusal that leaves its body unread: 413,
// 501, an HTTP/1.0 request with Transfer-Encoding) gets no answer: the connection ends after the closing one
// (RFC 9112 section 9.6). It must then not be stored either, or a client that retries what went unanswered stores
// it twice. node:http parses and hands on every request in a read, answered or not; Hopper's engine reads nothing
// past the closing request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exchangeUntilClose, readAll, startIngest } from './ingest-fixture.js';

const statuses = (text: string): string[] => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]!);

for (const engine of ['node', 'hopper']) {
  test(`${engine} engine: a write pipelined behind an answer that closes the connection is neither answered nor stored`, async (t) => {
    const f = await startIngest(t, { overrides: { 'ingest.httpEngine': engine, 'ingest.maxBodyBytes': 5 } });
    const behind = (stream: string): string => `POST /v1/streams/${stream} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz`;
    const cases: [string, string, string][] = [
      ['too-large', '413', 'POST /v1/streams/a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789'],
      ['coded', '501', 'POST /v1/streams/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
      ['http10-te', '400', 'POST /v1/streams/a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
    ];
    for (const [stream, status, first] of cases) {
      const answer = await exchangeUntilClose(f.port, first + behind(stream));
      assert.deepEqual(statuses(answer), [status], answer);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(await readAll(f.log, stream).catch(() => []), [], `${stream}: the unanswered write behind it was stored`);
    }
    // A refusal that keeps the connection (its body read and dropped) still lets the write behind it through.
    const kept = await exchangeUntilClose(f.port, 'POST /v1/streams/a HTTP/1.1\r\nHost: x\r\nHopper-Ack: bogus\r\nContent-Length: 2\r\n\r\n{}' + behind('kept').replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
    assert.deepEqual(statuses(kept), ['400', '202'], kept);
    assert.deepEqual((await readAll(f.log, 'kept')).map((r) => r.body.toString()), ['xyz']);
  });
}
