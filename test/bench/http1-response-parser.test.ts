// Response framing as the load generator sees it: split anywhere, chunked, interim 1xx, close-delimited, malformed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Http1ResponseParser, ResponseProtocolError, type ParsedResponse } from '../../src/bench/http1-response-parser.js';

function feedAll(parser: Http1ResponseParser, text: string, splitEvery: number): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  const bytes = Buffer.from(text, 'latin1');
  for (let i = 0; i < bytes.length; i += splitEvery) parser.feed(bytes.subarray(i, i + splitEvery), (r) => out.push(r));
  return out;
}

const ACCEPTED = 'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}';
const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n';

test('a content-length response is complete once, whatever the split', () => {
  for (const split of [1, 2, 3, 7, 64, 10_000]) {
    const got = feedAll(new Http1ResponseParser(), ACCEPTED + ACCEPTED, split);
    assert.deepEqual(got, [{ status: 202, keepAlive: true }, { status: 202, keepAlive: true }], `split ${split}`);
  }
});

test('chunked bodies with extensions and trailers end at the last chunk', () => {
  for (const split of [1, 5, 1000]) {
    const p = new Http1ResponseParser();
    assert.deepEqual(feedAll(p, CHUNKED + ACCEPTED, split), [{ status: 200, keepAlive: true }, { status: 202, keepAlive: true }]);
    assert.equal(p.midResponse, false);
  }
});

test('an interim 100 Continue is skipped; 204 has no body', () => {
  const got = feedAll(new Http1ResponseParser(), 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n', 3);
  assert.deepEqual(got, [{ status: 204, keepAlive: false }]);
});

test('keep-alive follows Connection and the HTTP version', () => {
  assert.deepEqual(feedAll(new Http1ResponseParser(), 'HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', 100), [{ status: 503, keepAlive: false }]);
  assert.deepEqual(feedAll(new Http1ResponseParser(), 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', 100), [{ status: 200, keepAlive: false }]);
  assert.deepEqual(feedAll(new Http1ResponseParser(), 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n', 100), [{ status: 200, keepAlive: true }]);
});

test('a body framed by the close completes at end(); a response cut short is reported truncated', () => {
  const p = new Http1ResponseParser();
  assert.deepEqual(feedAll(p, 'HTTP/1.1 200 OK\r\n\r\npartial body', 4), []);
  const got: ParsedResponse[] = [];
  assert.deepEqual(p.end((r) => got.push(r)), { truncated: false });
  assert.deepEqual(got, [{ status: 200, keepAlive: false }]);

  const cut = new Http1ResponseParser();
  feedAll(cut, 'HTTP/1.1 202 Accepted\r\nContent-Length: 50\r\n\r\nonly', 100);
  assert.deepEqual(cut.end(() => assert.fail('no response')), { truncated: true });
  const headOnly = new Http1ResponseParser();
  feedAll(headOnly, 'HTTP/1.1 20', 100);
  assert.deepEqual(headOnly.end(() => assert.fail('no response')), { truncated: true });
});

test('malformed responses throw a protocol error', () => {
  for (const bad of ['SSH-2.0-OpenSSH\r\n\r\n', 'HTTP/1.1 2x2 Nope\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']) {
    assert.throws(() => feedAll(new Http1ResponseParser(), bad, 1000), ResponseProtocolError, JSON.stringify(bad));
  }
  assert.throws(() => new Http1ResponseParser().feed(Buffer.alloc(70 * 1024, 65), () => undefined), ResponseProtocolError, 'endless head');
});
