// Hopper's HTTP/1.1 request parser: the same requests however the bytes are cut
// into reads (fast-check picks the cuts), and every framing ambiguity that
// could smuggle a request refused (RFC 9112 sections 6 and 7).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RequestParseError, RequestParser, type RequestHead } from '../../src/ingest/http1/request-parser.js';
import { cut } from '../helpers/byte-cuts.js';

interface Parsed {
  head: RequestHead;
  body: string;
  ended: boolean;
}

function parseAll(chunks: Buffer[], maxHeaderBytes = 4096): Parsed[] {
  const out: Parsed[] = [];
  const parser = new RequestParser(maxHeaderBytes, {
    begin: () => undefined,
    head: (head) => out.push({ head, body: '', ended: false }),
    body: (chunk) => {
      out[out.length - 1]!.body += chunk.toString('latin1');
    },
    end: () => {
      out[out.length - 1]!.ended = true;
    },
  });
  for (const c of chunks) parser.feed(c);
  return out;
}

const PIPELINE = Buffer.from(
  'POST /v1/streams/a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 11\r\nX-Request-Id: r1\r\n\r\n{"ok":true}' +
    'PUT /v1/streams/b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n' +
    'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' +
    'GET /v1/streams/c/pixel.gif?a=b HTTP/1.1\r\nHost: h\r\nconnection: close\r\n\r\n',
  'latin1',
);

test('a pipeline parses the same whatever the read boundaries', () => {
  const whole = parseAll([PIPELINE]);
  assert.equal(whole.length, 4);
  assert.deepEqual(
    whole.map((p) => [p.head.method, p.head.url, p.body, p.ended, p.head.keepAlive]),
    [
      ['POST', '/v1/streams/a?x=1', '{"ok":true}', true, true],
      ['PUT', '/v1/streams/b', 'hello world', true, true],
      ['GET', '/healthz', '', true, true],
      ['GET', '/v1/streams/c/pixel.gif?a=b', '', true, false],
    ],
  );
  assert.equal(whole[0]!.head.headers['content-type'], 'application/json');
  assert.equal(whole[0]!.head.headers['x-request-id'], 'r1');
  assert.equal(whole[2]!.head.versionMinor, 0);
  fc.assert(
    fc.property(fc.array(fc.nat(), { maxLength: 40, size: 'max' }), (cuts) => {
      assert.deepEqual(parseAll(cut(PIPELINE, cuts)), whole);
    }),
    { numRuns: 1000 },
  );
});

test('a pipeline fed one byte at a time parses the same (the head is searched at the seams only)', () => {
  const bytes = [...PIPELINE].map((b) => Buffer.from([b]));
  assert.deepEqual(parseAll(bytes), parseAll([PIPELINE]));
});

test('a parser stopped by the handler of a bodyless head is idle, never left "in a head"', () => {
  let parser: RequestParser | null = null;
  parser = new RequestParser(4096, {
    begin: () => undefined,
    head: () => parser!.stop(),
    body: () => undefined,
    end: () => undefined,
  });
  parser.feed(Buffer.from('GET /v1/streams/s/pixel.gif?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  assert.equal(parser.inHead, false);
  assert.equal(parser.idle, true);
});

test('any body bytes survive chunked and length framing, cut anywhere', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300, size: 'max' }), fc.integer({ min: 1, max: 64 }), fc.array(fc.nat(), { maxLength: 10 }), (body, chunkSize, cuts) => {
      const b = Buffer.from(body);
      let chunked = '';
      for (let i = 0; i < b.length; i += chunkSize) {
        const part = b.subarray(i, i + chunkSize);
        chunked += `${part.length.toString(16)}\r\n${part.toString('latin1')}\r\n`;
      }
      const wire = Buffer.from(
        `POST /a HTTP/1.1\r\nContent-Length: ${b.length}\r\n\r\n${b.toString('latin1')}POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}0\r\n\r\n`,
        'latin1',
      );
      const got = parseAll(cut(wire, cuts));
      assert.equal(got.length, 2);
      assert.equal(got[0]!.body, b.toString('latin1'));
      assert.equal(got[1]!.body, b.toString('latin1'));
      assert.ok(got[0]!.ended && got[1]!.ended);
    }),
    { numRuns: 500 },
  );
});

function refused(wire: string, maxHeaderBytes = 4096): RequestParseError {
  try {
    parseAll([Buffer.from(wire, 'latin1')], maxHeaderBytes);
  } catch (err) {
    assert.ok(err instanceof RequestParseError, String(err));
    return err;
  }
  assert.fail(`accepted: ${JSON.stringify(wire)}`);
}

test('ambiguous framing and malformed heads are refused', () => {
  const cases: [string, string][] = [
    ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['differing Content-Lengths', 'POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'],
    ['a signed Content-Length', 'POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc'],
    ['a final coding other than chunked', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n'],
    ['chunked twice', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['obs-fold', 'POST / HTTP/1.1\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n'],
    ['space before the colon', 'POST / HTTP/1.1\r\nContent-Length : 0\r\n\r\n'],
    ['a bare LF inside the head', 'POST / HTTP/1.1\r\nX-A: 1\nContent-Length: 5\r\n\r\n'],
    ['a bare CR in a value', 'POST / HTTP/1.1\r\nX-A: a\rb\r\n\r\n'],
    ['HTTP/2.0', 'POST / HTTP/2.0\r\n\r\n'],
    ['a request line with an extra space', 'POST / x HTTP/1.1\r\n\r\n'],
    ['a bad chunk size', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['chunk data longer than announced', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n'],
    ['a bare LF ending a chunk size', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\n\r\nhello\r\n0\r\n\r\n'],
    ['a bare CR after a chunk size', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\r\nhello\r\n0\r\n\r\n'],
    ['NBSP after a chunk size', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\xa0\r\nhello\r\n0\r\n\r\n'],
    ['VT after a chunk size', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\x0b\r\nhello\r\n0\r\n\r\n'],
    ['chunk extensions past 16 KiB in one body', `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${`1;e=${'x'.repeat(900)}\r\na\r\n`.repeat(20)}0\r\n\r\n`],
    ['Transfer-Encoding in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ];
  for (const [what, wire] of cases) assert.equal(refused(wire).code, 'HPE_INVALID', what);
  // A coding under chunked would be stored undone, with nothing saying so: not supported (501).
  for (const te of ['gzip, chunked', 'gzip\r\nTransfer-Encoding: chunked', 'identity, chunked']) {
    const err = refused(`POST / HTTP/1.1\r\nTransfer-Encoding: ${te}\r\n\r\n0\r\n\r\n`);
    assert.equal(err.code, 'HPE_UNSUPPORTED_TE', te);
    assert.match(err.message, /is not supported: send the compressed body with Content-Encoding/);
  }
  assert.equal(refused(`GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`, 1024).code, 'HPE_HEADER_OVERFLOW');
  assert.equal(refused(`GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(2000)}`, 1024).code, 'HPE_HEADER_OVERFLOW', 'overflow seen before the head ends');
});

test('a Content-Length or chunk size with more leading zeros than significant digits allow is read by its value (RFC 9112: 1*DIGIT, 1*HEXDIG)', () => {
  const zeros = '0'.repeat(20);
  const [a, b] = parseAll([
    Buffer.from(`POST / HTTP/1.1\r\nContent-Length: ${zeros}3\r\n\r\nabc`),
    Buffer.from(`POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${zeros}5\r\nhello\r\n${zeros}\r\n\r\n`),
  ]);
  assert.deepEqual([a!.body, a!.ended, b!.body, b!.ended], ['abc', true, 'hello', true]);
  // Significant digits stay bounded: a size past what a body could ever be is still refused.
  assert.equal(refused('POST / HTTP/1.1\r\nContent-Length: 1000000000000000\r\n\r\n').code, 'HPE_INVALID');
  assert.equal(refused('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\n').code, 'HPE_INVALID');
});

test('repeated headers: joined, or the first kept for single-valued ones, as node:http does', () => {
  const [p] = parseAll([Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nAccept: x\r\naccept: y\r\nContent-Length: 0\r\ncontent-length: 0\r\n\r\n')]);
  assert.equal(p!.head.headers.host, 'a');
  assert.equal(p!.head.headers.accept, 'x, y');
  assert.equal(p!.head.headers['content-length'], '0');
});

test('a head that arrives one byte per read is held in one buffer of at most twice its size', () => {
  const maxHeaderBytes = 8192;
  const wire = Buffer.from(`POST /v1/streams/s HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(3000)}\r\nContent-Length: 2\r\n\r\nhi`, 'latin1');
  const heads: RequestHead[] = [];
  const parser = new RequestParser(maxHeaderBytes, {
    begin: () => undefined,
    head: (head) => heads.push(head),
    body: () => undefined,
    end: () => undefined,
  });
  const headBytes = wire.indexOf('\r\n\r\n') + 4;
  for (let i = 0; i < headBytes - 1; i++) {
    parser.feed(Buffer.from(wire.subarray(i, i + 1))); // a fresh buffer per read, as a socket hands them on
    const held = i + 1;
    assert.ok(parser.pendingCapacity <= Math.max(256, 2 * held), `${parser.pendingCapacity} bytes of buffer for ${held} bytes held`);
  }
  assert.ok(parser.pendingCapacity <= maxHeaderBytes, 'never more than the limit');
  parser.feed(wire.subarray(headBytes - 1));
  assert.equal(heads.length, 1);
  assert.equal(heads[0]!.headers['x-pad'], 'p'.repeat(3000));
  assert.equal(parser.pendingCapacity, 0, 'a buffer over 1 KiB is let go once the head is parsed');
});

test('a chunked body of thousands of chunks without extensions is accepted (only extensions count against 16 KiB)', () => {
  const chunks = `a\r\n${'0123456789'}\r\n`.repeat(6000);
  const [p] = parseAll([Buffer.from(`POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`, 'latin1')]);
  assert.equal(p!.body.length, 60_000);
  assert.ok(p!.ended);
});

test('an unfinished head or chunk-size line with a bare LF is refused at once, not left to the headers timeout', () => {
  const cases: [string, string[]][] = [
    ['a head with LF line endings', ['POST / HTTP/1.1\nHost: x\nContent-Length: 2\n\nhi']],
    ['a bare LF arriving in a later read', ['POST / HTTP/1.1\r\nHost: x\r', '\nX-A: 1\n']],
    ['a bare LF at the start of a read', ['POST / HTTP/1.1\r\nHost: x', '\nX-A: 1']],
    ['a chunk-size line ended by LF', ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello']],
  ];
  for (const [what, reads] of cases) {
    assert.throws(
      () => parseAll(reads.map((r) => Buffer.from(r, 'latin1'))),
      (err: unknown) => err instanceof RequestParseError && err.code === 'HPE_INVALID',
      what,
    );
  }
  // CRLF split across two reads is not a bare LF.
  assert.deepEqual(parseAll([Buffer.from('GET / HTTP/1.1\r\nHost: x\r'), Buffer.from('\nX-A: 1\r'), Buffer.from('\n')]), []);
});

test('a header name kept in the lower-case cache does not keep the request head it was cut from', () => {
  // A name is a V8 view into the whole head text; the cache keeps up to 512 names for the life of the process,
  // which pinned 512 heads of up to maxHeaderBytes each (8 MiB at the 16 KiB default, 512 MiB at 1 MiB) for
  // any client that sends names the cache has not seen, on any route.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const maxHeaderBytes = 1024 * 1024;
  const pad = 'p'.repeat(256 * 1024);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 60; i++) {
    const [p] = parseAll([Buffer.from(`GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ${pad}\r\nX-Never-Seen-Before-${i}: 1\r\n\r\n`, 'latin1')], maxHeaderBytes);
    assert.equal(p!.head.headers[`x-never-seen-before-${i}`], '1');
  }
  gc();
  const grownBytes = process.memoryUsage().heapUsed - before;
  // Before: about 15 MB (60 heads of 256 KiB).
  assert.ok(grownBytes < 4 * 1024 * 1024, `60 cached names hold ${grownBytes} bytes of heap`);
});
